package qrreader

import (
	"github.com/makiuchi-d/gozxing"
	multidetector "github.com/makiuchi-d/gozxing/multi/qrcode/detector"
	"github.com/makiuchi-d/gozxing/qrcode/detector"
)

// finderTriples returns the finder-pattern triple gozxing's detector
// thinks best or, with all, every plausible triple (on busy photos the
// best-looking one is often wrong).
func finderTriples(bits *gozxing.BitMatrix, all bool) []*detector.FinderPatternInfo {
	if all {
		infos, err := multidetector.NewMultiFinderPatternFinder(bits, nil).FindMulti(qrHints)
		if err != nil {
			return nil
		}
		return infos
	}
	info, err := detector.NewFinderPatternFinder(bits, nil).Find(qrHints)
	if err != nil {
		return nil
	}
	return []*detector.FinderPatternInfo{info}
}
