package receipt

import (
	"image"
	"testing"
)

// Photos and tinted logos are dithered; text and QR codes are thresholded.
func TestToMonoDithersOnlyPhotos(t *testing.T) {
	text, err := RenderHTML([]byte(`<p style="font-size:9pt">Giấy tiếp nhận hồ sơ — ใบรับคำขอ กรุณาเก็บไว้ 0123456789</p>`), 576)
	if err != nil {
		t.Fatal(err)
	}
	th := 160 // one line of text; RenderHTML gives a whole page
	if inked(text, image.Rect(0, th, 576, text.Bounds().Dy())) != 0 {
		t.Fatal("text longer than expected")
	}
	// Below the text: a flat mid-grey logo (192×96) and a horizontal
	// gradient (a photo stand-in), then a QR code.
	qr, err := QRCode("https://example.test/t/1", 200)
	if err != nil {
		t.Fatal(err)
	}
	q := qr.(*image.Gray)
	img := image.NewGray(image.Rect(0, 0, 576, th+96+q.Rect.Dy()))
	fill(img.Pix, 255)
	for y := 0; y < th; y++ {
		copy(img.Pix[y*img.Stride:(y+1)*img.Stride], text.Pix[y*text.Stride:])
	}
	for y := th; y < th+96; y++ {
		for x := 0; x < 192; x++ {
			img.Pix[y*img.Stride+x] = 128
		}
		for x := 256; x < 576; x++ {
			img.Pix[y*img.Stride+x] = uint8((x - 256) * 255 / 320)
		}
	}
	for y := 0; y < q.Rect.Dy(); y++ {
		copy(img.Pix[(th+96+y)*img.Stride:], q.Pix[y*q.Stride:(y+1)*q.Stride])
	}

	m := ToMono(img, 576)
	share := func(r image.Rectangle) float64 { return float64(inked(m, r)) / float64(r.Dx()*r.Dy()) }
	// The text is exactly the plain threshold of its grey.
	for y := 0; y < th; y++ {
		for x := 0; x < 576; x++ {
			want := uint8(255)
			if text.Pix[y*text.Stride+x] < monoThreshold {
				want = 0
			}
			if m.Pix[y*m.Stride+x] != want {
				t.Fatalf("text dot (%d,%d) = %d, want plain threshold %d", x, y, m.Pix[y*m.Stride+x], want)
			}
		}
	}
	// Flat 50 % grey: about half the dots (threshold alone would print all).
	inner := image.Rect(16, th+16, 176, th+80)
	if s := share(inner); s < 0.4 || s > 0.6 {
		t.Errorf("flat grey logo prints %.2f of its dots, want about half", s)
	}
	// The gradient gets darker to the left.
	light, dark := share(image.Rect(512, th+16, 560, th+80)), share(image.Rect(272, th+16, 320, th+80))
	if !(dark > light+0.4) {
		t.Errorf("gradient: dark end %.2f, light end %.2f", dark, light)
	}
	// The QR code stays exactly its modules.
	for y := 0; y < min(q.Rect.Dy(), m.Rect.Dy()-th-96); y++ { // the quiet zone below is trimmed
		for x := 0; x < q.Rect.Dx(); x++ {
			if m.Pix[(th+96+y)*m.Stride+x] != q.Pix[y*q.Stride+x] {
				t.Fatalf("QR dot (%d,%d) changed", x, y)
			}
		}
	}
}
