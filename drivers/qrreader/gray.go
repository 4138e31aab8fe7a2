package qrreader

import (
	"image"
	"math"

	"github.com/makiuchi-d/gozxing"
)

// toGray returns img as a grey-scale image whose Pix is contiguous (Stride
// equals the width) and whose bounds start at the origin. A contiguous
// *image.Gray at the origin is used as is, the Y plane of a *image.YCbCr
// (JPEG, WebP) is copied without colour conversion; anything else is
// converted once.
func toGray(img image.Image) *image.Gray {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	switch m := img.(type) {
	case *image.Gray:
		if m.Stride == w && b.Min == (image.Point{}) {
			return m
		}
		out := image.NewGray(image.Rect(0, 0, w, h))
		for y := range h {
			copy(out.Pix[y*w:(y+1)*w], m.Pix[m.PixOffset(b.Min.X, b.Min.Y+y):])
		}
		return out
	case *image.YCbCr:
		out := image.NewGray(image.Rect(0, 0, w, h))
		for y := range h {
			copy(out.Pix[y*w:(y+1)*w], m.Y[m.YOffset(b.Min.X, b.Min.Y+y):])
		}
		return out
	case *image.RGBA:
		// Premultiplied: a transparent pixel is black; compose it on white.
		return grayFrom4(m.Pix, m.PixOffset(b.Min.X, b.Min.Y), m.Stride, w, h, true)
	case *image.NRGBA:
		return grayFrom4(m.Pix, m.PixOffset(b.Min.X, b.Min.Y), m.Stride, w, h, false)
	}
	out := image.NewGray(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			r, g, bl, a := img.At(b.Min.X+x, b.Min.Y+y).RGBA() // premultiplied, 16 bit
			out.Pix[y*w+x] = lum(uint8(r>>8), uint8(g>>8), uint8(bl>>8), uint8(a>>8), true)
		}
	}
	return out
}

// lum is the green-weighted luminance zxing uses, with transparency
// composed onto white (a transparent QR background reads as paper).
func lum(r, g, b, a uint8, premultiplied bool) uint8 {
	l := (int(r) + 2*int(g) + int(b)) / 4
	if a == 255 {
		return uint8(l)
	}
	if !premultiplied {
		l = l * int(a) / 255
	}
	return uint8(l + 255 - int(a))
}

// downscale shrinks g by the integer factor f, averaging f×f blocks (a box
// filter: cheap, and exactly what suppresses sensor noise and JPEG
// ringing).
func downscale(g *image.Gray, f int) *image.Gray {
	w, h := g.Rect.Dx()/f, g.Rect.Dy()/f
	out := image.NewGray(image.Rect(0, 0, w, h))
	sums := make([]int, w)
	n := f * f
	for y := range h {
		clear(sums)
		for dy := range f {
			row := g.Pix[(y*f+dy)*g.Stride:]
			for x := range w {
				s := 0
				for _, v := range row[x*f : x*f+f] {
					s += int(v)
				}
				sums[x] += s
			}
		}
		dst := out.Pix[y*w : (y+1)*w]
		for x, s := range sums {
			dst[x] = uint8((s + n/2) / n)
		}
	}
	return out
}

// resize scales g to w×h with a separable Catmull–Rom filter (sharp
// edges, no blockiness; widened when shrinking so it averages rather than
// aliases), for enlarging tiny symbols and non-integer shrinking. Unlike
// golang.org/x/image/draw's kernel scaler, whose float64 scratch buffer is
// 32 bytes per intermediate pixel, the intermediate image here is one byte
// per pixel.
func resize(g *image.Gray, w, h int) *image.Gray {
	sw, sh := g.Rect.Dx(), g.Rect.Dy()
	xs := cubicWeights(sw, w)
	ys := cubicWeights(sh, h)
	tmp := make([]uint8, w*sh) // horizontal pass
	for y := range sh {
		src := g.Pix[y*g.Stride:][:sw]
		dst := tmp[y*w:][:w]
		for x, t := range xs {
			dst[x] = clamp8(t.apply(src))
		}
	}
	out := image.NewGray(image.Rect(0, 0, w, h))
	col := make([]uint8, sh)
	for x := range w {
		for y := range sh {
			col[y] = tmp[y*w+x]
		}
		for y, t := range ys {
			out.Pix[y*w+x] = clamp8(t.apply(col))
		}
	}
	return out
}

