// Command scan measures the kiosk's scan pipeline (kiosk/document/pipeline)
// beside the tools people use for this on Linux, Debian's unpaper (deskew,
// filters) and img2pdf (PDF size), on the generated test set
// (kiosk/document/pipeline/scangen), in one run. It installs nothing; it
// fails when unpaper or img2pdf is missing.
//
//	go run ./bench/scan [-dpi 300] [-seed 1] [-only NAME-PREFIX]
//
// Per page: wall and CPU time, memory (ours: peak live heap and bytes
// allocated; unpaper: peak resident set), PDF bytes of the page, deskew
// error against the angle the page was given, and the blank verdict.
// unpaper runs with its defaults and --deskew-scan-range 15 (its default, 5°,
// is narrower than the set); a page counts as blank for unpaper when less
// than 0.05 % of its output is dark after its filters, since unpaper has no
// blank verdict of its own. img2pdf gets unpaper's output of each page it
// keeps as a grey PNG and, thresholded at 128, as a one-bit PNG.
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"math"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"runtime"
	"runtime/metrics"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"govkiosk/kiosk/document"
	"govkiosk/kiosk/document/pipeline"
	"govkiosk/kiosk/document/pipeline/scangen"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "bench/scan:", err)
		os.Exit(1)
	}
}

type result struct {
	wall, cpu   time.Duration
	memMB       float64 // ours: peak live heap above the baseline; unpaper: peak RSS
	allocMB     float64
	bytes       int     // of the page in a one-page PDF (0: left out as blank)
	bytesMono   int     // img2pdf of the one-bit PNG
	skewErr     float64 // degrees; NaN when not measured
	blank       bool
	unpaperSkew float64
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("scan", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dpi := fs.Int("dpi", 300, "resolution of the test set")
	seed := fs.Uint64("seed", 1, "seed of the test set's artefacts")
	only := fs.String("only", "", "only pages whose name starts with this")
	if err := fs.Parse(args); err != nil {
		return err
	}
	for _, tool := range []string{"unpaper", "img2pdf"} {
		if _, err := exec.LookPath(tool); err != nil {
			return fmt.Errorf("%s not found: apt install %s (make deps)", tool, tool)
		}
	}
	var specs []scangen.Spec
	for _, s := range scangen.Set() {
		if strings.HasPrefix(s.Name, *only) {
			specs = append(specs, s)
		}
	}
	fmt.Fprintf(stderr, "rendering %d pages at %d dpi…\n", len(specs), *dpi)
	g := &scangen.Generator{DPI: *dpi, Seed: *seed}
	samples, err := g.Generate(ctx, specs)
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "bench-scan-*")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)

	ours := make([]result, len(samples))
	theirs := make([]result, len(samples))
	for i, s := range samples {
		fmt.Fprintf(stderr, "%s…\n", s.Spec.Name)
		if ours[i], err = runOurs(ctx, s); err != nil {
			return fmt.Errorf("%s: ours: %w", s.Spec.Name, err)
		}
		if theirs[i], err = runUnpaper(ctx, dir, s); err != nil {
			return fmt.Errorf("%s: unpaper: %w", s.Spec.Name, err)
		}
	}

	tw := tabwriter.NewWriter(stdout, 2, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "page\tblank?\t| ours ms\tCPU ms\theap MB\talloc MB\tPDF KB\tskew err°\tblank\t| unpaper ms\tCPU ms\tRSS MB\tskew err°\tblank\timg2pdf KB grey\t1-bit\t")
	for i, s := range samples {
		o, u := ours[i], theirs[i]
		fmt.Fprintf(tw, "%s\t%v\t| %d\t%d\t%.0f\t%.0f\t%.1f\t%s\t%v\t| %d\t%d\t%.0f\t%s\t%v\t%.1f\t%.1f\t\n",
			s.Spec.Name, s.Expect.Blank, o.wall.Milliseconds(), o.cpu.Milliseconds(), o.memMB, o.allocMB, kb(o.bytes), deg(o.skewErr), o.blank,
			u.wall.Milliseconds(), u.cpu.Milliseconds(), u.memMB, deg(u.skewErr), u.blank, kb(u.bytes), kb(u.bytesMono))
	}
	tw.Flush()

	fmt.Fprintln(stdout)
	tw = tabwriter.NewWriter(stdout, 2, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "summary\tours\tunpaper + img2pdf\t")
	fmt.Fprintf(tw, "time per page, median / mean (wall ms)\t%s\t%s\t\n", timeStats(ours, false), timeStats(theirs, false))
	fmt.Fprintf(tw, "CPU per page, median / mean (ms)\t%s\t%s\t\n", timeStats(ours, true), timeStats(theirs, true))
	fmt.Fprintf(tw, "memory, max (MB)\t%.0f peak heap\t%.0f peak RSS\t\n", maxOf(ours, func(r result) float64 { return r.memMB }), maxOf(theirs, func(r result) float64 { return r.memMB }))
	ob, on := bytesPerPage(ours, samples, false)
	tb, tn := bytesPerPage(theirs, samples, false)
	mb, _ := bytesPerPage(theirs, samples, true)
	fmt.Fprintf(tw, "PDF bytes per kept page, mean (KB)\t%.1f (%d pages)\t%.1f grey, %.1f one-bit (%d pages)\t\n", ob, on, tb, mb, tn)
	otb, otn := textBytes(ours, samples, false)
	ttb, _ := textBytes(theirs, samples, false)
	tmb, _ := textBytes(theirs, samples, true)
	fmt.Fprintf(tw, "  of them bilevel text pages (KB)\t%.1f (%d pages)\t%.1f grey, %.1f one-bit\t\n", otb, otn, ttb, tmb)
	fmt.Fprintf(tw, "deskew error, mean / max (°)\t%s\t%s\t\n", skewStats(ours), skewStats(theirs))
	fmt.Fprintf(tw, "blank pages: precision / recall\t%s\t%s\t\n", blankStats(ours, samples), blankStats(theirs, samples))
	return tw.Flush()
}

