package portal

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"testing"
)

// makePDF writes a minimal valid PDF with n empty A4 pages.
func makePDF(n int) []byte { return makeScanPDF(n, 0, nil) }

// makeScanPDF writes a valid PDF with n A4 pages, each with an image-like
// stream of pageBytes bytes from rnd (incompressible, like a scan).
func makeScanPDF(n, pageBytes int, rnd io.Reader) []byte {
	var b bytes.Buffer
	var offs []int
	obj := func(body string) {
		offs = append(offs, b.Len())
		fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", len(offs), body)
	}
	b.WriteString("%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
	obj("<< /Type /Catalog /Pages 2 0 R >>")
	kids := ""
	for i := 0; i < n; i++ {
		kids += fmt.Sprintf("%d 0 R ", 3+i)
	}
	obj(fmt.Sprintf("<< /Type /Pages /Kids [%s] /Count %d >>", kids, n))
	for i := 0; i < n; i++ {
		if pageBytes == 0 {
			obj("<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << >> >>")
			continue
		}
		obj(fmt.Sprintf("<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << >> /Contents %d 0 R >>", 3+n+i))
	}
	for i := 0; i < n && pageBytes > 0; i++ {
		data := make([]byte, pageBytes)
		io.ReadFull(rnd, data)
		obj(fmt.Sprintf("<< /Length %d >>\nstream\n%s\nendstream", pageBytes, data))
	}
	xref := b.Len()
	fmt.Fprintf(&b, "xref\n0 %d\n0000000000 65535 f \n", len(offs)+1)
	for _, o := range offs {
		fmt.Fprintf(&b, "%010d 00000 n \n", o)
	}
	fmt.Fprintf(&b, "trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n", len(offs)+1, xref)
	return b.Bytes()
}

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
	pdf := makeScanPDF(3, 50<<10, rand.NewChaCha8([32]byte{1}))
	if n, err := PageCount(pdf); err != nil || n != 3 || len(pdf) < 150<<10 {
		t.Fatalf("PageCount = %d, %v (%d bytes)", n, err, len(pdf))
	}
}
