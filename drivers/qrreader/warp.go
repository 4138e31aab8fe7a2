package qrreader

import (
	"math"

	"github.com/makiuchi-d/gozxing"
)

// Crumpled or curved paper bends the grid inside the symbol, away from
// the finder and alignment patterns that anchor the transforms in
// sample.go, so modules there are sampled near their edges. refine nudges
// the grid locally: on a coarse mesh of control nodes every meshStep
// modules, it shifts each node by the offset (a fraction of a module in
// the image) that puts the sample points of the modules around it nearest
// their modules' centres, judged by how many points a little way from
// each sample point read the same colour as it does (a well-centred
// module reads uniform), and interpolates the offsets bilinearly between
// nodes. Nodes are solved from the top-left finder pattern outwards, each
// search centred on the offsets found left of and above it: a warp is
// smooth, and locally an offset of more than half a module is ambiguous.

const (
	meshStep   = 4   // modules between control nodes
	meshReach  = 2.5 // modules around a node that judge its offset
	nudgeMax   = 0.5 // largest offset tried, in modules
	nudgeSteps = 4   // offsets tried each side of 0, per axis
	probe      = 0.3 // distance of the probes from a sample point, in modules
	// maxWarpDim is the largest symbol refined: printed codes on paper
	// that crumples are small versions, and refining a big one costs
	// more than the whole rest of the pipeline.
	maxWarpDim = 61
)

// warpGrid is a base grid plus a bilinearly interpolated offset field.
type warpGrid struct {
	base   grid
	n      int // nodes per side
	dx, dy []float64
}

func (g *warpGrid) at(x, y float64) (float64, float64) {
	px, py := g.base.at(x, y)
	fx, fy := x/meshStep, y/meshStep
	i := min(g.n-2, max(0, int(fx)))
	j := min(g.n-2, max(0, int(fy)))
	tx, ty := min(1, max(0, fx-float64(i))), min(1, max(0, fy-float64(j)))
	lerp := func(v []float64) float64 {
		a := v[j*g.n+i]*(1-tx) + v[j*g.n+i+1]*tx
		b := v[(j+1)*g.n+i]*(1-tx) + v[(j+1)*g.n+i+1]*tx
		return a*(1-ty) + b*ty
	}
	return px + lerp(g.dx), py + lerp(g.dy)
}

// refine returns base with the offset field that best centres the sample
// points of the d×d symbol on their modules.
func refine(bits *gozxing.BitMatrix, base grid, d int) grid {
	n := (d+meshStep-1)/meshStep + 1
	g := &warpGrid{base: base, n: n, dx: make([]float64, n*n), dy: make([]float64, n*n)}
	// Module-space axes in the image at each module, from the base grid.
	type local struct{ cx, cy, ux, uy, vx, vy float64 }
	mods := make([]local, d*d)
	for y := range d {
		for x := range d {
			fx, fy := float64(x)+0.5, float64(y)+0.5
			cx, cy := base.at(fx, fy)
			ax, ay := base.at(fx+1, fy)
			bx, by := base.at(fx, fy+1)
			mods[y*d+x] = local{cx, cy, ax - cx, ay - cy, bx - cx, by - cy}
		}
	}
	done := make([]bool, n*n)
	solved := func(i, j int) int {
		if i >= 0 && j >= 0 && done[j*n+i] {
			return 1
		}
		return 0
	}
	uniform := func(m local, ox, oy float64) int {
		cx, cy := m.cx+ox, m.cy+oy
		c := pixel(bits, cx, cy)
		s := 0
		for _, p := range [4][2]float64{{probe, 0}, {-probe, 0}, {0, probe}, {0, -probe}} {
			if pixel(bits, cx+p[0]*m.ux+p[1]*m.vx, cy+p[0]*m.uy+p[1]*m.vy) == c {
				s++
			}
		}
		return s
	}
	for j := range n {
		for i := range n {
			nx, ny := float64(i*meshStep), float64(j*meshStep)
			var near []local
			for y := max(0, int(ny-meshReach)); y < min(d, int(ny+meshReach)+1); y++ {
				for x := max(0, int(nx-meshReach)); x < min(d, int(nx+meshReach)+1); x++ {
					if inFinder(x, y, d) {
						continue
					}
					near = append(near, mods[y*d+x])
				}
			}
			if len(near) < 6 {
				continue
			}
			done[j*n+i] = true
			m := near[len(near)/2]
			score := func(fa, fb float64) int {
				ox, oy := fa*m.ux+fb*m.vx, fa*m.uy+fb*m.vy
				s := 0
				for _, q := range near {
					s += uniform(q, ox, oy)
				}
				return s
			}
			// Centre the search on the offsets already found left of and
			// above the node (the warp is smooth), in this node's module
			// units.
			var ca, cb float64
			if k := solved(i-1, j) + solved(i, j-1); k > 0 {
				var ox, oy float64
				for _, q := range [][2]int{{i - 1, j}, {i, j - 1}} {
					if solved(q[0], q[1]) == 1 {
						ox += g.dx[q[1]*n+q[0]]
						oy += g.dy[q[1]*n+q[0]]
					}
				}
				ox, oy = ox/float64(k), oy/float64(k)
				det := m.ux*m.vy - m.uy*m.vx
				if det != 0 {
					ca = (ox*m.vy - oy*m.vx) / det
					cb = (m.ux*oy - m.uy*ox) / det
				}
			}
			ba, bb := ca, cb
			bestScore := -1
			for a := -nudgeSteps; a <= nudgeSteps; a++ {
				for b := -nudgeSteps; b <= nudgeSteps; b++ {
					fa := ca + nudgeMax*float64(a)/nudgeSteps
					fb := cb + nudgeMax*float64(b)/nudgeSteps
					s := score(fa, fb)
					if s > bestScore || s == bestScore && math.Hypot(fa-ca, fb-cb) < math.Hypot(ba-ca, bb-cb) {
						ba, bb, bestScore = fa, fb, s
					}
				}
			}
			best := [2]float64{ba*m.ux + bb*m.vx, ba*m.uy + bb*m.vy}
			g.dx[j*n+i], g.dy[j*n+i] = best[0], best[1]
		}
	}
	return g
}

// inFinder reports whether module (x, y) of a d×d symbol lies in a
// finder pattern or its separator.
func inFinder(x, y, d int) bool {
	return x < 8 && y < 8 || x >= d-8 && y < 8 || x < 8 && y >= d-8
}

// minTiming is the share of timing-pattern modules a grid must read right
// before refine is worth its cost: a real symbol, even crumpled, gets most
// of them; a triple of chance finder-like blobs about half.
var minTiming = 0.8

// timing returns the share of the timing patterns' modules (row and
// column 6 between the finder patterns, alternating dark and light) that
// g samples with the right colour.
func timing(bits *gozxing.BitMatrix, g grid, d int) float64 {
	right, n := 0, 0
	for i := 8; i < d-8; i++ {
		dark := i%2 == 0
		x, y := g.at(float64(i)+0.5, 6.5)
		if pixel(bits, x, y) == dark {
			right++
		}
		x, y = g.at(6.5, float64(i)+0.5)
		if pixel(bits, x, y) == dark {
			right++
		}
		n += 2
	}
	if n == 0 {
		return 0
	}
	return float64(right) / float64(n)
}
