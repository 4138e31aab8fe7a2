// Package scangen renders the scan test set: documents laid out as real
// ones are (Thai and Vietnamese forms with stamps and signatures, a land
// certificate, a typed letter, an ID-like card, blank backs), set by MuPDF
// with the kiosk's fonts, then given a scanner's artefacts (skew at known
// angles, noise, the bed around the sheet, show-through, blur, dark and
// light exposure, specks, punch holes, a sheet fed partly outside) from a
// seed, each with the answers the pipeline must give. The tests, the
// benchmark and `go run ./testdata/scans/gen` use it; nothing it makes is
// anybody's data.
package scangen

import (
	"context"
	"fmt"
	"image"
	"math"
	"math/rand/v2"
	"regexp"
	"strconv"
	"sync"

	"govkiosk/kiosk/receipt"
)

// Spec is one scanned page of the set.
type Spec struct {
	Name        string  `json:"name"`
	Doc         string  `json:"doc"`                   // "" = a blank sheet
	Stamp       bool    `json:"stamp,omitempty"`       // a stamp in coloured ink
	Signature   bool    `json:"signature,omitempty"`   // a handwritten signature
	SkewDeg     float64 `json:"skewDeg"`               // positive: lines fall to the right
	Turns       int     `json:"turns,omitempty"`       // quarter turns clockwise of the content (fed the wrong way)
	NoBed       bool    `json:"noBed,omitempty"`       // the scan is exactly the sheet (white backing)
	Noise       float64 `json:"noise"`                 // sigma of the sensor noise, grey levels
	Blur        float64 `json:"blur,omitempty"`        // sigma in pixels at 300 dpi
	Exposure    string  `json:"exposure,omitempty"`    // "", "dark", "light"
	Specks      int     `json:"specks,omitempty"`      // dust on the sheet
	PunchHoles  bool    `json:"punchHoles,omitempty"`  // two filing holes at the left edge
	ShowThrough string  `json:"showThrough,omitempty"` // the document on the other side, seen faintly
	ShiftMM     float64 `json:"shiftMM,omitempty"`     // sheet moved right by this, past the scan area
}

// Expect is what the pipeline must find.
type Expect struct {
	Blank    bool     `json:"blank"`
	SkewDeg  float64  `json:"skewDeg"`
	Rotation int      `json:"rotation"`           // quarter turns clockwise back to upright, in degrees
	Problems []string `json:"problems,omitempty"` // verdicts asking to place the page again
	Kind     string   `json:"kind,omitempty"`     // "bilevel", "mixed" or "grey" for a kept page
}

// Sample is one page of the set with its answers.
type Sample struct {
	Spec   Spec        `json:"spec"`
	Expect Expect      `json:"expect"`
	Image  *image.Gray `json:"-"`
	DPI    int         `json:"dpi"`
}

// Set is the standard test set: every artefact the pipeline must handle,
// each on a document where it matters.
func Set() []Spec {
	return []Spec{
		{Name: "01-form-vi", Doc: "form-vi", Stamp: true, Signature: true, SkewDeg: -3.4, Noise: 6},
		{Name: "02-form-vi-back", SkewDeg: -3.4, Noise: 6, Specks: 40, PunchHoles: true, ShowThrough: "form-vi"},
		{Name: "03-form-th", Doc: "form-th", Stamp: true, Signature: true, SkewDeg: 2.2, Noise: 5},
		{Name: "04-form-th-back", SkewDeg: 2.2, Noise: 5, Specks: 80},
		{Name: "05-land", Doc: "land", Stamp: true, Signature: true, SkewDeg: 0.7, Noise: 5},
		{Name: "06-land-back", SkewDeg: 0.7, Noise: 7, Specks: 25, ShowThrough: "land", PunchHoles: true},
		{Name: "07-letter", Doc: "letter", Signature: true, SkewDeg: -1.3, Noise: 6},
		{Name: "08-letter-back-one-line", Doc: "oneline", SkewDeg: -1.3, Noise: 6, Specks: 20},
		{Name: "09-letter-upside-down", Doc: "letter", Signature: true, SkewDeg: 0.4, Turns: 2, Noise: 5},
		{Name: "10-letter-sideways", Doc: "letter", Signature: true, SkewDeg: 0, Turns: 1, Noise: 5},
		{Name: "11-stamp-only-back", Doc: "stamp-back", Stamp: true, SkewDeg: 1.1, Noise: 5, Specks: 20},
		{Name: "12-letter-blurred", Doc: "letter", Signature: true, SkewDeg: 0.9, Noise: 4, Blur: 3.2},
		{Name: "13-form-vi-dark", Doc: "form-vi", Stamp: true, Signature: true, SkewDeg: -0.6, Noise: 5, Exposure: "dark"},
		{Name: "14-letter-light", Doc: "letter", Signature: true, SkewDeg: 1.6, Noise: 3, Exposure: "light"},
		{Name: "15-letter-steep", Doc: "letter", Signature: true, SkewDeg: 12.5, Noise: 5},
		{Name: "16-letter-partly-outside", Doc: "letter", Signature: true, SkewDeg: 0.3, Noise: 5, ShiftMM: 30},
		{Name: "17-id-card", Doc: "idcard", SkewDeg: 1.8, Noise: 5},
		{Name: "18-letter-skewed", Doc: "letter", Signature: true, SkewDeg: -8.6, Noise: 6},
		{Name: "19-form-th-white-backing", Doc: "form-th", Signature: true, SkewDeg: 0, NoBed: true, Noise: 4},
		{Name: "20-blank-white-backing", NoBed: true, Noise: 5, Specks: 30},
	}
}