func kb(n int) float64 { return float64(n) / 1024 }

func deg(v float64) string {
	if math.IsNaN(v) {
		return "-"
	}
	return strconv.FormatFloat(v, 'f', 2, 64)
}

// cpuTime is the process's user+system time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

var heapSample = []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}

func liveHeap() float64 {
	metrics.Read(heapSample)
	return float64(heapSample[0].Value.Uint64())
}

// runOurs runs the pipeline on one page the way the kiosk does, timing
// it and sampling the live heap while it runs.
func runOurs(ctx context.Context, s scangen.Sample) (result, error) {
	runtime.GC()
	base := liveHeap()
	var ms0, ms1 runtime.MemStats
	runtime.ReadMemStats(&ms0)
	done := make(chan struct{})
	peak := make(chan float64)
	go func() {
		p := 0.0
		t := time.NewTicker(2 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-done:
				peak <- max(p, liveHeap()) - base
				return
			case <-t.C:
				p = max(p, liveHeap())
			}
		}
	}()
	c0, t0 := cpuTime(), time.Now()
	p, err := pipeline.Process(ctx, s.Image, s.DPI, pipeline.Options{})
	wall, cpu := time.Since(t0), cpuTime()-c0
	close(done)
	pk := <-peak
	if err != nil {
		return result{}, err
	}
	runtime.ReadMemStats(&ms1)
	r := result{wall: wall, cpu: cpu, memMB: pk / (1 << 20), allocMB: float64(ms1.TotalAlloc-ms0.TotalAlloc) / (1 << 20),
		blank: p.Blank, skewErr: math.Abs(p.SkewDeg - s.Expect.SkewDeg)}
	if !p.Blank {
		pdf, err := document.ScanPDF([]document.ScanPage{{Page: p, Keep: true}})
		if err != nil {
			return result{}, err
		}
		r.bytes = len(pdf)
	}
	return r, nil
}

var rotateLine = regexp.MustCompile(`(?m)^rotate \([0-9]+,[0-9]+\): (-?[0-9.]+)`)

// runUnpaper runs unpaper on the page as a PGM file, then img2pdf on what
// it made.
func runUnpaper(ctx context.Context, dir string, s scangen.Sample) (result, error) {
	in := filepath.Join(dir, s.Spec.Name+".pgm")
	out := filepath.Join(dir, s.Spec.Name+"-out.pgm")
	if err := writePGM(in, s.Image); err != nil {
		return result{}, err
	}
	cmd := exec.CommandContext(ctx, "unpaper", "-vv", "--overwrite", "--deskew-scan-range", "15", "--dpi", strconv.Itoa(s.DPI), in, out)
	var log bytes.Buffer
	cmd.Stdout, cmd.Stderr = &log, &log
	t0 := time.Now()
	err := cmd.Run()
	wall := time.Since(t0)
	if err != nil {
		return result{}, fmt.Errorf("%v: %s", err, tail(log.String()))
	}
	ru, _ := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	r := result{wall: wall, skewErr: math.NaN()}
	if ru != nil {
		r.cpu = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
		r.memMB = float64(ru.Maxrss) / 1024
	}
	if m := rotateLine.FindAllStringSubmatch(log.String(), -1); len(m) > 0 {
		rad, _ := strconv.ParseFloat(m[len(m)-1][1], 64)
		r.unpaperSkew = rad * 180 / math.Pi
		r.skewErr = math.Abs(r.unpaperSkew - s.Expect.SkewDeg)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		return result{}, err
	}
	g, err := document.DecodeGray(b)
	if err != nil {
		return result{}, fmt.Errorf("unpaper's output: %w", err)
	}
	dark := 0
	for _, v := range g.Pix {
		if v < 128 {
			dark++
		}
	}
	r.blank = float64(dark) < 0.0005*float64(len(g.Pix))
	if r.blank {
		return r, nil
	}
	if r.bytes, err = img2pdf(ctx, dir, s.Spec.Name+"-grey", g); err != nil {
		return result{}, err
	}
	mono := image.NewGray(g.Rect)
	for i, v := range g.Pix {
		if v >= 128 {
			mono.Pix[i] = 255
		}
	}
	r.bytesMono, err = img2pdfMono(ctx, dir, s.Spec.Name+"-mono", mono)
	return r, err
}

