package qrreader

import (
	"github.com/makiuchi-d/gozxing"
	multiqr "github.com/makiuchi-d/gozxing/multi/qrcode"
)

// readMulti tries every plausible triple of finder patterns rather than
// only the best-looking one (which on busy photos is often wrong) and
// returns the first symbol that decodes.
func readMulti(bmp *gozxing.BinaryBitmap) (Result, bool) {
	rs, err := multiqr.NewQRCodeMultiReader().DecodeMultiple(bmp, qrHints)
	if err != nil {
		return Result{}, false
	}
	for _, r := range rs {
		if res, ok := toResult(r); ok {
			return res, true
		}
	}
	return Result{}, false
}
