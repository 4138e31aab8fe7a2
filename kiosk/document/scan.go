package document

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	_ "image/jpeg" // scanned pages may come as JPEG
	_ "image/png"
	"strconv"

	_ "golang.org/x/image/tiff" // and as TIFF

	"govkiosk/drivers/device"
	"govkiosk/kiosk/document/pipeline"
)

// ScanPage is one page through the pipeline, with whether it goes into the
// PDF: blank pages are left out until the citizen restores one.
type ScanPage struct {
	*pipeline.Page
	Keep bool
}

// MaxPageBytes bounds one encoded input page.
const MaxPageBytes = 64 << 20

// ErrBadImage wraps every reason an input page cannot be read.
var ErrBadImage = errors.New("document: unreadable page image")

// DecodeGray decodes a PNG, JPEG, TIFF or binary PGM (P5) page into grey,
// refusing more than pipeline.MaxPixels before decoding.
func DecodeGray(data []byte) (*image.Gray, error) {
	if len(data) > MaxPageBytes {
		return nil, fmt.Errorf("%w: %d bytes, at most %d", ErrBadImage, len(data), MaxPageBytes)
	}
	if bytes.HasPrefix(data, []byte("P5")) {
		return decodePGM(data)
	}
	c, _, err := image.DecodeConfig(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadImage, err)
	}
	if c.Width <= 0 || c.Height <= 0 || c.Width*c.Height > pipeline.MaxPixels {
		return nil, fmt.Errorf("%w: %dx%d pixels, at most %d", ErrBadImage, c.Width, c.Height, pipeline.MaxPixels)
	}
	img, _, err := image.Decode(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadImage, err)
	}
	return toGray(img), nil
}

func toGray(img image.Image) *image.Gray {
	if g, ok := img.(*image.Gray); ok && g.Rect.Min == (image.Point{}) {
		return g
	}
	b := img.Bounds()
	g := image.NewGray(image.Rect(0, 0, b.Dx(), b.Dy()))
	for y := range b.Dy() {
		for x := range b.Dx() {
			g.Pix[y*g.Stride+x] = grayAt(img, b.Min.X+x, b.Min.Y+y)
		}
	}
	return g
}

// decodePGM reads a binary 8-bit PGM (P5), the format unpaper and netpbm
// speak.
func decodePGM(data []byte) (*image.Gray, error) {
	var fields []int
	i := 2
	for len(fields) < 3 && i < len(data) {
		switch c := data[i]; {
		case c == '#':
			for i < len(data) && data[i] != '\n' {
				i++
			}
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c >= '0' && c <= '9':
			j := i
			for j < len(data) && data[j] >= '0' && data[j] <= '9' {
				j++
			}
			n, err := strconv.Atoi(string(data[i:j]))
			if err != nil || n <= 0 {
				return nil, fmt.Errorf("%w: bad PGM header", ErrBadImage)
			}
			fields = append(fields, n)
			i = j
		default:
			return nil, fmt.Errorf("%w: bad PGM header", ErrBadImage)
		}
	}
	if len(fields) < 3 || i >= len(data) {
		return nil, fmt.Errorf("%w: truncated PGM header", ErrBadImage)
	}
	w, h, maxv := fields[0], fields[1], fields[2]
	if maxv > 255 {
		return nil, fmt.Errorf("%w: 16-bit PGM not supported", ErrBadImage)
	}
	if w*h > pipeline.MaxPixels || w > 1<<16 || h > 1<<16 {
		return nil, fmt.Errorf("%w: %dx%d pixels, at most %d", ErrBadImage, w, h, pipeline.MaxPixels)
	}
	i++ // one whitespace byte ends the header
	if len(data)-i < w*h {
		return nil, fmt.Errorf("%w: PGM has %d of %d pixel bytes", ErrBadImage, len(data)-i, w*h)
	}
	g := image.NewGray(image.Rect(0, 0, w, h))
	copy(g.Pix, data[i:i+w*h])
	if maxv != 255 {
		for k, v := range g.Pix {
			g.Pix[k] = uint8(min(255, int(v)*255/maxv))
		}
	}
	return g, nil
}

// ProcessPages runs the pipeline on each scanned page in order (dpi for
// pages that do not say). Blank pages are kept in the result, not in the
// PDF (Keep false).
func ProcessPages(ctx context.Context, pages []device.Page, dpi int, o pipeline.Options) ([]ScanPage, error) {
	if len(pages) > maxPDFPages {
		return nil, fmt.Errorf("document: %d pages, at most %d", len(pages), maxPDFPages)
	}
	out := make([]ScanPage, 0, len(pages))
	for i, pg := range pages {
		g, err := DecodeGray(pg.PNG)
		if err != nil {
			return nil, fmt.Errorf("document: page %d: %w", i+1, err)
		}
		p, err := pipeline.Process(ctx, g, pageDPI(pg, dpi), o)
		if err != nil {
			return nil, fmt.Errorf("document: page %d: %w", i+1, err)
		}
		out = append(out, ScanPage{Page: p, Keep: !p.Blank})
	}
	return out, nil
}

// Kept counts the pages that go into the PDF.
func Kept(pages []ScanPage) int {
	n := 0
	for _, p := range pages {
		if p.Keep {
			n++
		}
	}
	return n
}

