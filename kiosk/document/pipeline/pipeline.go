package pipeline

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/jpeg"
	"image/png"
	"math"
	"slices"
)

// Options tune Process. Zero fields take the defaults.
type Options struct {
	DPI         int     // resolution of pages that do not say [300]
	MaxSkewDeg  float64 // a steeper page is judged fed at an angle [10]
	JPEGQuality int     // quality of grey pages, 1..100 [70]
	ThumbWidth  int     // thumbnail width in pixels, 0 = [240]
}

// Defaults.
const (
	DefaultDPI         = 300
	DefaultMaxSkewDeg  = 10
	DefaultJPEGQuality = 70
	DefaultThumbWidth  = 240
	// MaxPixels bounds one page (A4 at 600 dpi is 35 Mpx).
	MaxPixels = 40 << 20
	// searchDeg is how far the skew search looks.
	searchDeg = 15
)

func (o Options) withDefaults() Options {
	if o.DPI == 0 {
		o.DPI = DefaultDPI
	}
	if o.MaxSkewDeg == 0 {
		o.MaxSkewDeg = DefaultMaxSkewDeg
	}
	if o.JPEGQuality == 0 {
		o.JPEGQuality = DefaultJPEGQuality
	}
	if o.ThumbWidth == 0 {
		o.ThumbWidth = DefaultThumbWidth
	}
	return o
}

// Verdict is one quality problem of a page. Rotated is not a problem: the
// page was turned upright automatically.
type Verdict string

// Verdicts.
const (
	TooDark       Verdict = "too-dark"
	TooLight      Verdict = "too-light"
	Blurred       Verdict = "blurred"
	TooSkewed     Verdict = "too-skewed"
	PartlyOutside Verdict = "partly-outside"
	Rotated       Verdict = "rotated"
)

// Problem reports whether v asks the citizen to place the page again.
func (v Verdict) Problem() bool { return v != Rotated }

// Kind is how a page is stored.
type Kind string

// Kinds.
const (
	KindBilevel Kind = "bilevel" // CCITT G4, 1 bit per pixel
	KindGrey    Kind = "grey"    // JPEG, 8 bits per pixel
	// KindMixed: black text as CCITT G4 at the scan resolution, painted as
	// a stencil over a JPEG of the rest (stamps, photos) at a third of it.
	KindMixed Kind = "mixed"
)

// Page is one processed page.
type Page struct {
	Blank    bool
	SkewDeg  float64         // skew found: positive when lines fall to the right
	Rotation int             // quarter turns clockwise applied to make it upright: 0, 90, 180, 270
	Crop     image.Rectangle // the sheet in the straightened frame, in input pixels
	Verdicts []Verdict
	Kind     Kind
	// The stored image: Width×Height pixels at DPI, Data is the G4 or JPEG
	// stream (mixed: the G4 text stencil).
	Width, Height, DPI int
	Data               []byte
	// Mixed pages: the JPEG under the text, covering the same page at
	// BackgroundWidth×BackgroundHeight pixels.
	Background                        []byte
	BackgroundWidth, BackgroundHeight int
	Thumb                             []byte // PNG, Options.ThumbWidth wide
	Metrics                           Metrics
}

// StoredBytes is what the page's images take in a PDF.
func (p *Page) StoredBytes() int { return len(p.Data) + len(p.Background) }

// Problems are the verdicts that ask the citizen to place the page again.
func (p *Page) Problems() []Verdict {
	var out []Verdict
	for _, v := range p.Verdicts {
		if v.Problem() {
			out = append(out, v)
		}
	}
	return out
}

// Metrics are the measurements the verdicts come from.
type Metrics struct {
	PaperLevel    int     // grey level of the paper (0..255)
	InkLevel      int     // darkest ink level
	Blur          float64 // 0 sharp .. 1 flat
	InkComponents int     // ink components inside the blank-test area
	HasBed        bool    // the scanner bed shows around the sheet
	Midtone       float64 // solid mid-grey area, mm²
}

// Thresholds of the verdicts, tuned on testdata/scans (see scangen).
const (
	darkPaper     = 150  // paper darker than this: too dark
	lightInk      = 125  // darkest ink lighter than this: too light
	blurLimit     = 0.25 // blur measure above this: blurred (sharp scans: 0.06-0.16)
	greyAreaMM2   = 60   // solid mid-grey area that makes a page grey
	blankMarginMM = 18
	speckMM       = 1.2
	speckAreaMM2  = 0.6
)

// ErrTooLarge is returned for a page of more than MaxPixels.
var ErrTooLarge = errors.New("pipeline: page too large")

