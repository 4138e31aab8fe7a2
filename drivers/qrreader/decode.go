package qrreader

import (
	"errors"
	"fmt"
	"image"

	"github.com/makiuchi-d/gozxing"
	"github.com/makiuchi-d/gozxing/qrcode"
)

// ErrNotFound means no QR code could be read from an image.
var ErrNotFound = errors.New("qrreader: no QR code found")

// Result is one decoded QR symbol.
type Result struct {
	// Payload is the exact data the symbol carries: byte-mode segments
	// verbatim (so binary and non-UTF-8 payloads survive), numeric and
	// alphanumeric segments as ASCII, Kanji segments as Shift_JIS. ECI
	// designators select a character set and add no bytes.
	Payload []byte
	// Text is the payload interpreted as text (ECI character set, else a
	// guess as zxing does: UTF-8, ISO-8859-1 or Shift_JIS), as UTF-8.
	Text string
}

// DecodeImage reads one QR code from img with the full pipeline (see
// Decode) and returns its Payload, or an error wrapping ErrNotFound.
func DecodeImage(img image.Image) ([]byte, error) {
	r, err := Decode(img)
	if err != nil {
		return nil, err
	}
	return r.Payload, nil
}

// Decode reads one QR code from img. It runs a cheap pass first (the image
// as is, or a downscaled copy of a large one, with a local binarizer) and
// then progressively more expensive ones (other binarizers, contrast
// stretching, other scales, all finder-pattern combinations), each on the
// binarized image and its inverse (light modules on a dark ground). It
// stops at the first symbol whose Reed–Solomon check passes. It returns an
// error wrapping ErrNotFound when no pass reads a symbol.
func Decode(img image.Image) (Result, error) {
	if img == nil {
		return Result{}, fmt.Errorf("decode image: nil image: %w", ErrNotFound)
	}
	b := img.Bounds()
	if b.Dx() < 21 || b.Dy() < 21 { // smaller than a version 1 symbol
		return Result{}, fmt.Errorf("decode image: %dx%d is too small: %w", b.Dx(), b.Dy(), ErrNotFound)
	}
	return decodeGray(toGray(img))
}

// qrHints asks gozxing to look at every row for finder patterns.
var qrHints = map[gozxing.DecodeHintType]interface{}{
	gozxing.DecodeHintType_TRY_HARDER: true,
}

// readMatrix detects and decodes a QR symbol in a binarized image, trying
// bits as given and inverted. It leaves bits as it found them.
func readMatrix(bits *gozxing.BitMatrix, all bool) (Result, bool) {
	if r, ok := readOnce(bits, all); ok {
		return r, true
	}
	bits.FlipAll()
	defer bits.FlipAll()
	return readOnce(bits, all)
}

// readOnce runs gozxing's detector and decoder on bits; all asks for every
// plausible finder-pattern triple rather than the single best one. gozxing
// is a port of Java code and can panic on odd input; a panic counts as a
// failed attempt.
func readOnce(bits *gozxing.BitMatrix, all bool) (res Result, ok bool) {
	defer func() {
		if p := recover(); p != nil {
			ok = false
		}
	}()
	bmp, err := gozxing.NewBinaryBitmap(matrixBinarizer{bits})
	if err != nil {
		return Result{}, false
	}
	if all {
		return readMulti(bmp)
	}
	r, err := qrcode.NewQRCodeReader().Decode(bmp, qrHints)
	if err != nil {
		return Result{}, false
	}
	return toResult(r)
}

// toResult turns a gozxing result into a Result, reconstructing the exact
// payload from the corrected data codewords.
func toResult(r *gozxing.Result) (Result, bool) {
	ec, _ := r.GetResultMetadata()[gozxing.ResultMetadataType_ERROR_CORRECTION_LEVEL].(string)
	payload, err := payloadBytes(r.GetRawBytes(), ec)
	if err != nil {
		return Result{}, false
	}
	return Result{Payload: payload, Text: r.GetText()}, true
}

// matrixBinarizer hands an already binarized image to gozxing.
type matrixBinarizer struct{ m *gozxing.BitMatrix }

func (b matrixBinarizer) GetLuminanceSource() gozxing.LuminanceSource { return nil }
func (b matrixBinarizer) GetBlackRow(y int, row *gozxing.BitArray) (*gozxing.BitArray, error) {
	return b.m.GetRow(y, row), nil
}
func (b matrixBinarizer) GetBlackMatrix() (*gozxing.BitMatrix, error) { return b.m, nil }
func (b matrixBinarizer) CreateBinarizer(gozxing.LuminanceSource) gozxing.Binarizer {
	return b
}
func (b matrixBinarizer) GetWidth() int  { return b.m.GetWidth() }
func (b matrixBinarizer) GetHeight() int { return b.m.GetHeight() }