// expect gives the answers for s.
func expect(s Spec) Expect {
	e := Expect{SkewDeg: s.SkewDeg, Blank: s.Doc == ""}
	if e.Blank {
		return e
	}
	e.Rotation = (4 - s.Turns%4) % 4 * 90
	// Mixed (text stencil over a grey background): a photo, a coloured
	// stamp beside black text (a threshold would blacken the stamp over the
	// text). Grey: a blurred page (a threshold would break its strokes). A
	// page whose only ink is a stamp keeps it whole as one bit.
	e.Kind = "bilevel"
	switch {
	case s.Blur > 2:
		e.Kind = "grey"
	case s.Stamp && s.Doc != "stamp-back" || s.Doc == "idcard":
		e.Kind = "mixed"
	}
	switch s.Exposure {
	case "dark":
		e.Problems = append(e.Problems, "too-dark")
	case "light":
		e.Problems = append(e.Problems, "too-light")
	}
	if s.Blur > 2 {
		e.Problems = append(e.Problems, "blurred")
	}
	if math.Abs(s.SkewDeg) > 10 {
		e.Problems = append(e.Problems, "too-skewed")
	}
	if s.ShiftMM > 0 {
		e.Problems = append(e.Problems, "partly-outside")
	}
	return e
}

// Generator renders samples; it keeps each document's rendering for reuse.
type Generator struct {
	DPI  int
	Seed uint64

	mu    sync.Mutex
	cache map[string]*image.Gray
}

// Generate renders every spec of specs.
func (g *Generator) Generate(ctx context.Context, specs []Spec) ([]Sample, error) {
	var out []Sample
	for i, s := range specs {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		img, err := g.Render(s, uint64(i))
		if err != nil {
			return nil, fmt.Errorf("scangen: %s: %w", s.Name, err)
		}
		out = append(out, Sample{Spec: s, Expect: expect(s), Image: img, DPI: g.DPI})
	}
	return out, nil
}

// sheetMM is the size of a document's sheet.
func sheetMM(doc string) (w, h float64) {
	if doc == "idcard" {
		return 85.6, 54
	}
	return 210, 297
}

var unit = regexp.MustCompile(`\{(mm|pt):([0-9.]+)\}`)

// document renders a document's sheet at g.DPI (white for "").
func (g *Generator) document(doc string) (*image.Gray, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if m, ok := g.cache[doc]; ok {
		return m, nil
	}
	wmm, hmm := sheetMM(doc)
	w := int(math.Round(wmm / 25.4 * float64(g.DPI)))
	h := int(math.Round(hmm / 25.4 * float64(g.DPI)))
	out := image.NewGray(image.Rect(0, 0, w, h))
	for i := range out.Pix {
		out.Pix[i] = 255
	}
	if html, ok := docs[doc]; ok {
		// RenderHTML lays out a page w/8 mm wide at 203.2 dpi, so w pixels
		// across: lengths of the sheet are scaled to that page.
		k := float64(w) / 8 / wmm
		html = unit.ReplaceAllStringFunc(html, func(m string) string {
			p := unit.FindStringSubmatch(m)
			v, _ := strconv.ParseFloat(p[2], 64)
			return strconv.FormatFloat(v*k, 'f', 3, 64) + p[1]
		})
		r, err := receipt.RenderHTML([]byte(html), w)
		if err != nil {
			return nil, err
		}
		for y := 0; y < min(h, r.Rect.Dy()); y++ {
			copy(out.Pix[y*out.Stride:y*out.Stride+w], r.Pix[y*r.Stride:])
		}
	} else if doc != "" {
		return nil, fmt.Errorf("unknown document %q", doc)
	}
	if g.cache == nil {
		g.cache = map[string]*image.Gray{}
	}
	g.cache[doc] = out
	return out, nil
}

