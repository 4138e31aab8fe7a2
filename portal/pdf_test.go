package portal

import (
	"govkiosk/portal/pdftest"

	"math/rand/v2"
	"testing"
)

// makePDF writes a minimal valid PDF with n empty A4 pages.
func makePDF(n int) []byte { return pdftest.Scan(n, 0, nil) }

func TestPageCount(t *testing.T) {
	for _, tc := range []struct {
		name string
		pdf  []byte
		want int
		ok   bool
	}{
		{"one page", makePDF(1), 1, true},
		{"three pages", makePDF(3), 3, true},
		{"not a pdf", []byte("hello, world"), 0, false},
		{"truncated", makePDF(2)[:60], 0, false},
		{"empty", nil, 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n, err := PageCount(tc.pdf)
			if (err == nil) != tc.ok {
				t.Fatalf("PageCount err = %v, want ok=%v", err, tc.ok)
			}
			if n != tc.want {
				t.Errorf("PageCount = %d, want %d", n, tc.want)
			}
		})
	}
}

func TestScanPDFPageCount(t *testing.T) {
	pdf := pdftest.Scan(3, 50<<10, rand.NewChaCha8([32]byte{1}))
	if n, err := PageCount(pdf); err != nil || n != 3 || len(pdf) < 150<<10 {
		t.Fatalf("PageCount = %d, %v (%d bytes)", n, err, len(pdf))
	}
}
