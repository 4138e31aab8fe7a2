// Package qrreader reads QR codes: from a 2D imager in USB-CDC serial mode
// (one code per line, ended by CR), and from camera images decoded with
// gozxing. Payloads are personal data: they are never logged, only their
// length.
//
// # Shape
//
// Like every driver, each reader has options with JSON tags for kiosk.json
// and defaults (SerialOpts and DefaultSerialOpts, FramesOpts and
// DefaultFramesOpts; zero fields take the defaults), one constructor
// (OpenSerial, OpenFrames: nil options mean the defaults) and Status(ctx),
// String() and Close() of device.Device. Both are a Reader: codes come out
// on Scans.
//
// # Another reader model
//
// An imager that speaks another protocol (HID keyboard wedge, a vendor
// command set) is a new package with its own Opts and Open, the same
// Status/String/Close behind a `var _ device.Device = ...` guard, and a
// Scans() <-chan Scan channel, so it is a Reader; the kiosk's configuration
// gets one field for its Opts and the place that opens devices one case.
package qrreader

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/cenkalti/backoff/v5"
	"go.bug.st/serial"

	"govkiosk/drivers/device"
)

// Scan is one decoded code. Data is the payload exactly as read.
type Scan struct {
	Data   []byte
	Source string // "serial" | "camera"
	At     time.Time
}

// Scan sources.
const (
	SourceSerial = "serial"
	SourceCamera = "camera"
)

// SerialOpts configures a serial imager. Zero fields take the value of
// DefaultSerialOpts.
type SerialOpts struct {
	Port     string          `json:"port"`              // device path, e.g. /dev/ttyACM0 (a symlink is fine)
	Baud     int             `json:"baud,omitempty"`    // [9600]; USB-CDC ignores it anyway
	MaxLen   int             `json:"maxLen,omitempty"`  // longest payload kept [DefaultMaxLen]
	Debounce device.Duration `json:"debounce,omitzero"` // the same payload within this of its last emission is dropped [2s]

	Now func() time.Time `json:"-"` // clock for scan times, status times and debouncing [time.Now]
}

// DefaultSerialOpts are the defaults OpenSerial fills zero fields from.
// Most imagers leave the factory at 9600 baud in serial mode; USB-CDC ones
// ignore the rate. A code held to the window is read many times a second, so
// the same payload within 2 s counts once.
var DefaultSerialOpts = SerialOpts{Baud: defaultBaud, MaxLen: DefaultMaxLen, Debounce: device.D(2 * time.Second)}

