// Package pdftest writes small, valid PDFs that stand in for scanned
// documents in tests and benchmarks: A4 pages whose content streams are
// bytes from a reader (incompressible, like a compressed scan), and
// decompression bombs (Bomb) for the portal's hostile-input tests.
package pdftest

import (
	"bytes"
	"fmt"
	"hash/adler32"
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

// A BombKind says where Bomb hides its decompression bomb.
type BombKind string

// Places for a bomb: the streams a PDF reader may inflate while it only
// counts pages.
const (
	BombMetadata     BombKind = "metadata" // the catalogue's XMP metadata stream
	BombContent      BombKind = "content"  // the page's content stream
	BombImage        BombKind = "image"    // an image XObject that declares 100×100 grey pixels
	BombObjectStream BombKind = "objstm"   // the object stream that holds the catalogue and page tree
	BombXRefStream   BombKind = "xref"     // the cross-reference stream
	BombChain        BombKind = "chain"    // metadata, Flate inside ASCIIHex, so no zlib header shows in the file
)

// BombKinds lists every BombKind.
var BombKinds = []BombKind{BombMetadata, BombContent, BombImage, BombObjectStream, BombXRefStream, BombChain}

// Bomb returns a valid one-page PDF in which one stream, placed as kind
// says, inflates to about inflated bytes of zeros: about 100 KB of file for
// 100 MB inflated.
func Bomb(kind BombKind, inflated int) []byte {
	z := deflateZeros(nil, inflated)
	page := "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << >> >>"
	catalog := "<< /Type /Catalog /Pages 2 0 R >>"
	pages := "<< /Type /Pages /Kids [3 0 R] /Count 1 >>"
	switch kind {
	case BombMetadata:
		return classic(strings.Replace(catalog, ">>", "/Metadata 4 0 R >>", 1), pages, page,
			streamObj("/Type /Metadata /Subtype /XML /Filter /FlateDecode", z))
	case BombChain:
		hexed := []byte(fmt.Sprintf("%x>", z))
		return classic(strings.Replace(catalog, ">>", "/Metadata 4 0 R >>", 1), pages, page,
			streamObj("/Type /Metadata /Subtype /XML /Filter [/ASCIIHexDecode /FlateDecode]", hexed))
	case BombContent:
		return classic(catalog, pages, strings.Replace(page, "/Resources << >>", "/Resources << >> /Contents 4 0 R", 1),
			streamObj("/Filter /FlateDecode", z))
	case BombImage:
		return classic(catalog, pages, strings.Replace(page, "/Resources << >>", "/Resources << /XObject << /Im0 4 0 R >> >> /Contents 5 0 R", 1),
			streamObj("/Type /XObject /Subtype /Image /Width 100 /Height 100 /ColorSpace /DeviceGray /BitsPerComponent 8 /Filter /FlateDecode", z),
			streamObj("", []byte("q 100 0 0 100 0 0 cm /Im0 Do Q")))
	case BombObjectStream:
		return objStmBomb(catalog, pages, page, inflated)
	case BombXRefStream:
		return xrefStreamBomb(catalog, pages, page, inflated)
	}
	panic("pdftest: unknown bomb kind " + string(kind))
}

// deflateZeros returns a zlib stream of prefix followed by zeros up to
// about n bytes (exactly len(prefix)+1+258k), written directly rather than
// by a compressor, so a 100 MB bomb costs no time to make: a stored block
// holds prefix, then one dynamic Huffman block holds a literal zero and k
// copies of 258 bytes at distance 1, whose codes are a single 0 bit each.
func deflateZeros(prefix []byte, n int) []byte {
	k := max(0, n-len(prefix)-1) / 258
	var w bitWriter
	w.buf = append(w.buf, 0x78, 0xda)
	if len(prefix) > 0 {
		w.bits(0, 1) // BFINAL 0
		w.bits(0, 2) // stored
		w.align()
		w.buf = append(w.buf, byte(len(prefix)), byte(len(prefix)>>8), ^byte(len(prefix)), ^byte(len(prefix)>>8))
		w.buf = append(w.buf, prefix...)
	}
	w.bits(1, 1)  // BFINAL 1
	w.bits(2, 2)  // dynamic Huffman codes
	w.bits(29, 5) // HLIT: 286 literal/length codes
	w.bits(0, 5)  // HDIST: 1 distance code
	w.bits(14, 4) // HCLEN: 18 code length codes
	// Code length code lengths in RFC 1951 order (16 17 18 0 8 7 9 6 10 5
	// 11 4 12 3 13 2 14 1): 18 has 1 bit (code 0), 2 and 1 have 2 bits
	// (codes 11 and 10).
	for _, l := range []uint64{0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 2} {
		w.bits(l, 3)
	}
	// Literal/length lengths: 0 → 2, 256 (end) → 2, 285 (length 258) → 1;
	// the one distance code (1) → 1.
	w.code(3, 2) // 2
	w.code(0, 1)
	w.bits(138-11, 7) // 138 zeros
	w.code(0, 1)
	w.bits(117-11, 7) // 117 zeros: 1…255
	w.code(3, 2)      // 2 for 256
	w.code(0, 1)
	w.bits(28-11, 7) // 28 zeros: 257…284
	w.code(2, 2)     // 1 for 285
	w.code(2, 2)     // 1 for distance 0
	// Canonical codes: 285 → 0, literal 0 → 10, end → 11; distance → 0.
	w.code(2, 2)
	for range k {
		w.code(0, 1)
		w.code(0, 1)
	}
	w.code(3, 2)
	w.align()
	a := adler32.New()
	a.Write(prefix)
	sum := a.Sum32()
	lo, hi := uint64(sum&0xffff), uint64(sum>>16)
	hi = (hi + uint64(1+258*k)%65521*lo) % 65521 // zeros leave the low sum alone
	sum = uint32(hi<<16 | lo)
	return append(w.buf, byte(sum>>24), byte(sum>>16), byte(sum>>8), byte(sum))
}

// bitWriter writes a deflate bit stream: values least significant bit
// first, Huffman codes most significant bit first.
type bitWriter struct {
	buf []byte
	acc uint64
	n   uint
}

func (w *bitWriter) bits(v uint64, n uint) {
	w.acc |= v << w.n
	for w.n += n; w.n >= 8; w.n -= 8 {
		w.buf = append(w.buf, byte(w.acc))
		w.acc >>= 8
	}
}

func (w *bitWriter) code(c uint64, n uint) {
	var r uint64
	for i := range n {
		r |= (c >> i & 1) << (n - 1 - i)
	}
	w.bits(r, n)
}

func (w *bitWriter) align() {
	if w.n > 0 {
		w.bits(0, 8-w.n)
	}
}

func streamObj(dict string, data []byte) string {
	return fmt.Sprintf("<< %s /Length %d >>\nstream\n%s\nendstream", dict, len(data), data)
}

// classic writes objects 1… with a classic cross-reference table.
func classic(objs ...string) []byte {
	var b bytes.Buffer
	var offs []int
	b.WriteString("%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
	for i, o := range objs {
		offs = append(offs, b.Len())
		fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", i+1, o)
	}
	xref := b.Len()
	fmt.Fprintf(&b, "xref\n0 %d\n0000000000 65535 f \n", len(objs)+1)
	for _, o := range offs {
		fmt.Fprintf(&b, "%010d 00000 n \n", o)
	}
	fmt.Fprintf(&b, "trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n", len(objs)+1, xref)
	return b.Bytes()
}

// xrefEntry is one W [1 4 2] cross-reference stream entry.
func xrefEntry(typ byte, f2 uint32, f3 uint16) []byte {
	return []byte{typ, byte(f2 >> 24), byte(f2 >> 16), byte(f2 >> 8), byte(f2), byte(f3 >> 8), byte(f3)}
}

// objStmBomb puts objects 1–3 into object stream 4, padded to inflated
// bytes, behind cross-reference stream 5.
func objStmBomb(catalog, pages, page string, inflated int) []byte {
	objs := []string{catalog, pages, page}
	var prolog, body strings.Builder
	for i, o := range objs {
		fmt.Fprintf(&prolog, "%d %d ", i+1, body.Len())
		body.WriteString(o + "\n")
	}
	first := prolog.Len()
	content := deflateZeros([]byte(prolog.String()+body.String()), inflated)
	var b bytes.Buffer
	b.WriteString("%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
	off4 := b.Len()
	fmt.Fprintf(&b, "4 0 obj\n%s\nendobj\n", streamObj(fmt.Sprintf("/Type /ObjStm /N 3 /First %d /Filter /FlateDecode", first), content))
	off5 := b.Len()
	var x []byte
	x = append(x, xrefEntry(0, 0, 65535)...)
	for i := range objs {
		x = append(x, xrefEntry(2, 4, uint16(i))...)
	}
	x = append(x, xrefEntry(1, uint32(off4), 0)...)
	x = append(x, xrefEntry(1, uint32(off5), 0)...)
	fmt.Fprintf(&b, "5 0 obj\n%s\nendobj\n", streamObj("/Type /XRef /Size 6 /W [1 4 2] /Root 1 0 R", x))
	fmt.Fprintf(&b, "startxref\n%d\n%%%%EOF\n", off5)
	return b.Bytes()
}

// xrefStreamBomb writes objects 1–3 plainly and a cross-reference stream 4
// whose entries are followed by zeros up to inflated bytes.
func xrefStreamBomb(catalog, pages, page string, inflated int) []byte {
	var b bytes.Buffer
	b.WriteString("%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
	var offs []int
	for i, o := range []string{catalog, pages, page} {
		offs = append(offs, b.Len())
		fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", i+1, o)
	}
	off4 := b.Len()
	var x []byte
	x = append(x, xrefEntry(0, 0, 65535)...)
	for _, o := range offs {
		x = append(x, xrefEntry(1, uint32(o), 0)...)
	}
	x = append(x, xrefEntry(1, uint32(off4), 0)...)
	fmt.Fprintf(&b, "4 0 obj\n%s\nendobj\n", streamObj("/Type /XRef /Size 5 /W [1 4 2] /Root 1 0 R /Filter /FlateDecode", deflateZeros(x, inflated)))
	fmt.Fprintf(&b, "startxref\n%d\n%%%%EOF\n", off4)
	return b.Bytes()
}
