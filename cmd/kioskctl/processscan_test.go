package main

import (
	"bytes"
	"context"
	"encoding/json"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"govkiosk/kiosk/document"
	"govkiosk/kiosk/document/pipeline/scangen"
)

// writeScans renders specs at dpi into dir as PNG files.
func writeScans(t *testing.T, dir string, dpi int, specs []scangen.Spec) []string {
	t.Helper()
	g := &scangen.Generator{DPI: dpi, Seed: 3}
	samples, err := g.Generate(context.Background(), specs)
	if err != nil {
		t.Fatal(err)
	}
	var files []string
	for _, s := range samples {
		var b bytes.Buffer
		if err := png.Encode(&b, s.Image); err != nil {
			t.Fatal(err)
		}
		f := filepath.Join(dir, s.Spec.Name+".png")
		if err := os.WriteFile(f, b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
	}
	return files
}

// process-scan reports each file's verdicts and writes the kept pages as a
// PDF: the blank back is reported and left out, the skew is the one the
// page was given.
func TestProcessScan(t *testing.T) {
	if raceBuild {
		t.Skip("single-goroutine image work: nothing for the race detector to see; make test runs it without -race")
	}
	dir := t.TempDir()
	files := writeScans(t, dir, 150, []scangen.Spec{
		{Name: "front", Doc: "letter", SkewDeg: 2.5, Noise: 4},
		{Name: "back", SkewDeg: 2.5, Noise: 4, Specks: 10},
	})
	out := filepath.Join(dir, "out.pdf")
	var stdout, stderr bytes.Buffer
	args := append([]string{"process-scan", "--dpi", "150", "--json", "--pdf", out}, files...)
	if err := run(context.Background(), args, &stdout, &stderr); err != nil {
		t.Fatalf("process-scan: %v (%s)", err, stderr.String())
	}
	var reps []scanReport
	if err := json.Unmarshal(stdout.Bytes(), &reps); err != nil {
		t.Fatalf("report is not JSON: %v\n%s", err, stdout.String())
	}
	if len(reps) != 2 {
		t.Fatalf("%d reports, want 2", len(reps))
	}
	if !reps[0].Kept || reps[0].Blank || reps[0].Bytes == 0 || reps[0].Kind != "bilevel" {
		t.Errorf("front: %+v, want kept as bilevel with its bytes", reps[0])
	}
	if d := reps[0].SkewDeg - 2.5; d > 0.3 || d < -0.3 {
		t.Errorf("front skew %.2f°, want 2.5°", reps[0].SkewDeg)
	}
	if reps[1].Kept || !reps[1].Blank || reps[1].Bytes != 0 {
		t.Errorf("back: %+v, want blank and left out", reps[1])
	}
	pdf, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if n, err := document.PageCount(pdf); err != nil || n != 1 {
		t.Fatalf("PDF has %d pages (%v), want 1", n, err)
	}

	// The plain report: one line per file, then the PDF.
	stdout.Reset()
	args = append([]string{"process-scan", "--dpi", "150", "--pdf", out}, files...)
	if err := run(context.Background(), args, &stdout, &stderr); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "front.png\tkept\tskew +2.") || !strings.HasPrefix(lines[1], "back.png\tblank") ||
		!strings.Contains(lines[2], "1 of 2 pages") {
		t.Errorf("report:\n%s", stdout.String())
	}
}

// Bad input gets a message naming the file, and nothing is written.
func TestProcessScanBadInput(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "notes.png")
	if err := os.WriteFile(bad, []byte("not an image"), 0o644); err != nil {
		t.Fatal(err)
	}
	// A small blank sheet at 50 dpi, cheap enough for the race detector.
	white := image.NewGray(image.Rect(0, 0, 400, 560))
	for i := range white.Pix {
		white.Pix[i] = uint8(240 + i%7)
	}
	var wb bytes.Buffer
	if err := png.Encode(&wb, white); err != nil {
		t.Fatal(err)
	}
	blank := filepath.Join(dir, "blank.png")
	if err := os.WriteFile(blank, wb.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out.pdf")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"process-scan", "--pdf", out, bad}, "notes.png"},
		{[]string{"process-scan", "--pdf", out, filepath.Join(dir, "missing.png")}, "missing.png"},
		{[]string{"process-scan", "--pdf", out}, "no image files"},
		{[]string{"process-scan", bad}, "--pdf"},
		{[]string{"process-scan", "--dpi", "50", "--pdf", out, blank}, "every page is blank"},
	} {
		err := run(context.Background(), c.args, &bytes.Buffer{}, &bytes.Buffer{})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: err %v, want one naming %q", c.args, err, c.want)
		}
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Errorf("a PDF was written for bad input (%v)", err)
	}
}
