// Package qrreader reads QR codes: from a 2D imager in USB-CDC serial mode
// (one code per line, ended by CR), and from camera images decoded with
// gozxing. Payloads are personal data: they are never logged, only their
// length.
package qrreader

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

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

// SerialConfig configures a serial imager.
type SerialConfig struct {
	Port     string        // device path, e.g. /dev/ttyACM0 (a symlink is fine)
	Baud     int           // 0 means 115200; USB-CDC ignores it anyway
	MaxLen   int           // longest payload kept; 0 means DefaultMaxLen
	Debounce time.Duration // the same payload within this of its last emission is dropped
}

const (
	defaultBaud       = 115200
	scanBuffer        = 8
	defaultMinBackoff = 250 * time.Millisecond
	defaultMaxBackoff = 5 * time.Second
	debouncePruneSize = 64
)

// Serial is the driver of a serial QR imager. Create it with NewSerial, run
// it with Run (once), read codes from Scans.
type Serial struct {
	cfg   SerialConfig
	log   *slog.Logger
	now   func() time.Time
	scans chan Scan
	out   *emitter

	// open opens the port; tests wrap it to count attempts.
	open       func(path string, mode *serial.Mode) (serial.Port, error)
	minBackoff time.Duration
	maxBackoff time.Duration

	mu     sync.Mutex
	status device.Status
}

// NewSerial returns a driver for cfg. now is the clock used for scan times,
// status times and debouncing; nil means time.Now.
func NewSerial(cfg SerialConfig, log *slog.Logger, now func() time.Time) *Serial {
	if cfg.Baud <= 0 {
		cfg.Baud = defaultBaud
	}
	if cfg.MaxLen <= 0 {
		cfg.MaxLen = DefaultMaxLen
	}
	if now == nil {
		now = time.Now
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	r := &Serial{
		cfg:        cfg,
		log:        log.With("device", "qrreader"),
		now:        now,
		scans:      make(chan Scan, scanBuffer),
		open:       serial.Open,
		minBackoff: defaultMinBackoff,
		maxBackoff: defaultMaxBackoff,
	}
	r.out = newEmitter(r.scans, r.log, now)
	r.status = device.Status{Device: "qrreader", State: device.Offline, Detail: "not started", At: now()}
	return r
}

// Scans delivers codes. It is buffered; when it is full, new codes are
// dropped and counted in the log.
func (r *Serial) Scans() <-chan Scan { return r.scans }

// Status reports the reader's state: online while the port is open,
// noDevice while it cannot be opened or read, offline before and after Run.
func (r *Serial) Status() device.Status {
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
// connection. It returns ctx.Err().
func (r *Serial) Run(ctx context.Context) error {
	backoff := r.minBackoff
	for {
		connected, err := r.session(ctx)
		if ctx.Err() != nil {
			r.setStatus(device.Offline, device.ActionNone, "stopped")
			return ctx.Err()
		}
		if connected {
			backoff = r.minBackoff
		}
		prev := r.Status().State
		r.setStatus(device.NoDevice, device.ActionMaintenance, err.Error())
		if prev != device.NoDevice {
			r.log.Warn("qr reader unavailable", "port", r.cfg.Port, "err", err)
		} else {
			r.log.Debug("qr reader still unavailable", "port", r.cfg.Port, "err", err, "retry_in", backoff)
		}
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			r.setStatus(device.Offline, device.ActionNone, "stopped")
			return ctx.Err()
		case <-t.C:
		}
		backoff = min(2*backoff, r.maxBackoff)
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
	r.mu.Lock()
	debounce := r.cfg.Debounce
	r.mu.Unlock()
	r.out.emit(p, SourceSerial, debounce)
}
