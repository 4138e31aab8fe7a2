// Package printer drives an 80 mm or 58 mm ESC/POS thermal receipt printer
// over a serial line or the USB printer class device (/dev/usb/lp*). It
// knows nothing of receipts: it encodes images that are already black and
// white and at most the paper width as GS v 0 raster bands, optional native
// QR codes (GS ( k) and the feed and cut (Encode), prints them as jobs with
// IDs (Print, PrintImage, Reprint, Job), and watches the printer through
// DLE EOT status (Status, Run, LastStatus). Laying receipts out and
// reducing them to dots is the kiosk's receipt package.
//
// # Shape
//
// Like every driver: Opts (JSON tags for kiosk.json, DefaultOpts, zero
// fields take the defaults), Open(o *Opts, log) (*Printer, error) with nil
// Opts meaning DefaultOpts, and Status(ctx), String() and Close() of
// device.Device. The kiosk drives a printer through its own small interface
// over device.PrintPart and device.Status, never through this package's
// types.
//
// # Another printer model
//
// An ESC/POS printer that needs other knobs gets them as Opts fields here.
// A printer that does not speak ESC/POS is a new package beside this one:
// its own Opts and Open, the same Status/String/Close with a
// `var _ device.Device = (*Printer)(nil)` guard, and PrintImage/Reprint
// over device.PrintPart, wrapping device.ErrPaperOut and the other printer
// faults; the kiosk's configuration gets one field for its Opts and the
// place that opens devices one case.
package printer

import (
	"context"
	"errors"
	"fmt"
	"image"
	"log/slog"
	"sync"
	"time"

	"github.com/google/uuid"

	"govkiosk/drivers/device"
)

// Opts says where the printer is and what it can do. Zero fields take
// the value of DefaultOpts (in brackets).
type Opts struct {
	Port      string `json:"port"`                // serial tty, or /dev/usb/lpN for the USB printer class
	Transport string `json:"transport,omitempty"` // TransportSerial or TransportUSBLP [from Port: /dev/usb/lp* is usblp]
	Baud      int    `json:"baud,omitempty"`      // serial only [115200]
	WidthDots int    `json:"widthDots,omitempty"` // 576 (80 mm) or 384 (58 mm) [576]
	BandRows  int    `json:"bandRows,omitempty"`  // GS v 0 band height, 1..960 [256]; some printers need less

	Cut      CutMode `json:"cut,omitempty"`      // [CutFull; CutNone when NoCutter]
	NoCutter bool    `json:"noCutter,omitempty"` // the printer has no cutter: same as Cut = CutNone
	FeedDots int     `json:"feedDots,omitempty"` // paper fed after the receipt, before the cut [120 = 15 mm]

	QRModule int    `json:"qrModule,omitempty"` // native QR module size in dots, 1..16 [6]; smaller if it would not fit
	QRLevel  string `json:"qrLevel,omitempty"`  // native QR error correction: L, M, Q or H [M]

	AutoStatusBack bool `json:"autoStatusBack,omitempty"` // turn on GS a: the printer reports changes unasked (told apart from DLE EOT answers)
	NoProcessID    bool `json:"noProcessId,omitempty"`    // do not use GS ( H (it is probed on connect anyway): a job counts as printed when the status after sending it is fine

	WriteTimeout device.Duration `json:"writeTimeout,omitzero"` // a write that moves no byte for this long fails [5s]
	PollInterval device.Duration `json:"pollInterval,omitzero"` // status polling while idle, in Run [10s]

	Now   func() time.Time `json:"-"` // clock for time stamps, job times and waits for answers [time.Now]
	NewID func() string    `json:"-"` // job IDs [uuid.NewString]
}

// DefaultOpts are the defaults Open and Encode fill zero fields from.
var DefaultOpts = Opts{
	Baud:         115200,
	WidthDots:    Width80mm,
	BandRows:     256,
	Cut:          CutFull,
	FeedDots:     15 * DotsPerMM,
	QRModule:     6,
	QRLevel:      "M",
	WriteTimeout: device.D(5 * time.Second),
	PollInterval: device.D(10 * time.Second),
}

// Errors; test them with errors.Is.
var (
	ErrPaperOut       = device.ErrPaperOut
	ErrCoverOpen      = device.ErrPrinterCoverOpen
	ErrOffline        = device.ErrPrinterOffline
	ErrJobTimeout     = errors.New("printer: job did not finish printing in time")
	ErrUnknownJob     = errors.New("printer: unknown job")
	ErrNotReprintable = errors.New("printer: job printed or being printed: a reprint would be a duplicate")
)

