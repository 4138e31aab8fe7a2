package receipt

import (
	"errors"
	"fmt"
	"image"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/gen2brain/go-fitz"

	"govkiosk/drivers/device"
	"govkiosk/kiosk/fonts"
)

// Paper geometry of the 203 dpi thermal heads receipts are laid out for.
const (
	DotsPerMM = device.DotsPerMM
	Width80mm = device.Width80mm // dots across 80 mm paper
	Width58mm = device.Width58mm // dots across 58 mm paper
)

const (
	renderDPI   = DotsPerMM * 25.4 // 203.2
	pageMM      = 400              // height of one laid-out page
	maxPages    = 25               // a 10 m receipt is a bug, not a receipt
	defaultEmPt = 12
)

// pageCSS is put in front of the caller's HTML: the kiosk fonts (their files
// sit beside the HTML in the render directory) and no page margins, so the
// printable width is the whole page.
var pageCSS = "<style>" + fonts.FaceCSS + "@page { margin: 0 }\n</style>\n"

// RenderHTML lays out html with MuPDF on a page exactly widthDots wide at
// 8 dots/mm (widthDots/8 mm) and returns the page as grey pixels, exactly
// widthDots wide. The fonts of govkiosk/kiosk/fonts are available to the
// HTML by their file names and through the families of fonts.FaceCSS
// ("Kiosk Sans", "Kiosk Thai", "Kiosk Mono"). Content longer than one page
// is laid out again on a longer page; trailing white is left for ToMono to
// trim.
//
// MuPDF reads HTML only from a file: it is written to a private directory
// under os.TempDir(), overwritten once laid out and removed. (Receipts are
// laid out under Data.TempDir, the kiosk's private directory.)
func RenderHTML(html []byte, widthDots int) (*image.Gray, error) {
	return renderHTML("", html, widthDots)
}

// renderHTML is RenderHTML with the HTML file under tmpDir ("" =
// os.TempDir()), which is made 0700 if missing.
func renderHTML(tmpDir string, html []byte, widthDots int) (*image.Gray, error) {
	if widthDots < 8 || widthDots > 4096 {
		return nil, fmt.Errorf("render receipt: width %d dots out of range", widthDots)
	}
	if tmpDir != "" {
		if err := os.MkdirAll(tmpDir, 0o700); err != nil {
			return nil, fmt.Errorf("render receipt: %w", err)
		}
	}
	dir, err := os.MkdirTemp(tmpDir, "receipt-*")
	if err != nil {
		return nil, fmt.Errorf("render receipt: %w", err)
	}
	defer os.RemoveAll(dir)
	if err := writeFonts(dir); err != nil {
		return nil, fmt.Errorf("render receipt: %w", err)
	}
	doc := make([]byte, 0, len(pageCSS)+len(html))
	doc = append(append(doc, pageCSS...), html...)
	path := filepath.Join(dir, "receipt.html")
	// The HTML holds the citizen's name: overwritten before it is removed
	// (only it; the fonts are no one's).
	defer device.Scrub(path)
	if err := os.WriteFile(path, doc, 0o600); err != nil {
		return nil, fmt.Errorf("render receipt: %w", err)
	}

	d, err := fitz.New(path)
	if err != nil {
		return nil, fmt.Errorf("render receipt: open html: %w", err)
	}
	defer d.Close()

	wPt := float32(float64(widthDots) / DotsPerMM * 72 / 25.4)
	hPt := float32(pageMM * 72 / 25.4)
	if err := layoutDocument(d, wPt, hPt, defaultEmPt); err != nil {
		return nil, fmt.Errorf("render receipt: %w", err)
	}
	n := d.NumPage()
	if n > 1 {
		// One long page instead of several with gaps at the breaks.
		if n > maxPages {
			return nil, fmt.Errorf("render receipt: content needs %d pages of %d mm", n, pageMM)
		}
		if err := layoutDocument(d, wPt, hPt*float32(n), defaultEmPt); err != nil {
			return nil, fmt.Errorf("render receipt: %w", err)
		}
		n = d.NumPage()
	}
	if n < 1 {
		return nil, errors.New("render receipt: no pages")
	}
	var pages []*image.RGBA
	height := 0
	for i := 0; i < n; i++ {
		img, err := d.ImageDPI(i, renderDPI)
		if err != nil {
			return nil, fmt.Errorf("render receipt: page %d: %w", i+1, err)
		}
		pages = append(pages, img)
		height += img.Bounds().Dy()
	}
	out := image.NewGray(image.Rect(0, 0, widthDots, height))
	fill(out.Pix, 255)
	y := 0
	for _, p := range pages {
		g := toGrey(p) // MuPDF may round the page to widthDots±1
		w := min(g.Rect.Dx(), widthDots)
		for r := 0; r < g.Rect.Dy(); r++ {
			copy(out.Pix[(y+r)*out.Stride:(y+r)*out.Stride+w], g.Pix[r*g.Stride:])
		}
		y += g.Rect.Dy()
	}
	return out, nil
}

func writeFonts(dir string) error {
	return fs.WalkDir(fonts.FS, ".", func(p string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		b, err := fs.ReadFile(fonts.FS, p)
		if err != nil {
			return err
		}
		dst := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
			return err
		}
		return os.WriteFile(dst, b, 0o600)
	})
}
