package pipeline_test

import (
	"context"
	"math"
	"slices"
	"sync"
	"testing"

	"govkiosk/kiosk/document/pipeline"
	"govkiosk/kiosk/document/pipeline/scangen"
)

var (
	setOnce    sync.Once
	setSamples []scangen.Sample
	setErr     error
)

// testSet renders the standard set at 300 dpi once per test binary.
func testSet(t *testing.T) []scangen.Sample {
	t.Helper()
	setOnce.Do(func() {
		g := &scangen.Generator{DPI: 300, Seed: 1}
		setSamples, setErr = g.Generate(context.Background(), scangen.Set())
	})
	if setErr != nil {
		t.Fatalf("rendering the test set: %v", setErr)
	}
	return setSamples
}

// Every page of the generated set gets the answers the generator wrote
// down for it: blank or kept, the skew within 0.2°, the turn back upright,
// the verdicts, the kind of storage; text pages fit in 80 KB.
func TestSetVerdicts(t *testing.T) {
	skipUnderRace(t)
	for _, s := range testSet(t) {
		t.Run(s.Spec.Name, func(t *testing.T) {
			p, err := pipeline.Process(context.Background(), s.Image, s.DPI, pipeline.Options{})
			if err != nil {
				t.Fatal(err)
			}
			e := s.Expect
			var probs []string
			for _, v := range p.Problems() {
				probs = append(probs, string(v))
			}
			t.Logf("blank=%v skew=%.2f (want %.2f) rot=%d kind=%s bytes=%d verdicts=%v metrics=%+v crop=%v",
				p.Blank, p.SkewDeg, e.SkewDeg, p.Rotation, p.Kind, p.StoredBytes(), p.Verdicts, p.Metrics, p.Crop)
			if p.Blank != e.Blank {
				t.Errorf("blank = %v, want %v", p.Blank, e.Blank)
			}
			if !e.Blank || !s.Spec.NoBed {
				if d := math.Abs(p.SkewDeg - e.SkewDeg); d > 0.2 {
					t.Errorf("skew %.2f°, want %.2f° ±0.2°", p.SkewDeg, e.SkewDeg)
				}
			}
			if e.Blank {
				return
			}
			if p.Rotation != e.Rotation {
				t.Errorf("rotation %d, want %d", p.Rotation, e.Rotation)
			}
			slices.Sort(probs)
			want := slices.Clone(e.Problems)
			slices.Sort(want)
			if !slices.Equal(probs, want) {
				t.Errorf("problems %v, want %v", probs, want)
			}
			if string(p.Kind) != e.Kind {
				t.Errorf("kind %s, want %s", p.Kind, e.Kind)
			}
			// Text pages, with or without a stamp, fit the 80 KB of an A4
			// text page at 300 dpi.
			if p.Kind != pipeline.KindGrey && p.StoredBytes() > 80<<10 {
				t.Errorf("page takes %d bytes, want at most 80 KB", p.StoredBytes())
			}
		})
	}
}