const (
	statusTimeout   = 500 * time.Millisecond // per DLE EOT answer
	afterJobTimeout = 3 * time.Second        // the printer may still be busy with the raster
	jobPoll         = 250 * time.Millisecond // status polling while a job prints
	jobSlack        = 10 * time.Second       // job timeout on top of the printing time at 50 mm/s
	maxJobsKept     = 256
)

// WithDefaults fills zero fields from DefaultOpts and checks the result.
func (c Opts) WithDefaults() (Opts, error) {
	d := DefaultOpts
	if c.Transport == "" {
		c.Transport = transportFor(c.Port)
	}
	if c.Baud == 0 {
		c.Baud = d.Baud
	}
	if c.WidthDots == 0 {
		c.WidthDots = d.WidthDots
	}
	if c.BandRows == 0 {
		c.BandRows = d.BandRows
	}
	if c.Cut == "" {
		c.Cut = d.Cut
	}
	if c.NoCutter {
		c.Cut = CutNone
	}
	if c.FeedDots == 0 {
		c.FeedDots = d.FeedDots
	}
	if c.QRModule == 0 {
		c.QRModule = d.QRModule
	}
	if c.QRLevel == "" {
		c.QRLevel = d.QRLevel
	}
	if c.WriteTimeout.Duration == 0 {
		c.WriteTimeout = d.WriteTimeout
	}
	if c.PollInterval.Duration == 0 {
		c.PollInterval = d.PollInterval
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.NewID == nil {
		c.NewID = uuid.NewString
	}
	switch {
	case c.Transport != TransportSerial && c.Transport != TransportUSBLP:
		return c, fmt.Errorf("printer: unknown transport %q", c.Transport)
	case c.WidthDots < 8 || c.WidthDots > 255*8:
		return c, fmt.Errorf("printer: width %d dots out of range", c.WidthDots)
	case c.BandRows < 1 || c.BandRows > MaxBandRows:
		return c, fmt.Errorf("printer: band of %d rows out of range 1..%d", c.BandRows, MaxBandRows)
	case c.FeedDots < 0 || c.FeedDots > 1000:
		return c, fmt.Errorf("printer: feed of %d dots out of range", c.FeedDots)
	case c.QRModule < 1 || c.QRModule > 16:
		return c, fmt.Errorf("printer: QR module of %d dots out of range 1..16", c.QRModule)
	case c.WriteTimeout.Duration < 0 || c.PollInterval.Duration < 0:
		return c, errors.New("printer: negative timeout")
	}
	if _, ok := qrLevels[c.QRLevel]; !ok {
		return c, fmt.Errorf("printer: QR level %q is not L, M, Q or H", c.QRLevel)
	}
	switch c.Cut {
	case CutFull, CutPartial, CutFeedFull, CutFeedPartial, CutNone:
	default:
		return c, fmt.Errorf("printer: unknown cut mode %q", c.Cut)
	}
	return c, nil
}

// JobPhase is where a job stands.
type JobPhase string

const (
	JobPrinting JobPhase = "printing"
	JobDone     JobPhase = "done"    // printed, fed and cut
	JobFailed   JobPhase = "failed"  // started, not finished: part of it may be on paper
	JobRefused  JobPhase = "refused" // not started: nothing was printed
)

// JobState is what the driver knows of one job. It holds no receipt
// content.
type JobState struct {
	ID          string
	Phase       JobPhase
	Err         string // why it failed or was refused
	ReprintOf   string // the failed job this one reprints
	ReprintedBy string // the latest reprint of this job
	Rows        int
	Bytes       int
	Started     time.Time
	Ended       time.Time
}

// Printer is one ESC/POS printer. Its methods are safe for concurrent use;
// jobs and status queries are serialised. The device is reopened by the
// next job or status query after it went away (unplugged, powered off).
type Printer struct {
	cfg Opts
	log *slog.Logger

	mu      sync.Mutex // held for all I/O
	ln      link       // nil while disconnected
	dirty   bool       // a job failed before it could clear the printer's buffer
	split   bool       // a job failed after sending: cut off what it left before the next
	in      inbound
	statusQ []byte    // DLE EOT answers not yet consumed
	pids    [][4]byte // process ID answers seen in this job
	pidSeq  int
	pidOK   bool // the printer answered the GS ( H probe
	garbage int

	smu   sync.Mutex // guards the fields below; never held during I/O
	last  device.Status
	jobs  map[string]*JobState
	order []string
	busy  bool
}

var _ device.Device = (*Printer)(nil)

// Open checks o (nil: DefaultOpts), opens the device and resets the
// printer (ESC @). An error here is a configuration or wiring problem;
// after Open, a device that goes away is reported as NoDevice and reopened
// when it comes back.
func Open(o *Opts, log *slog.Logger) (*Printer, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	var cfg Opts
	if o != nil {
		cfg = *o
	}
	cfg, err := cfg.WithDefaults()
	if err != nil {
		return nil, err
	}
	p := &Printer{cfg: cfg, log: log.With("device", "printer"), jobs: map[string]*JobState{}}
	p.last = device.Status{Device: "printer", State: device.NoDevice, Detail: "not asked yet", At: cfg.Now()}
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, err := p.conn(context.Background()); err != nil {
		return nil, fmt.Errorf("printer: %w", err)
	}
	return p, nil
}

// String names the printer by its device, e.g. "printer(/dev/ttyUSB0)".
func (p *Printer) String() string { return "printer(" + p.cfg.Port + ")" }

// Close closes the device.
func (p *Printer) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln == nil {
		return nil
	}
	err := p.ln.close()
	p.ln = nil
	if err != nil {
		return fmt.Errorf("printer: close: %w", err)
	}
	return nil
}

