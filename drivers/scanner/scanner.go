// Package scanner drives the kiosk's sheet-fed document scanner through SANE,
// by running Debian's scanimage (sane-utils). In tests and the demo the same
// code talks to SANE's own "test" backend, configured by WriteTestConfig.
// It only scans: ScanBatch returns the pages as device.Page (PNG, size,
// DPI); putting them into a PDF and drawing thumbnails is the kiosk's
// document package.
//
// Scans are personal data: pages are scanned into a private (0700)
// directory under Opts.TempDir, read into memory, and the pages are
// overwritten and the directory removed before ScanBatch returns, whatever
// happened (device.RemoveScrubbed).
//
// # Shape
//
// Like every driver: Opts (JSON tags for kiosk.json, DefaultOpts, zero
// fields take the defaults), Open(o *Opts, log) (*Scanner, error) with nil
// Opts meaning DefaultOpts, and Status(ctx), String() and Close() of
// device.Device. Faults wrap device.ErrScannerJammed, ErrScannerNoPaper,
// ErrScannerCoverOpen and ErrNoDevice, so the kiosk tests them without
// importing this package.
//
// # Another scanner model
//
// A scanner SANE drives needs no code: its device name, source and mode go
// in Opts. One SANE cannot drive (a vendor SDK, eSCL over the network) is a
// new package beside this one with its own Opts and Open, the same
// Status/String/Close behind a `var _ device.Device = (*Scanner)(nil)`
// guard, and ScanBatch(ctx, maxPages) ([]device.Page, error) wrapping the
// device sentinels; the kiosk's configuration gets one field for its Opts
// and the place that opens devices one case.
package scanner

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"image/png"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"govkiosk/drivers/device"
)

// Opts says which SANE device to use and how to scan. Zero fields take the
// value of DefaultOpts.
type Opts struct {
	Device    string          `json:"device"`              // SANE device name, e.g. "test:0" or "test"
	ConfigDir string          `json:"configDir,omitempty"` // SANE_CONFIG_DIR for scanimage; "" = system default
	Source    string          `json:"source,omitempty"`    // ["Automatic Document Feeder"]; duplex: the backend's name for it, e.g. "ADF Duplex" (pages come front, back, front, back)
	DPI       int             `json:"dpi,omitempty"`       // 50..1200 [150]
	Mode      string          `json:"mode,omitempty"`      // ["Gray"]
	ScanImage string          `json:"scanImage,omitempty"` // path of scanimage ["scanimage"]
	ExtraArgs []string        `json:"extraArgs,omitempty"` // extra backend options (tests inject faults with these)
	TempDir   string          `json:"tempDir,omitempty"`   // parent of the per-batch private dir, made 0700 if missing; "" = os.TempDir() (the kiosk sets its private dir)
	Idle      device.Duration `json:"idle,omitzero"`       // scanimage silent this long is stopped [45s]

	Now func() time.Time `json:"-"` // clock for status times and batch durations [time.Now]
}

// Defaults.
const (
	DefaultSource = "Automatic Document Feeder"
	DefaultDPI    = 150
	DefaultMode   = "Gray"
)

// DefaultOpts are the defaults Open fills zero fields from.
var DefaultOpts = Opts{
	Source:    DefaultSource,
	DPI:       DefaultDPI,
	Mode:      DefaultMode,
	ScanImage: "scanimage",
	Idle:      device.D(45 * time.Second),
}

