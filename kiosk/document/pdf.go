// Package document turns scanned pages into what the kiosk sends and shows:
// one PDF per document (BuildPDF, pages as Flate-compressed grey images at
// their physical size), its page count checked by pdfcpu (PageCount), and
// thumbnails rendered by MuPDF (Thumbnails). It works on device.Page, so
// any scanner driver's pages fit; no scanner package is imported.
package document

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math"
	"sync"

	"github.com/gen2brain/go-fitz"
	"github.com/pdfcpu/pdfcpu/pkg/api"
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu"
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/model"
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/types"

	"govkiosk/drivers/device"
)

// Limits for PDFs this package builds or renders.
const (
	maxPDFPages     = 200
	maxThumbWidth   = 2000
	minThumbWidth   = 16
	maxThumbAspect  = 8 // height may be at most 8× the width
	minDPI, maxDPI  = 50, 1200
	pointsPerInch   = 72.0
	thumbOversample = 2 // render at 2× and box-filter down for legible thumbnails
	maxRenderPixels = 40 << 20
)

var pdfcpuInit sync.Once

// pdfConf returns a pdfcpu configuration that does not read or create a
// config dir under $HOME. (api.DisableConfigDir is process-wide.)
func pdfConf() *model.Configuration {
	pdfcpuInit.Do(api.DisableConfigDir)
	return model.NewDefaultConfiguration()
}

// BuildPDF makes one PDF with one page per image, each page at the image's
// physical size at the page's DPI, or at dpi when the scanner did not say
// (1240×1754 px at 150 dpi is an A4 page). Images are stored as
// Flate-compressed DeviceGray (JPEG input is converted to grey too).
func BuildPDF(pages []device.Page, dpi int) (out []byte, err error) {
	defer catch(&err, "document: build PDF")
	if len(pages) == 0 {
		return nil, errors.New("document: build PDF: no pages")
	}
	if len(pages) > maxPDFPages {
		return nil, fmt.Errorf("document: build PDF: %d pages, at most %d", len(pages), maxPDFPages)
	}
	for i, p := range pages {
		if d := pageDPI(p, dpi); d < minDPI || d > maxDPI {
			return nil, fmt.Errorf("document: build PDF: page %d: dpi %d out of range %d..%d", i+1, d, minDPI, maxDPI)
		}
	}
	conf := pdfConf()
	ctx, err := pdfcpu.CreateContextWithXRefTable(conf, types.PaperSize["A4"])
	if err != nil {
		return nil, fmt.Errorf("document: build PDF: %w", err)
	}
	pagesRef, err := ctx.Pages()
	if err != nil || pagesRef == nil {
		return nil, fmt.Errorf("document: build PDF: page tree: %v", err)
	}
	pagesDict, err := ctx.DereferenceDict(*pagesRef)
	if err != nil || pagesDict == nil {
		return nil, fmt.Errorf("document: build PDF: page tree: %v", err)
	}
	for i, p := range pages {
		dpi := pageDPI(p, dpi)
		c, _, err := image.DecodeConfig(bytes.NewReader(p.PNG))
		if err != nil {
			return nil, fmt.Errorf("document: build PDF: page %d: %w", i+1, err)
		}
		if c.Width <= 0 || c.Height <= 0 {
			return nil, fmt.Errorf("document: build PDF: page %d: empty image", i+1)
		}
		dim := &types.Dim{
			Width:  float64(c.Width) * pointsPerInch / float64(dpi),
			Height: float64(c.Height) * pointsPerInch / float64(dpi),
		}
		// Image scaled to exactly dim (its size at dpi), anchored at the
		// centre of a page of that very size: it fills the page.
		imp := &pdfcpu.Import{
			PageDim:  dim,
			UserDim:  true,
			DPI:      dpi,
			Pos:      types.Center,
			Scale:    1,
			ScaleAbs: true,
			InpUnit:  types.POINTS,
			Gray:     true,
		}
		refs, err := pdfcpu.NewPagesForImage(ctx.XRefTable, bytes.NewReader(p.PNG), pagesRef, imp)
		if err != nil {
			return nil, fmt.Errorf("document: build PDF: page %d: %w", i+1, err)
		}
		for _, ref := range refs {
			if err := ctx.SetValid(*ref); err != nil {
				return nil, fmt.Errorf("document: build PDF: page %d: %w", i+1, err)
			}
			if err := model.AppendPageTree(ref, 1, pagesDict); err != nil {
				return nil, fmt.Errorf("document: build PDF: page %d: %w", i+1, err)
			}
			ctx.PageCount++
		}
	}
	var buf bytes.Buffer
	if err := api.Write(ctx, &buf, conf); err != nil {
		return nil, fmt.Errorf("document: build PDF: write: %w", err)
	}
	return buf.Bytes(), nil
}

// pageDPI is the page's own resolution, or dflt when it has none.
func pageDPI(p device.Page, dflt int) int {
	if p.DPI > 0 {
		return p.DPI
	}
	return dflt
}

