package qrpng_test

import (
	"bytes"
	"image"
	"testing"

	"github.com/makiuchi-d/gozxing"
	"github.com/makiuchi-d/gozxing/qrcode"

	"govkiosk/backend-client/qrpng"
)

func TestEncodeReadsBack(t *testing.T) {
	text := "govkiosk-enroll:?v=1&office=QN-TK&token=ABC"
	b, err := qrpng.Encode(text, 0)
	if err != nil {
		t.Fatal(err)
	}
	img, _, err := image.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("not a PNG: %v", err)
	}
	if img.Bounds().Dx() != qrpng.DefaultSize {
		t.Errorf("width %d, want %d", img.Bounds().Dx(), qrpng.DefaultSize)
	}
	bmp, err := gozxing.NewBinaryBitmapFromImage(img)
	if err != nil {
		t.Fatal(err)
	}
	res, err := qrcode.NewQRCodeReader().Decode(bmp, nil)
	if err != nil || res.GetText() != text {
		t.Fatalf("read back %v, %v; want %q", res, err, text)
	}
}