// Process runs the whole pipeline on one page scanned at dpi (0: o.DPI).
func Process(ctx context.Context, src *image.Gray, dpi int, o Options) (*Page, error) {
	o = o.withDefaults()
	if dpi <= 0 {
		dpi = o.DPI
	}
	if dpi < 50 || dpi > 1200 {
		return nil, fmt.Errorf("pipeline: dpi %d out of range 50..1200", dpi)
	}
	if o.JPEGQuality < 1 || o.JPEGQuality > 100 {
		return nil, fmt.Errorf("pipeline: JPEG quality %d out of range 1..100", o.JPEGQuality)
	}
	b := src.Bounds()
	if b.Dx() < 16 || b.Dy() < 16 {
		return nil, fmt.Errorf("pipeline: page %dx%d too small", b.Dx(), b.Dy())
	}
	if b.Dx()*b.Dy() > MaxPixels {
		return nil, fmt.Errorf("%w: %dx%d, at most %d pixels", ErrTooLarge, b.Dx(), b.Dy(), MaxPixels)
	}
	if b.Min != (image.Point{}) {
		src = copyGray(src)
	}
	p := &Page{}

	// 1. Analysis copy at about 150 dpi.
	f := max(1, int(math.Round(float64(dpi)/150)))
	a := boxDown(src, f)
	adpi := float64(dpi) / float64(f)
	mm := adpi / 25.4 // analysis pixels per mm
	if err := ctx.Err(); err != nil {
		return nil, err
	}

	// 2. Paper.
	sh := findSheet(a)
	p.Metrics.HasBed = sh.bed
	p.Metrics.PaperLevel = sh.paper
	if sh.touches {
		p.Verdicts = append(p.Verdicts, PartlyOutside)
	}

	// 3. Ink and blank.
	ink, inkLevel := sh.inkMask(a)
	p.Metrics.InkLevel = inkLevel
	// The margin left out of the blank test: 18 mm, less on a small sheet
	// (an ID card has print near its edges).
	margin := int(min(blankMarginMM*mm, 0.08*float64(min(a.Rect.Dx(), a.Rect.Dy()))))
	comps := sh.components(ink, margin, speckMM*mm, speckAreaMM2*mm*mm)
	p.Metrics.InkComponents = comps
	p.Blank = comps == 0
	if err := ctx.Err(); err != nil {
		return nil, err
	}

	// 4. Skew.
	// The sheet's edges, where the bed shows them, bound the search for
	// text lines; a blank back has only its edges.
	angle, ok := sh.edgeSkew()
	lo, hi := -float64(searchDeg), float64(searchDeg)
	if ok {
		lo, hi = angle-2, angle+2
	}
	if !p.Blank {
		pts := sh.inkPoints(ink, int(2*mm))
		if t, tok := textSkew(ctx, pts, a.Rect.Dx(), a.Rect.Dy(), lo, hi); tok {
			angle, ok = t, true
		}
	}
	if !ok {
		angle = 0
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	p.SkewDeg = round2(angle)
	if math.Abs(angle) > o.MaxSkewDeg {
		p.Verdicts = append(p.Verdicts, TooSkewed)
	}

	// 5. Crop and deskew at full resolution.
	theta := angle * math.Pi / 180
	box := sh.cropBox(theta, a.Rect.Dx(), a.Rect.Dy())
	crop := image.Rect(box.Min.X*f, box.Min.Y*f, box.Max.X*f, box.Max.Y*f).Intersect(image.Rect(-b.Dx(), -b.Dy(), 2*b.Dx(), 2*b.Dy()))
	if crop.Dx() < 16 || crop.Dy() < 16 {
		crop = image.Rect(0, 0, b.Dx(), b.Dy())
	}
	p.Crop = crop
	page, err := straighten(ctx, src, theta, crop)
	if err != nil {
		return nil, err
	}
	if sh.bed {
		// The sheet's own edge (its shadow, a sliver of bed) is no content:
		// half a millimetre all round is set to paper.
		frame(page, int(math.Ceil(0.5*float64(dpi)/25.4)), uint8(sh.paper))
	}

	// 6. Orientation.
	if !p.Blank {
		if q := orientation(boxDown(page, f), sh.paper, inkLevel); q != 0 {
			page = rotateQuarter(page, q)
			p.Rotation = 90 * q
			p.Verdicts = append(p.Verdicts, Rotated)
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}

	// 7. Quality (a blank back is not judged, except for being dark).
	small := boxDown(page, f)
	paper, inkLo := levels(small)
	p.Metrics.PaperLevel, p.Metrics.InkLevel = paper, inkLo
	if paper < darkPaper {
		p.Verdicts = append(p.Verdicts, TooDark)
	}
	if !p.Blank {
		// Blur also makes thin strokes light: a blurred page is told
		// only that it is blurred.
		p.Metrics.Blur = round2(blurMeasure(small, paper, inkLo))
		switch {
		case p.Metrics.Blur > blurLimit:
			p.Verdicts = append(p.Verdicts, Blurred)
		case inkLo > lightInk:
			p.Verdicts = append(p.Verdicts, TooLight)
		}
	}

	// 8. Kind and encoding.
	p.Metrics.Midtone = round2(midtoneArea(small, paper, inkLo) / (mm * mm))
	// Solid mid-grey areas (a stamp, a photo) need grey; black text over
	// them stays sharp as a stencil, unless the page is blurred, where a
	// threshold would break the strokes.
	p.Kind = KindBilevel
	if p.Metrics.Midtone > greyAreaMM2 && !p.Blank {
		p.Kind = KindMixed
		if p.Metrics.Blur > blurLimit {
			p.Kind = KindGrey
		}
	}
	if err := p.encode(page, dpi, paper, inkLo, o); err != nil {
		return nil, err
	}
	return p, ctx.Err()
}

var debugOrient = false

func round2(v float64) float64 { return math.Round(v*100) / 100 }

func (p *Page) encode(page *image.Gray, dpi, paper, ink int, o Options) error {
	var thumbSrc *image.Gray
	switch p.Kind {
	case KindGrey:
		g := page
		d := dpi
		if dpi >= 300 {
			g, d = boxDown(page, 2), dpi/2
		}
		normaliseGrey(g, paper, ink)
		var buf bytes.Buffer
		if err := jpeg.Encode(&buf, g, &jpeg.Options{Quality: o.JPEGQuality}); err != nil {
			return fmt.Errorf("pipeline: jpeg: %w", err)
		}
		p.Data, p.Width, p.Height, p.DPI = buf.Bytes(), g.Rect.Dx(), g.Rect.Dy(), d
		thumbSrc = g
	case KindMixed:
		// The stencil takes what is nearly as dark as the ink, so a stamp's
		// mid grey stays in the background.
		bl := threshold(page, ink+(paper-ink)/4)
		despeckle(bl, max(2, dpi*dpi/30000))
		p.Data, p.Width, p.Height, p.DPI = EncodeG4(bl), bl.Width, bl.Height, dpi
		f := max(1, dpi/100)
		bg := boxDown(withoutText(page, bl, paper), f)
		normaliseGrey(bg, paper, ink)
		var buf bytes.Buffer
		if err := jpeg.Encode(&buf, bg, &jpeg.Options{Quality: o.JPEGQuality}); err != nil {
			return fmt.Errorf("pipeline: jpeg: %w", err)
		}
		p.Background, p.BackgroundWidth, p.BackgroundHeight = buf.Bytes(), bg.Rect.Dx(), bg.Rect.Dy()
		thumbSrc = composite(bg, bl)
	default:
		bl := threshold(page, (paper+ink+1)/2)
		despeckle(bl, max(2, dpi*dpi/30000)) // 3 px at 300 dpi
		p.Data, p.Width, p.Height, p.DPI = EncodeG4(bl), bl.Width, bl.Height, dpi
		thumbSrc = bl.Gray()
	}
	th, err := thumbnail(thumbSrc, o.ThumbWidth)
	if err != nil {
		return err
	}
	p.Thumb = th
	return nil
}

// withoutText is page with the stencil's pixels, grown by one pixel to take
// their soft edges, painted paper.
func withoutText(page *image.Gray, bl *Bilevel, paper int) *image.Gray {
	out := copyGray(page)
	w, h := bl.Width, bl.Height
	for y := range h {
		for x := range w {
			if !bl.Black[y*w+x] {
				continue
			}
			for yy := max(0, y-1); yy <= min(h-1, y+1); yy++ {
				for xx := max(0, x-1); xx <= min(w-1, x+1); xx++ {
					out.Pix[yy*out.Stride+xx] = uint8(paper)
				}
			}
		}
	}
	return out
}

// composite is what a mixed page shows: the background scaled to the
// stencil's size with the stencil's black on top.
func composite(bg *image.Gray, bl *Bilevel) *image.Gray {
	out := resize(bg, bl.Width, bl.Height)
	if bg.Rect.Dx() < bl.Width {
		// resize averages down; up, take the nearest background pixel.
		for y := range bl.Height {
			sy := y * bg.Rect.Dy() / bl.Height
			for x := range bl.Width {
				out.Pix[y*out.Stride+x] = bg.Pix[sy*bg.Stride+x*bg.Rect.Dx()/bl.Width]
			}
		}
	}
	for i, k := range bl.Black {
		if k {
			out.Pix[i] = 0
		}
	}
	return out
}

// Gray returns b as an image: black 0, white 255.
func (b *Bilevel) Gray() *image.Gray {
	g := image.NewGray(image.Rect(0, 0, b.Width, b.Height))
	for i, k := range b.Black {
		if !k {
			g.Pix[i] = 255
		}
	}
	return g
}

func thumbnail(g *image.Gray, w int) ([]byte, error) {
	if w < 16 || w > 2000 {
		return nil, fmt.Errorf("pipeline: thumbnail width %d out of range 16..2000", w)
	}
	h := max(1, g.Rect.Dy()*w/max(1, g.Rect.Dx()))
	t := resize(g, w, h)
	var buf bytes.Buffer
	enc := png.Encoder{CompressionLevel: png.BestSpeed}
	if err := enc.Encode(&buf, t); err != nil {
		return nil, fmt.Errorf("pipeline: thumbnail: %w", err)
	}
	return buf.Bytes(), nil
}

// copyGray returns src with its bounds moved to the origin.
func copyGray(src *image.Gray) *image.Gray {
	b := src.Bounds()
	g := image.NewGray(image.Rect(0, 0, b.Dx(), b.Dy()))
	for y := range b.Dy() {
		copy(g.Pix[y*g.Stride:y*g.Stride+b.Dx()], src.Pix[src.PixOffset(b.Min.X, b.Min.Y+y):])
	}
	return g
}

// boxDown averages f×f blocks (a partial block at the edge averages what it has).
func boxDown(src *image.Gray, f int) *image.Gray {
	if f <= 1 {
		return src
	}
	w, h := (src.Rect.Dx()+f-1)/f, (src.Rect.Dy()+f-1)/f
	dst := image.NewGray(image.Rect(0, 0, w, h))
	sum := make([]uint32, w)
	cnt := make([]uint32, w)
	sw, shh := src.Rect.Dx(), src.Rect.Dy()
	for by := range h {
		clear(sum)
		clear(cnt)
		for y := by * f; y < min((by+1)*f, shh); y++ {
			row := src.Pix[y*src.Stride : y*src.Stride+sw]
			for x, v := range row {
				sum[x/f] += uint32(v)
				cnt[x/f]++
			}
		}
		out := dst.Pix[by*dst.Stride : by*dst.Stride+w]
		for i := range out {
			out[i] = uint8(sum[i] / cnt[i])
		}
	}
	return dst
}

// resize scales src to w×h by averaging the source pixels of each target pixel.
func resize(src *image.Gray, w, h int) *image.Gray {
	dst := image.NewGray(image.Rect(0, 0, w, h))
	sw, sh := src.Rect.Dx(), src.Rect.Dy()
	for y := range h {
		y0 := y * sh / h
		y1 := max((y+1)*sh/h, y0+1)
		for x := range w {
			x0 := x * sw / w
			x1 := max((x+1)*sw/w, x0+1)
			var s, n uint32
			for sy := y0; sy < y1; sy++ {
				for _, v := range src.Pix[sy*src.Stride+x0 : sy*src.Stride+x1] {
					s += uint32(v)
				}
				n += uint32(x1 - x0)
			}
			dst.Pix[y*dst.Stride+x] = uint8(s / n)
		}
	}
	return dst
}

// histogram of g's pixels.
func histogram(g *image.Gray) (h [256]int, n int) {
	for y := range g.Rect.Dy() {
		for _, v := range g.Pix[y*g.Stride : y*g.Stride+g.Rect.Dx()] {
			h[v]++
		}
	}
	return h, g.Rect.Dx() * g.Rect.Dy()
}

// percentile of a histogram of n values (q in 0..1).
func percentile(h *[256]int, n int, q float64) int {
	want := int(q * float64(n))
	s := 0
	for v, c := range h {
		s += c
		if s > want {
			return v
		}
	}
	return 255
}

// levels are the paper level (the 75th percentile: paper covers most of a
// page) and the ink level: the 10th percentile of the pixels clearly darker
// than the paper (the paper level when there are none).
func levels(g *image.Gray) (paper, ink int) {
	h, n := histogram(g)
	paper = percentile(&h, n, 0.75)
	var dark [256]int
	dn := 0
	for v := range max(0, paper-40) {
		dark[v] = h[v]
		dn += h[v]
	}
	if dn < 20 {
		return paper, paper
	}
	return paper, percentile(&dark, dn, 0.10)
}

// sheet is the paper found on the analysis copy.
type sheet struct {
	w, h    int
	bed     bool
	paper   int   // paper level
	left    []int // per row: first and last paper pixel, -1 without paper
	right   []int
	top     []int // per column
	bottom  []int
	touches bool // the sheet runs off the scan area
}

// findSheet separates the sheet from the bed. Without a bed darker than the
// paper along the image border, the whole image is the sheet.
func findSheet(a *image.Gray) *sheet {
	w, h := a.Rect.Dx(), a.Rect.Dy()
	s := &sheet{w: w, h: h}
	hist, n := histogram(a)
	s.paper = percentile(&hist, n, 0.75)
	// The border: the outer 1.5 % frame.
	var bh [256]int
	bn := 0
	m := max(2, min(w, h)*15/1000)
	for y := range h {
		for x := range w {
			if x < m || x >= w-m || y < m || y >= h-m {
				bh[a.Pix[y*a.Stride+x]]++
				bn++
			}
		}
	}
	bedLevel := percentile(&bh, bn, 0.5)
	full := func() {
		s.left, s.right, s.top, s.bottom = make([]int, h), make([]int, h), make([]int, w), make([]int, w)
		for y := range h {
			s.left[y], s.right[y] = 0, w-1
		}
		for x := range w {
			s.top[x], s.bottom[x] = 0, h-1
		}
	}
	if s.paper-bedLevel < 60 {
		full()
		return s
	}
	// The paper level among pixels clearly brighter than the bed.
	thr := (bedLevel + s.paper) / 2
	var ph [256]int
	pn := 0
	for v := thr; v < 256; v++ {
		ph[v] = hist[v]
		pn += hist[v]
	}
	s.paper = percentile(&ph, pn, 0.6)
	thr = (bedLevel + s.paper) / 2
	s.bed = true
	// A pixel is paper when the 3-pixel horizontal (or vertical) mean is
	// above thr: one noisy pixel of the bed does not start a sheet.
	isPaper := func(x, y int) bool {
		return int(a.Pix[y*a.Stride+x]) > thr
	}
	s.left, s.right = make([]int, h), make([]int, h)
	run := max(3, w/200)
	for y := range h {
		s.left[y], s.right[y] = -1, -1
		c := 0
		for x := range w {
			if isPaper(x, y) {
				c++
				if c == run {
					s.left[y] = x - run + 1
					break
				}
			} else {
				c = 0
			}
		}
		if s.left[y] < 0 {
			continue
		}
		c = 0
		for x := w - 1; x >= 0; x-- {
			if isPaper(x, y) {
				c++
				if c == run {
					s.right[y] = x + run - 1
					break
				}
			} else {
				c = 0
			}
		}
	}
	s.top, s.bottom = make([]int, w), make([]int, w)
	for x := range w {
		s.top[x], s.bottom[x] = -1, -1
		c := 0
		for y := range h {
			if isPaper(x, y) {
				c++
				if c == run {
					s.top[x] = y - run + 1
					break
				}
			} else {
				c = 0
			}
		}
		if s.top[x] < 0 {
			continue
		}
		c = 0
		for y := h - 1; y >= 0; y-- {
			if isPaper(x, y) {
				c++
				if c == run {
					s.bottom[x] = y + run - 1
					break
				}
			} else {
				c = 0
			}
		}
	}
	// Paper rows or columns that reach the image border: fed partly outside.
	rows, edgeRows := 0, 0
	for y := range h {
		if s.left[y] >= 0 {
			rows++
			if s.left[y] == 0 || s.right[y] == w-1 {
				edgeRows++
			}
		}
	}
	cols, edgeCols := 0, 0
	for x := range w {
		if s.top[x] >= 0 {
			cols++
			if s.top[x] == 0 || s.bottom[x] == h-1 {
				edgeCols++
			}
		}
	}
	if rows == 0 || cols == 0 {
		full()
		s.bed = false
		return s
	}
	s.touches = edgeRows*10 > rows || edgeCols*10 > cols
	return s
}

// inside reports whether (x, y) lies in the sheet at least m pixels from
// its edges.
func (s *sheet) inside(x, y, m int) bool {
	l, r := s.left[y], s.right[y]
	if l < 0 || x < l+m || x > r-m {
		return false
	}
	t, b := s.top[x], s.bottom[x]
	return t >= 0 && y >= t+m && y <= b-m
}

// inkMask marks pixels darker than the paper by half the contrast of the
// sheet, at least 50 levels; it returns the darkest ink level too.
func (s *sheet) inkMask(a *image.Gray) ([]bool, int) {
	var hist [256]int
	n := 0
	for y := range s.h {
		for x := max(0, s.left[y]); x <= s.right[y] && s.left[y] >= 0; x++ {
			if s.inside(x, y, 2) {
				hist[a.Pix[y*a.Stride+x]]++
				n++
			}
		}
	}
	inkLevel := percentile(&hist, max(n, 1), 0.002)
	thr := min(s.paper-50, (s.paper+inkLevel)/2)
	mask := make([]bool, s.w*s.h)
	for y := range s.h {
		row := a.Pix[y*a.Stride : y*a.Stride+s.w]
		for x, v := range row {
			mask[y*s.w+x] = int(v) < thr
		}
	}
	return mask, inkLevel
}

// components counts the 8-connected ink components inside the sheet less
// margin m that are not specks (a box side of at least minSide pixels or at
// least minArea ink pixels).
func (s *sheet) components(ink []bool, m int, minSide, minArea float64) int {
	w, h := s.w, s.h
	label := make([]int32, w*h)
	parent := []int32{0}
	find := func(i int32) int32 {
		for parent[i] != i {
			parent[i] = parent[parent[i]]
			i = parent[i]
		}
		return i
	}
	union := func(i, j int32) int32 {
		i, j = find(i), find(j)
		if i < j {
			parent[j] = i
			return i
		}
		parent[i] = j
		return j
	}
	for y := range h {
		for x := range w {
			k := y*w + x
			if !ink[k] || !s.inside(x, y, m) {
				continue
			}
			var l int32
			for _, d := range [4][2]int{{-1, 0}, {-1, -1}, {0, -1}, {1, -1}} {
				nx, ny := x+d[0], y+d[1]
				if nx < 0 || ny < 0 || nx >= w {
					continue
				}
				if nl := label[ny*w+nx]; nl != 0 {
					if l == 0 {
						l = find(nl)
					} else {
						l = union(l, nl)
					}
				}
			}
			if l == 0 {
				l = int32(len(parent))
				parent = append(parent, l)
			}
			label[k] = l
		}
	}
	type box struct{ x0, y0, x1, y1, n int }
	boxes := map[int32]*box{}
	for y := range h {
		for x := range w {
			l := label[y*w+x]
			if l == 0 {
				continue
			}
			r := find(l)
			b := boxes[r]
			if b == nil {
				b = &box{x, y, x, y, 0}
				boxes[r] = b
			}
			b.x0, b.y0, b.x1, b.y1 = min(b.x0, x), min(b.y0, y), max(b.x1, x), max(b.y1, y)
			b.n++
		}
	}
	n := 0
	for _, b := range boxes {
		side := float64(max(b.x1-b.x0, b.y1-b.y0) + 1)
		if side >= minSide && float64(b.n) >= minArea*0.5 || float64(b.n) >= minArea && side >= minSide*0.5 {
			n++
		}
	}
	return n
}

// inkPoints lists ink pixels inside the sheet less margin m, as float
// coordinates for the skew search.
func (s *sheet) inkPoints(ink []bool, m int) [][2]float32 {
	var pts [][2]float32
	for y := range s.h {
		for x := range s.w {
			if ink[y*s.w+x] && s.inside(x, y, m) {
				pts = append(pts, [2]float32{float32(x), float32(y)})
			}
		}
	}
	return pts
}

// profileScore is the sum of squared differences of adjacent bins of the
// projection of pts on lines at angle deg: highest when text lines line up.
func profileScore(pts [][2]float32, deg float64, w, h int, bins []int32, step int) float64 {
	t := deg * math.Pi / 180
	sn, cs := float32(math.Sin(t)), float32(math.Cos(t))
	off := float32(w) // r = y cos - x sin lies in [-w, w+h]
	clear(bins)
	for i := 0; i < len(pts); i += step {
		p := pts[i]
		r := p[1]*cs - p[0]*sn + off
		bins[int(r)]++
	}
	var s float64
	for i := 1; i < len(bins); i++ {
		d := float64(bins[i] - bins[i-1])
		s += d * d
	}
	return s
}

// hasLineGaps reports whether the projection of pts at angle deg has empty
// bins (below 5 % of the fullest) for at least a tenth of its extent.
func hasLineGaps(pts [][2]float32, deg float64, w, h int, bins []int32) bool {
	profileScore(pts, deg, w, h, bins, 1)
	first, last := -1, -1
	var peak int32
	for i, b := range bins {
		if b > 0 {
			if first < 0 {
				first = i
			}
			last = i
			peak = max(peak, b)
		}
	}
	if first < 0 || last-first < 10 {
		return false
	}
	empty := 0
	for _, b := range bins[first : last+1] {
		if b*20 < peak {
			empty++
		}
	}
	return empty*10 >= last-first+1
}

// textSkew finds the skew of text lines, or !ok with too little ink.
func textSkew(ctx context.Context, pts [][2]float32, w, h int, lo, hi float64) (float64, bool) {
	if len(pts) < 300 {
		return 0, false
	}
	bins := make([]int32, 2*w+h+2)
	step := max(1, len(pts)/60000)
	best, bestS := 0.0, -1.0
	var scores []float64
	for d := math.Ceil(lo * 2); d <= hi*2; d++ {
		a := d / 2
		sc := profileScore(pts, a, w, h, bins, step)
		scores = append(scores, sc)
		if sc > bestS {
			best, bestS = a, sc
		}
	}
	if ctx.Err() != nil {
		return 0, false
	}
	// A flat profile (no lines: a photo, a stamp) has no clear peak.
	med := slices.Clone(scores)
	slices.Sort(med)
	if len(med) < 5 || bestS < 1.3*med[len(med)/2] {
		return 0, false
	}
	step = max(1, len(pts)/300000)
	center := best
	bestS = -1
	for d := -12; d <= 12; d++ {
		a := center + float64(d)*0.05
		if sc := profileScore(pts, a, w, h, bins, step); sc > bestS {
			best, bestS = a, sc
		}
	}
	// Text lines leave gaps between them: at least a tenth of the profile
	// is nearly empty. Patterns that only line up along a slant (a
	// checkerboard) and pictures do not.
	if !hasLineGaps(pts, best, w, h, bins) {
		return 0, false
	}
	// Parabolic refinement around the best fine step.
	s0 := profileScore(pts, best-0.05, w, h, bins, step)
	s1 := profileScore(pts, best, w, h, bins, step)
	s2 := profileScore(pts, best+0.05, w, h, bins, step)
	if den := s0 - 2*s1 + s2; den < 0 {
		off := 0.5 * (s0 - s2) / den
		if off > -1 && off < 1 {
			best += off * 0.05
		}
	}
	return best, true
}

// edgeSkew is the angle of the sheet's left and right edges (least squares
// over the middle half of the sheet's rows), for pages with no text lines.
func (s *sheet) edgeSkew() (float64, bool) {
	if !s.bed {
		return 0, false
	}
	var ys []int
	for y := range s.h {
		if s.left[y] >= 0 {
			ys = append(ys, y)
		}
	}
	if len(ys) < 40 {
		return 0, false
	}
	lo, hi := ys[len(ys)/4], ys[len(ys)*3/4]
	fit := func(edge []int) (float64, bool) {
		var n, sx, sy, sxx, sxy float64
		for y := lo; y <= hi; y++ {
			x := edge[y]
			if x <= 0 || x >= s.w-1 {
				continue
			}
			fy, fx := float64(y), float64(x)
			n++
			sx += fy
			sy += fx
			sxx += fy * fy
			sxy += fy * fx
		}
		if n < 20 {
			return 0, false
		}
		den := n*sxx - sx*sx
		if den == 0 {
			return 0, false
		}
		return (n*sxy - sx*sy) / den, true
	}
	sl, ok1 := fit(s.left)
	sr, ok2 := fit(s.right)
	var slope float64
	switch {
	case ok1 && ok2:
		slope = (sl + sr) / 2
	case ok1:
		slope = sl
	case ok2:
		slope = sr
	default:
		return 0, false
	}
	// x = x0 + y*slope: lines of the page fall to the right by -slope.
	return -math.Atan(slope) * 180 / math.Pi, true
}

// cropBox is the sheet's box in the straightened frame (rotation by -theta
// about the image centre), from the medians of its edges; the whole image
// when there is no bed.
func (s *sheet) cropBox(theta float64, w, h int) image.Rectangle {
	if !s.bed {
		return image.Rect(0, 0, w, h)
	}
	cx, cy := float64(w)/2, float64(h)/2
	sn, cs := math.Sin(theta), math.Cos(theta)
	// (x, y) in the scan → (u, v) in the straightened frame.
	u := func(x, y float64) float64 { return cx + (x-cx)*cs + (y-cy)*sn }
	v := func(x, y float64) float64 { return cy - (x-cx)*sn + (y-cy)*cs }
	var ls, rs, ts, bs []float64
	for y := range s.h {
		if s.left[y] >= 0 {
			ls = append(ls, u(float64(s.left[y]), float64(y)))
			rs = append(rs, u(float64(s.right[y]+1), float64(y)))
		}
	}
	for x := range s.w {
		if s.top[x] >= 0 {
			ts = append(ts, v(float64(x), float64(s.top[x])))
			bs = append(bs, v(float64(x), float64(s.bottom[x]+1)))
		}
	}
	// The edges in the straightened frame are straight: the middle of the
	// sorted values is the edge, the extremes are the corners' slopes.
	mid := func(vs []float64, q float64) float64 {
		slices.Sort(vs)
		return vs[int(q*float64(len(vs)-1))]
	}
	x0, x1 := mid(ls, 0.5), mid(rs, 0.5)
	y0, y1 := mid(ts, 0.5), mid(bs, 0.5)
	r := image.Rect(int(math.Floor(x0)), int(math.Floor(y0)), int(math.Ceil(x1)), int(math.Ceil(y1)))
	return r
}

// straighten resamples the crop box (in the frame rotated by -theta about
// the image centre) from src, bilinearly; outside src is white.
func straighten(ctx context.Context, src *image.Gray, theta float64, crop image.Rectangle) (*image.Gray, error) {
	w, h := src.Rect.Dx(), src.Rect.Dy()
	dst := image.NewGray(image.Rect(0, 0, crop.Dx(), crop.Dy()))
	if math.Abs(theta) < 0.0005 { // below 0.03°: a plain crop
		for y := range crop.Dy() {
			sy := crop.Min.Y + y
			row := dst.Pix[y*dst.Stride : y*dst.Stride+crop.Dx()]
			for x := range row {
				sx := crop.Min.X + x
				if sx >= 0 && sy >= 0 && sx < w && sy < h {
					row[x] = src.Pix[sy*src.Stride+sx]
				} else {
					row[x] = 255
				}
			}
		}
		return dst, nil
	}
	cx, cy := float64(w)/2, float64(h)/2
	sn, cs := math.Sin(theta), math.Cos(theta)
	for y := range crop.Dy() {
		if y%256 == 0 && ctx.Err() != nil {
			return nil, ctx.Err()
		}
		dv := float64(crop.Min.Y+y) + 0.5 - cy
		row := dst.Pix[y*dst.Stride : y*dst.Stride+crop.Dx()]
		du0 := float64(crop.Min.X) + 0.5 - cx
		// Source position of (u, v): x = cx + du cos - dv sin, y = cy + du sin + dv cos.
		sx := cx + du0*cs - dv*sn - 0.5
		sy := cy + du0*sn + dv*cs - 0.5
		for x := range row {
			ix, iy := int(math.Floor(sx)), int(math.Floor(sy))
			if ix >= 0 && iy >= 0 && ix+1 < w && iy+1 < h {
				fx, fy := sx-float64(ix), sy-float64(iy)
				i := iy*src.Stride + ix
				p00, p10 := float64(src.Pix[i]), float64(src.Pix[i+1])
				p01, p11 := float64(src.Pix[i+src.Stride]), float64(src.Pix[i+src.Stride+1])
				top := p00 + (p10-p00)*fx
				bot := p01 + (p11-p01)*fx
				row[x] = uint8(top + (bot-top)*fy + 0.5)
			} else {
				row[x] = 255
			}
			sx += cs
			sy += sn
		}
	}
	return dst, nil
}

// frame paints a band of width m along g's edges with v.
func frame(g *image.Gray, m int, v uint8) {
	w, h := g.Rect.Dx(), g.Rect.Dy()
	for y := range h {
		row := g.Pix[y*g.Stride : y*g.Stride+w]
		if y < m || y >= h-m {
			for x := range row {
				row[x] = v
			}
			continue
		}
		for x := 0; x < min(m, w); x++ {
			row[x], row[w-1-x] = v, v
		}
	}
}

// rotateQuarter turns g by q quarter turns clockwise.
func rotateQuarter(g *image.Gray, q int) *image.Gray {
	w, h := g.Rect.Dx(), g.Rect.Dy()
	var dst *image.Gray
	switch q % 4 {
	case 1:
		dst = image.NewGray(image.Rect(0, 0, h, w))
		for y := range h {
			for x := range w {
				dst.Pix[x*dst.Stride+(h-1-y)] = g.Pix[y*g.Stride+x]
			}
		}
	case 2:
		dst = image.NewGray(image.Rect(0, 0, w, h))
		for y := range h {
			for x := range w {
				dst.Pix[(h-1-y)*dst.Stride+(w-1-x)] = g.Pix[y*g.Stride+x]
			}
		}
	case 3:
		dst = image.NewGray(image.Rect(0, 0, h, w))
		for y := range h {
			for x := range w {
				dst.Pix[(w-1-x)*dst.Stride+y] = g.Pix[y*g.Stride+x]
			}
		}
	default:
		return g
	}
	return dst
}

// orientation returns the quarter turns clockwise that make the text of a
// straightened page upright, 0 when it is or when the text does not say.
func orientation(a *image.Gray, paper, ink int) int {
	w, h := a.Rect.Dx(), a.Rect.Dy()
	thr := min(paper-50, (paper+ink)/2)
	m := min(w, h) / 20
	rows := make([]float64, h)
	cols := make([]float64, w)
	n := 0
	for y := m; y < h-m; y++ {
		for x := m; x < w-m; x++ {
			if int(a.Pix[y*a.Stride+x]) < thr {
				rows[y]++
				cols[x]++
				n++
			}
		}
	}
	if n < 500 {
		return 0
	}
	sharp := func(p []float64) float64 {
		var s float64
		for i := 1; i < len(p); i++ {
			d := p[i] - p[i-1]
			s += d * d
		}
		return s / float64(len(p))
	}
	// Line profiles are measured per unit length of the other axis.
	rs, csh := sharp(rows)/float64(w), sharp(cols)/float64(h)
	profile, across := rows, false
	switch {
	case rs > 1.6*csh:
	case csh > 1.6*rs:
		profile, across = cols, true
	default:
		return 0
	}
	// Within each text line, accents, ascenders and Thai vowels above
	// the x-height band outweigh descenders below it.
	above, below := zoneInk(profile)
	if debugOrient {
		println("orient", int(rs*100), int(csh*100), across, int(above), int(below))
	}
	upright := above > 1.3*below && above > 0
	flipped := below > 1.3*above && below > 0
	if across {
		// Columns: index grows to the right, so "above" is the left side.
		upright, flipped = flipped, upright
		// Tops to the right: the content was turned a quarter clockwise.
		switch {
		case upright:
			return 3
		case flipped:
			return 1
		}
		return 0
	}
	if flipped {
		return 2
	}
	return 0
}

// zoneInk splits a line profile into text lines (runs of non-empty bins)
// and sums, over lines of ordinary height, the ink before and after each
// line's core band (the bins above half the line's peak).
func zoneInk(p []float64) (before, after float64) {
	peak := slices.Max(p)
	if peak == 0 {
		return 0, 0
	}
	type line struct{ a, b int }
	var lines []line
	for i := 0; i < len(p); {
		if p[i] <= peak*0.02 {
			i++
			continue
		}
		j := i
		for j < len(p) && p[j] > peak*0.02 {
			j++
		}
		if j-i >= 4 {
			lines = append(lines, line{i, j})
		}
		i = j
	}
	if len(lines) < 3 {
		return 0, 0
	}
	hs := make([]int, len(lines))
	for i, l := range lines {
		hs[i] = l.b - l.a
	}
	slices.Sort(hs)
	med := hs[len(hs)/2]
	for _, l := range lines {
		if h := l.b - l.a; h > 2*med || h*2 < med {
			continue
		}
		m := slices.Max(p[l.a:l.b])
		c0, c1 := l.b, l.a
		for i := l.a; i < l.b; i++ {
			if p[i] >= m/2 {
				c0, c1 = min(c0, i), max(c1, i)
			}
		}
		for i := l.a; i < c0; i++ {
			before += p[i]
		}
		for i := c1 + 1; i < l.b; i++ {
			after += p[i]
		}
	}
	return before, after
}

// blurMeasure is the blur measure of Crété-Roffet, Dolmiere, Ladret and
// Nicolas (2007) over the pixels near ink: 0 for sharp edges, towards 1 for
// flat ones.
func blurMeasure(a *image.Gray, paper, ink int) float64 {
	w, h := a.Rect.Dx(), a.Rect.Dy()
	if w < 20 || h < 20 || paper-ink < 30 {
		return 0
	}
	const k = 9
	var sumF, sumV float64
	px := func(x, y int) float64 { return float64(a.Pix[y*a.Stride+x]) }
	// Vertical and horizontal, each with a k-tap box blur along the direction.
	for _, vertical := range []bool{false, true} {
		outer, inner := h, w
		if vertical {
			outer, inner = w, h
		}
		line := make([]float64, inner)
		blur := make([]float64, inner)
		for o := k; o < outer-k; o += 2 {
			for i := range inner {
				if vertical {
					line[i] = px(o, i)
				} else {
					line[i] = px(i, o)
				}
			}
			var run float64
			for i := range inner {
				run += line[i]
				if i >= k {
					run -= line[i-k]
				}
				if i >= k-1 {
					blur[i-k/2] = run / k
				}
			}
			for i := k; i < inner-k; i++ {
				df := math.Abs(line[i] - line[i-1])
				if df < 8 {
					continue
				}
				db := math.Abs(blur[i] - blur[i-1])
				sumF += df
				sumV += max(0, df-db)
			}
		}
	}
	if sumF == 0 {
		return 0
	}
	return 1 - sumV/sumF
}

// midtoneArea counts pixels that sit in a solid mid-grey area: they and
// their four neighbours lie between the ink and paper levels.
func midtoneArea(a *image.Gray, paper, ink int) float64 {
	lo := ink + (paper-ink)/5
	hi := ink + (paper-ink)*3/4
	w, h := a.Rect.Dx(), a.Rect.Dy()
	in := func(x, y int) bool {
		v := int(a.Pix[y*a.Stride+x])
		return v >= lo && v <= hi
	}
	n := 0
	for y := 1; y < h-1; y++ {
		for x := 1; x < w-1; x++ {
			if in(x, y) && in(x-1, y) && in(x+1, y) && in(x, y-1) && in(x, y+1) {
				n++
			}
		}
	}
	return float64(n)
}

// threshold makes a one-bit page: darker than t is black.
func threshold(g *image.Gray, t int) *Bilevel {
	w, h := g.Rect.Dx(), g.Rect.Dy()
	b := &Bilevel{Width: w, Height: h, Black: make([]bool, w*h)}
	for y := range h {
		row := g.Pix[y*g.Stride : y*g.Stride+w]
		out := b.Black[y*w : (y+1)*w]
		for x, v := range row {
			out[x] = int(v) < t
		}
	}
	return b
}

// despeckle clears 8-connected black components of at most maxPx pixels,
// found from runs of black in each row.
func despeckle(b *Bilevel, maxPx int) {
	type run struct {
		y, x0, x1 int // [x0, x1)
		id        int32
	}
	var runs []run
	parent := []int32{}
	size := []int{}
	find := func(i int32) int32 {
		for parent[i] != i {
			parent[i] = parent[parent[i]]
			i = parent[i]
		}
		return i
	}
	prevStart := 0
	for y := range b.Height {
		row := b.Black[y*b.Width : (y+1)*b.Width]
		curStart := len(runs)
		for x := 0; x < len(row); {
			if !row[x] {
				x++
				continue
			}
			x0 := x
			for x < len(row) && row[x] {
				x++
			}
			id := int32(len(parent))
			parent = append(parent, id)
			size = append(size, x-x0)
			// Join runs of the row above that touch, diagonals included.
			for j := prevStart; j < curStart; j++ {
				pr := runs[j]
				if pr.x1 < x0 || pr.x0 > x {
					continue
				}
				a, c := find(id), find(pr.id)
				if a != c {
					if a < c {
						a, c = c, a
					}
					parent[a] = c
					size[c] += size[a]
				}
			}
			runs = append(runs, run{y, x0, x, id})
		}
		prevStart = curStart
	}
	for _, r := range runs {
		if size[find(r.id)] <= maxPx {
			clear(b.Black[r.y*b.Width+r.x0 : r.y*b.Width+r.x1])
		}
	}
}

// normaliseGrey stretches ink..paper to 0..255 and whitens the background.
func normaliseGrey(g *image.Gray, paper, ink int) {
	if paper-ink < 20 {
		return
	}
	// Ink and paper are flattened so sensor noise in them costs no bytes:
	// the darkest fifth is black, the lightest eighth white.
	lo, hi := ink+(paper-ink)/5, paper-(paper-ink)/8
	var lut [256]uint8
	for v := range 256 {
		o := (v - lo) * 255 / max(1, hi-lo)
		lut[v] = uint8(max(0, min(255, o)))
	}
	for y := range g.Rect.Dy() {
		row := g.Pix[y*g.Stride : y*g.Stride+g.Rect.Dx()]
		for x, v := range row {
			row[x] = lut[v]
		}
	}
}