// WithDefaults fills zero fields from DefaultOpts and checks the result.
func (o Opts) WithDefaults() (Opts, error) {
	d := DefaultOpts
	if o.Source == "" {
		o.Source = d.Source
	}
	if o.DPI == 0 {
		o.DPI = d.DPI
	}
	if o.Mode == "" {
		o.Mode = d.Mode
	}
	if o.ScanImage == "" {
		o.ScanImage = d.ScanImage
	}
	if o.Idle.Duration == 0 {
		o.Idle = d.Idle
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	o.ExtraArgs = slices.Clone(o.ExtraArgs)
	var errs []error
	if o.Device == "" {
		errs = append(errs, errors.New("no SANE device name"))
	}
	if o.DPI < 50 || o.DPI > 1200 {
		errs = append(errs, fmt.Errorf("dpi %d out of range 50..1200", o.DPI))
	}
	if o.Idle.Duration < 0 {
		errs = append(errs, errors.New("negative idle timeout"))
	}
	if err := errors.Join(errs...); err != nil {
		return o, fmt.Errorf("scanner: %w", err)
	}
	return o, nil
}

// Sentinel errors; ScanBatch wraps them, so test with errors.Is.
var (
	ErrJammed    = device.ErrScannerJammed
	ErrNoPaper   = device.ErrScannerNoPaper
	ErrCoverOpen = device.ErrScannerCoverOpen
	ErrNoDevice  = device.ErrNoDevice
	// ErrSourceNotOffered: the device has no source of Opts.Source (a
	// duplex source on a simplex scanner).
	ErrSourceNotOffered = errors.New("scanner: source not offered by the device")
)

// Page is one scanned page as a PNG image (grey for Mode "Gray").
type Page = device.Page

// Limits that keep a broken or hostile backend from exhausting memory.
const (
	maxPagesPerBatch = 100
	maxPageBytes     = 64 << 20
	maxOutputBytes   = 64 << 10
	// cancelGrace is how long scanimage gets after SIGINT (it cancels the
	// scan and ejects the sheet) before it is killed.
	cancelGrace = 3 * time.Second
)

// Scanner is one SANE scanner. It is safe for concurrent use; scans and
// status probes are serialised because SANE devices open exclusively.
type Scanner struct {
	cfg  Opts
	log  *slog.Logger
	now  func() time.Time
	idle time.Duration // watchdog: scanimage silent this long is stopped (it prints progress with -p, so this spans a sheet feed, not a batch)

	mu sync.Mutex // held while scanimage runs

	faultMu sync.Mutex
	fault   error // last ErrJammed/ErrCoverOpen, cleared by a good batch
}

var _ device.Device = (*Scanner)(nil)

// Open checks o (nil: DefaultOpts) and returns a Scanner. It does not touch
// the device: a scanner that is missing or off is reported by Status and
// ScanBatch, not here. log may be nil.
func Open(o *Opts, log *slog.Logger) (*Scanner, error) {
	var cfg Opts
	if o != nil {
		cfg = *o
	}
	cfg, err := cfg.WithDefaults()
	if err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Scanner{cfg: cfg, log: log.With("device", "scanner"), now: cfg.Now, idle: cfg.Idle.Duration}, nil
}

// String names the scanner by its SANE device, e.g. "scanner(test:0)".
func (s *Scanner) String() string { return "scanner(" + s.cfg.Device + ")" }

// Close waits for a scan or status probe in progress to end; scanimage
// holds the device only while it runs, so nothing else stays open.
func (s *Scanner) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return nil
}

// Status probes the device (scanimage -A opens it and lists its options)
// and reports it in the shared status model. While a batch is being scanned
// it reports Busy without touching the device. A jam or open cover seen by
// the last batch stays reported (Action clear) until a batch succeeds.
func (s *Scanner) Status(ctx context.Context) device.Status {
	st := device.Status{Device: "scanner", At: s.now()}
	if !s.mu.TryLock() {
		st.State = device.Busy
		st.Media = device.ScannerReady
		st.Detail = "device in use"
		return st
	}
	defer s.mu.Unlock()

	out, res := s.run(ctx, s.deviceArgs("-A"))
	if res.err != nil {
		err := res.classify(0)
		st.Detail = res.detail()
		switch {
		case errors.Is(err, ErrNoDevice):
			st.State = device.NoDevice
			st.Action = device.ActionMaintenance
		case ctx.Err() != nil:
			st.State = device.Offline
			st.Detail = "status probe cancelled"
		default:
			st.State = device.HardwareError
			st.Action = device.ActionReset
		}
		s.log.Warn("scanner status probe failed", "state", st.State, "detail", st.Detail)
		return st
	}
	if offered := offeredSources(out); offered != nil && !slices.Contains(offered, s.cfg.Source) {
		st.State, st.Action = device.HardwareError, device.ActionMaintenance
		st.Detail = fmt.Sprintf("source %q not offered (%s)", s.cfg.Source, strings.Join(offered, "|"))
		s.log.Warn("scanner source not offered", "source", s.cfg.Source, "offered", offered)
		return st
	}
	st.State = device.Online
	st.Media = device.ScannerReady
	if sensorOn(out, "cover-open") {
		st.Media, st.Action, st.Detail = device.ScannerCoverOpen, device.ActionClear, "cover open (sensor)"
		return st
	}
	s.faultMu.Lock()
	fault := s.fault
	s.faultMu.Unlock()
	switch {
	case errors.Is(fault, ErrJammed):
		st.Media, st.Action, st.Detail = device.ScannerJammed, device.ActionClear, "last batch jammed"
	case errors.Is(fault, ErrCoverOpen):
		st.Media, st.Action, st.Detail = device.ScannerCoverOpen, device.ActionClear, "last batch: cover open"
	}
	return st
}

