package qrreader

import (
	"math"

	"github.com/makiuchi-d/gozxing"
	"github.com/makiuchi-d/gozxing/common"
	"github.com/makiuchi-d/gozxing/qrcode/decoder"
	"github.com/makiuchi-d/gozxing/qrcode/detector"
)

// This file is the pipeline's own grid sampling, used when gozxing's
// detector found three finder patterns but the symbol it sampled from them
// does not decode. gozxing guesses the symbol's size once from the finder
// distances and maps the whole symbol with a single perspective transform
// anchored on one alignment pattern; on tilted, curved or crumpled codes
// either can be off by a module or more. Here the size is also read from
// the version information (versions 7 and up) or tried one version either
// side, and for versions with several alignment patterns each cell between
// neighbouring alignment patterns gets its own transform (piecewise
// perspective), so local warping does not accumulate across the symbol.

// maxRescueTriples bounds the finder-pattern triples one binarized image
// gets the expensive treatment for.
const maxRescueTriples = 3

// rescue tries to sample and decode a symbol from each finder-pattern
// triple in infos.
func rescue(bits *gozxing.BitMatrix, infos []*detector.FinderPatternInfo) (Result, bool) {
	return rescueWith(bits, infos, false)
}

// rescueWith is rescue with, when warp is set, the grids it tries refined
// for a warped surface (see refine in warp.go) instead of as they are.
func rescueWith(bits *gozxing.BitMatrix, infos []*detector.FinderPatternInfo, warp bool) (Result, bool) {
	for i, info := range infos {
		if i == maxRescueTriples {
			break
		}
		if r, ok := rescueTriple(bits, info, warp); ok {
			return r, true
		}
	}
	return Result{}, false
}

// grid maps module coordinates (module centres at i+0.5) to image points.
type grid interface {
	at(x, y float64) (float64, float64)
}

type globalGrid struct{ t *common.PerspectiveTransform }

func (g globalGrid) at(x, y float64) (float64, float64) {
	p := []float64{x, y}
	g.t.TransformPoints(p)
	return p[0], p[1]
}

func rescueTriple(bits *gozxing.BitMatrix, info *detector.FinderPatternInfo, warp bool) (Result, bool) {
	tl, tr, bl := info.GetTopLeft(), info.GetTopRight(), info.GetBottomLeft()
	ms := (tl.GetEstimatedModuleSize() + tr.GetEstimatedModuleSize() + bl.GetEstimatedModuleSize()) / 3
	if ms < 1 {
		return Result{}, false
	}
	est := (gozxing.ResultPoint_Distance(tl, tr)+gozxing.ResultPoint_Distance(tl, bl))/(2*ms) + 7
	d0 := int(math.Round((est-17)/4))*4 + 17
	var dims []int
	if d0 >= 45 {
		if v := readVersionNear(bits, info, d0); v > 0 {
			dims = append(dims, 17+4*v)
		}
	}
	for _, d := range []int{d0, d0 + 4, d0 - 4} {
		if d >= 21 && d <= 177 && (len(dims) == 0 || dims[0] != d) {
			dims = append(dims, d)
		}
	}
	corners, haveCorners := symbolCorners(bits, info, ms, d0)
	for _, d := range dims {
		ver, err := decoder.Version_GetProvisionalVersionForDimension(d)
		if err != nil {
			continue
		}
		bases := []*common.PerspectiveTransform{anchorTransform(info, nil, d)}
		if haveCorners {
			if t := cornerTransform(corners, info, ms, d); t != nil {
				bases = append([]*common.PerspectiveTransform{t}, bases...)
			}
		}
		var tries []grid
		for _, base := range bases {
			if centers := ver.GetAlignmentPatternCenters(); len(centers) > 0 {
				if pw := piecewise(bits, base, centers, ms, d); pw != nil {
					tries = append(tries, pw)
				}
			}
			tries = append(tries, globalGrid{base})
		}
		if warp && (d != dims[0] || d > maxWarpDim) {
			break // refining is costly: only at the likeliest size
		}
		for _, g := range tries {
			if warp {
				if timing(bits, g, d) < minTiming {
					continue
				}
				g = refine(bits, g, d)
			}
			if r, ok := decodeGrid(sampleGrid(bits, g, d)); ok {
				return r, true
			}
		}
	}
	return Result{}, false
}

