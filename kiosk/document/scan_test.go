package document

import (
	"bytes"
	"context"
	"image"
	"image/png"
	"os/exec"
	"path/filepath"
	"testing"

	"govkiosk/drivers/scanner"
)

// A batch from a real SANE device (the test backend) becomes an A4 PDF of
// grey images and thumbnails that show the page.
func TestScannedBatchToPDFAndThumbnails(t *testing.T) {
	if _, err := exec.LookPath("scanimage"); err != nil {
		t.Skip("scanimage not installed (apt install sane-utils)")
	}
	cfgDir := filepath.Join(t.TempDir(), "sane.d")
	if err := scanner.WriteTestConfig(cfgDir); err != nil {
		t.Fatal(err)
	}
	s, err := scanner.Open(&scanner.Opts{Device: scanner.TestDevice, ConfigDir: cfgDir, DPI: 150, TempDir: t.TempDir()}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	pages, err := s.ScanBatch(context.Background(), 3)
	if err != nil {
		t.Fatalf("ScanBatch: %v", err)
	}
	if len(pages) != 3 {
		t.Fatalf("got %d pages, want 3", len(pages))
	}

	pdf, err := BuildPDF(pages, 150)
	if err != nil {
		t.Fatalf("BuildPDF: %v", err)
	}
	if n, err := PageCount(pdf); err != nil || n != 3 {
		t.Fatalf("PageCount = %d, %v; want 3", n, err)
	}
	assertA4Pages(t, pdf, 3)
	if !bytes.Contains(pdf, []byte("/DeviceGray")) {
		t.Error("PDF images are not DeviceGray")
	}

	thumbs, err := Thumbnails(pdf, 200)
	if err != nil {
		t.Fatalf("Thumbnails: %v", err)
	}
	if len(thumbs) != 3 {
		t.Fatalf("got %d thumbnails, want 3", len(thumbs))
	}
	for i, th := range thumbs {
		img, err := png.Decode(bytes.NewReader(th))
		if err != nil {
			t.Fatalf("thumbnail %d: %v", i+1, err)
		}
		b := img.Bounds()
		if b.Dx() != 200 || b.Dy() < 281 || b.Dy() > 284 {
			t.Errorf("thumbnail %d is %v, want 200x283", i+1, b)
		}
		// The test backend draws a black/white grid: the thumbnail must show it.
		lo, hi := grayRange(img)
		if lo > 64 || hi < 192 {
			t.Errorf("thumbnail %d grey range %d..%d, want a visible grid", i+1, lo, hi)
		}
	}
}

func assertA4Pages(t *testing.T, pdf []byte, want int) {
	t.Helper()
	dims, err := pageDims(pdf)
	if err != nil {
		t.Fatal(err)
	}
	if len(dims) != want {
		t.Fatalf("%d page dims, want %d", len(dims), want)
	}
	for i, d := range dims {
		// A4 is 595.3 x 841.9 pt.
		if d.Width < 594 || d.Width > 597 || d.Height < 840 || d.Height > 843 {
			t.Errorf("page %d is %.1fx%.1f pt, want A4", i+1, d.Width, d.Height)
		}
	}
}

func grayRange(img image.Image) (lo, hi uint8) {
	lo = 255
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, _, _, _ := img.At(x, y).RGBA()
			v := uint8(r >> 8)
			lo, hi = min(lo, v), max(hi, v)
		}
	}
	return lo, hi
}