// Opts are the options in use, defaults filled in.
func (p *Printer) Opts() Opts { return p.cfg }

// conn returns the open link, opening and initialising the device if needed.
func (p *Printer) conn(ctx context.Context) (link, error) {
	if p.ln != nil {
		return p.ln, nil
	}
	ln, err := dial(p.cfg)
	if err != nil {
		return nil, err
	}
	init := cmdInit
	if p.dirty {
		init = resyncBytes(p.cfg)
	}
	if p.cfg.AutoStatusBack {
		init = append(append([]byte(nil), init...), 0x1d, 'a', asbEnable)
	}
	if err := ln.write(ctx, init); err != nil {
		ln.close()
		return nil, fmt.Errorf("init: %w", err)
	}
	p.ln, p.in, p.statusQ, p.dirty = ln, inbound{}, nil, false
	p.pidOK = !p.cfg.NoProcessID && p.probeProcessID(ctx)
	p.log.Info("printer connected", "port", p.cfg.Port, "transport", p.cfg.Transport, "process_id", p.pidOK)
	return ln, nil
}

// probeProcessID checks that the printer answers GS ( H. One that does not
// would leave every job waiting for an answer and then failing although it
// printed; without it, a job ends with the status after sending.
func (p *Printer) probeProcessID(ctx context.Context) bool {
	probe := [4]byte{'9', '9', '9', '9'}
	p.pids = p.pids[:0]
	if err := p.ln.write(ctx, processIDRequest(probe)); err != nil {
		return false
	}
	deadline := p.cfg.Now().Add(statusTimeout)
	for !p.seen(probe) && p.ln != nil {
		left := deadline.Sub(p.cfg.Now())
		if left <= 0 {
			p.log.Warn("printer does not answer GS ( H: jobs end with a status check")
			return false
		}
		if _, err := p.readEvents(p.ln, left); err != nil {
			return false
		}
	}
	return p.seen(probe)
}

// resyncBytes bring a printer that a job left mid-command back in step: a
// write cut short may leave it inside a GS v 0 band or a GS ( k store,
// waiting for data. Enough zero bytes complete any band or store the driver
// sends (blank dot rows, then NULs, which are ignored); then the printer
// drops what it still holds of the job (DLE DC4 8) and resets (ESC @).
func resyncBytes(cfg Opts) []byte {
	n := max(8+(cfg.WidthDots+7)/8*cfg.BandRows, maxQRBytes+8)
	b := make([]byte, n, n+len(cmdClearBuffer)+len(cmdInit))
	return append(append(b, cmdClearBuffer...), cmdInit...)
}

// drop forgets a link that failed.
func (p *Printer) drop(err error) {
	if p.ln == nil {
		return
	}
	p.ln.close()
	p.ln = nil
	p.log.Warn("printer connection lost", "err", err)
}

// send writes b, dropping the link on failure.
func (p *Printer) send(ctx context.Context, b []byte) error {
	ln, err := p.conn(ctx)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrOffline, err)
	}
	if err := ln.write(ctx, b); err != nil {
		p.drop(err)
		return err
	}
	return nil
}

