// Package qrpng draws a text as a QR code PNG (gozxing's QR writer) for a
// screen or paper that a phone or a kiosk's reader scans: the fleet's
// technician tokens (cmd/fleet tech-token --png) and enrollment codes (its
// console), and the reference portal's enrollment codes, test ID cards and
// login QR.
package qrpng

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"image/png"

	"github.com/makiuchi-d/gozxing"
	"github.com/makiuchi-d/gozxing/qrcode"
	"github.com/makiuchi-d/gozxing/qrcode/decoder"
)

// DefaultSize is the side of the image in pixels.
const DefaultSize = 480

// Encode draws text as a QR code size×size pixels (DefaultSize if 0),
// with error correction M (a photographed screen's glare and a crumpled
// sheet still read) and a quiet zone of four modules.
func Encode(text string, size int) ([]byte, error) {
	if size <= 0 {
		size = DefaultSize
	}
	hints := map[gozxing.EncodeHintType]any{
		gozxing.EncodeHintType_ERROR_CORRECTION: decoder.ErrorCorrectionLevel_M,
		gozxing.EncodeHintType_MARGIN:           4,
		gozxing.EncodeHintType_CHARACTER_SET:    "UTF-8",
	}
	m, err := qrcode.NewQRCodeWriter().Encode(text, gozxing.BarcodeFormat_QR_CODE, size, size, hints)
	if err != nil {
		return nil, fmt.Errorf("qr code: %w", err)
	}
	var b bytes.Buffer
	if err := png.Encode(&b, m); err != nil {
		return nil, fmt.Errorf("qr code: %w", err)
	}
	return b.Bytes(), nil
}

// DataURL is Encode as a data: URL for an <img> of a page.
func DataURL(text string, size int) (string, error) {
	b, err := Encode(text, size)
	if err != nil {
		return "", err
	}
	return "data:image/png;base64," + base64.StdEncoding.EncodeToString(b), nil
}
