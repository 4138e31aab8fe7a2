package printer

import (
	"image"
	"testing"

	"github.com/makiuchi-d/gozxing"
	"github.com/makiuchi-d/gozxing/qrcode"
)

// The driver prints images that are already black and white; these build
// such images without the kiosk's receipt layout.

func fill(p []uint8, v uint8) {
	for i := range p {
		p[i] = v
	}
}

// textLines is n lines of text-like ink (dashes of glyph height with gaps),
// width dots wide, on white.
func textLines(width, n int) *image.Gray {
	const line, glyph = 40, 24
	img := image.NewGray(image.Rect(0, 0, width, n*line))
	fill(img.Pix, 255)
	for l := 0; l < n; l++ {
		for y := l*line + 8; y < l*line+8+glyph; y++ {
			for x := 16; x < width-16; x++ {
				if (x/12+l)%3 != 0 && x%12 < 9 {
					img.Pix[y*img.Stride+x] = 0
				}
			}
		}
	}
	return img
}

// receiptImage is a receipt-like image 576 dots wide: lines of "text", the
// QR symbol of payload with 6-dot modules and a quiet zone, more lines.
func receiptImage(t testing.TB, payload string) *image.Gray {
	t.Helper()
	const width, scale = 576, 6
	m, err := qrcode.NewQRCodeWriter().Encode(payload, gozxing.BarcodeFormat_QR_CODE, 0, 0,
		map[gozxing.EncodeHintType]any{gozxing.EncodeHintType_MARGIN: 4})
	if err != nil {
		t.Fatal(err)
	}
	n := m.GetWidth()
	if n*scale > width {
		t.Fatalf("QR of %d modules does not fit", n)
	}
	head, tail := textLines(width, 3), textLines(width, 2)
	qrRows := n * scale
	img := image.NewGray(image.Rect(0, 0, width, head.Rect.Dy()+qrRows+tail.Rect.Dy()))
	fill(img.Pix, 255)
	copy(img.Pix, head.Pix)
	left := (width - n*scale) / 2
	for y := 0; y < qrRows; y++ {
		row := img.Pix[(head.Rect.Dy()+y)*img.Stride:]
		for x := 0; x < n*scale; x++ {
			if m.Get(x/scale, y/scale) {
				row[left+x] = 0
			}
		}
	}
	copy(img.Pix[(head.Rect.Dy()+qrRows)*img.Stride:], tail.Pix)
	return img
}

// The driver takes images already reduced to the paper: a wider one is
// refused, a narrower one centred, a colour one thresholded over white.
func TestRasterParts(t *testing.T) {
	if _, err := Encode(Opts{WidthDots: 384}, Part{Image: solid(385, 4)}); err == nil {
		t.Error("an image wider than the paper was encoded")
	}
	img := image.NewRGBA(image.Rect(10, 10, 30, 12)) // transparent: paper
	for x := 10; x < 20; x++ {
		img.Pix[img.PixOffset(x, 10)+3] = 0xff // opaque black
	}
	g, err := raster(img, 40)
	if err != nil {
		t.Fatal(err)
	}
	for x := 0; x < 40; x++ {
		want := uint8(255)
		if x >= 10 && x < 20 {
			want = 0
		}
		if got := g.Pix[x]; got != want {
			t.Fatalf("row 0 dot %d = %d, want %d", x, got, want)
		}
		if g.Pix[g.Stride+x] != 255 {
			t.Fatalf("row 1 dot %d inked", x)
		}
	}
	if s := solid(40, 2); func() *image.Gray { g, _ := raster(s, 40); return g }() != s {
		t.Error("an exact-width grey image was copied, not sent as it is")
	}
}
