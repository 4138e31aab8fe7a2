package scanner

import (
	"bytes"
	"context"
	"errors"
	"image"
	"image/png"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"govkiosk/drivers/device"
)

// needScanimage skips only when Debian's scanimage (sane-utils) is absent.
func needScanimage(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("scanimage"); err != nil {
		t.Skip("scanimage not installed (apt install sane-utils)")
	}
}

// newTestScanner returns a scanner on SANE's test backend and the parent of
// its private scan dirs.
func newTestScanner(t *testing.T, device string, extra ...string) (*Scanner, string) {
	t.Helper()
	cfgDir := filepath.Join(t.TempDir(), "sane.d")
	if err := WriteTestConfig(cfgDir); err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	s := mustOpen(t, Opts{Device: device, ConfigDir: cfgDir, DPI: 150, ExtraArgs: extra, TempDir: tmp}, log)
	// The test backend very rarely deadlocks scanimage after an injected
	// error; let the watchdog end that sooner than in production.
	s.idle = 10 * time.Second
	return s, tmp
}

func mustOpen(t *testing.T, o Opts, log *slog.Logger) *Scanner {
	t.Helper()
	s, err := Open(&o, log)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// Open refuses options no scan could work with, and names the scanner by
// its device.
func TestOpen(t *testing.T) {
	for name, o := range map[string]*Opts{
		"no device":     {},
		"dpi too low":   {Device: "test:0", DPI: 10},
		"dpi too high":  {Device: "test:0", DPI: 5000},
		"negative idle": {Device: "test:0", Idle: device.D(-time.Second)},
		"nil":           nil,
	} {
		if _, err := Open(o, nil); err == nil {
			t.Errorf("%s: Open succeeded", name)
		}
	}
	s, err := Open(&Opts{Device: "test:0"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.String() != "scanner(test:0)" || s.cfg.DPI != DefaultDPI || s.idle != DefaultOpts.Idle.Duration {
		t.Errorf("Open: %v, dpi %d, idle %v", s, s.cfg.DPI, s.idle)
	}
}

func assertEmptyDir(t *testing.T, dir string) {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		t.Errorf("left behind in %s: %s", dir, e.Name())
	}
}

func TestStatus(t *testing.T) {
	needScanimage(t)
	tests := []struct {
		name      string
		device    string
		scanimage string
		want      device.State
		media     string
	}{
		{"test backend test:0", "test:0", "", device.Online, device.ScannerReady},
		{"test backend short name", "test", "", device.Online, device.ScannerReady},
		{"bogus device", "bogus:0", "", device.NoDevice, ""},
		{"second test device not configured", "test:1", "", device.NoDevice, ""},
		{"scanimage missing", "test:0", filepath.Join(t.TempDir(), "no-scanimage"), device.NoDevice, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, _ := newTestScanner(t, tc.device)
			if tc.scanimage != "" {
				s.cfg.ScanImage = tc.scanimage
			}
			at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
			s.now = func() time.Time { return at }
			st := s.Status(context.Background())
			if st.Device != "scanner" || st.State != tc.want || st.Media != tc.media || !st.At.Equal(at) {
				t.Errorf("Status = %+v, want state %q media %q", st, tc.want, tc.media)
			}
			if st.Usable() != (tc.want == device.Online) {
				t.Errorf("Usable = %v", st.Usable())
			}
		})
	}
}

func TestScanBatch(t *testing.T) {
	needScanimage(t)
	s, tmp := newTestScanner(t, TestDevice)
	pages, err := s.ScanBatch(context.Background(), 3)
	if err != nil {
		t.Fatalf("ScanBatch: %v", err)
	}
	assertEmptyDir(t, tmp)
	if len(pages) != 3 {
		t.Fatalf("got %d pages, want 3", len(pages))
	}
	for i, p := range pages {
		// A4 at 150 dpi: 210 mm = 1240 px, 297 mm = 1754 px (SANE rounds down to 1753).
		if p.Width != 1240 || p.Height < 1752 || p.Height > 1754 || p.DPI != 150 {
			t.Errorf("page %d is %dx%d at %d dpi, want about 1240x1754 at 150", i+1, p.Width, p.Height, p.DPI)
		}
		img, err := png.Decode(bytes.NewReader(p.PNG))
		if err != nil {
			t.Fatalf("page %d: %v", i+1, err)
		}
		if _, ok := img.(*image.Gray); !ok {
			t.Errorf("page %d is %T, want *image.Gray", i+1, img)
		}
		if b := img.Bounds(); b.Dx() != p.Width || b.Dy() != p.Height {
			t.Errorf("page %d: decoded %v, Page says %dx%d", i+1, b, p.Width, p.Height)
		}
	}
	if st := s.Status(context.Background()); st.State != device.Online || st.Media != device.ScannerReady {
		t.Errorf("Status after good batch = %+v", st)
	}
}

func TestScanBatchFeederRunsOut(t *testing.T) {
	needScanimage(t)
	// The test backend's ADF holds 10 sheets, then says SANE_STATUS_NO_DOCS:
	// a batch asking for more ends early and that is a success.
	s, tmp := newTestScanner(t, TestDevice)
	pages, err := s.ScanBatch(context.Background(), 12)
	if err != nil {
		t.Fatalf("ScanBatch: %v", err)
	}
	if len(pages) != 10 {
		t.Errorf("got %d pages, want 10", len(pages))
	}
	assertEmptyDir(t, tmp)
}

func TestScanBatchFaults(t *testing.T) {
	needScanimage(t)
	tests := []struct {
		name   string
		device string
		extra  []string
		want   error // sentinel, or nil for "an error that is none of them"
		media  string
		action device.Action
	}{
		{"jam", TestDevice, []string{"--read-return-value", "SANE_STATUS_JAMMED"}, ErrJammed, device.ScannerJammed, device.ActionClear},
		{"empty feeder", TestDevice, []string{"--read-return-value", "SANE_STATUS_NO_DOCS"}, ErrNoPaper, device.ScannerReady, device.ActionNone},
		{"cover open", TestDevice, []string{"--read-return-value", "SANE_STATUS_COVER_OPEN"}, ErrCoverOpen, device.ScannerCoverOpen, device.ActionClear},
		{"I/O error", TestDevice, []string{"--read-return-value", "SANE_STATUS_IO_ERROR"}, nil, device.ScannerReady, device.ActionNone},
		{"unknown backend option", TestDevice, []string{"--no-such-option"}, nil, "", device.ActionReset},
		{"no device", "bogus:0", nil, ErrNoDevice, "", device.ActionMaintenance},
	}
	sentinels := []error{ErrJammed, ErrNoPaper, ErrCoverOpen, ErrNoDevice}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, tmp := newTestScanner(t, tc.device, tc.extra...)
			pages, err := s.ScanBatch(context.Background(), 3)
			assertEmptyDir(t, tmp)
			if err == nil {
				t.Fatalf("ScanBatch gave %d pages and no error", len(pages))
			}
			if len(pages) != 0 {
				t.Errorf("got %d pages with error %v", len(pages), err)
			}
			for _, se := range sentinels {
				if errors.Is(err, se) != (se == tc.want) {
					t.Errorf("errors.Is(%v, %v) = %v", err, se, !(se == tc.want))
				}
			}
			st := s.Status(context.Background())
			if st.Media != tc.media || st.Action != tc.action {
				t.Errorf("Status after %s = %+v, want media %q action %q", tc.name, st, tc.media, tc.action)
			}
		})
	}
}