// anchorTransform maps module space to the image through the three finder
// centres and either an alignment pattern centre (ax, ay in module space,
// image point ap) or the parallelogram's fourth corner.
func anchorTransform(info *detector.FinderPatternInfo, ap *[4]float64, d int) *common.PerspectiveTransform {
	tl, tr, bl := info.GetTopLeft(), info.GetTopRight(), info.GetBottomLeft()
	far := float64(d) - 3.5
	sx, sy := far, far
	bx := tr.GetX() - tl.GetX() + bl.GetX()
	by := tr.GetY() - tl.GetY() + bl.GetY()
	if ap != nil {
		sx, sy, bx, by = ap[0], ap[1], ap[2], ap[3]
	}
	return common.PerspectiveTransform_QuadrilateralToQuadrilateral(
		3.5, 3.5, far, 3.5, sx, sy, 3.5, far,
		tl.GetX(), tl.GetY(), tr.GetX(), tr.GetY(), bx, by, bl.GetX(), bl.GetY())
}

// pieceGrid is a piecewise perspective map: control points at the
// alignment pattern centres (and where the finder corners' would be), one
// transform per cell between neighbouring control rows and columns.
type pieceGrid struct {
	pos  []float64 // module-space coordinate of each control row/column
	cell [][]*common.PerspectiveTransform
}

func (g *pieceGrid) index(v float64) int {
	i := 0
	for i+2 < len(g.pos) && v >= g.pos[i+1] {
		i++
	}
	return i
}

func (g *pieceGrid) at(x, y float64) (float64, float64) {
	p := []float64{x, y}
	g.cell[g.index(y)][g.index(x)].TransformPoints(p)
	return p[0], p[1]
}

// piecewise locates every alignment pattern near where base predicts it,
// refining the prediction as it goes (patterns nearer the top-left first,
// each predicted from a transform through its found neighbours), and
// returns the piecewise grid, or nil when too few patterns were found for
// it to beat base.
func piecewise(bits *gozxing.BitMatrix, base *common.PerspectiveTransform, centers []int, ms float64, d int) grid {
	n := len(centers)
	pos := make([]float64, n)
	for i, c := range centers {
		pos[i] = float64(c) + 0.5
	}
	px := make([][]float64, n)
	py := make([][]float64, n)
	found := 0
	for j := range n {
		px[j] = make([]float64, n)
		py[j] = make([]float64, n)
	}
	predict := func(i, j int) (float64, float64) {
		// From the three already placed neighbours up and left when there
		// are, else from the global transform.
		if i > 0 && j > 0 {
			x := px[j][i-1] + px[j-1][i] - px[j-1][i-1]
			y := py[j][i-1] + py[j-1][i] - py[j-1][i-1]
			return x, y
		}
		p := []float64{pos[i], pos[j]}
		base.TransformPoints(p)
		return p[0], p[1]
	}
	for j := range n {
		for i := range n {
			x, y := predict(i, j)
			if (i == 0 && j == 0) || (i == n-1 && j == 0) || (i == 0 && j == n-1) {
				// Under a finder pattern: no alignment pattern there.
				p := []float64{pos[i], pos[j]}
				base.TransformPoints(p)
				px[j][i], py[j][i] = p[0], p[1]
				continue
			}
			if ap := findAlignment(bits, x, y, ms); ap != nil {
				x, y = ap.GetX(), ap.GetY()
				found++
			}
			px[j][i], py[j][i] = x, y
		}
	}
	if found == 0 {
		return nil
	}
	g := &pieceGrid{pos: pos, cell: make([][]*common.PerspectiveTransform, n-1)}
	for j := range n - 1 {
		g.cell[j] = make([]*common.PerspectiveTransform, n-1)
		for i := range n - 1 {
			g.cell[j][i] = common.PerspectiveTransform_QuadrilateralToQuadrilateral(
				pos[i], pos[j], pos[i+1], pos[j], pos[i+1], pos[j+1], pos[i], pos[j+1],
				px[j][i], py[j][i], px[j][i+1], py[j][i+1], px[j+1][i+1], py[j+1][i+1], px[j+1][i], py[j+1][i])
		}
	}
	return g
}

