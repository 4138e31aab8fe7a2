package qrreader

import (
	"math"
	"sort"

	"github.com/makiuchi-d/gozxing"
	multidetector "github.com/makiuchi-d/gozxing/multi/qrcode/detector"
	"github.com/makiuchi-d/gozxing/qrcode/detector"
)

// finderTriples returns the finder-pattern triple gozxing's detector
// thinks best or, with all, every plausible triple (on busy photos the
// best-looking one is often wrong) followed by the best few triples of
// the candidates by L-shape geometry (lenient enough for strong
// perspective, which gozxing's own selection rejects).
func finderTriples(bits *gozxing.BitMatrix, all bool) []*detector.FinderPatternInfo {
	if all {
		f := multidetector.NewMultiFinderPatternFinder(bits, nil)
		infos, _ := f.FindMulti(qrHints)
		return append(infos, geometricTriples(f.GetPossibleCenters(), infos)...)
	}
	info, err := detector.NewFinderPatternFinder(bits, nil).Find(qrHints)
	if err != nil {
		return nil
	}
	return []*detector.FinderPatternInfo{info}
}

// maxCandidates bounds the finder-pattern candidates geometricTriples
// combines (the most often confirmed ones), maxGeometric the triples it
// returns.
const (
	maxCandidates = 10
	maxGeometric  = 3
)

// geometricTriples scores every triple of candidate finder patterns by
// how well it forms the L of a QR symbol seen in perspective: a right-ish
// angle at the corner pattern, both arms spanning the same number of
// modules (each arm measured in the module size of its own end points,
// so foreshortening cancels), and module sizes within a factor of two. It
// returns the best few not already in skip, best first.
func geometricTriples(cands []*detector.FinderPattern, skip []*detector.FinderPatternInfo) []*detector.FinderPatternInfo {
	var cs []*detector.FinderPattern
	for _, c := range cands {
		if c != nil && c.GetCount() >= 2 {
			cs = append(cs, c)
		}
	}
	if len(cs) < 3 {
		return nil
	}
	sort.SliceStable(cs, func(i, j int) bool { return cs[i].GetCount() > cs[j].GetCount() })
	if len(cs) > maxCandidates {
		cs = cs[:maxCandidates]
	}
	type scored struct {
		info  *detector.FinderPatternInfo
		score float64
	}
	var best []scored
	seen := func(a, b, c *detector.FinderPattern) bool {
		for _, s := range skip {
			if s.GetTopLeft() == b && (s.GetTopRight() == c && s.GetBottomLeft() == a || s.GetTopRight() == a && s.GetBottomLeft() == c) {
				return true
			}
		}
		return false
	}
	for i := range cs {
		for j := i + 1; j < len(cs); j++ {
			for k := j + 1; k < len(cs); k++ {
				for _, t := range orderings(cs[i], cs[j], cs[k]) {
					b, tl, r := t[0], t[1], t[2]
					s, ok := lScore(b, tl, r)
					if !ok || seen(b, tl, r) {
						continue
					}
					best = append(best, scored{detector.NewFinderPatternInfo(b, tl, r), s})
				}
			}
		}
	}
	sort.Slice(best, func(i, j int) bool { return best[i].score < best[j].score })
	var out []*detector.FinderPatternInfo
	for i := 0; i < len(best) && i < maxGeometric; i++ {
		out = append(out, best[i].info)
	}
	return out
}

// orderings returns the triple as bottom-left, top-left, top-right with
// each of the three as the top-left one, turned so that top-right is
// clockwise of bottom-left (gozxing picks the top-left one opposite the
// longest side, which strong perspective makes the wrong one).
func orderings(a, b, c *detector.FinderPattern) [][3]*detector.FinderPattern {
	ps := [3]*detector.FinderPattern{a, b, c}
	var out [][3]*detector.FinderPattern
	for i := range 3 {
		tl, p, q := ps[i], ps[(i+1)%3], ps[(i+2)%3]
		// Image y grows down: in a symbol read upright, the cross product
		// of (tr - tl) and (bl - tl) is positive.
		cross := (p.GetX()-tl.GetX())*(q.GetY()-tl.GetY()) - (p.GetY()-tl.GetY())*(q.GetX()-tl.GetX())
		if cross < 0 {
			p, q = q, p
		}
		out = append(out, [3]*detector.FinderPattern{q, tl, p})
	}
	return out
}

// lScore is the geometric misfit of a finder-pattern triple (0 for a
// perfect square L), ok false when it cannot be a symbol.
func lScore(bl, tl, tr *detector.FinderPattern) (float64, bool) {
	mb, mt, mr := bl.GetEstimatedModuleSize(), tl.GetEstimatedModuleSize(), tr.GetEstimatedModuleSize()
	lo, hi := min(mb, mt, mr), max(mb, mt, mr)
	if lo <= 0 || hi > 2*lo {
		return 0, false
	}
	ax, ay := tr.GetX()-tl.GetX(), tr.GetY()-tl.GetY()
	bx, by := bl.GetX()-tl.GetX(), bl.GetY()-tl.GetY()
	la, lb := math.Hypot(ax, ay), math.Hypot(bx, by)
	if la == 0 || lb == 0 {
		return 0, false
	}
	cos := (ax*bx + ay*by) / (la * lb)
	if math.Abs(cos) > 0.6 { // beyond about 53°..127°
		return 0, false
	}
	na, nb := 2*la/(mt+mr), 2*lb/(mt+mb) // arm lengths in modules
	if na < 10 || nb < 10 || na > 180 || nb > 180 {
		return 0, false
	}
	ratio := math.Abs(math.Log(na / nb))
	if ratio > 0.4 {
		return 0, false
	}
	return math.Abs(cos) + ratio + math.Log(hi/lo)/2, true
}