// PageCount returns the number of pages of pdf after reading and validating
// it with pdfcpu. Malformed input gives an error.
func PageCount(pdf []byte) (n int, err error) {
	defer catch(&err, "document: page count")
	if len(pdf) == 0 {
		return 0, errors.New("document: page count: empty PDF")
	}
	n, err = api.PageCount(bytes.NewReader(pdf), pdfConf())
	if err != nil {
		return 0, fmt.Errorf("document: page count: %w", err)
	}
	if n < 1 {
		return 0, errors.New("document: page count: PDF has no pages")
	}
	return n, nil
}

// Thumbnails renders every page of pdf with MuPDF (go-fitz) as a grey PNG
// exactly widthPx wide (height in proportion). The PDF is first validated
// with pdfcpu so truncated or garbage input is refused before MuPDF sees it.
func Thumbnails(pdf []byte, widthPx int) (thumbs [][]byte, err error) {
	defer func() {
		if err != nil {
			thumbs = nil
		}
	}()
	defer catch(&err, "document: thumbnails")
	if widthPx < minThumbWidth || widthPx > maxThumbWidth {
		return nil, fmt.Errorf("document: thumbnails: width %d out of range %d..%d", widthPx, minThumbWidth, maxThumbWidth)
	}
	n, err := PageCount(pdf)
	if err != nil {
		return nil, err
	}
	if n > maxPDFPages {
		return nil, fmt.Errorf("document: thumbnails: %d pages, at most %d", n, maxPDFPages)
	}
	doc, err := fitz.NewFromMemory(pdf)
	if doc != nil {
		defer doc.Close()
	}
	if err != nil {
		return nil, fmt.Errorf("document: thumbnails: open: %w", err)
	}
	if got := doc.NumPage(); got != n {
		return nil, fmt.Errorf("document: thumbnails: MuPDF sees %d pages, pdfcpu %d", got, n)
	}
	for i := range n {
		t, err := thumbnail(doc, i, widthPx)
		if err != nil {
			return nil, fmt.Errorf("document: thumbnails: page %d: %w", i+1, err)
		}
		thumbs = append(thumbs, t)
	}
	return thumbs, nil
}

func thumbnail(doc *fitz.Document, page, widthPx int) ([]byte, error) {
	b, err := doc.Bound(page)
	if err != nil {
		return nil, err
	}
	// go-fitz copies pixels as if the page box started at 0,0.
	if b.Min.X != 0 || b.Min.Y != 0 || b.Dx() < 1 || b.Dy() < 1 {
		return nil, fmt.Errorf("unsupported page box %v", b)
	}
	w, h := float64(b.Dx()), float64(b.Dy())
	if h > w*maxThumbAspect {
		return nil, fmt.Errorf("page %vx%v pt too tall", w, h)
	}
	heightPx := max(1, int(math.Round(float64(widthPx)*h/w)))
	dpi := float64(widthPx*thumbOversample) * pointsPerInch / w
	if rw, rh := w*dpi/pointsPerInch, h*dpi/pointsPerInch; rw*rh > maxRenderPixels {
		return nil, fmt.Errorf("render of %.0fx%.0f px too large", rw, rh)
	}
	img, err := doc.ImageDPI(page, dpi)
	if err != nil {
		return nil, err
	}
	g := boxResizeGray(img, widthPx, heightPx)
	var buf bytes.Buffer
	enc := png.Encoder{CompressionLevel: png.BestSpeed}
	if err := enc.Encode(&buf, g); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// boxResizeGray scales src to exactly w×h grey pixels, averaging the source
// pixels that fall into each destination pixel.
func boxResizeGray(src image.Image, w, h int) *image.Gray {
	sb := src.Bounds()
	dst := image.NewGray(image.Rect(0, 0, w, h))
	sw, sh := sb.Dx(), sb.Dy()
	if sw == 0 || sh == 0 {
		return dst
	}
	for y := range h {
		y0 := sb.Min.Y + y*sh/h
		y1 := max(sb.Min.Y+(y+1)*sh/h, y0+1)
		for x := range w {
			x0 := sb.Min.X + x*sw/w
			x1 := max(sb.Min.X+(x+1)*sw/w, x0+1)
			var sum, cnt uint64
			for sy := y0; sy < y1; sy++ {
				for sx := x0; sx < x1; sx++ {
					sum += uint64(grayAt(src, sx, sy))
					cnt++
				}
			}
			dst.Pix[y*dst.Stride+x] = uint8(sum / cnt)
		}
	}
	return dst
}

// grayAt is the luma of src at x,y, with a fast path for MuPDF's RGBA.
func grayAt(src image.Image, x, y int) uint8 {
	if m, ok := src.(*image.RGBA); ok {
		i := m.PixOffset(x, y)
		r, g, b := uint32(m.Pix[i]), uint32(m.Pix[i+1]), uint32(m.Pix[i+2])
		return uint8((299*r + 587*g + 114*b + 500) / 1000)
	}
	return color.GrayModel.Convert(src.At(x, y)).(color.Gray).Y
}

// catch turns a panic in a PDF library on hostile input into an error.
func catch(err *error, what string) {
	if r := recover(); r != nil {
		*err = fmt.Errorf("%s: internal error: %v", what, r)
	}
}