// readEvents reads once (waiting at most d) and files what came: DLE EOT
// answers into statusQ, process IDs into pids, automatic status into the
// cached status, garbage counted.
func (p *Printer) readEvents(ln link, d time.Duration) (int, error) {
	var buf [256]byte
	n, err := ln.read(buf[:], d)
	if err != nil {
		p.drop(err)
		return n, err
	}
	var evs [16]event
	for _, e := range p.in.push(buf[:n], evs[:0]) {
		switch e.kind {
		case evStatus:
			p.statusQ = append(p.statusQ, e.b)
		case evProcessID:
			p.pids = append(p.pids, e.pid)
		case evASB:
			st := decodeASB(e.asb)
			st.At = p.cfg.Now()
			p.log.Debug("automatic status", "state", st.State, "media", st.Media)
			p.setLast(st)
		case evGarbage:
			p.garbage++
			if p.garbage&(p.garbage-1) == 0 { // 1, 2, 4, 8, ...: no log flood
				p.log.Debug("unexpected bytes from printer", "count", p.garbage, "last", e.b)
			}
		}
	}
	return n, nil
}

// drain files whatever is waiting and forgets stale DLE EOT answers.
func (p *Printer) drain(ln link) error {
	for i := 0; i < 64; i++ {
		n, err := p.readEvents(ln, 0)
		if err != nil {
			return err
		}
		if n == 0 {
			break
		}
	}
	p.statusQ = p.statusQ[:0]
	return nil
}

// Status asks the printer (DLE EOT 1, 2 and 4) how it is. A printer that
// does not answer within about half a second per query, or cannot be
// opened, is NoDevice. While a job is printing it does not wait: it returns
// the last known status, Busy if that was usable.
func (p *Printer) Status(ctx context.Context) device.Status {
	if !p.mu.TryLock() {
		return p.busyStatus()
	}
	defer p.mu.Unlock()
	st, _ := p.status(ctx, statusTimeout)
	return st
}

func (p *Printer) busyStatus() device.Status {
	p.smu.Lock()
	defer p.smu.Unlock()
	st := p.last
	if st.Usable() && p.busy {
		st.State = device.Busy
	}
	return st
}

// LastStatus is the most recent status from any source (a query, a job,
// idle polling, automatic status back) without asking the printer.
func (p *Printer) LastStatus() device.Status {
	p.smu.Lock()
	defer p.smu.Unlock()
	return p.last
}

func (p *Printer) setLast(st device.Status) {
	p.smu.Lock()
	prev := p.last
	p.last = st
	p.smu.Unlock()
	if prev.State == st.State && prev.Media == st.Media && prev.Detail == st.Detail {
		return
	}
	lvl := slog.LevelInfo
	if !st.Usable() || st.Media == device.PaperLow {
		lvl = slog.LevelWarn
	}
	p.log.Log(context.Background(), lvl, "printer status changed", "state", st.State, "media", st.Media, "detail", st.Detail)
}

// status queries DLE EOT 1, 2 and 4, each within timeout.
func (p *Printer) status(ctx context.Context, timeout time.Duration) (device.Status, statusBits) {
	var answers []byte
	ln, err := p.conn(ctx)
	if err == nil {
		err = p.drain(ln)
	}
	if err != nil {
		st, bits := decodeStatus(nil)
		st.Detail, st.At = "cannot reach the printer", p.cfg.Now()
		p.log.Debug("status", "err", err)
		p.setLast(st)
		return st, bits
	}
	for _, n := range []byte{1, 2, 4} {
		b, err := p.query(ctx, n, timeout)
		if err != nil {
			p.log.Debug("status query", "n", n, "err", err)
			break
		}
		answers = append(answers, b)
	}
	st, bits := decodeStatus(answers)
	st.At = p.cfg.Now()
	p.setLast(st)
	return st, bits
}

// query sends DLE EOT n and returns the next DLE EOT answer.
func (p *Printer) query(ctx context.Context, n byte, timeout time.Duration) (byte, error) {
	if err := p.send(ctx, []byte{0x10, 0x04, n}); err != nil {
		return 0, err
	}
	deadline := p.cfg.Now().Add(timeout)
	for len(p.statusQ) == 0 {
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		left := deadline.Sub(p.cfg.Now())
		if d, ok := ctx.Deadline(); ok {
			// A context's deadline runs on the wall clock, like its timer.
			left = min(left, time.Until(d))
		}
		if left <= 0 || p.ln == nil {
			return 0, errors.New("no answer")
		}
		if _, err := p.readEvents(p.ln, left); err != nil {
			return 0, err
		}
	}
	b := p.statusQ[0]
	p.statusQ = p.statusQ[1:]
	return b, nil
}