// ScanPDF writes the kept pages as one PDF: each page exactly its image's
// physical size, the image stored as it came from the pipeline (G4 as
// CCITTFaxDecode K -1, grey as DCTDecode, mixed as a DCTDecode background
// under a G4 stencil painted black), so nothing is decoded and encoded
// again. The result is checked with pdfcpu.
func ScanPDF(pages []ScanPage) ([]byte, error) {
	var kept []*pipeline.Page
	for _, p := range pages {
		if p.Keep {
			kept = append(kept, p.Page)
		}
	}
	if len(kept) == 0 {
		return nil, errors.New("document: scan PDF: no pages kept")
	}
	var b bytes.Buffer
	var offsets []int
	obj := func(body func()) {
		offsets = append(offsets, b.Len())
		fmt.Fprintf(&b, "%d 0 obj\n", len(offsets))
		body()
		b.WriteString("\nendobj\n")
	}
	b.WriteString("%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
	n := len(kept)
	// 1 catalog, 2 page tree, then per page: the page, its contents, its
	// image and, for a mixed page, its background.
	pageObj := make([]int, n)
	next := 3
	for i, p := range kept {
		pageObj[i] = next
		next += 3
		if p.Kind == pipeline.KindMixed {
			next++
		}
	}
	obj(func() { b.WriteString("<< /Type /Catalog /Pages 2 0 R >>") })
	obj(func() {
		b.WriteString("<< /Type /Pages /Kids [")
		for _, o := range pageObj {
			fmt.Fprintf(&b, " %d 0 R", o)
		}
		fmt.Fprintf(&b, " ] /Count %d >>", n)
	})
	for i, p := range kept {
		if p.DPI < minDPI || p.DPI > maxDPI || p.Width < 1 || p.Height < 1 || len(p.Data) == 0 ||
			p.Kind == pipeline.KindMixed && (len(p.Background) == 0 || p.BackgroundWidth < 1 || p.BackgroundHeight < 1) {
			return nil, fmt.Errorf("document: scan PDF: page %d: bad image %dx%d at %d dpi", i+1, p.Width, p.Height, p.DPI)
		}
		wpt := float64(p.Width) * pointsPerInch / float64(p.DPI)
		hpt := float64(p.Height) * pointsPerInch / float64(p.DPI)
		contents, img, bg := pageObj[i]+1, pageObj[i]+2, pageObj[i]+3
		obj(func() {
			fmt.Fprintf(&b, "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 %.2f %.2f] /Resources << /XObject << /Im0 %d 0 R", wpt, hpt, img)
			if p.Kind == pipeline.KindMixed {
				fmt.Fprintf(&b, " /Bg0 %d 0 R", bg)
			}
			fmt.Fprintf(&b, " >> >> /Contents %d 0 R >>", contents)
		})
		content := fmt.Sprintf("q %.2f 0 0 %.2f 0 0 cm /Im0 Do Q", wpt, hpt)
		if p.Kind == pipeline.KindMixed {
			// The background, then the text stencil painted black over it.
			content = fmt.Sprintf("q %.2f 0 0 %.2f 0 0 cm /Bg0 Do Q q 0 g %.2f 0 0 %.2f 0 0 cm /Im0 Do Q", wpt, hpt, wpt, hpt)
		}
		obj(func() {
			fmt.Fprintf(&b, "<< /Length %d >>\nstream\n%s\nendstream", len(content), content)
		})
		obj(func() {
			fmt.Fprintf(&b, "<< /Type /XObject /Subtype /Image /Width %d /Height %d ", p.Width, p.Height)
			switch p.Kind {
			case pipeline.KindBilevel:
				fmt.Fprintf(&b, "/ColorSpace /DeviceGray /BitsPerComponent 1 /Filter /CCITTFaxDecode /DecodeParms << /K -1 /Columns %d /Rows %d /BlackIs1 false >> ", p.Width, p.Height)
			case pipeline.KindMixed:
				// A stencil: its 0 (black) samples paint the fill colour.
				fmt.Fprintf(&b, "/ImageMask true /BitsPerComponent 1 /Filter /CCITTFaxDecode /DecodeParms << /K -1 /Columns %d /Rows %d /BlackIs1 false >> ", p.Width, p.Height)
			default:
				b.WriteString("/ColorSpace /DeviceGray /BitsPerComponent 8 /Filter /DCTDecode ")
			}
			fmt.Fprintf(&b, "/Length %d >>\nstream\n", len(p.Data))
			b.Write(p.Data)
			b.WriteString("\nendstream")
		})
		if p.Kind == pipeline.KindMixed {
			obj(func() {
				fmt.Fprintf(&b, "<< /Type /XObject /Subtype /Image /Width %d /Height %d /ColorSpace /DeviceGray /BitsPerComponent 8 /Filter /DCTDecode /Length %d >>\nstream\n",
					p.BackgroundWidth, p.BackgroundHeight, len(p.Background))
				b.Write(p.Background)
				b.WriteString("\nendstream")
			})
		}
	}
	xref := b.Len()
	fmt.Fprintf(&b, "xref\n0 %d\n0000000000 65535 f \n", len(offsets)+1)
	for _, off := range offsets {
		fmt.Fprintf(&b, "%010d 00000 n \n", off)
	}
	fmt.Fprintf(&b, "trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n", len(offsets)+1, xref)
	out := b.Bytes()
	if got, err := PageCount(out); err != nil || got != n {
		return nil, fmt.Errorf("document: scan PDF does not validate (%d pages, %v)", got, err)
	}
	return out, nil
}
