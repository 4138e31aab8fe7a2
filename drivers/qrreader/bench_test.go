package qrreader

import (
	"image"
	"testing"
)

// BenchmarkDecodeCameraFrame: a 640×480 camera frame with a phone-sized
// code, slightly blurred, on a textured background.
func BenchmarkDecodeCameraFrame(b *testing.B) {
	qr := blur(scale(encodeQR(b, "https://dvc.example.gov.vn/tra-cuu?ma=HS-2025-000123", 240), 1.2), 1)
	frame := photo(640, 480, qr, 170, 90)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodeImage(frame); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeA4Page: an A4 page scanned at 300 dpi (2480×3508) with
// one 2 cm code in a corner.
func BenchmarkDecodeA4Page(b *testing.B) {
	qr := encodeQR(b, "HS-2025-000123", 236)
	page := image.NewGray(image.Rect(0, 0, 2480, 3508))
	for i := range page.Pix {
		page.Pix[i] = 245
	}
	for y := range 236 {
		copy(page.Pix[(3100+y)*page.Stride+2100:][:236], qr.Pix[y*qr.Stride:][:236])
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodeImage(page); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeCorpusSample(b *testing.B) {
	img := loadImage(b, corpusDir+"/qrcode-2/8.png")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodeImage(img); err != nil {
			b.Fatal(err)
		}
	}
}
