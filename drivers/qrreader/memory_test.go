package qrreader

import (
	"image"
	"image/draw"
	"runtime"
	"testing"
)

// skipUnderRace skips a test that decodes on one goroutine, so the race
// detector has nothing to watch in it, while its instrumentation makes it
// 15-25 times slower (TestDecodeCorpus: 15 s plain, 230 s under -race,
// the longest part of make test). make test runs these tests again
// without -race (see the Makefile), so every assertion still runs.
func skipUnderRace(t *testing.T) {
	t.Helper()
	if raceBuild {
		t.Skip("single-goroutine decoding: nothing for the race detector to see; make test runs it without -race")
	}
}

// photo makes a w×h camera-like YCbCr image (as a JPEG decodes to): a
// textured, unevenly lit background, with qr pasted at (x, y) when given.
func photo(w, h int, qr *image.Gray, x, y int) *image.YCbCr {
	img := image.NewYCbCr(image.Rect(0, 0, w, h), image.YCbCrSubsampleRatio420)
	seed := uint32(12345)
	for j := range h {
		row := img.Y[j*img.YStride:][:w]
		for i := range row {
			seed = seed*1664525 + 1013904223
			row[i] = uint8(90 + 60*i/w + 30*j/h + int(seed>>27))
		}
	}
	for i := range img.Cb {
		img.Cb[i], img.Cr[i] = 128, 128
	}
	if qr != nil {
		b := qr.Bounds()
		for j := range b.Dy() {
			copy(img.Y[(y+j)*img.YStride+x:][:b.Dx()], qr.Pix[j*qr.Stride:][:b.Dx()])
		}
	}
	return img
}

// allocated reports the bytes allocated while f runs.
func allocated(f func()) uint64 {
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// TestDecodeMemory12MP: decoding a 12-megapixel photo allocates at most 4×
// its grey-scale size, whether the code is found at once or every pass
// runs in vain.
func TestDecodeMemory12MP(t *testing.T) {
	skipUnderRace(t)
	const w, h = 4000, 3000
	qr := encodeQR(t, "https://dvc.example.gov.vn/tra-cuu?ma=HS-2025-000123", 600)
	grey := image.NewGray(image.Rect(0, 0, w, h))
	draw.Draw(grey, grey.Rect, photo(w, h, qr, 1700, 1200), image.Point{}, draw.Src)
	tests := []struct {
		name  string
		img   image.Image
		found bool
	}{
		{"YCbCr photo with a code", photo(w, h, qr, 1700, 1200), true},
		{"YCbCr photo without a code", photo(w, h, nil, 0, 0), false},
		{"grey photo with a code", grey, true},
	}
	const limit = 4 * w * h
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var err error
			n := allocated(func() { _, err = DecodeImage(tc.img) })
			if (err == nil) != tc.found {
				t.Fatalf("DecodeImage error = %v, want found=%v", err, tc.found)
			}
			t.Logf("allocated %.1f MB for a %.1f MB grey image", float64(n)/1e6, float64(w*h)/1e6)
			if n > limit {
				t.Errorf("allocated %d bytes, more than 4× the grey-scale size (%d)", n, limit)
			}
		})
	}
}
