// Package qrpng draws a text as a QR code PNG (gozxing's QR writer), for
// the codes the fleet hands to technicians: technician tokens
// (cmd/fleet tech-token --png) and enrollment codes (the console).
package qrpng

import (
	"bytes"
	"fmt"
	"image/png"

	"github.com/makiuchi-d/gozxing"
	"github.com/makiuchi-d/gozxing/qrcode"
)

// DefaultSize is the side of the image in pixels.
const DefaultSize = 480

// Encode draws text as a QR code size×size pixels (DefaultSize if 0),
// with a quiet zone of four modules.
func Encode(text string, size int) ([]byte, error) {
	if size <= 0 {
		size = DefaultSize
	}
	hints := map[gozxing.EncodeHintType]any{gozxing.EncodeHintType_MARGIN: 4}
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
