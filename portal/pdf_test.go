package portal

import (
	"govkiosk/portal/pdftest"

	"math/rand/v2"
	"runtime"
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

// TestPageCountRefusesZipBombs is the attack of a ~100 KB PDF whose one
// stream inflates to 100 MB, hidden wherever a reader inflates while it
// merely counts pages. PageCount must give up having inflated (and so
// allocated) no more than about MaxInflatedBytes, and refuse every bomb
// but the image one, which it has no reason to inflate at all.
func TestPageCountRefusesZipBombs(t *testing.T) {
	const inflated = 100 << 20
	const allowance = 4 * MaxInflatedBytes // buffers grow by doubling; the parser has its own garbage
	for _, kind := range pdftest.BombKinds {
		t.Run(string(kind), func(t *testing.T) {
			pdf := pdftest.Bomb(kind, inflated)
			if len(pdf) > 256<<10 {
				t.Fatalf("bomb is %d bytes", len(pdf))
			}
			runtime.GC()
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			n, err := PageCount(pdf)
			runtime.ReadMemStats(&after)
			alloc := after.TotalAlloc - before.TotalAlloc
			t.Logf("%d-byte PDF: %d pages, err %v, %.1f MB allocated", len(pdf), n, err, float64(alloc)/(1<<20))
			if alloc > allowance {
				t.Errorf("counting pages of a %d KB PDF allocated %.0f MB (at most %d MB)", len(pdf)>>10, float64(alloc)/(1<<20), allowance>>20)
			}
			if kind != pdftest.BombImage && err == nil {
				t.Errorf("a %s bomb was accepted (%d pages)", kind, n)
			}
		})
	}
}

// TestPageCountAcceptsRealisticDocuments: the inflation bound leaves room
// for what kiosks send.
func TestPageCountAcceptsRealisticDocuments(t *testing.T) {
	for _, kind := range []pdftest.BombKind{pdftest.BombMetadata, pdftest.BombContent, pdftest.BombObjectStream, pdftest.BombXRefStream} {
		if n, err := PageCount(pdftest.Bomb(kind, 64<<10)); err != nil || n != 1 {
			t.Errorf("%s stream of 64 KB: %d pages, %v", kind, n, err)
		}
	}
}
