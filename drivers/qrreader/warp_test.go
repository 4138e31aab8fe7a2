package qrreader

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/makiuchi-d/gozxing"
	"github.com/makiuchi-d/gozxing/common"
)

// crumpled renders the symbol in qr (one pixel per module, quiet zone of
// margin modules) at px pixels per module, displaced smoothly by up to amp
// modules in each axis as crumpled paper does. It returns the bits and
// the symbol's dimension.
func crumpled(t *testing.T, payload string, px int, amp float64) (*gozxing.BitMatrix, int) {
	t.Helper()
	qr := encodeQR(t, payload, 0)
	const margin = 4
	n := qr.Rect.Dx()
	d := n - 2*margin
	bits, _ := gozxing.NewBitMatrix(n*px, n*px)
	for y := range n * px {
		for x := range n * px {
			u, v := float64(x)/float64(px), float64(y)/float64(px)
			// A bulge: no displacement at the symbol's edges (where the
			// finder patterns anchor the grid), most in its middle.
			bu, bv := math.Sin(math.Pi*u/float64(n)), math.Sin(math.Pi*v/float64(n))
			u -= amp * bu * bv * bv
			v -= amp * bu * bu * bv
			iu, iv := int(math.Floor(u)), int(math.Floor(v))
			if iu >= 0 && iv >= 0 && iu < n && iv < n && qr.Pix[iv*qr.Stride+iu] == 0 {
				bits.Set(x, y)
			}
		}
	}
	return bits, d
}

// flat maps module space of a symbol at px pixels per module with a quiet
// zone of 4 modules to the image, ignoring any warp.
func flat(px int, d int) grid {
	o, f := 4*float64(px), float64(px)
	e := o + f*float64(d)
	return globalGrid{common.PerspectiveTransform_QuadrilateralToQuadrilateral(
		0, 0, float64(d), 0, float64(d), float64(d), 0, float64(d),
		o, o, e, o, e, e, o, e)}
}

// TestRefineCrumpled: on a symbol bulged by more than half a module in
// its middle the flat grid does not decode and the refined one does; on a
// flat symbol refining changes nothing that matters.
func TestRefineCrumpled(t *testing.T) {
	const payload = "https://dvc.example.gov.vn/tra-cuu?ma=HS-2025-000123-ABCDEF"
	tests := []struct {
		name       string
		amp        float64
		flatDecode bool // whether the flat grid alone decodes
	}{
		{"flat", 0, true},
		{"crumpled", 0.6, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			bits, d := crumpled(t, payload, 8, tc.amp)
			base := flat(8, d)
			if _, ok := decodeGrid(sampleGrid(bits, base, d)); ok != tc.flatDecode {
				t.Fatalf("flat grid decodes: %v, want %v (test image not as intended)", ok, tc.flatDecode)
			}
			if got := timing(bits, base, d); got < minTiming {
				t.Errorf("timing on the flat grid %.2f, want at least %.2f", got, minTiming)
			}
			r, ok := decodeGrid(sampleGrid(bits, refine(bits, base, d), d))
			if !ok {
				t.Fatal("refined grid does not decode")
			}
			if string(r.Payload) != payload {
				t.Errorf("payload %q, want %q", r.Payload, payload)
			}
		})
	}
}

// TestTimingOnNoise: a grid laid on noise reads the timing patterns about
// half right, well under minTiming, so refine is not spent on it.
func TestTimingOnNoise(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	const px, d = 6, 33
	bits, _ := gozxing.NewBitMatrix((d+8)*px, (d+8)*px)
	for y := range bits.GetHeight() / px {
		for x := range bits.GetWidth() / px {
			if rng.IntN(2) == 0 {
				for j := range px {
					for i := range px {
						bits.Set(x*px+i, y*px+j)
					}
				}
			}
		}
	}
	if got := timing(bits, flat(px, d), d); got >= minTiming {
		t.Errorf("timing on noise %.2f, want under %.2f", got, minTiming)
	}
}
