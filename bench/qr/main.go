// Command qr measures the QR decoding pipeline of drivers/qrreader on the
// zxing-cpp sample corpus (see shared/testdata/qr-zxing-cpp/README.md) and,
// when they are on PATH, the reference decoders ZXingReader (zxing-cpp) and
// zbarimg (zbar) on the same images in the same run. It installs nothing.
//
//	go run ./bench/qr [-dir CORPUS] [-rot 0,90,180,270] [-ref=true] [-v]
//
// Our pipeline runs on every image at each rotation. Times for ours are the
// image file decoding plus the pipeline, in process; times for the reference
// tools are the whole process (start, image load, decode) and they run at
// rotation 0 only, on a PNG copy of each image (ZXingReader 1.4 cannot read
// WebP). The last line is a one-line summary.
package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"image"
	"image/draw"
	_ "image/jpeg"
	"image/png"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	_ "golang.org/x/image/webp"

	"govkiosk/drivers/qrreader"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "bench/qr:", err)
		os.Exit(1)
	}
}

// sample is one corpus image.
type sample struct {
	folder, name, path string
	want               []byte // expected text; nil in false-positive folders
	falsePos           bool
}

// tally is one decoder's outcome on one folder.
type tally struct {
	ok, wrong, found int // exact, decoded but different, any result (false positives)
	ms               []float64
}