// Render makes the scan of one spec; n varies the seed per page.
func (g *Generator) Render(s Spec, n uint64) (*image.Gray, error) {
	if g.DPI < 100 || g.DPI > 600 {
		return nil, fmt.Errorf("dpi %d out of range 100..600", g.DPI)
	}
	rng := rand.New(rand.NewPCG(g.Seed, n))
	base, err := g.document(s.Doc)
	if err != nil {
		return nil, err
	}
	sheet := clone(base)
	px := float64(g.DPI) / 25.4 // pixels per mm
	if s.Doc == "idcard" {
		drawCard(sheet, px, rng)
	}
	if s.Signature {
		drawSignature(sheet, px, rng, 0.62, 0.80)
	}
	if s.Stamp {
		cy := 0.78
		if s.Doc == "stamp-back" {
			cy = 0.5
		}
		drawStamp(sheet, px, rng, 0.68, cy)
	}
	if s.ShowThrough != "" {
		other, err := g.document(s.ShowThrough)
		if err != nil {
			return nil, err
		}
		showThrough(sheet, other, 0.10)
	}
	if s.Turns%4 != 0 {
		sheet = turn(sheet, s.Turns)
	}
	if s.Blur > 0 {
		blur(sheet, s.Blur*float64(g.DPI)/300)
	}
	switch s.Exposure {
	case "dark":
		lut(sheet, func(v float64) float64 { return v * 0.5 })
	case "light":
		lut(sheet, func(v float64) float64 { return 255 - (255-v)*0.35 })
	}
	if s.Specks > 0 {
		specks(sheet, px, rng, s.Specks)
	}
	scan := place(sheet, s, px, rng, 245)
	noise(scan, s.Noise, rng)
	return scan, nil
}

func clone(g *image.Gray) *image.Gray {
	c := image.NewGray(g.Rect)
	copy(c.Pix, g.Pix)
	return c
}

// ink darkens (x, y) towards level with coverage a (0..1).
func ink(g *image.Gray, x, y int, level, a float64) {
	if x < 0 || y < 0 || x >= g.Rect.Dx() || y >= g.Rect.Dy() || a <= 0 {
		return
	}
	i := y*g.Stride + x
	v := float64(g.Pix[i])
	t := v + (level-v)*min(a, 1)
	if t < v {
		g.Pix[i] = uint8(t)
	}
}

// disc paints a soft-edged disc.
func disc(g *image.Gray, cx, cy, r, level float64) {
	for y := int(cy - r - 1); y <= int(cy+r+1); y++ {
		for x := int(cx - r - 1); x <= int(cx+r+1); x++ {
			d := math.Hypot(float64(x)-cx, float64(y)-cy)
			ink(g, x, y, level, r+0.5-d)
		}
	}
}

// drawSignature draws a handwritten-looking stroke around (fx, fy) of the
// sheet, in blue-black ink.
func drawSignature(g *image.Gray, px float64, rng *rand.Rand, fx, fy float64) {
	cx, cy := fx*float64(g.Rect.Dx()), fy*float64(g.Rect.Dy())
	a1, a2, a3 := 6+rng.Float64()*4, 2+rng.Float64()*3, 1+rng.Float64()*2
	ph := rng.Float64() * 6
	for t := 0.0; t < 1; t += 0.0004 {
		x := cx + (t-0.5)*38*px + math.Sin(t*40+ph)*2*px
		y := cy + (math.Sin(t*a1*math.Pi)*a2+math.Cos(t*23+ph)*a3)*px
		disc(g, x, y, 0.25*px, 45)
	}
}