// taps are the source index and weights contributing to one output pixel.
type taps struct {
	first int
	w     []int32 // fixed point, sum 1<<14
}

func (t taps) apply(src []uint8) int32 {
	var s int32
	for i, w := range t.w {
		s += w * int32(src[t.first+i])
	}
	return (s + 1<<13) >> 14
}

func clamp8(v int32) uint8 {
	return uint8(min(255, max(0, v)))
}

// cubicWeights computes Catmull–Rom taps for resampling n pixels to m.
func cubicWeights(n, m int) []taps {
	scale := float64(n) / float64(m)
	support := 2.0
	if scale > 1 {
		support *= scale
	}
	out := make([]taps, m)
	for i := range out {
		center := (float64(i)+0.5)*scale - 0.5
		lo := max(0, int(math.Floor(center-support+1)))
		hi := min(n-1, int(math.Ceil(center+support-1)))
		ws := make([]float64, hi-lo+1)
		sum := 0.0
		for j := range ws {
			d := math.Abs(float64(lo+j) - center)
			if scale > 1 {
				d /= scale
			}
			ws[j] = catmullRom(d)
			sum += ws[j]
		}
		t := taps{first: lo, w: make([]int32, len(ws))}
		for j, v := range ws {
			t.w[j] = int32(math.Round(v / sum * (1 << 14)))
		}
		out[i] = t
	}
	return out
}

func catmullRom(d float64) float64 {
	switch {
	case d < 1:
		return (1.5*d-2.5)*d*d + 1
	case d < 2:
		return ((-0.5*d+2.5)*d-4)*d + 2
	}
	return 0
}

// stretch maps the 1st..99th percentile of g's histogram onto 0..255
// (contrast normalisation for dim, washed-out or glare-lit codes). It
// returns nil when g already spans the range.
func stretch(g *image.Gray) *image.Gray {
	var hist [256]int
	for _, v := range g.Pix {
		hist[v]++
	}
	cut := len(g.Pix) / 100
	lo, hi := 0, 255
	for s := 0; lo < 255 && s+hist[lo] <= cut; lo++ {
		s += hist[lo]
	}
	for s := 0; hi > 0 && s+hist[hi] <= cut; hi-- {
		s += hist[hi]
	}
	if hi-lo < 8 || (lo < 16 && hi > 239) {
		return nil
	}
	var lut [256]uint8
	for i := range lut {
		v := (i - lo) * 255 / (hi - lo)
		lut[i] = uint8(min(255, max(0, v)))
	}
	out := image.NewGray(g.Rect)
	for i, v := range g.Pix {
		out.Pix[i] = lut[v]
	}
	return out
}

// graySource is a gozxing LuminanceSource over a contiguous grey image; it
// never copies the pixels.
type graySource struct {
	gozxing.LuminanceSourceBase
	g *image.Gray
}

func newGraySource(g *image.Gray) *graySource {
	return &graySource{gozxing.LuminanceSourceBase{Width: g.Rect.Dx(), Height: g.Rect.Dy()}, g}
}

func (s *graySource) GetRow(y int, row []byte) ([]byte, error) {
	w := s.Width
	if len(row) < w {
		row = make([]byte, w)
	}
	copy(row, s.g.Pix[y*w:(y+1)*w])
	return row, nil
}
func (s *graySource) GetMatrix() []byte { return s.g.Pix }
func (s *graySource) Invert() gozxing.LuminanceSource {
	return gozxing.LuminanceSourceInvert(s)
}
func (s *graySource) String() string { return gozxing.LuminanceSourceString(s) }

// binarizer names a way to turn grey into black and white.
type binarizer int

const (
	hybrid   binarizer = iota // zxing's 8×8-block local threshold
	global                    // zxing's histogram valley threshold
	adaptive                  // mean of a wide window minus an offset
)

// binarize turns g into a bit matrix with the chosen method.
func binarize(g *image.Gray, how binarizer) *gozxing.BitMatrix {
	if how == adaptive {
		return adaptiveThreshold(g)
	}
	src := newGraySource(g)
	var b gozxing.Binarizer
	if how == global {
		b = gozxing.NewGlobalHistgramBinarizer(src)
	} else {
		b = gozxing.NewHybridBinarizer(src)
	}
	m, err := b.GetBlackMatrix()
	if err != nil {
		return nil
	}
	return m
}

