// Package pdftest writes small, valid PDFs that stand in for scanned
// documents in tests and benchmarks: A4 pages whose content streams are
// bytes from a reader (incompressible, like a compressed scan).
package pdftest

import (
	"bytes"
	"fmt"
	"io"
	"strings"
)

// Scan returns a PDF of n A4 pages. With pageBytes > 0 each page gets a
// content stream of that many bytes read from rnd; with 0 the pages are empty.
func Scan(n, pageBytes int, rnd io.Reader) []byte {
	var b bytes.Buffer
	var offs []int
	obj := func(body string) {
		offs = append(offs, b.Len())
		fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", len(offs), body)
	}
	b.WriteString("%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
	obj("<< /Type /Catalog /Pages 2 0 R >>")
	var kids strings.Builder
	for i := range n {
		fmt.Fprintf(&kids, "%d 0 R ", 3+i)
	}
	obj(fmt.Sprintf("<< /Type /Pages /Kids [%s] /Count %d >>", kids.String(), n))
	for i := range n {
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
