package printer

import (
	"errors"
	"fmt"
	"image"

	"govkiosk/drivers/device"

	"github.com/makiuchi-d/gozxing"
	"github.com/makiuchi-d/gozxing/qrcode"
	"github.com/makiuchi-d/gozxing/qrcode/decoder"
)

// CutMode says how a job leaves the printer.
type CutMode string

const (
	CutFull        CutMode = "full"         // ESC J feed, then GS V 48 (full cut)
	CutPartial     CutMode = "partial"      // ESC J feed, then GS V 49 (one point left uncut)
	CutFeedFull    CutMode = "feed-full"    // GS V 65 n: the printer feeds to its cutter (+n dots), full cut
	CutFeedPartial CutMode = "feed-partial" // GS V 66 n: the same, partial cut
	CutNone        CutMode = "none"         // cutterless: feed past the tear bar, no cut
)

// Part is one piece of a job, printed in order: a black-and-white raster
// image at most the paper width (pixels darker than mid-grey print;
// narrower images are centred; sent as GS v 0 bands) or, when Image is nil,
// a QR code for QR printed by the printer itself (GS ( k, model 2, centred,
// with a 4-module quiet zone above and below).
type Part = device.PrintPart

// Encoded is one job's ESC/POS byte stream.
type Encoded struct {
	Data []byte
	Rows int // paper the job feeds, in dot rows (raster, QR, feed; the printer's own feed-to-cutter not counted)
}

// ESC/POS command bytes.
var (
	cmdInit        = []byte{0x1b, '@'}
	cmdClearBuffer = []byte{0x10, 0x14, 8, 1, 3, 20, 1, 6, 2, 8} // DLE DC4 fn=8: drop buffered data
	cmdAlignCentre = []byte{0x1b, 'a', 1}
	cmdAlignLeft   = []byte{0x1b, 'a', 0}
)

// qrLevels maps the config letter to GS ( k fn=69 n and gozxing's level.
var qrLevels = map[string]struct {
	n   byte
	lvl decoder.ErrorCorrectionLevel
}{
	"L": {48, decoder.ErrorCorrectionLevel_L},
	"M": {49, decoder.ErrorCorrectionLevel_M},
	"Q": {50, decoder.ErrorCorrectionLevel_Q},
	"H": {51, decoder.ErrorCorrectionLevel_H},
}

// maxQRBytes is the byte-mode capacity of a version 40-L symbol.
const maxQRBytes = 2953

// Paper geometry, in dots of the 203 dpi heads.
const (
	DotsPerMM = device.DotsPerMM
	Width80mm = device.Width80mm
	Width58mm = device.Width58mm
)

// raster is img as the printer's dots, exactly width wide: a *image.Gray of
// that width as it is, anything else converted (composited over white, then
// below mid-grey prints) and a narrower image centred. A wider image is an
// error: reducing a picture to the paper is the caller's layout, not the
// driver's.
func raster(img image.Image, width int) (*image.Gray, error) {
	b := img.Bounds()
	if g, ok := img.(*image.Gray); ok && b.Dx() == width {
		return g, nil
	}
	if b.Dx() > width {
		return nil, fmt.Errorf("image %d dots wide, the paper %d", b.Dx(), width)
	}
	out := image.NewGray(image.Rect(0, 0, width, b.Dy()))
	for i := range out.Pix {
		out.Pix[i] = 0xff
	}
	left := (width - b.Dx()) / 2
	for y := 0; y < b.Dy(); y++ {
		row := out.Pix[y*out.Stride+left:]
		for x := 0; x < b.Dx(); x++ {
			r, g, bl, a := img.At(b.Min.X+x, b.Min.Y+y).RGBA()
			w := 0xffff - a // premultiplied: add the white behind
			row[x] = uint8((19595*(r+w) + 38470*(g+w) + 7471*(bl+w) + 1<<15) >> 24)
		}
	}
	return out, nil
}

// Encode turns parts into the byte stream of one job for cfg's printer:
// ESC @, GS a (when AutoStatusBack), the parts, then the feed and cut of
// cfg. It is what PrintJob sends, less the job-end marker (GS ( H) the
// driver adds to know when the paper has left the head.
func Encode(cfg Opts, parts ...Part) (Encoded, error) {
	cfg, err := cfg.WithDefaults()
	if err != nil {
		return Encoded{}, err
	}
	if len(parts) == 0 {
		return Encoded{}, errors.New("printer: empty job")
	}
	var e Encoded
	e.Data = append(e.Data, cmdInit...)
	if cfg.AutoStatusBack {
		e.Data = append(e.Data, 0x1d, 'a', asbEnable)
	}
	for i, p := range parts {
		switch {
		case p.Image != nil:
			mono, err := raster(p.Image, cfg.WidthDots)
			if err != nil {
				return Encoded{}, fmt.Errorf("printer: part %d: %w", i+1, err)
			}
			e.Data = append(e.Data, EncodeRaster(mono, cfg.BandRows)...)
			e.Rows += mono.Bounds().Dy()
		case p.QR != "":
			b, rows, err := encodeQR(p.QR, cfg)
			if err != nil {
				return Encoded{}, fmt.Errorf("printer: part %d: %w", i+1, err)
			}
			e.Data = append(e.Data, b...)
			e.Rows += rows
		default:
			return Encoded{}, fmt.Errorf("printer: part %d is empty", i+1)
		}
	}
	tail, rows := encodeTail(cfg)
	e.Data = append(e.Data, tail...)
	e.Rows += rows
	return e, nil
}