// findAlignment looks for an alignment pattern within a few modules of
// (x, y).
func findAlignment(bits *gozxing.BitMatrix, x, y, ms float64) (ap *detector.AlignmentPattern) {
	defer func() {
		if recover() != nil {
			ap = nil
		}
	}()
	r := int(math.Ceil(4 * ms))
	w, h := bits.GetWidth(), bits.GetHeight()
	x0, y0 := max(0, int(x)-r), max(0, int(y)-r)
	x1, y1 := min(w-1, int(x)+r), min(h-1, int(y)+r)
	if float64(x1-x0) < 3*ms || float64(y1-y0) < 3*ms {
		return nil
	}
	f := detector.NewAlignmentPatternFinder(bits, x0, y0, x1-x0, y1-y0, ms, nil)
	ap, err := f.Find()
	if err != nil {
		return nil
	}
	if math.Hypot(ap.GetX()-x, ap.GetY()-y) > 3*ms {
		return nil
	}
	return ap
}

// readVersionNear reads the version information blocks beside the top-right
// and bottom-left finder patterns, mapped with a transform for the guessed
// dimension d (near the finder patterns a guess a version off maps the
// blocks nearly right). It returns 0 when neither block decodes.
func readVersionNear(bits *gozxing.BitMatrix, info *detector.FinderPatternInfo, d int) int {
	t := globalGrid{anchorTransform(info, nil, d)}
	get := func(x, y int) int {
		px, py := t.at(float64(x)+0.5, float64(y)+0.5)
		if pixel(bits, px, py) {
			return 1
		}
		return 0
	}
	for _, topRight := range []bool{true, false} {
		v := 0
		for a := 5; a >= 0; a-- {
			for b := d - 9; b >= d-11; b-- {
				if topRight {
					v = v<<1 | get(b, a)
				} else {
					v = v<<1 | get(a, b)
				}
			}
		}
		if ver, err := decoder.Version_decodeVersionInformation(v); err == nil && ver != nil {
			if n := ver.GetVersionNumber(); n >= 7 && abs(17+4*n-d) <= 8 {
				return n
			}
		}
	}
	return 0
}

func abs(v int) int {
	if v < 0 {
		return -v
	}
	return v
}

// pixel reads bits at an image point, white outside the image.
func pixel(bits *gozxing.BitMatrix, x, y float64) bool {
	ix, iy := int(math.Floor(x)), int(math.Floor(y))
	if ix < 0 || iy < 0 || ix >= bits.GetWidth() || iy >= bits.GetHeight() {
		return false
	}
	return bits.Get(ix, iy)
}

// sampleGrid reads the d×d modules of a symbol at their centres.
func sampleGrid(bits *gozxing.BitMatrix, g grid, d int) *gozxing.BitMatrix {
	out, _ := gozxing.NewBitMatrix(d, d)
	for y := range d {
		for x := range d {
			px, py := g.at(float64(x)+0.5, float64(y)+0.5)
			if pixel(bits, px, py) {
				out.Set(x, y)
			}
		}
	}
	return out
}

// decodeGrid runs gozxing's QR decoder (format and version information,
// unmasking, Reed–Solomon) on sampled modules.
func decodeGrid(m *gozxing.BitMatrix) (res Result, ok bool) {
	defer func() {
		if recover() != nil {
			ok = false
		}
	}()
	dr, err := decoder.NewDecoder().Decode(m, qrHints)
	if err != nil {
		return Result{}, false
	}
	payload, err := payloadBytes(dr.GetRawBytes(), dr.GetECLevel())
	if err != nil {
		return Result{}, false
	}
	return Result{Payload: payload, Text: dr.GetText()}, true
}