func TestJamClearedByGoodBatch(t *testing.T) {
	needScanimage(t)
	s, tmp := newTestScanner(t, TestDevice, "--read-return-value", "SANE_STATUS_JAMMED")
	if _, err := s.ScanBatch(context.Background(), 2); !errors.Is(err, ErrJammed) {
		t.Fatalf("want ErrJammed, got %v", err)
	}
	if st := s.Status(context.Background()); st.Media != device.ScannerJammed {
		t.Fatalf("Status = %+v, want jammed", st)
	}
	s.cfg.ExtraArgs = nil // the citizen/technician cleared the jam
	pages, err := s.ScanBatch(context.Background(), 2)
	if err != nil || len(pages) != 2 {
		t.Fatalf("ScanBatch after clearing = %d pages, %v", len(pages), err)
	}
	if st := s.Status(context.Background()); st.State != device.Online || st.Media != device.ScannerReady || st.Action != device.ActionNone {
		t.Errorf("Status = %+v, want online/ready", st)
	}
	assertEmptyDir(t, tmp)
}

func TestScanBatchCancel(t *testing.T) {
	needScanimage(t)
	// 200 ms per buffer makes a page take several seconds: slow enough to
	// cancel mid-page.
	s, tmp := newTestScanner(t, TestDevice, "--read-delay=yes", "--read-delay-duration=200000")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	type res struct {
		pages []Page
		err   error
	}
	done := make(chan res, 1)
	go func() {
		p, err := s.ScanBatch(ctx, 5)
		done <- res{p, err}
	}()

	// Wait until scanimage has started writing the first page.
	deadline := time.Now().Add(30 * time.Second)
	for !hasFileBelow(t, tmp) {
		if time.Now().After(deadline) {
			t.Fatal("scan never started")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if st := s.Status(context.Background()); st.State != device.Busy {
		t.Errorf("Status while scanning = %+v, want busy", st)
	}
	cancel()
	r := <-done
	if !errors.Is(r.err, context.Canceled) || r.pages != nil {
		t.Errorf("ScanBatch after cancel = %d pages, %v; want context.Canceled", len(r.pages), r.err)
	}
	assertEmptyDir(t, tmp)
}

func hasFileBelow(t *testing.T, dir string) bool {
	t.Helper()
	found := false
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return nil // the dir may vanish under us
		}
		if !d.IsDir() {
			found = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return found
}

// TestScanBatchPartial uses a stand-in scanimage (a shell script) for what
// the test backend cannot do: fail after some pages. It also records the
// mode of the private dir it was told to write to.
func TestScanBatchPartial(t *testing.T) {
	if _, err := exec.LookPath("sh"); err != nil {
		t.Skip("no sh")
	}
	bin := t.TempDir()
	fake := filepath.Join(bin, "scanimage")
	script := `#!/bin/sh
for a in "$@"; do case "$a" in --batch=*) d=$(dirname "${a#--batch=}");; esac; done
stat -c %a "$d" > "$MODE_FILE"
cp "$PAGE_FILE" "$d/p0001.png"
cp "$PAGE_FILE" "$d/p0002.png"
: > "$d/p0003.png.part"
echo "Scanning page 3" >&2
echo "scanimage: sane_read: $FAIL_MSG" >&2
exit $FAIL_CODE
`
	if err := os.WriteFile(fake, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	page := grayPage(t, 40, 56)
	pageFile := filepath.Join(t.TempDir(), "page.png")
	if err := os.WriteFile(pageFile, page.PNG, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PAGE_FILE", pageFile)

	tests := []struct {
		name string
		code string
		msg  string
		want error
		ok   bool
	}{
		{"jam after two pages", "6", "Document feeder jammed", ErrJammed, false},
		{"cover opened after two pages", "8", "Scanner cover is open", ErrCoverOpen, false},
		{"feeder empty after two pages", "7", "Document feeder out of documents", nil, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			modeFile := filepath.Join(t.TempDir(), "mode")
			t.Setenv("MODE_FILE", modeFile)
			t.Setenv("FAIL_CODE", tc.code)
			t.Setenv("FAIL_MSG", tc.msg)
			tmp := t.TempDir()
			s := mustOpen(t, Opts{Device: "x", ScanImage: fake, TempDir: tmp}, nil)
			pages, err := s.ScanBatch(context.Background(), 5)
			assertEmptyDir(t, tmp)
			if tc.ok != (err == nil) || (tc.want != nil && !errors.Is(err, tc.want)) {
				t.Errorf("err = %v, want %v", err, tc.want)
			}
			if len(pages) != 2 {
				t.Fatalf("got %d pages, want the 2 complete ones", len(pages))
			}
			if !bytes.Equal(pages[1].PNG, page.PNG) || pages[1].Width != 40 || pages[1].Height != 56 {
				t.Errorf("page 2 = %dx%d, %d bytes", pages[1].Width, pages[1].Height, len(pages[1].PNG))
			}
			mode, err := os.ReadFile(modeFile)
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.TrimSpace(string(mode)); got != "700" {
				t.Errorf("scan dir mode %s, want 700", got)
			}
		})
	}
}

// TestWatchdog: a scanimage that hangs (as scanimage can, deadlocked in its
// SIGPIPE handler after the test backend reports an error) is stopped, and
// what it printed before hanging still classifies the failure.
func TestWatchdog(t *testing.T) {
	if _, err := exec.LookPath("sleep"); err != nil {
		t.Skip("no sleep")
	}
	tests := []struct {
		name   string
		stderr string
		want   error
	}{
		{"hang after jam", "scanimage: sane_read: Document feeder jammed", ErrJammed},
		{"hang with no word", "", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fake := filepath.Join(t.TempDir(), "scanimage")
			script := "#!/bin/sh\necho 'Scanning page 1' >&2\necho '" + tc.stderr + "' >&2\nexec sleep 600\n"
			if err := os.WriteFile(fake, []byte(script), 0o755); err != nil {
				t.Fatal(err)
			}
			tmp := t.TempDir()
			s := mustOpen(t, Opts{Device: "x", ScanImage: fake, TempDir: tmp}, nil)
			s.idle = 300 * time.Millisecond
			_, err := s.ScanBatch(context.Background(), 2)
			if err == nil {
				t.Fatal("no error from a hung scanimage")
			}
			if tc.want != nil && !errors.Is(err, tc.want) {
				t.Errorf("err = %v, want %v", err, tc.want)
			}
			if tc.want == nil && !strings.Contains(err.Error(), "stalled") {
				t.Errorf("err = %v, want a stall", err)
			}
			assertEmptyDir(t, tmp)
			if st := s.Status(context.Background()); st.State != device.HardwareError {
				t.Errorf("Status of a hung scanimage = %+v, want hardwareError", st)
			}
		})
	}
}

func TestScanBatchArgs(t *testing.T) {
	s := mustOpen(t, Opts{Device: "test:0"}, nil)
	for _, n := range []int{0, -1, maxPagesPerBatch + 1} {
		if _, err := s.ScanBatch(context.Background(), n); err == nil {
			t.Errorf("ScanBatch(%d) gave no error", n)
		}
	}
	if s.cfg.Source != DefaultSource || s.cfg.DPI != DefaultDPI || s.cfg.Mode != DefaultMode || s.cfg.ScanImage != "scanimage" {
		t.Errorf("defaults not applied: %+v", s.cfg)
	}
}

func TestClassify(t *testing.T) {
	exitErr := errors.New("exit status")
	tests := []struct {
		name  string
		res   result
		pages int
		want  error
		ok    bool
	}{
		{"success", result{}, 3, nil, true},
		{"jam by code", result{err: exitErr, code: 6}, 0, ErrJammed, false},
		{"jam by text", result{err: exitErr, code: 1, stderr: "scanimage: sane_read: Document feeder jammed\n"}, 0, ErrJammed, false},
		{"cover by code", result{err: exitErr, code: 8}, 0, ErrCoverOpen, false},
		{"no docs, no pages", result{err: exitErr, code: 7}, 0, ErrNoPaper, false},
		{"no docs after pages is the end of the batch", result{err: exitErr, code: 7}, 2, nil, true},
		{"open failed", result{err: exitErr, code: 1, stderr: "scanimage: open of device bogus failed: Invalid argument\n"}, 0, ErrNoDevice, false},
		{"not installed", result{err: exec.ErrNotFound, code: -1}, 0, ErrNoDevice, false},
		{"other", result{err: exitErr, code: 9, stderr: "scanimage: sane_read: Error during device I/O\n"}, 0, nil, false},
		{"aborted by SIGPIPE after a jam, exit 0", result{stderr: "Scanning page 1\nProgress: 0.0%\rscanimage: sane_read: Document feeder jammed\nScanned page 1. (scanner status = 6)\nBatch terminated, 1 page scanned\nscanimage: received signal 13\nscanimage: trying to stop scanner\nscanimage: received signal 13\nscanimage: aborting\n"}, 0, ErrJammed, false},
		{"aborted after an I/O error, exit 0", result{stderr: "Progress: 0.0%\rscanimage: sane_read: Error during device I/O\nscanimage: received signal 13\nscanimage: aborting\n"}, 0, nil, false},
		{"end of a full batch", result{stderr: "Scanned page 10. (scanner status = 5)\nScanning page 11\nscanimage: sane_start: Document feeder out of documents\nBatch terminated, 10 pages scanned\n"}, 10, nil, true},
		{"stalled", result{err: exitErr, stalled: true, stderr: "Scanning page 1\n"}, 0, nil, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.res.classify(tc.pages)
			if (err == nil) != tc.ok {
				t.Fatalf("classify = %v, want ok=%v", err, tc.ok)
			}
			if tc.want != nil && !errors.Is(err, tc.want) {
				t.Errorf("classify = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestDetailIsShort(t *testing.T) {
	r := result{err: errors.New("x"), stderr: "Scanning page 1\nscanimage: " + strings.Repeat("y", 500) + "\n"}
	if d := r.detail(); len(d) > 130 || !strings.HasPrefix(d, "scanimage: yyy") {
		t.Errorf("detail = %q", d)
	}
}

func TestSensorOn(t *testing.T) {
	tests := []struct {
		out  string
		want bool
	}{
		{"  Sensors:\n    --cover-open[=(yes|no)] [yes] [hardware]\n", true},
		{"    --cover-open[=(yes|no)] [yes]\n        Cover open\n", true},
		{"    --cover-open[=(yes|no)] [no] [read-only]\n", false},
		{"    --cover-open[=(yes|no)] [inactive]\n", false},
		{"    --cover-opener[=(yes|no)] [yes]\n", false},
		{"    --mode Gray|Color [Gray]\n", false},
		{"", false},
	}
	for _, tc := range tests {
		if got := sensorOn(tc.out, "cover-open"); got != tc.want {
			t.Errorf("sensorOn(%q) = %v, want %v", tc.out, got, tc.want)
		}
	}
}

func TestWriteTestConfig(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "new", "sane.d")
	if err := WriteTestConfig(dir); err != nil {
		t.Fatal(err)
	}
	dll, err := os.ReadFile(filepath.Join(dir, "dll.conf"))
	if err != nil {
		t.Fatal(err)
	}
	var backends []string
	for _, l := range strings.Split(string(dll), "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			backends = append(backends, l)
		}
	}
	if len(backends) != 1 || backends[0] != "test" {
		t.Errorf("dll.conf backends = %q, want [test]", backends)
	}
	conf, err := os.ReadFile(filepath.Join(dir, "test.conf"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"br_x 210.0", "br_y 297.0", "geometry_max 300.0", "mode Gray"} {
		if !bytes.Contains(conf, []byte(want+"\n")) {
			t.Errorf("test.conf lacks %q", want)
		}
	}
}

// grayPage makes a w×h grey PNG page with a black frame and a white inside.
func grayPage(t *testing.T, w, h int) Page {
	t.Helper()
	img := image.NewGray(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			v := uint8(255)
			if x < w/10 || y < h/10 {
				v = 0
			}
			img.Pix[y*img.Stride+x] = v
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return Page{PNG: buf.Bytes(), Width: w, Height: h}
}