// ScanBatch scans one ADF batch of at most maxPages pages. A batch that ends
// early because the feeder ran out, with at least one page, is a success.
// On ErrJammed or ErrCoverOpen the pages completed before the fault are
// returned with the error. An empty feeder gives ErrNoPaper; a missing
// device ErrNoDevice; a cancelled ctx an error wrapping ctx.Err().
func (s *Scanner) ScanBatch(ctx context.Context, maxPages int) (pages []Page, err error) {
	if maxPages < 1 || maxPages > maxPagesPerBatch {
		return nil, fmt.Errorf("scanner: maxPages %d out of range 1..%d", maxPages, maxPagesPerBatch)
	}
	s.mu.Lock()
	defer s.mu.Unlock()

	if s.cfg.TempDir != "" {
		if err := os.MkdirAll(s.cfg.TempDir, 0o700); err != nil {
			return nil, fmt.Errorf("scanner: private scan dir: %w", err)
		}
	}
	dir, err := os.MkdirTemp(s.cfg.TempDir, "scan-*")
	if err != nil {
		return nil, fmt.Errorf("scanner: private scan dir: %w", err)
	}
	defer func() {
		if rerr := device.RemoveScrubbed(dir); rerr != nil {
			s.log.Error("scanner: removing scan dir failed", "err", rerr)
			if err == nil {
				pages, err = nil, fmt.Errorf("scanner: removing scan dir: %w", rerr)
			}
		}
	}()
	if err := os.Chmod(dir, 0o700); err != nil {
		return nil, fmt.Errorf("scanner: private scan dir: %w", err)
	}

	args := s.deviceArgs(
		"--format=png",
		"--progress",
		"--batch="+filepath.Join(dir, "p%04d.png"),
		"--batch-count="+strconv.Itoa(maxPages),
		"--source", s.cfg.Source,
		"--mode", s.cfg.Mode,
		"--resolution", strconv.Itoa(s.cfg.DPI),
	)
	start := s.now()
	_, res := s.run(ctx, args)
	if ctx.Err() != nil {
		s.log.Info("scan cancelled")
		return nil, fmt.Errorf("scanner: scan cancelled: %w", ctx.Err())
	}

	pages, rerr := readPages(dir)
	if rerr != nil {
		return nil, rerr
	}
	for i := range pages {
		pages[i].DPI = s.cfg.DPI
	}
	serr := res.classify(len(pages))
	s.log.Info("scan batch done", "pages", len(pages), "ms", s.now().Sub(start).Milliseconds(),
		"status", res.code, "err", serr)
	switch {
	case serr == nil:
		s.setFault(nil)
		if len(pages) == 0 {
			return nil, fmt.Errorf("scanner: no pages scanned: %w", ErrNoPaper)
		}
		return pages, nil
	case errors.Is(serr, ErrJammed), errors.Is(serr, ErrCoverOpen):
		s.setFault(serr)
		return pages, serr
	default:
		return nil, serr
	}
}

// ClearFault forgets the last batch's fault (a jam, the cover open) once a
// technician says the feeder is cleared; the next Status reports the
// device as it is.
func (s *Scanner) ClearFault() { s.setFault(nil) }