// feedDots appends ESC J feeds of n dots in all.
func feedDots(out []byte, n int) []byte {
	for n > 0 {
		k := min(n, 255)
		out = append(out, 0x1b, 'J', byte(k))
		n -= k
	}
	return out
}

// encodeTail is the end of a job: feed and cut per cfg.Cut.
func encodeTail(cfg Opts) ([]byte, int) {
	switch cfg.Cut {
	case CutFeedFull, CutFeedPartial:
		m := byte(65)
		if cfg.Cut == CutFeedPartial {
			m = 66
		}
		n := min(cfg.FeedDots, 255)
		return []byte{0x1d, 'V', m, byte(n)}, n
	case CutPartial:
		return append(feedDots(nil, cfg.FeedDots), 0x1d, 'V', 49), cfg.FeedDots
	case CutNone:
		return feedDots(nil, cfg.FeedDots), cfg.FeedDots
	default:
		return append(feedDots(nil, cfg.FeedDots), 0x1d, 'V', 48), cfg.FeedDots
	}
}

// qrModules is the side of payload's QR symbol in modules (no quiet zone).
func qrModules(payload string, lvl decoder.ErrorCorrectionLevel) (int, error) {
	hints := map[gozxing.EncodeHintType]any{
		gozxing.EncodeHintType_ERROR_CORRECTION: lvl,
		gozxing.EncodeHintType_MARGIN:           0,
		gozxing.EncodeHintType_CHARACTER_SET:    "ISO-8859-1", // the printer stores bytes
	}
	m, err := qrcode.NewQRCodeWriter().Encode(payload, gozxing.BarcodeFormat_QR_CODE, 0, 0, hints)
	if err != nil {
		return 0, err
	}
	return m.GetWidth(), nil
}

// encodeQR is the GS ( k sequence printing payload as a model 2 QR code
// centred, with cfg's module size (made smaller if the symbol would not fit
// the paper) and error correction level, and the rows of paper it uses.
func encodeQR(payload string, cfg Opts) ([]byte, int, error) {
	if len(payload) > maxQRBytes {
		return nil, 0, fmt.Errorf("qr payload of %d bytes too long", len(payload))
	}
	lv := qrLevels[cfg.QRLevel]
	size, err := qrModules(payload, lv.lvl)
	if err != nil {
		return nil, 0, fmt.Errorf("qr: %w", err)
	}
	mod := cfg.QRModule
	for mod > 1 && (size+8)*mod > cfg.WidthDots {
		mod--
	}
	if (size+8)*mod > cfg.WidthDots {
		return nil, 0, fmt.Errorf("qr symbol of %d modules does not fit %d dots", size, cfg.WidthDots)
	}
	quiet := 4 * mod
	n := len(payload) + 3
	b := make([]byte, 0, 64+len(payload))
	b = append(b, cmdAlignCentre...)
	b = feedDots(b, quiet)
	b = append(b,
		0x1d, '(', 'k', 4, 0, 49, 65, 50, 0, // fn 65: model 2
		0x1d, '(', 'k', 3, 0, 49, 67, byte(mod), // fn 67: module size
		0x1d, '(', 'k', 3, 0, 49, 69, lv.n, // fn 69: error correction level
		0x1d, '(', 'k', byte(n), byte(n>>8), 49, 80, 48, // fn 80: store
	)
	b = append(b, payload...)
	b = append(b, 0x1d, '(', 'k', 3, 0, 49, 81, 48) // fn 81: print
	b = feedDots(b, quiet)
	b = append(b, cmdAlignLeft...)
	return b, size*mod + 2*quiet, nil
}

// processIDRequest is GS ( H fn=48: the printer answers 37h 22h d1..d4 00h
// once everything sent before it has been processed, i.e. printed.
func processIDRequest(id [4]byte) []byte {
	return []byte{0x1d, '(', 'H', 6, 0, 48, 48, id[0], id[1], id[2], id[3]}
}
