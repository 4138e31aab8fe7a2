package qrreader

import (
	"fmt"
	"image"
	"math"

	"github.com/makiuchi-d/gozxing"
)

// A pass is one attempt of the pipeline: a grey variant of the image,
// binarized one way, searched for the best finder-pattern triple or for
// every plausible one, optionally on the binarized image turned by quarter
// turns (the finder-pattern search scans rows and the centre estimates
// depend on the scan direction, so a turned copy finds other candidates).
// Every pass also tries the inverted bits.
type pass struct {
	prep variant
	bin  binarizer
	all  bool
	turn int // quarter turns
	// full keeps a pass on the original of a big image; other passes on
	// the original of a big image use the fitted copy instead.
	full bool
}

// variant names a grey-scale version of the input.
type variant int

const (
	original  variant = iota
	fitted            // integer box downscale of a big image to about 1.5 MP
	up2               // ×2 Catmull–Rom: tiny or blurred codes
	up15              // ×1.5 Catmull–Rom
	down75            // ×0.75 Catmull–Rom: thick JPEG edges, moiré
	smooth            // 3×3 box blur: noise, halftone, sensor grain
	stretched         // contrast stretched (1st..99th percentile)
	down2             // ×0.5 box: big or noisy codes
	quarter           // turned 90° clockwise: the global threshold samples other rows
	numVariants
)

// bigPixels is the size above which the pipeline works on a downscaled
// copy: finder patterns of any code a camera can decode survive the
// shrink, and it bounds time and memory.
const bigPixels = 2_000_000

// passes is the pipeline, cheapest and most successful first (ordered by
// a greedy cover of the sample corpus, see bench/qr). Passes whose variant
// does not apply to an image's size are skipped.
var passes = []pass{
	{prep: fitted, bin: hybrid},
	{prep: original, bin: hybrid, full: true},
	{prep: up2, bin: hybrid, all: true},
	{prep: down75, bin: hybrid},
	{prep: smooth, bin: hybrid},
	{prep: up2, bin: hybrid, all: true, turn: 1},
	{prep: original, bin: adaptive},
	{prep: original, bin: global, all: true},
	{prep: up15, bin: hybrid},
	{prep: smooth, bin: global},
	{prep: stretched, bin: hybrid},
	{prep: down2, bin: hybrid},
	{prep: down2, bin: global},
	{prep: original, bin: hybrid, all: true, turn: 1},
	{prep: up2, bin: global, all: true},
	{prep: down75, bin: hybrid, turn: 1},
	{prep: original, bin: hybrid, all: true, turn: 2},
	{prep: original, bin: hybrid, all: true, turn: 3},
	{prep: quarter, bin: global, all: true},
}

// ownSampling runs the own grid sampling (sample.go) on every pass whose
// finder patterns gozxing found but could not decode.
var ownSampling = true

// decodeGray runs the passes in order. Once every pass has failed, each
// pass's binarized image gets a second, costlier try with the grid refined
// for crumpled or curved surfaces (warp.go); only triples whose timing
// patterns mostly read right pay for it.
func decodeGray(g *image.Gray) (Result, error) {
	p := prepared{base: g}
	big := g.Rect.Dx()*g.Rect.Dy() > bigPixels
	own := gozxingOnly
	if ownSampling {
		own = withRescue
	}
	tried := make(map[pass]bool, len(passes))
	var warp []*gozxing.BitMatrix // binarized images of the failed passes
	for _, ps := range passes {
		if big && ps.prep == original && !ps.full {
			ps.prep = fitted
		}
		ps.full = false
		if tried[ps] {
			continue
		}
		tried[ps] = true
		img := p.get(ps.prep)
		if img == nil {
			continue
		}
		bits := binarize(img, ps.bin)
		if bits == nil {
			continue
		}
		for range ps.turn {
			bits.Rotate90()
		}
		if r, ok := readMatrix(bits, ps.all, own); ok {
			return r, nil
		}
		if ownSampling && bits.GetWidth()*bits.GetHeight() <= bigPixels {
			warp = append(warp, bits)
		}
	}
	for _, bits := range warp {
		if r, ok := readMatrix(bits, true, warpedOnly); ok {
			return r, nil
		}
	}
	return Result{}, fmt.Errorf("decode image: %w", ErrNotFound)
}

// prepared makes each grey variant of one image once, on demand. For a
// big image every variant but the original derives from the fitted copy.
type prepared struct {
	base  *image.Gray
	done  [numVariants]bool
	cache [numVariants]*image.Gray
}

func (p *prepared) get(v variant) *image.Gray {
	if !p.done[v] {
		p.cache[v] = p.make(v)
		p.done[v] = true
	}
	return p.cache[v]
}

func (p *prepared) make(v variant) *image.Gray {
	w, h := p.base.Rect.Dx(), p.base.Rect.Dy()
	big := w*h > bigPixels
	if v == original {
		return p.base
	}
	if v == fitted {
		if !big {
			return nil
		}
		f := int(math.Ceil(math.Sqrt(float64(w*h) / (bigPixels * 3 / 4))))
		return downscale(p.base, f)
	}
	src := p.base
	if big {
		src = p.get(fitted)
		w, h = src.Rect.Dx(), src.Rect.Dy()
	}
	switch v {
	case up2:
		if max(w, h) > 1000 {
			return nil
		}
		return resize(src, 2*w, 2*h)
	case up15:
		if max(w, h) > 1200 {
			return nil
		}
		return resize(src, w*3/2, h*3/2)
	case down75:
		return resize(src, w*3/4, h*3/4)
	case smooth:
		return boxBlur(src)
	case stretched:
		return stretch(src)
	case quarter:
		return turnGray(src)
	case down2:
		if min(w, h) < 160 {
			return nil
		}
		return downscale(src, 2)
	}
	return nil
}