func run(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("qr", flag.ContinueOnError)
	dir := fs.String("dir", "", "corpus directory (default ../shared/testdata/qr-zxing-cpp from the repository root, else /work/shared/testdata/qr-zxing-cpp)")
	rots := fs.String("rot", "0,90,180,270", "rotations (degrees clockwise, multiples of 90) for our pipeline")
	ref := fs.Bool("ref", true, "also run ZXingReader and zbarimg when on PATH (rotation 0)")
	verbose := fs.Bool("v", false, "list every image our pipeline misses or gets wrong")
	if err := fs.Parse(args); err != nil {
		return err
	}
	corpus, err := findCorpus(*dir)
	if err != nil {
		return err
	}
	var rotations []int
	for _, f := range strings.Split(*rots, ",") {
		r, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || r%90 != 0 {
			return fmt.Errorf("bad rotation %q", f)
		}
		rotations = append(rotations, ((r%360)+360)%360)
	}
	samples, folders, err := loadCorpus(corpus)
	if err != nil {
		return err
	}

	zxing, _ := exec.LookPath("ZXingReader")
	zbar, _ := exec.LookPath("zbarimg")
	if !*ref {
		zxing, zbar = "", ""
	}
	var pngDir string
	if zxing != "" || zbar != "" {
		pngDir, err = os.MkdirTemp("", "bench-qr-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(pngDir)
	}

	ours := make([]map[string]*tally, len(rotations))
	for i := range ours {
		ours[i] = map[string]*tally{}
	}
	refs := map[string]map[string]*tally{"zxingcpp": {}, "zbar": {}}
	get := func(m map[string]*tally, folder string) *tally {
		if m[folder] == nil {
			m[folder] = &tally{}
		}
		return m[folder]
	}
	for n, s := range samples {
		fmt.Fprintf(os.Stderr, "\r%d/%d %-50s", n+1, len(samples), s.folder+"/"+s.name)
		data, err := os.ReadFile(s.path)
		if err != nil {
			return err
		}
		t0 := time.Now()
		img, _, err := image.Decode(bytes.NewReader(data))
		load := time.Since(t0)
		if err != nil {
			return fmt.Errorf("%s: %w", s.path, err)
		}
		for i, rot := range rotations {
			rimg := rotate(img, rot)
			t0 := time.Now()
			res, err := qrreader.Decode(rimg)
			el := load + time.Since(t0)
			var got []byte
			if err == nil {
				got = []byte(res.Text)
			} else if !errors.Is(err, qrreader.ErrNotFound) {
				return fmt.Errorf("%s: %w", s.path, err)
			}
			t := get(ours[i], s.folder)
			score(t, s, got, err == nil, el)
			if *verbose && (s.falsePos == (err == nil) || (!s.falsePos && !bytes.Equal(got, s.want))) {
				fmt.Fprintf(os.Stderr, "\rmiss rot=%d %s/%s (found=%v)\n", rot, s.folder, s.name, err == nil)
			}
		}
		if zxing == "" && zbar == "" {
			continue
		}
		pngPath := filepath.Join(pngDir, fmt.Sprintf("%d.png", n))
		if err := writePNG(pngPath, img); err != nil {
			return err
		}
		if zxing != "" {
			got, found, el, err := runZXing(zxing, pngPath)
			if err != nil {
				return err
			}
			score(get(refs["zxingcpp"], s.folder), s, got, found, el)
		}
		if zbar != "" {
			got, found, el, err := runZbar(zbar, pngPath)
			if err != nil {
				return err
			}
			score(get(refs["zbar"], s.folder), s, got, found, el)
		}
	}
	fmt.Fprintf(os.Stderr, "\r%60s\r", "")

	// The table.
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	hdr := []string{"folder", "images"}
	for _, r := range rotations {
		hdr = append(hdr, fmt.Sprintf("ours@%d", r))
	}
	hdr = append(hdr, "zxingcpp@0", "zbar@0")
	fmt.Fprintln(tw, strings.Join(hdr, "\t")+"\t")
	count := map[string]int{}
	for _, s := range samples {
		count[s.folder]++
	}
	cell := func(t *tally, avail bool, falsePos bool) string {
		if !avail {
			return "n/a"
		}
		if t == nil {
			return "0"
		}
		if falsePos {
			return fmt.Sprintf("%d fp", t.found)
		}
		if t.wrong > 0 {
			return fmt.Sprintf("%d (+%d wrong)", t.ok, t.wrong)
		}
		return strconv.Itoa(t.ok)
	}
	for _, f := range folders {
		fp := strings.HasPrefix(f, "falsepositives")
		row := []string{f, strconv.Itoa(count[f])}
		for i := range rotations {
			row = append(row, cell(ours[i][f], true, fp))
		}
		row = append(row, cell(refs["zxingcpp"][f], zxing != "", fp), cell(refs["zbar"][f], zbar != "", fp))
		fmt.Fprintln(tw, strings.Join(row, "\t")+"\t")
	}
	// Totals and times.
	sum := func(m map[string]*tally, fp bool) (ok, found int, ms []float64) {
		for f, t := range m {
			if strings.HasPrefix(f, "falsepositives") == fp {
				ok += t.ok
				found += t.found
			}
			ms = append(ms, t.ms...)
		}
		return
	}
	positives := 0
	for _, s := range samples {
		if !s.falsePos {
			positives++
		}
	}
	totalRow := []string{"total", strconv.Itoa(positives)}
	fpRow := []string{"falsepos", strconv.Itoa(len(samples) - positives)}
	medRow := []string{"median ms", ""}
	p95Row := []string{"p95 ms", ""}
	oursMin, oursFP := -1, 0
	var oursMed float64
	for i := range rotations {
		ok, _, ms := sum(ours[i], false)
		_, fp, _ := sum(ours[i], true)
		if oursMin < 0 || ok < oursMin {
			oursMin = ok
		}
		oursFP = max(oursFP, fp)
		med := quantile(ms, 0.5)
		if i == 0 {
			oursMed = med
		}
		totalRow = append(totalRow, strconv.Itoa(ok))
		fpRow = append(fpRow, strconv.Itoa(fp))
		medRow = append(medRow, fmt.Sprintf("%.1f", med))
		p95Row = append(p95Row, fmt.Sprintf("%.1f", quantile(ms, 0.95)))
	}
	summary := map[string]string{"zxingcpp": "n/a", "zbar": "n/a"}
	zxMed := "n/a"
	for _, name := range []string{"zxingcpp", "zbar"} {
		avail := (name == "zxingcpp" && zxing != "") || (name == "zbar" && zbar != "")
		if !avail {
			totalRow, fpRow, medRow, p95Row = append(totalRow, "n/a"), append(fpRow, "n/a"), append(medRow, "n/a"), append(p95Row, "n/a")
			continue
		}
		ok, _, ms := sum(refs[name], false)
		_, fp, _ := sum(refs[name], true)
		summary[name] = strconv.Itoa(ok)
		totalRow = append(totalRow, strconv.Itoa(ok))
		fpRow = append(fpRow, strconv.Itoa(fp))
		medRow = append(medRow, fmt.Sprintf("%.1f", quantile(ms, 0.5)))
		p95Row = append(p95Row, fmt.Sprintf("%.1f", quantile(ms, 0.95)))
		if name == "zxingcpp" {
			zxMed = fmt.Sprintf("%.1f", quantile(ms, 0.5))
		}
	}
	for _, r := range [][]string{totalRow, fpRow, medRow, p95Row} {
		fmt.Fprintln(tw, strings.Join(r, "\t")+"\t")
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(out, "times: ours = image file decoding + pipeline, in process; references = whole process on a PNG copy, rotation 0 only; median/p95 over all",
		len(samples), "images")
	_, err = fmt.Fprintf(out, "qr: ours=%d/%d (min over rotations) zxingcpp=%s zbar=%s falsepos=%d median_ms ours=%.1f zxingcpp=%s\n",
		oursMin, positives, summary["zxingcpp"], summary["zbar"], oursFP, oursMed, zxMed)
	return err
}

// score records one decoder's answer for one sample.
func score(t *tally, s sample, got []byte, found bool, el time.Duration) {
	t.ms = append(t.ms, float64(el.Microseconds())/1000)
	if !found {
		return
	}
	t.found++
	if s.falsePos {
		return
	}
	if bytes.Equal(got, s.want) {
		t.ok++
	} else {
		t.wrong++
	}
}

func quantile(ms []float64, q float64) float64 {
	if len(ms) == 0 {
		return 0
	}
	s := slices.Clone(ms)
	slices.Sort(s)
	return s[min(len(s)-1, int(q*float64(len(s))))]
}

// findCorpus resolves the corpus directory: the flag, else the shared
// folder beside the repository root (found by walking up to go.mod), else
// /work/shared/testdata/qr-zxing-cpp.
func findCorpus(flagDir string) (string, error) {
	if flagDir != "" {
		return flagDir, nil
	}
	if wd, err := os.Getwd(); err == nil {
		for d := wd; ; d = filepath.Dir(d) {
			if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
				c := filepath.Join(d, "..", "shared", "testdata", "qr-zxing-cpp")
				if _, err := os.Stat(c); err == nil {
					return c, nil
				}
				break
			}
			if filepath.Dir(d) == d {
				break
			}
		}
	}
	c := "/work/shared/testdata/qr-zxing-cpp"
	if _, err := os.Stat(c); err != nil {
		return "", fmt.Errorf("corpus not found; pass -dir: %w", err)
	}
	return c, nil
}

// loadCorpus lists the images of qrcode-* folders that have an expected
// .txt, and every image of falsepositives-* folders.
func loadCorpus(dir string) ([]sample, []string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, nil, err
	}
	var samples []sample
	var folders []string
	for _, e := range entries {
		fp := strings.HasPrefix(e.Name(), "falsepositives")
		if !e.IsDir() || !(fp || strings.HasPrefix(e.Name(), "qrcode")) {
			continue
		}
		files, err := os.ReadDir(filepath.Join(dir, e.Name()))
		if err != nil {
			return nil, nil, err
		}
		n := 0
		for _, f := range files {
			ext := strings.ToLower(filepath.Ext(f.Name()))
			if ext != ".png" && ext != ".jpg" && ext != ".jpeg" && ext != ".webp" {
				continue
			}
			s := sample{folder: e.Name(), name: f.Name(), path: filepath.Join(dir, e.Name(), f.Name()), falsePos: fp}
			if !fp {
				want, err := os.ReadFile(strings.TrimSuffix(s.path, filepath.Ext(s.path)) + ".txt")
				if errors.Is(err, os.ErrNotExist) {
					continue // no expected text: not counted
				} else if err != nil {
					return nil, nil, err
				}
				s.want = want
			}
			samples = append(samples, s)
			n++
		}
		if n > 0 {
			folders = append(folders, e.Name())
		}
	}
	if len(samples) == 0 {
		return nil, nil, fmt.Errorf("no images in %s", dir)
	}
	return samples, folders, nil
}