// adaptiveThreshold marks a pixel black when it is darker than the mean of
// a window about 1/8 of the image's smaller side, by a small margin. It
// copes with gradients that defeat a global threshold and with modules
// larger than zxing's 40-pixel local blocks.
func adaptiveThreshold(g *image.Gray) *gozxing.BitMatrix {
	w, h := g.Rect.Dx(), g.Rect.Dy()
	r := max(4, min(w, h)/16)
	// Column sums over a sliding vertical window, then a horizontal slide.
	col := make([]int, w)
	m, _ := gozxing.NewBitMatrix(w, h)
	for y := range min(r+1, h) {
		for x, v := range g.Pix[y*w : (y+1)*w] {
			col[x] += int(v)
		}
	}
	for y := range h {
		if y > 0 {
			if add := y + r; add < h {
				for x, v := range g.Pix[add*w : (add+1)*w] {
					col[x] += int(v)
				}
			}
			if sub := y - r - 1; sub >= 0 {
				for x, v := range g.Pix[sub*w : (sub+1)*w] {
					col[x] -= int(v)
				}
			}
		}
		rows := min(h-1, y+r) - max(0, y-r) + 1
		s := 0
		for x := range min(r+1, w) {
			s += col[x]
		}
		row := g.Pix[y*w : (y+1)*w]
		for x := range w {
			if x > 0 {
				if add := x + r; add < w {
					s += col[add]
				}
				if sub := x - r - 1; sub >= 0 {
					s -= col[sub]
				}
			}
			n := (min(w-1, x+r) - max(0, x-r) + 1) * rows
			if int(row[x])*n*100 < s*95 {
				m.Set(x, y)
			}
		}
	}
	return m
}

// boxBlur is a 3×3 box blur at the same size, computed separably.
func boxBlur(g *image.Gray) *image.Gray {
	w, h := g.Rect.Dx(), g.Rect.Dy()
	out := image.NewGray(g.Rect)
	// Horizontal sums of 3 (fewer at the edges) into out's rows as sums
	// would overflow a byte, so keep three rows of horizontal sums.
	var rows [3][]int
	for i := range rows {
		rows[i] = make([]int, w)
	}
	hsum := func(y int, dst []int) {
		src := g.Pix[y*w : (y+1)*w]
		for x := range w {
			s := int(src[x])
			if x > 0 {
				s += int(src[x-1])
			}
			if x+1 < w {
				s += int(src[x+1])
			}
			dst[x] = s
		}
	}
	colW := func(x int) int { return 3 - b2i(x == 0) - b2i(x == w-1) }
	for y := range h {
		n, s := 0, [3]bool{}
		for d := -1; d <= 1; d++ {
			if yy := y + d; yy >= 0 && yy < h {
				hsum(yy, rows[d+1])
				s[d+1] = true
				n++
			}
		}
		dst := out.Pix[y*w : (y+1)*w]
		for x := range w {
			t := 0
			for i := range rows {
				if s[i] {
					t += rows[i][x]
				}
			}
			dst[x] = uint8(t / (n * colW(x)))
		}
	}
	return out
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// turnGray returns g turned 90° clockwise.
func turnGray(g *image.Gray) *image.Gray {
	w, h := g.Rect.Dx(), g.Rect.Dy()
	out := image.NewGray(image.Rect(0, 0, h, w))
	for y := range h {
		row := g.Pix[y*g.Stride:][:w]
		for x, v := range row {
			out.Pix[x*h+h-1-y] = v
		}
	}
	return out
}

// grayFrom4 converts 4-byte RGBA-family pixels starting at off to grey.
func grayFrom4(pix []byte, off, stride, w, h int, premultiplied bool) *image.Gray {
	out := image.NewGray(image.Rect(0, 0, w, h))
	for y := range h {
		src := pix[off+y*stride:][:4*w]
		dst := out.Pix[y*w : (y+1)*w]
		for x := range dst {
			p := src[4*x : 4*x+4 : 4*x+4]
			dst[x] = lum(p[0], p[1], p[2], p[3], premultiplied)
		}
	}
	return out
}
