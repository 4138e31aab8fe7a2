package qrreader

import (
	"math"

	"github.com/makiuchi-d/gozxing"
	"github.com/makiuchi-d/gozxing/common"
	"github.com/makiuchi-d/gozxing/qrcode/detector"
)

// Outer corners of a symbol from the edges of its finder patterns: the
// top edge of the symbol runs along the top of the top-left and top-right
// finder patterns, the left edge along the left of the top-left and
// bottom-left ones, the right edge continues the right side of the
// top-right one and the bottom edge the bottom of the bottom-left one.
// Lines stay lines under perspective, so the four intersections are the
// symbol's corners even when it is strongly tilted and even when its
// alignment pattern is covered (a logo) or missing (version 1), where a
// parallelogram through the finder centres is far off.

type pt struct{ x, y float64 }

// line is a point and a unit direction.
type line struct{ p, d pt }

func intersect(a, b line) (pt, bool) {
	den := a.d.x*b.d.y - a.d.y*b.d.x
	if math.Abs(den) < 1e-6 {
		return pt{}, false
	}
	t := ((b.p.x-a.p.x)*b.d.y - (b.p.y-a.p.y)*b.d.x) / den
	return pt{a.p.x + t*a.d.x, a.p.y + t*a.d.y}, true
}

// fitLine is a total least squares fit, refitted without the points more
// than a pixel off the first fit (rays that clipped a corner); ok is false
// for fewer than 3 points.
func fitLine(ps []pt) (line, bool) {
	l, ok := fitLineOnce(ps)
	if !ok {
		return l, false
	}
	var keep []pt
	for _, p := range ps {
		if math.Abs((p.x-l.p.x)*l.d.y-(p.y-l.p.y)*l.d.x) <= 1 {
			keep = append(keep, p)
		}
	}
	if len(keep) == len(ps) {
		return l, true
	}
	return fitLineOnce(keep)
}

func fitLineOnce(ps []pt) (line, bool) {
	if len(ps) < 3 {
		return line{}, false
	}
	var mx, my float64
	for _, p := range ps {
		mx += p.x
		my += p.y
	}
	n := float64(len(ps))
	mx /= n
	my /= n
	var sxx, syy, sxy float64
	for _, p := range ps {
		dx, dy := p.x-mx, p.y-my
		sxx += dx * dx
		syy += dy * dy
		sxy += dx * dy
	}
	th := 0.5 * math.Atan2(2*sxy, sxx-syy)
	return line{pt{mx, my}, pt{math.Cos(th), math.Sin(th)}}, true
}

// finderSides traces rays from a finder pattern's centre to the outer edge
// of its dark ring and sorts the edge points by side of the symbol
// (0 top, 1 right, 2 bottom, 3 left) in the symbol's axes u (along its
// rows) and v (down its columns), both in pixels per module.
func finderSides(bits *gozxing.BitMatrix, c pt, ms float64, u, v pt) [4][]pt {
	var sides [4][]pt
	det := u.x*v.y - u.y*v.x
	if math.Abs(det) < 1e-9 {
		return sides
	}
	const rays = 64
	limit := 9 * ms
	for k := range rays {
		th := 2 * math.Pi * float64(k) / rays
		dx, dy := math.Cos(th), math.Sin(th)
		state := 0 // 0 centre black, 1 white ring, 2 black ring
		var edge pt
		ok := false
		for r := 0.0; r < limit; r += 0.5 {
			x, y := c.x+r*dx, c.y+r*dy
			black := pixel(bits, x, y)
			switch {
			case state == 0 && !black, state == 1 && black:
				state++
			case state == 2 && !black:
				edge = pt{x - 0.25*dx, y - 0.25*dy}
				ok = true
			}
			if ok {
				break
			}
		}
		if !ok {
			continue
		}
		// Module coordinates of the edge point relative to the centre.
		px, py := edge.x-c.x, edge.y-c.y
		a := (px*v.y - py*v.x) / det
		b := (u.x*py - u.y*px) / det
		if math.Abs(a) < 2.5 && math.Abs(b) < 2.5 || math.Abs(a) > 5 || math.Abs(b) > 5 {
			continue // stopped inside the pattern or ran past it
		}
		switch {
		case math.Abs(a) > 1.3*math.Abs(b) && a > 0:
			sides[1] = append(sides[1], edge)
		case math.Abs(a) > 1.3*math.Abs(b):
			sides[3] = append(sides[3], edge)
		case math.Abs(b) > 1.3*math.Abs(a) && b > 0:
			sides[2] = append(sides[2], edge)
		case math.Abs(b) > 1.3*math.Abs(a):
			sides[0] = append(sides[0], edge)
		}
	}
	return sides
}

// symbolCorners returns the image points of the symbol's outer corners,
// top-left, top-right, bottom-right, bottom-left, or ok false.
func symbolCorners(bits *gozxing.BitMatrix, info *detector.FinderPatternInfo, ms float64, d int) (c [4]pt, ok bool) {
	tl, tr, bl := info.GetTopLeft(), info.GetTopRight(), info.GetBottomLeft()
	span := float64(d - 7)
	u := pt{(tr.GetX() - tl.GetX()) / span, (tr.GetY() - tl.GetY()) / span}
	v := pt{(bl.GetX() - tl.GetX()) / span, (bl.GetY() - tl.GetY()) / span}
	stl := finderSides(bits, pt{tl.GetX(), tl.GetY()}, ms, u, v)
	str := finderSides(bits, pt{tr.GetX(), tr.GetY()}, ms, u, v)
	sbl := finderSides(bits, pt{bl.GetX(), bl.GetY()}, ms, u, v)
	top, ok1 := fitLine(append(append([]pt(nil), stl[0]...), str[0]...))
	left, ok2 := fitLine(append(append([]pt(nil), stl[3]...), sbl[3]...))
	right, ok3 := fitLine(str[1])
	bottom, ok4 := fitLine(sbl[2])
	if !(ok1 && ok2 && ok3 && ok4) {
		return c, false
	}
	var oks [4]bool
	c[0], oks[0] = intersect(top, left)
	c[1], oks[1] = intersect(top, right)
	c[2], oks[2] = intersect(right, bottom)
	c[3], oks[3] = intersect(left, bottom)
	return c, oks[0] && oks[1] && oks[2] && oks[3]
}

// cornerTransform maps module space to the image through the symbol's
// outer corners, or returns nil when they do not agree with the finder
// centres.
func cornerTransform(c [4]pt, info *detector.FinderPatternInfo, ms float64, d int) *common.PerspectiveTransform {
	fd := float64(d)
	t := common.PerspectiveTransform_QuadrilateralToQuadrilateral(
		0, 0, fd, 0, fd, fd, 0, fd,
		c[0].x, c[0].y, c[1].x, c[1].y, c[2].x, c[2].y, c[3].x, c[3].y)
	g := globalGrid{t}
	for _, f := range []struct {
		p    *detector.FinderPattern
		x, y float64
	}{{info.GetTopLeft(), 3.5, 3.5}, {info.GetTopRight(), fd - 3.5, 3.5}, {info.GetBottomLeft(), 3.5, fd - 3.5}} {
		x, y := g.at(f.x, f.y)
		if math.Hypot(x-f.p.GetX(), y-f.p.GetY()) > 1.5*ms {
			return nil
		}
	}
	return t
}