func writePGM(path string, g *image.Gray) error {
	var b bytes.Buffer
	fmt.Fprintf(&b, "P5\n%d %d\n255\n", g.Rect.Dx(), g.Rect.Dy())
	for y := range g.Rect.Dy() {
		b.Write(g.Pix[y*g.Stride : y*g.Stride+g.Rect.Dx()])
	}
	return os.WriteFile(path, b.Bytes(), 0o600)
}

// img2pdf writes g as a grey PNG and returns the size of img2pdf's PDF of it.
func img2pdf(ctx context.Context, dir, name string, g image.Image) (int, error) {
	pngPath := filepath.Join(dir, name+".png")
	var b bytes.Buffer
	if err := png.Encode(&b, g); err != nil {
		return 0, err
	}
	if err := os.WriteFile(pngPath, b.Bytes(), 0o600); err != nil {
		return 0, err
	}
	return runImg2pdf(ctx, dir, name, pngPath)
}

// img2pdfMono writes a black-and-white page as a one-bit PNG.
func img2pdfMono(ctx context.Context, dir, name string, g *image.Gray) (int, error) {
	p := image.NewPaletted(g.Rect, color.Palette{color.Black, color.White}) // written as a 1-bit PNG
	for i, v := range g.Pix {
		if v >= 128 {
			p.Pix[i] = 1
		}
	}
	return img2pdf(ctx, dir, name, p)
}

func runImg2pdf(ctx context.Context, dir, name, in string) (int, error) {
	out := filepath.Join(dir, name+".pdf")
	cmd := exec.CommandContext(ctx, "img2pdf", "-o", out, in)
	if b, err := cmd.CombinedOutput(); err != nil {
		return 0, fmt.Errorf("img2pdf: %v: %s", err, tail(string(b)))
	}
	st, err := os.Stat(out)
	if err != nil {
		return 0, err
	}
	return int(st.Size()), nil
}

func tail(s string) string {
	if len(s) > 300 {
		return s[len(s)-300:]
	}
	return s
}

func timeStats(rs []result, cpu bool) string {
	var v []float64
	for _, r := range rs {
		d := r.wall
		if cpu {
			d = r.cpu
		}
		v = append(v, float64(d.Milliseconds()))
	}
	if len(v) == 0 {
		return "-"
	}
	slices.Sort(v)
	var sum float64
	for _, x := range v {
		sum += x
	}
	return fmt.Sprintf("%.0f / %.0f", v[len(v)/2], sum/float64(len(v)))
}

func maxOf(rs []result, f func(result) float64) float64 {
	m := 0.0
	for _, r := range rs {
		m = max(m, f(r))
	}
	return m
}

// bytesPerPage is the mean PDF size of the pages that are not blank (by the
// test set's answers) and that the tool kept.
func bytesPerPage(rs []result, ss []scangen.Sample, mono bool) (float64, int) {
	var sum, n int
	for i, r := range rs {
		if ss[i].Expect.Blank || r.blank {
			continue
		}
		b := r.bytes
		if mono {
			b = r.bytesMono
		}
		sum += b
		n++
	}
	if n == 0 {
		return 0, 0
	}
	return kb(sum) / float64(n), n
}

// textBytes is bytesPerPage over the pages the set expects stored as text.
func textBytes(rs []result, ss []scangen.Sample, mono bool) (float64, int) {
	var sum, n int
	for i, r := range rs {
		if ss[i].Expect.Kind != string(pipeline.KindBilevel) || r.blank {
			continue
		}
		b := r.bytes
		if mono {
			b = r.bytesMono
		}
		sum += b
		n++
	}
	if n == 0 {
		return 0, 0
	}
	return kb(sum) / float64(n), n
}

func skewStats(rs []result) string {
	var sum, mx float64
	n := 0
	for _, r := range rs {
		if math.IsNaN(r.skewErr) {
			continue
		}
		sum += r.skewErr
		mx = max(mx, r.skewErr)
		n++
	}
	if n == 0 {
		return "-"
	}
	return fmt.Sprintf("%.2f / %.2f (%d pages)", sum/float64(n), mx, n)
}

func blankStats(rs []result, ss []scangen.Sample) string {
	var tp, fp, fn int
	for i, r := range rs {
		want := ss[i].Expect.Blank
		switch {
		case r.blank && want:
			tp++
		case r.blank && !want:
			fp++
		case !r.blank && want:
			fn++
		}
	}
	ratio := func(a, b int) string {
		if b == 0 {
			return "-"
		}
		return fmt.Sprintf("%.2f", float64(a)/float64(b))
	}
	return fmt.Sprintf("%s / %s (%d blank found, %d kept wrongly, %d dropped wrongly)", ratio(tp, tp+fp), ratio(tp, tp+fn), tp, fn, fp)
}