// rotate turns img clockwise by deg (0, 90, 180, 270) into a new image of
// the same colour model family (grey stays grey).
func rotate(img image.Image, deg int) image.Image {
	if deg == 0 {
		return img
	}
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	dst := func(x, y int) (int, int) { // source offset -> destination point
		switch deg {
		case 90:
			return h - 1 - y, x
		case 180:
			return w - 1 - x, h - 1 - y
		default:
			return y, w - 1 - x
		}
	}
	r := image.Rect(0, 0, w, h)
	if deg != 180 {
		r = image.Rect(0, 0, h, w)
	}
	if g, ok := img.(*image.Gray); ok {
		out := image.NewGray(r)
		for y := range h {
			for x := range w {
				dx, dy := dst(x, y)
				out.Pix[dy*out.Stride+dx] = g.Pix[(y)*g.Stride+x]
			}
		}
		return out
	}
	src := image.NewRGBA(image.Rect(0, 0, w, h))
	draw.Draw(src, src.Rect, img, b.Min, draw.Src)
	out := image.NewRGBA(r)
	for y := range h {
		for x := range w {
			dx, dy := dst(x, y)
			copy(out.Pix[dy*out.Stride+4*dx:][:4], src.Pix[y*src.Stride+4*x:][:4])
		}
	}
	return out
}