// drawStamp draws a round office stamp in red ink (mid grey in a grey scan).
func drawStamp(g *image.Gray, px float64, rng *rand.Rand, fx, fy float64) {
	cx, cy := fx*float64(g.Rect.Dx()), fy*float64(g.Rect.Dy())
	const level = 118
	ring := func(r, w float64) {
		for y := int(cy - r - w); y <= int(cy+r+w); y++ {
			for x := int(cx - r - w); x <= int(cx+r+w); x++ {
				d := math.Abs(math.Hypot(float64(x)-cx, float64(y)-cy) - r)
				ink(g, x, y, level, (w/2+0.5-d)*0.9)
			}
		}
	}
	ring(19*px, 1.0*px)
	ring(14*px, 0.5*px)
	// Lettering around the ring: short radial bars, and a star.
	for i := range 28 {
		t := float64(i) / 28 * 2 * math.Pi
		for r := 15.2 * px; r < 17.8*px; r += 0.3 {
			disc(g, cx+math.Cos(t)*r, cy+math.Sin(t)*r, 0.35*px, level)
		}
	}
	for r := 0.0; r < 7*px; r += 0.5 {
		for k := range 5 {
			t := float64(k)/5*2*math.Pi - math.Pi/2 + rng.Float64()*0.01
			disc(g, cx+math.Cos(t)*r, cy+math.Sin(t)*r, (7*px-r)*0.28, level)
		}
	}
}

// drawCard adds the portrait and the security print of an ID card.
func drawCard(g *image.Gray, px float64, rng *rand.Rand) {
	w, h := g.Rect.Dx(), g.Rect.Dy()
	// Guilloche background.
	for y := range h {
		for x := range w {
			v := 0.5 + 0.5*math.Sin(float64(x)/px*1.3+math.Sin(float64(y)/px*0.7)*2)
			ink(g, x, y, 200, v*0.6)
		}
	}
	// Portrait, 22×28 mm from (4 mm, 16 mm).
	x0, y0, pw, ph := 4*px, 16*px, 22*px, 28*px
	fcx, fcy := x0+pw/2, y0+ph*0.42
	for y := int(y0); y < int(y0+ph); y++ {
		for x := int(x0); x < int(x0+pw); x++ {
			fx, fy := float64(x), float64(y)
			v := 175 + 30*(fy-y0)/ph // backdrop
			dx, dy := (fx-fcx)/(pw*0.3), (fy-fcy)/(ph*0.3)
			if e := dx*dx + dy*dy; e < 1 {
				v = 140 + 40*(1-e) - 20*dx // face, lit from the left
			}
			if fy > y0+ph*0.75 && math.Abs(fx-fcx) < pw*0.45 {
				v = 85 // shoulders
			}
			v += (rng.Float64() - 0.5) * 10
			ink(g, x, y, v, 1)
		}
	}
}

// showThrough lets the other side's document show, mirrored, at contrast c.
func showThrough(g, other *image.Gray, c float64) {
	w, h := min(g.Rect.Dx(), other.Rect.Dx()), min(g.Rect.Dy(), other.Rect.Dy())
	for y := range h {
		for x := range w {
			o := float64(other.Pix[y*other.Stride+(other.Rect.Dx()-1-x)])
			ink(g, x, y, 255-(255-o)*c, 1)
		}
	}
}

// turn rotates g by q quarter turns clockwise.
func turn(g *image.Gray, q int) *image.Gray {
	for range (q%4 + 4) % 4 {
		w, h := g.Rect.Dx(), g.Rect.Dy()
		d := image.NewGray(image.Rect(0, 0, h, w))
		for y := range h {
			for x := range w {
				d.Pix[x*d.Stride+(h-1-y)] = g.Pix[y*g.Stride+x]
			}
		}
		g = d
	}
	return g
}

// blur is a Gaussian blur of sigma s, as three box blurs each way.
func blur(g *image.Gray, s float64) {
	r := int(math.Round((math.Sqrt(4*s*s+1) - 1) / 2)) // three boxes of 2r+1 have variance s²
	if r < 1 {
		return
	}
	w, h := g.Rect.Dx(), g.Rect.Dy()
	buf := make([]float64, max(w, h))
	box := func(get func(int) float64, set func(int, float64), n int) {
		at := func(i int) float64 { return buf[max(0, min(n-1, i))] }
		for range 3 {
			for i := range n {
				buf[i] = get(i)
			}
			var sum float64
			for j := -r; j <= r; j++ {
				sum += at(j)
			}
			for i := range n {
				set(i, sum/float64(2*r+1))
				sum += at(i+r+1) - at(i-r)
			}
		}
	}
	for y := range h {
		box(func(i int) float64 { return float64(g.Pix[y*g.Stride+i]) }, func(i int, v float64) { g.Pix[y*g.Stride+i] = uint8(v + 0.5) }, w)
	}
	for x := range w {
		box(func(i int) float64 { return float64(g.Pix[i*g.Stride+x]) }, func(i int, v float64) { g.Pix[i*g.Stride+x] = uint8(v + 0.5) }, h)
	}
}

