package qrreader

import (
	"image"
	"math"
	"testing"

	"github.com/makiuchi-d/gozxing/common"
)

// warp draws the square [lo,hi]² of src onto a w×h white image as the
// quadrilateral quad (top-left, top-right, bottom-right, bottom-left).
func warp(src *image.Gray, lo, hi float64, quad [4]pt, w, h int) *image.Gray {
	t := common.PerspectiveTransform_QuadrilateralToQuadrilateral(
		quad[0].x, quad[0].y, quad[1].x, quad[1].y, quad[2].x, quad[2].y, quad[3].x, quad[3].y,
		lo, lo, hi, lo, hi, hi, lo, hi)
	out := image.NewGray(image.Rect(0, 0, w, h))
	p := make([]float64, 2)
	for y := range h {
		for x := range w {
			p[0], p[1] = float64(x)+0.5, float64(y)+0.5
			t.TransformPoints(p)
			sx, sy := int(math.Floor(p[0])), int(math.Floor(p[1]))
			v := uint8(255)
			if (image.Point{sx, sy}).In(src.Rect) {
				v = src.GrayAt(sx, sy).Y
			}
			out.Pix[y*w+x] = v
		}
	}
	return out
}

// TestOwnSampling: on strongly tilted symbols (a parallelogram through the
// finder centres is modules off at the far corner) the corners traced
// from the finder patterns' edges land on the symbol's corners, and the
// own sampling decodes what they imply.
func TestOwnSampling(t *testing.T) {
	tests := []struct {
		name    string
		payload string
		quad    [4]pt
		corners bool // the traced corners must be within 2 px
	}{
		{"version 1 tilted back", "HS-2025-000123", [4]pt{{60, 40}, {250, 60}, {240, 230}, {70, 260}}, true},
		{"version 3 turned and tilted", "https://dvc.example.gov.vn/tra-cuu?ma=HS-2025-000123-ABCDEF",
			[4]pt{{150, 20}, {280, 150}, {140, 270}, {25, 140}}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			qr := encodeQR(t, tc.payload, 400)
			// Find the symbol in encodeQR's image: its first and last dark
			// pixels on the diagonal, and its module from the finder's width.
			n := qr.Rect.Dx()
			lo := 0
			for qr.GrayAt(lo, lo).Y != 0 {
				lo++
			}
			hi := n
			for qr.GrayAt(hi-1, hi-1).Y != 0 {
				hi--
			}
			run := 0
			for qr.GrayAt(lo+run, lo).Y == 0 {
				run++
			}
			d := int(math.Round(float64(hi-lo) * 7 / float64(run)))
			img := warp(qr, float64(lo), float64(hi), tc.quad, 300, 300)
			bits := binarize(img, hybrid)
			infos := finderTriples(bits, true)
			if len(infos) == 0 {
				t.Fatal("no finder pattern triple")
			}
			info := infos[0]
			ms := info.GetTopLeft().GetEstimatedModuleSize()
			c, ok := symbolCorners(bits, info, ms, d)
			if tc.corners && !ok {
				t.Fatal("symbolCorners found no corners")
			}
			for i, want := range tc.quad {
				if !tc.corners {
					break
				}
				if got := c[i]; math.Hypot(got.x-want.x, got.y-want.y) > 2 {
					t.Errorf("corner %d at (%.1f, %.1f), want (%.0f, %.0f)", i, got.x, got.y, want.x, want.y)
				}
			}
			r, ok := rescue(bits, infos)
			if !ok {
				t.Fatal("own sampling decoded nothing")
			}
			if string(r.Payload) != tc.payload {
				t.Errorf("payload %q, want %q", r.Payload, tc.payload)
			}
		})
	}
}
