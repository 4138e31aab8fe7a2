package document

import (
	"context"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"

	"govkiosk/drivers/scanner"
	"govkiosk/kiosk/document/pipeline"
)

// SANE's own test pictures, scanned by the real driver from the test
// backend, through the kiosk's pipeline: the grid is a straight, sharp,
// kept page; solid white is a blank back left out; solid black is too
// dark.
func TestSANEPicturesThroughPipeline(t *testing.T) {
	if _, err := exec.LookPath("scanimage"); err != nil {
		t.Fatal("scanimage missing: install sane-utils (make deps)")
	}
	cfgDir := filepath.Join(t.TempDir(), "sane.d")
	if err := scanner.WriteTestConfig(cfgDir); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		picture string
		blank   bool
		kind    pipeline.Kind
		verdict []pipeline.Verdict
	}{
		{"Grid", false, pipeline.KindBilevel, nil},
		{"Solid white", true, pipeline.KindBilevel, nil},
		{"Solid black", true, pipeline.KindBilevel, []pipeline.Verdict{pipeline.TooDark}},
	} {
		s, err := scanner.Open(&scanner.Opts{Device: scanner.TestDevice, ConfigDir: cfgDir, DPI: 60, TempDir: t.TempDir(),
			ExtraArgs: []string{"--test-picture", c.picture}}, nil)
		if err != nil {
			t.Fatal(err)
		}
		n := 1
		if !c.blank {
			n = 2
		}
		pages, err := s.ScanBatch(context.Background(), n)
		if err != nil || len(pages) != n {
			t.Fatalf("%s: %d pages, %v", c.picture, len(pages), err)
		}
		res, err := ProcessPages(context.Background(), pages, 60, pipeline.Options{})
		if err != nil {
			t.Fatalf("%s: %v", c.picture, err)
		}
		for i, p := range res {
			if p.Blank != c.blank || p.Keep == c.blank || p.Kind != c.kind || !slices.Equal(p.Verdicts, c.verdict) || p.SkewDeg != 0 || p.Rotation != 0 {
				t.Errorf("%s page %d: blank=%v keep=%v kind=%s verdicts=%v skew=%.2f rotation=%d; want blank=%v kind=%s verdicts=%v, straight",
					c.picture, i+1, p.Blank, p.Keep, p.Kind, p.Verdicts, p.SkewDeg, p.Rotation, c.blank, c.kind, c.verdict)
			}
		}
		if want := n; c.blank {
			if Kept(res) != 0 {
				t.Errorf("%s: %d pages kept, want none", c.picture, Kept(res))
			}
		} else if Kept(res) != want {
			t.Errorf("%s: %d pages kept, want %d", c.picture, Kept(res), want)
		} else if pdf, err := ScanPDF(res); err != nil {
			t.Errorf("%s: %v", c.picture, err)
		} else if n, err := PageCount(pdf); err != nil || n != 2 {
			t.Errorf("%s: PDF of %d pages (%v)", c.picture, n, err)
		}
	}
}
