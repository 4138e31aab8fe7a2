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

// DecodeImage reads one QR code from img with gozxing's QR reader in
// TRY_HARDER mode. It tries the local (hybrid) and global binarizers, each on
// the image as is and inverted (light modules on a dark ground). It returns
// the code's text as UTF-8 bytes, or an error wrapping ErrNotFound.
func DecodeImage(img image.Image) ([]byte, error) {
	if img == nil {
		return nil, fmt.Errorf("decode image: nil image: %w", ErrNotFound)
	}
	b := img.Bounds()
	if b.Dx() < 21 || b.Dy() < 21 { // smaller than a version 1 symbol
		return nil, fmt.Errorf("decode image: %dx%d is too small: %w", b.Dx(), b.Dy(), ErrNotFound)
	}
	src := gozxing.NewLuminanceSourceFromImage(img)
	sources := []gozxing.LuminanceSource{src, src.Invert()}
	binarizers := []func(gozxing.LuminanceSource) gozxing.Binarizer{
		gozxing.NewHybridBinarizer,
		gozxing.NewGlobalHistgramBinarizer,
	}
	hints := map[gozxing.DecodeHintType]interface{}{
		gozxing.DecodeHintType_TRY_HARDER: true,
	}
	var last error
	for _, s := range sources {
		for _, nb := range binarizers {
			text, err := decodeOnce(s, nb, hints)
			if err == nil {
				return []byte(text), nil
			}
			last = err
		}
	}
	return nil, fmt.Errorf("decode image: %w (last attempt: %v)", ErrNotFound, last)
}

// decodeOnce runs one reader pass. gozxing is a port of Java code and can
// panic on odd input; a panic counts as a failed attempt.
func decodeOnce(src gozxing.LuminanceSource, nb func(gozxing.LuminanceSource) gozxing.Binarizer, hints map[gozxing.DecodeHintType]interface{}) (text string, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("gozxing panic: %v", p)
		}
	}()
	bmp, err := gozxing.NewBinaryBitmap(nb(src))
	if err != nil {
		return "", err
	}
	res, err := qrcode.NewQRCodeReader().Decode(bmp, hints)
	if err != nil {
		return "", err
	}
	return res.GetText(), nil
}