// Run polls the status every Opts.PollInterval until ctx ends, keeping
// LastStatus fresh and logging changes (paper near end is a warning). Polls
// are skipped while a job prints: the job polls itself.
func (p *Printer) Run(ctx context.Context) error {
	t := time.NewTicker(p.cfg.PollInterval.Duration)
	defer t.Stop()
	return p.Monitor(ctx, t.C)
}

// Monitor is Run with the ticks given: it polls once at once, then at every
// tick, until ctx ends.
func (p *Printer) Monitor(ctx context.Context, ticks <-chan time.Time) error {
	for {
		if p.mu.TryLock() {
			p.status(ctx, statusTimeout)
			p.mu.Unlock()
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-ticks:
		}
	}
}

// Job reports a recent job (the last 256 are kept).
func (p *Printer) Job(id string) (JobState, bool) {
	p.smu.Lock()
	defer p.smu.Unlock()
	j, ok := p.jobs[id]
	if !ok {
		return JobState{}, false
	}
	return *j, true
}

// PrintImage prints img as one job: see Print.
func (p *Printer) PrintImage(ctx context.Context, img image.Image) (string, error) {
	return p.Print(ctx, Part{Image: img})
}

// Print prints parts as one new job, then feeds and cuts. It returns the
// job's ID whenever a job was created, even when it failed: see Job. It
// refuses to start (JobRefused) when the printer reports paper out, cover
// open, an error or offline, or cannot be reached. Once started, it waits
// until the printer has processed the whole job (GS ( H process ID, unless
// Opts.NoProcessID), watching the status meanwhile; paper running out,
// the cover opening, a write failing or timing out mark the job JobFailed,
// and the printer's buffer is cleared so that the rest of the receipt does
// not come out after a refill. The driver never retries a job by itself:
// printing it again is a new job the caller asks for with Reprint.
func (p *Printer) Print(ctx context.Context, parts ...Part) (string, error) {
	return p.print(ctx, "", parts)
}

// Reprint prints parts as a new job that reprints the failed or refused job
// id; it refuses (ErrNotReprintable) when that job printed, is printing or
// already has a reprint that printed or is printing, so a receipt cannot be
// duplicated by accident.
func (p *Printer) Reprint(ctx context.Context, id string, parts ...Part) (string, error) {
	p.smu.Lock()
	j, ok := p.jobs[id]
	var err error
	switch {
	case !ok:
		err = fmt.Errorf("%w %s", ErrUnknownJob, id)
	case j.Phase == JobDone || j.Phase == JobPrinting:
		err = fmt.Errorf("%w (job %s is %s)", ErrNotReprintable, id, j.Phase)
	case j.ReprintedBy != "":
		if r := p.jobs[j.ReprintedBy]; r == nil || r.Phase == JobDone || r.Phase == JobPrinting {
			err = fmt.Errorf("%w (job %s was reprinted as %s)", ErrNotReprintable, id, j.ReprintedBy)
		}
	}
	p.smu.Unlock()
	if err != nil {
		return "", err
	}
	return p.print(ctx, id, parts)
}

func (p *Printer) print(ctx context.Context, reprintOf string, parts []Part) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", fmt.Errorf("printer: %w", err)
	}
	enc, err := Encode(p.cfg, parts...)
	if err != nil {
		return "", err
	}
	p.mu.Lock()
	defer p.mu.Unlock()

	id := p.cfg.NewID()
	log := p.log.With("job", id)
	if reprintOf != "" {
		log = log.With("reprint_of", reprintOf)
	}
	p.startJob(&JobState{ID: id, Phase: JobPrinting, ReprintOf: reprintOf, Rows: enc.Rows, Bytes: len(enc.Data), Started: p.cfg.Now()})

	st, bits := p.status(ctx, statusTimeout)
	if err := refuse(st, bits); err != nil {
		log.Warn("print refused", "state", st.State, "media", st.Media, "detail", st.Detail)
		p.endJob(id, JobRefused, err)
		return id, fmt.Errorf("printer: job %s: %w", id, err)
	}
	if err := p.run(ctx, enc); err != nil {
		log.Warn("print failed", "err", err)
		p.clearBuffer()
		// What a failed job printed is cut off before the next receipt;
		// not after paper out: that went with the end of the old roll.
		p.split = p.cfg.Cut != CutNone && !errors.Is(err, ErrPaperOut)
		p.endJob(id, JobFailed, err)
		return id, fmt.Errorf("printer: job %s: %w", id, err)
	}
	start, _ := p.Job(id)
	log.Info("printed", "rows", enc.Rows, "bytes", len(enc.Data), "took", p.cfg.Now().Sub(start.Started))
	p.endJob(id, JobDone, nil)
	return id, nil
}