func writePNG(path string, img image.Image) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := png.Encode(f, img); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// runZXing runs ZXingReader on one file; it reports the first QR code's text.
func runZXing(bin, path string) ([]byte, bool, time.Duration, error) {
	var stdout bytes.Buffer
	cmd := exec.Command(bin, "-format", "QRCode", path)
	cmd.Stdout = &stdout
	t0 := time.Now()
	err := cmd.Run()
	el := time.Since(t0)
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		return nil, false, el, fmt.Errorf("ZXingReader: %w", err)
	}
	out := stdout.Bytes()
	const start, end = "Text:       \"", "\"\nBytes:"
	i := bytes.Index(out, []byte(start))
	if i < 0 {
		return nil, false, el, nil
	}
	rest := out[i+len(start):]
	j := bytes.Index(rest, []byte(end))
	if j < 0 {
		return nil, false, el, nil
	}
	return rest[:j], true, el, nil
}

// runZbar runs zbarimg on one file; it reports the first QR code's text.
func runZbar(bin, path string) ([]byte, bool, time.Duration, error) {
	var stdout bytes.Buffer
	cmd := exec.Command(bin, "-q", "--raw", "-Sdisable", "-Sqrcode.enable", path)
	cmd.Stdout = &stdout
	t0 := time.Now()
	err := cmd.Run()
	el := time.Since(t0)
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		return nil, false, el, fmt.Errorf("zbarimg: %w", err)
	}
	if stdout.Len() == 0 {
		return nil, false, el, nil
	}
	// --raw prints each symbol's data followed by a newline.
	return bytes.TrimSuffix(stdout.Bytes(), []byte("\n")), true, el, nil
}