func lut(g *image.Gray, f func(float64) float64) {
	var t [256]uint8
	for v := range 256 {
		t[v] = uint8(max(0, min(255, math.Round(f(float64(v))))))
	}
	for i, v := range g.Pix {
		g.Pix[i] = t[v]
	}
}

// specks scatters dust: most a few tenths of a millimetre, none above 0.5 mm.
func specks(g *image.Gray, px float64, rng *rand.Rand, n int) {
	w, h := float64(g.Rect.Dx()), float64(g.Rect.Dy())
	for range n {
		r := (0.05 + rng.Float64()*rng.Float64()*0.2) * px
		disc(g, rng.Float64()*w, rng.Float64()*h, r, 30+rng.Float64()*60)
	}
}

// bedLevel is the grey of the scanner's backing plate.
const bedLevel = 52

// place puts the sheet, rotated by the skew and moved by the shift, on the
// scan area: the turned sheet's bounding box plus 6 mm of bed all round
// (none with NoBed, where the skew turns the content within the sheet).
// Punch holes show the bed through the sheet.
func place(sheet *image.Gray, s Spec, px float64, rng *rand.Rand, paperLevel float64) *image.Gray {
	sw, sh := float64(sheet.Rect.Dx()), float64(sheet.Rect.Dy())
	t := s.SkewDeg * math.Pi / 180
	sn, cs := math.Sin(t), math.Cos(t)
	W := int(sw*math.Abs(cs) + sh*math.Abs(sn) + 12*px)
	H := int(sw*math.Abs(sn) + sh*math.Abs(cs) + 12*px)
	if s.NoBed {
		W, H = int(sw), int(sh)
	}
	out := image.NewGray(image.Rect(0, 0, W, H))
	cx, cy := float64(W)/2+s.ShiftMM*px, float64(H)/2
	holes := [][2]float64{}
	if s.PunchHoles {
		// ISO 838: 6 mm holes 80 mm apart, 12 mm from the edge.
		holes = append(holes, [2]float64{12 * px, sh/2 - 40*px}, [2]float64{12 * px, sh/2 + 40*px})
	}
	bedAt := func() uint8 { return uint8(bedLevel + rng.IntN(9) - 4) }
	for y := range H {
		for x := range W {
			dx, dy := float64(x)+0.5-cx, float64(y)+0.5-cy
			// Sheet coordinates: the inverse of turning the sheet by t.
			u := sw/2 + dx*cs + dy*sn - 0.5
			v := sh/2 - dx*sn + dy*cs - 0.5
			if u < -0.5 || v < -0.5 || u > sw-0.5 || v > sh-0.5 {
				if s.NoBed {
					out.Pix[y*out.Stride+x] = uint8(paperLevel) // white backing
				} else {
					out.Pix[y*out.Stride+x] = bedAt()
				}
				continue
			}
			hole := false
			for _, hc := range holes {
				if math.Hypot(u-hc[0], v-hc[1]) < 3*px {
					hole = true
				}
			}
			if hole {
				out.Pix[y*out.Stride+x] = bedAt()
				continue
			}
			val := bilinear(sheet, u, v)
			// Paper is not perfectly white.
			val = val * paperLevel / 255
			out.Pix[y*out.Stride+x] = uint8(max(0, min(255, val)))
		}
	}
	return out
}

func bilinear(g *image.Gray, x, y float64) float64 {
	w, h := g.Rect.Dx(), g.Rect.Dy()
	ix, iy := int(math.Floor(x)), int(math.Floor(y))
	fx, fy := x-float64(ix), y-float64(iy)
	at := func(x, y int) float64 {
		x, y = max(0, min(w-1, x)), max(0, min(h-1, y))
		return float64(g.Pix[y*g.Stride+x])
	}
	a := at(ix, iy) + (at(ix+1, iy)-at(ix, iy))*fx
	b := at(ix, iy+1) + (at(ix+1, iy+1)-at(ix, iy+1))*fx
	return a + (b-a)*fy
}

// noise adds Gaussian sensor noise of sigma s.
func noise(g *image.Gray, s float64, rng *rand.Rand) {
	if s <= 0 {
		return
	}
	var table [4096]int16
	for i := range table {
		table[i] = int16(math.Round(rng.NormFloat64() * s))
	}
	for i, v := range g.Pix {
		n := int(table[rng.Uint32()&4095])
		g.Pix[i] = uint8(max(0, min(255, int(v)+n)))
	}
}