func (s *Scanner) setFault(err error) {
	s.faultMu.Lock()
	s.fault = err
	s.faultMu.Unlock()
}

// deviceArgs puts the device first (scanimage needs it before backend
// options) and the extra backend options last.
func (s *Scanner) deviceArgs(args ...string) []string {
	out := []string{"-d", s.cfg.Device}
	out = append(out, args...)
	return append(out, s.cfg.ExtraArgs...)
}

// result is the outcome of one scanimage run.
type result struct {
	err     error  // from exec
	code    int    // exit status, -1 when killed
	stderr  string // its tail
	stalled bool   // killed by the watchdog
}

// errStalled is the cause given to a run the watchdog stops.
var errStalled = errors.New("scanimage stalled")

// run runs scanimage with ctx. On cancel scanimage gets SIGINT (it then
// cancels the scan and the feeder ejects the sheet) and is killed after
// cancelGrace. A watchdog stops it when it writes nothing for s.idle: SANE
// backends can hang (the test backend sometimes deadlocks in scanimage's
// SIGPIPE handler after an injected error), and a kiosk must not freeze.
func (s *Scanner) run(ctx context.Context, args []string) (stdout string, _ result) {
	runCtx, stop := context.WithCancelCause(ctx)
	defer stop(nil)
	watchdog := time.AfterFunc(s.idle, func() { stop(errStalled) })
	defer watchdog.Stop()
	alive := func() { watchdog.Reset(s.idle) }

	cmd := exec.CommandContext(runCtx, s.cfg.ScanImage, args...)
	cmd.Env = os.Environ()
	if s.cfg.ConfigDir != "" {
		cmd.Env = append(cmd.Env, "SANE_CONFIG_DIR="+s.cfg.ConfigDir)
	}
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = cancelGrace
	outBuf := &tail{max: maxOutputBytes, alive: alive}
	errBuf := &tail{max: maxOutputBytes, alive: alive}
	cmd.Stdout, cmd.Stderr = outBuf, errBuf
	err := cmd.Run()
	res := result{err: err, code: -1, stderr: errBuf.String()}
	if cmd.ProcessState != nil {
		res.code = cmd.ProcessState.ExitCode()
	}
	if err != nil && ctx.Err() == nil && errors.Is(context.Cause(runCtx), errStalled) {
		res.stalled = true
	}
	return outBuf.String(), res
}

// scanimage exits with the SANE_Status of the failing call.
const (
	saneStatusJammed    = 6
	saneStatusNoDocs    = 7
	saneStatusCoverOpen = 8
)

// classify maps a scanimage outcome to an error; pages is how many complete
// pages it left behind. The message counts as much as the exit status:
// scanimage exits 0 when a signal (SIGPIPE from a backend's reader thread)
// aborts it after an error.
func (r result) classify(pages int) error {
	if errors.Is(r.err, exec.ErrNotFound) || errors.Is(r.err, os.ErrNotExist) {
		return fmt.Errorf("scanner: scanimage not available: %w", ErrNoDevice)
	}
	msg := r.stderr
	detail := r.detail()
	switch {
	case r.code == saneStatusJammed || strings.Contains(msg, "Document feeder jammed"):
		return fmt.Errorf("%w (%s)", ErrJammed, detail)
	case r.code == saneStatusCoverOpen || strings.Contains(msg, "Scanner cover is open"):
		return fmt.Errorf("%w (%s)", ErrCoverOpen, detail)
	case r.code == saneStatusNoDocs || strings.Contains(msg, "Document feeder out of documents"):
		if pages > 0 {
			return nil // the batch simply ended
		}
		return fmt.Errorf("%w (%s)", ErrNoPaper, detail)
	case strings.Contains(msg, "setting of option --source failed"):
		return fmt.Errorf("%w (%s)", ErrSourceNotOffered, detail)
	case strings.Contains(msg, "open of device") || strings.Contains(msg, "no SANE devices found"):
		return fmt.Errorf("%w (%s)", ErrNoDevice, detail)
	case r.stalled:
		return fmt.Errorf("scanner: scanimage stalled and was stopped (%s)", detail)
	case r.err != nil:
		return fmt.Errorf("scanner: scanimage failed, status %d (%s)", r.code, detail)
	case saneFailure.MatchString(msg):
		return fmt.Errorf("scanner: scanimage reported an error (%s)", detail)
	}
	return nil
}

