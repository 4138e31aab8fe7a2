package pipeline

import (
	"bytes"
	"context"
	"errors"
	"image"
	"image/png"
	"testing"
)

// page makes a white w×h page with dark bars as lines of words.
func page(w, h int) *image.Gray {
	g := image.NewGray(image.Rect(0, 0, w, h))
	for i := range g.Pix {
		g.Pix[i] = 245
	}
	for y := h / 5; y < h*4/5; y += 14 {
		for x := w / 6; x < w*5/6; x++ {
			if x%30 < 22 {
				for dy := range 5 {
					g.Pix[(y+dy)*g.Stride+x] = 10
				}
			}
		}
	}
	return g
}

// A cancelled context stops Process with the context's error; too large
// or too small pages and bad options are refused with a message.
func TestProcessRefusesAndCancels(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Process(ctx, page(600, 800), 100, Options{}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
	big := &image.Gray{Rect: image.Rect(0, 0, 8000, 6000)} // not allocated: refused before use
	if _, err := Process(context.Background(), big, 300, Options{}); !errors.Is(err, ErrTooLarge) {
		t.Errorf("48 Mpx page: %v, want ErrTooLarge", err)
	}
	for name, c := range map[string]struct {
		g   *image.Gray
		dpi int
		o   Options
	}{
		"tiny":         {image.NewGray(image.Rect(0, 0, 8, 8)), 100, Options{}},
		"dpi":          {page(100, 140), 20000, Options{}},
		"jpeg quality": {page(100, 140), 100, Options{JPEGQuality: 101}},
		"thumb width":  {page(100, 140), 100, Options{ThumbWidth: 5000}},
	} {
		if _, err := Process(context.Background(), c.g, c.dpi, c.o); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

// A plain page of lines is kept, straight, upright, bilevel, with no
// problems, and its thumbnail is as wide as asked; a page off the origin
// (a sub-image) is handled the same.
func TestProcessPlainPage(t *testing.T) {
	g := page(433, 605)                                           // A4 at 50 dpi, and a margin
	img := g.SubImage(image.Rect(10, 10, 423, 595)).(*image.Gray) // off the origin
	p, err := Process(context.Background(), img, 50, Options{ThumbWidth: 120})
	if err != nil {
		t.Fatal(err)
	}
	if p.Blank || p.SkewDeg < -0.2 || p.SkewDeg > 0.2 || p.Rotation != 0 || p.Kind != KindBilevel || len(p.Problems()) != 0 {
		t.Errorf("page: blank=%v skew=%.2f rotation=%d kind=%s verdicts=%v", p.Blank, p.SkewDeg, p.Rotation, p.Kind, p.Verdicts)
	}
	if p.Width != 413 || p.Height != 585 || p.DPI != 50 || len(p.Data) == 0 {
		t.Errorf("stored %dx%d at %d dpi, %d bytes", p.Width, p.Height, p.DPI, len(p.Data))
	}
	th, err := decodePNGWidth(p.Thumb)
	if err != nil || th != 120 {
		t.Errorf("thumbnail %d wide (%v), want 120", th, err)
	}
}

// despeckle clears specks of a few pixels and keeps strokes, a one-pixel
// line included, whatever their shape.
func TestDespeckle(t *testing.T) {
	b := &Bilevel{Width: 40, Height: 20, Black: make([]bool, 800)}
	set := func(x, y int) { b.Black[y*40+x] = true }
	set(2, 2) // a lone pixel
	set(5, 5)
	set(6, 6) // a diagonal pair
	for x := 10; x < 30; x++ {
		set(x, 10) // a hair line
	}
	for y := 12; y < 18; y++ { // a diagonal stroke, touching only corner to corner
		set(30+y-12, y)
	}
	despeckle(b, 3)
	if b.Black[2*40+2] || b.Black[5*40+5] || b.Black[6*40+6] {
		t.Error("specks left")
	}
	for x := 10; x < 30; x++ {
		if !b.Black[10*40+x] {
			t.Fatal("hair line cut")
		}
	}
	for y := 12; y < 18; y++ {
		if !b.Black[y*40+30+y-12] {
			t.Fatal("diagonal stroke cut")
		}
	}
}

// Quarter turns compose: four are the identity, and one turn moves the
// top-left corner to the top-right.
func TestRotateQuarter(t *testing.T) {
	g := image.NewGray(image.Rect(0, 0, 3, 2))
	for i := range g.Pix {
		g.Pix[i] = uint8(i + 1)
	}
	r := rotateQuarter(g, 1)
	if r.Rect.Dx() != 2 || r.Rect.Dy() != 3 || r.Pix[1] != 1 {
		t.Fatalf("one turn: %v %v", r.Rect, r.Pix)
	}
	back := rotateQuarter(rotateQuarter(rotateQuarter(r, 1), 2), 0)
	for i := range g.Pix {
		if back.Pix[i] != g.Pix[i] {
			t.Fatalf("four turns: %v, want %v", back.Pix, g.Pix)
		}
	}
}

func decodePNGWidth(b []byte) (int, error) {
	c, err := png.DecodeConfig(bytes.NewReader(b))
	return c.Width, err
}