// WithDefaults fills zero fields from DefaultSerialOpts and checks the result;
// the kiosk config validates with it before anything is opened.
func (o SerialOpts) WithDefaults() (SerialOpts, error) {
	d := DefaultSerialOpts
	if o.Baud == 0 {
		o.Baud = d.Baud
	}
	if o.MaxLen == 0 {
		o.MaxLen = d.MaxLen
	}
	if o.Debounce.Duration == 0 {
		o.Debounce = d.Debounce
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	var errs []error
	if o.Port == "" {
		errs = append(errs, errors.New("no port"))
	}
	if o.Baud < 0 {
		errs = append(errs, fmt.Errorf("baud %d", o.Baud))
	}
	if o.MaxLen < 0 {
		errs = append(errs, fmt.Errorf("max length %d", o.MaxLen))
	}
	if o.Debounce.Duration < 0 {
		errs = append(errs, errors.New("negative debounce"))
	}
	if err := errors.Join(errs...); err != nil {
		return o, fmt.Errorf("qrreader: %w", err)
	}
	return o, nil
}

const (
	defaultBaud       = 9600
	scanBuffer        = 8
	debouncePruneSize = 64
)

// Serial is the driver of a serial QR imager. Create it with OpenSerial, run
// it with Run (once), read codes from Scans.
type Serial struct {
	cfg   SerialOpts
	log   *slog.Logger
	now   func() time.Time
	scans chan Scan
	out   *emitter

	// open opens the port; tests wrap it to count attempts.
	open func(path string, mode *serial.Mode) (serial.Port, error)
	// reconnect paces Run's attempts to open the port again.
	reconnect backoff.ExponentialBackOff

	closed    chan struct{} // closed by Close: Run stops
	closeOnce sync.Once

	mu     sync.Mutex
	status device.Status
}

var _ device.Device = (*Serial)(nil)

// OpenSerial checks o (nil: DefaultSerialOpts, which name no port) and
// returns a driver for it. It does not open the port: Run does, and keeps
// reopening it.
func OpenSerial(o *SerialOpts, log *slog.Logger) (*Serial, error) {
	var cfg SerialOpts
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
	r := &Serial{
		cfg:   cfg,
		log:   log.With("device", "qrreader"),
		now:   cfg.Now,
		scans: make(chan Scan, scanBuffer),
		open:  serial.Open,
		// 250 ms doubling to 5 s, without jitter: the port is the kiosk's
		// own, no other client contends for it.
		reconnect: backoff.ExponentialBackOff{
			InitialInterval: 250 * time.Millisecond,
			MaxInterval:     5 * time.Second,
			Multiplier:      2,
		},
		closed: make(chan struct{}),
	}
	r.out = newEmitter(r.scans, r.log, r.now)
	r.status = device.Status{Device: "qrreader", State: device.Offline, Detail: "not started", At: r.now()}
	return r, nil
}

// String names the reader by its port, e.g. "qrreader(/dev/ttyACM0)".
func (r *Serial) String() string { return "qrreader(" + r.cfg.Port + ")" }

// Close stops Run (which then closes the port and returns nil). It does
// not wait for Run to return.
func (r *Serial) Close() error {
	r.closeOnce.Do(func() { close(r.closed) })
	return nil
}

// Scans delivers codes. It is buffered; when it is full, new codes are
// dropped and counted in the log.
func (r *Serial) Scans() <-chan Scan { return r.scans }

// Status reports the reader's state: online while the port is open,
// noDevice while it cannot be opened or read, offline before and after Run.
func (r *Serial) Status(context.Context) device.Status {
	return r.currentStatus()
}

func (r *Serial) currentStatus() device.Status {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.status
}

func (r *Serial) setStatus(st device.State, action device.Action, detail string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.status.State == st && r.status.Detail == detail {
		return
	}
	r.status = device.Status{Device: "qrreader", State: st, Action: action, Detail: detail, At: r.now()}
}

// Run opens the port and reads codes until ctx is done. When the port cannot
// be opened or a read fails, the status becomes noDevice and Run tries again
// after a backoff that doubles up to a cap and starts over after a good
// connection. It returns ctx.Err(), or nil after Close.
func (r *Serial) Run(parent context.Context) error {
	ctx, cancel := context.WithCancel(parent)
	defer cancel()
	go func() {
		select {
		case <-r.closed:
			cancel()
		case <-ctx.Done():
		}
	}()
	retry := r.reconnect
	retry.Reset()
	for {
		connected, err := r.session(ctx)
		if ctx.Err() != nil {
			r.setStatus(device.Offline, device.ActionNone, "stopped")
			return parent.Err()
		}
		if connected {
			retry.Reset()
		}
		wait := retry.NextBackOff()
		prev := r.currentStatus().State
		r.setStatus(device.NoDevice, device.ActionMaintenance, err.Error())
		if prev != device.NoDevice {
			r.log.Warn("qr reader unavailable", "port", r.cfg.Port, "err", err)
		} else {
			r.log.Debug("qr reader still unavailable", "port", r.cfg.Port, "err", err, "retry_in", wait)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			r.setStatus(device.Offline, device.ActionNone, "stopped")
			return parent.Err()
		case <-t.C:
		}
	}
}

// session opens the port once and reads until an error or ctx is done.
// connected tells whether the open succeeded.
func (r *Serial) session(ctx context.Context) (connected bool, err error) {
	port, err := r.open(r.cfg.Port, &serial.Mode{BaudRate: r.cfg.Baud})
	if err != nil {
		return false, fmt.Errorf("open %s: %w", r.cfg.Port, err)
	}
	stop := context.AfterFunc(ctx, func() { port.Close() })
	defer func() {
		stop()
		port.Close()
	}()
	r.setStatus(device.Online, device.ActionNone, "")
	r.log.Info("qr reader connected", "port", r.cfg.Port)

	framer := NewFramer(r.cfg.MaxLen)
	buf := make([]byte, 4096)
	for {
		n, err := port.Read(buf)
		if n > 0 {
			before := framer.Discarded()
			for _, p := range framer.Feed(buf[:n]) {
				r.emit(p)
			}
			if d := framer.Discarded(); d != before {
				r.log.Warn("over-long line discarded", "discarded_total", d, "max_len", r.cfg.MaxLen)
			}
		}
		if err != nil {
			return true, fmt.Errorf("read %s: %w", r.cfg.Port, err)
		}
		if n == 0 && ctx.Err() != nil {
			return true, ctx.Err()
		}
	}
}

// emit debounces p and hands it to Scans without blocking.
func (r *Serial) emit(p []byte) {
	r.out.emit(p, SourceSerial, r.cfg.Debounce.Duration)
}