// run sends one job and waits until it has been printed.
func (p *Printer) run(ctx context.Context, enc Encoded) error {
	p.pidSeq = (p.pidSeq + 1) % 10000
	var pid [4]byte
	copy(pid[:], fmt.Sprintf("%04d", p.pidSeq))
	p.pids = p.pids[:0]
	data := enc.Data
	if p.split {
		// What the last failed job printed is cut off on its own, never
		// handed out on top of this receipt.
		tail, _ := encodeTail(p.cfg)
		data = append(tail, data...)
	}
	usePID := p.pidOK
	if usePID {
		data = append(data[:len(data):len(data)], processIDRequest(pid)...)
	}
	if err := p.send(ctx, data); err != nil {
		return err
	}
	p.split = false
	if !usePID {
		st, bits := p.status(ctx, afterJobTimeout)
		return refuse(st, bits)
	}
	// 50 mm/s is a slow printer; the slack covers a slow serial line.
	deadline := p.cfg.Now().Add(jobSlack + time.Duration(enc.Rows)*time.Second/(50*DotsPerMM))
	for {
		if p.seen(pid) {
			st, bits := p.status(ctx, afterJobTimeout)
			return refuse(st, bits)
		}
		// A fault reported while printing ends the job; silence does not:
		// a printer busy with a long raster (or a loaded serial line) may
		// answer late, and the job deadline bounds the wait anyway.
		if st, bits := p.status(ctx, statusTimeout); bits.answered {
			if err := refuse(st, bits); err != nil {
				return err
			}
		}
		until := p.cfg.Now().Add(jobPoll)
		for !p.seen(pid) {
			if err := ctx.Err(); err != nil {
				return err
			}
			left := until.Sub(p.cfg.Now())
			if left <= 0 {
				break
			}
			if p.ln == nil {
				return fmt.Errorf("%w: connection lost", ErrOffline)
			}
			if _, err := p.readEvents(p.ln, left); err != nil {
				return fmt.Errorf("%w: %v", ErrOffline, err)
			}
		}
		if !p.seen(pid) && p.cfg.Now().After(deadline) {
			return ErrJobTimeout
		}
	}
}

func (p *Printer) seen(pid [4]byte) bool {
	for _, q := range p.pids {
		if q == pid {
			return true
		}
	}
	return false
}

// clearBuffer asks the printer to drop what it still holds of a failed job
// (DLE DC4 fn 8, a real-time command); without a link it is done on the
// next connection.
func (p *Printer) clearBuffer() {
	if p.ln == nil {
		p.dirty = true
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := p.ln.write(ctx, cmdClearBuffer); err != nil {
		p.drop(err)
		p.dirty = true
	}
}

func (p *Printer) startJob(j *JobState) {
	p.smu.Lock()
	defer p.smu.Unlock()
	p.busy = true
	p.jobs[j.ID] = j
	p.order = append(p.order, j.ID)
	if r := p.jobs[j.ReprintOf]; r != nil {
		r.ReprintedBy = j.ID
	}
	for len(p.order) > maxJobsKept {
		delete(p.jobs, p.order[0])
		p.order = p.order[1:]
	}
}

func (p *Printer) endJob(id string, phase JobPhase, err error) {
	p.smu.Lock()
	defer p.smu.Unlock()
	p.busy = false
	j := p.jobs[id]
	if j == nil {
		return
	}
	j.Phase, j.Ended = phase, p.cfg.Now()
	if err != nil {
		j.Err = err.Error()
	}
}

// refuse maps a status to the error a print job must stop with, if any.
func refuse(st device.Status, b statusBits) error {
	switch {
	case b.answered && b.paperOut():
		return ErrPaperOut
	case b.answered && b.coverOpen():
		return ErrCoverOpen
	case !st.Usable():
		return fmt.Errorf("%w: %s", ErrOffline, st.Detail)
	}
	return nil
}