// saneFailure matches scanimage's report of a failed SANE call.
var saneFailure = regexp.MustCompile(`(?m)scanimage: sane_(start|read|open|control_option|get_parameters): `)

// noise are scanimage lines about its own signal handling.
var noise = regexp.MustCompile(`trying to stop scanner|received signal|aborting`)

// detail is the last "scanimage: ..." line, shortened, for logs and status.
func (r result) detail() string {
	var last string
	// Progress lines end in \r, the rest in \n.
	for _, l := range strings.FieldsFunc(r.stderr, func(c rune) bool { return c == '\n' || c == '\r' }) {
		if l = strings.TrimSpace(l); strings.HasPrefix(l, "scanimage:") && !noise.MatchString(l) {
			last = l
		}
	}
	if last == "" {
		if r.err != nil {
			last = r.err.Error()
		} else {
			last = "ok"
		}
	}
	const max = 120
	if len(last) > max {
		last = last[:max] + "…"
	}
	return last
}

var pageName = regexp.MustCompile(`^p\d{4}\.png$`)

// readPages reads the complete pages (not *.part) from dir in order.
func readPages(dir string) ([]Page, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("scanner: reading scan dir: %w", err)
	}
	var names []string
	for _, e := range ents {
		if e.Type().IsRegular() && pageName.MatchString(e.Name()) {
			names = append(names, e.Name())
		}
	}
	slices.Sort(names)
	pages := make([]Page, 0, len(names))
	for _, n := range names {
		p, err := readPage(filepath.Join(dir, n))
		if err != nil {
			return nil, fmt.Errorf("scanner: page %d: %w", len(pages)+1, err)
		}
		pages = append(pages, p)
	}
	return pages, nil
}

func readPage(path string) (Page, error) {
	f, err := os.Open(path)
	if err != nil {
		return Page{}, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxPageBytes+1))
	if err != nil {
		return Page{}, err
	}
	if len(b) > maxPageBytes {
		return Page{}, fmt.Errorf("page image larger than %d bytes", maxPageBytes)
	}
	c, err := png.DecodeConfig(bytes.NewReader(b))
	if err != nil {
		return Page{}, fmt.Errorf("page image: %w", err)
	}
	return Page{PNG: b, Width: c.Width, Height: c.Height}, nil
}

// offeredSources lists the values of the device's --source option in
// scanimage -A output ("--source Flatbed|ADF Front|ADF Duplex [Flatbed]"),
// nil when it has none.
func offeredSources(out string) []string {
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		l := strings.TrimSpace(sc.Text())
		v, ok := strings.CutPrefix(l, "--source ")
		if !ok {
			continue
		}
		if i := strings.LastIndex(v, " ["); i >= 0 {
			v = v[:i]
		}
		return strings.Split(v, "|")
	}
	return nil
}

// sensorOn reports whether scanimage -A output shows the bool option name
// set, e.g. "--cover-open[=(yes|no)] [yes] [hardware]" (read-only sensor
// options of backends such as fujitsu and canon_dr).
func sensorOn(out, name string) bool {
	sc := bufio.NewScanner(strings.NewReader(out))
	prefix := "--" + name + "["
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) >= 2 && strings.HasPrefix(f[0], prefix) {
			return f[1] == "[yes]"
		}
	}
	return false
}

// tail is a writer that keeps the last max bytes written (scanimage's
// verdict comes last, after any progress lines) and reports activity.
type tail struct {
	max   int
	alive func()
	mu    sync.Mutex
	b     []byte
}

func (t *tail) Write(p []byte) (int, error) {
	t.alive()
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if len(t.b) > 2*t.max {
		t.b = append(t.b[:0], t.b[len(t.b)-t.max:]...)
	}
	return len(p), nil
}

func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.b) > t.max {
		return string(t.b[len(t.b)-t.max:])
	}
	return string(t.b)
}
