// Package printer drives an 80 mm (or 58 mm) ESC/POS thermal receipt
// printer over a serial line: receipts are laid out as HTML by MuPDF
// (RenderHTML), reduced to black and white (ToMono), sent as GS v 0 raster
// bands (EncodeRaster) and cut; status comes from DLE EOT.
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
	"go.bug.st/serial"

	"govkiosk/drivers/device"
)

// Config says where the printer is and what it can do.
type Config struct {
	Port      string // serial device path (a pty slave in tests/demo)
	Baud      int    // e.g. 115200; 0 means 115200
	WidthDots int    // 576 (80 mm) or 384 (58 mm); 0 means 576
	BandRows  int    // GS v 0 band height, 1..960; 0 means 256
	NoCutter  bool
}

// Errors PrintImage returns; test them with errors.Is.
var (
	ErrPaperOut  = errors.New("printer: paper out")
	ErrCoverOpen = errors.New("printer: cover open")
	ErrOffline   = errors.New("printer: offline")
)

const (
	statusTimeout    = 500 * time.Millisecond // per DLE EOT answer
	afterJobTimeout  = 3 * time.Second        // the printer may still be busy with the raster
	feedLinesAtEnd   = 4
	defaultBaud      = 115200
	defaultWidthDots = 576
	defaultBandRows  = 256
)

var (
	cmdInit = []byte{0x1b, '@'}
	cmdFeed = []byte{0x1b, 'd', feedLinesAtEnd}
	cmdCut  = []byte{0x1d, 'V', 0} // full cut: the citizen takes the receipt
)

// Printer is one open ESC/POS printer. Its methods are safe for concurrent
// use; jobs and status queries are serialised.
type Printer struct {
	mu   sync.Mutex
	port serial.Port
	cfg  Config
	log  *slog.Logger
	now  func() time.Time
}

// Open opens the serial port (8N1) and resets the printer (ESC @).
func Open(cfg Config, log *slog.Logger) (*Printer, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if cfg.Baud == 0 {
		cfg.Baud = defaultBaud
	}
	if cfg.WidthDots == 0 {
		cfg.WidthDots = defaultWidthDots
	}
	if cfg.BandRows == 0 {
		cfg.BandRows = defaultBandRows
	}
	if cfg.WidthDots < 8 || cfg.WidthDots > 65535*8 {
		return nil, fmt.Errorf("printer: width %d dots out of range", cfg.WidthDots)
	}
	if cfg.BandRows < 1 || cfg.BandRows > MaxBandRows {
		return nil, fmt.Errorf("printer: band of %d rows out of range 1..%d", cfg.BandRows, MaxBandRows)
	}
	port, err := serial.Open(cfg.Port, &serial.Mode{
		BaudRate: cfg.Baud,
		DataBits: 8,
		Parity:   serial.NoParity,
		StopBits: serial.OneStopBit,
	})
	if err != nil {
		return nil, fmt.Errorf("printer: open %s: %w", cfg.Port, err)
	}
	p := &Printer{port: port, cfg: cfg, log: log.With("device", "printer"), now: time.Now}
	if err := p.write(context.Background(), cmdInit); err != nil {
		port.Close()
		return nil, fmt.Errorf("printer: init: %w", err)
	}
	return p, nil
}

// Close closes the serial port.
func (p *Printer) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := p.port.Close(); err != nil {
		return fmt.Errorf("printer: close: %w", err)
	}
	return nil
}

// Status asks the printer (DLE EOT 1, 2 and 4) how it is. A printer that
// does not answer within about half a second per query is NoDevice.
func (p *Printer) Status(ctx context.Context) device.Status {
	p.mu.Lock()
	defer p.mu.Unlock()
	st, _ := p.status(ctx, statusTimeout)
	return st
}

// PrintImage prints img (reduced with ToMono to the paper width), feeds and
// cuts. It refuses to start when the printer reports paper out, cover open or
// offline, and reports ErrPaperOut if the paper ran out during the job. The
// job ID is for logs and is returned even when the job failed after it
// started.
func (p *Printer) PrintImage(ctx context.Context, img image.Image) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", fmt.Errorf("printer: %w", err)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	jobID := uuid.NewString()
	log := p.log.With("job", jobID)
	start := p.now()

	st, bits := p.status(ctx, statusTimeout)
	if err := refuse(st, bits); err != nil {
		log.Warn("print refused", "state", st.State, "media", st.Media, "detail", st.Detail)
		return "", err
	}
	mono := ToMono(img, p.cfg.WidthDots)
	raster := EncodeRaster(mono, p.cfg.BandRows)

	if err := p.write(ctx, cmdInit); err != nil {
		return jobID, fmt.Errorf("printer: job %s: %w", jobID, err)
	}
	// Write band by band so a cancelled context stops between bands.
	bandBytes := 8 + (p.cfg.WidthDots+7)/8*p.cfg.BandRows
	for off := 0; off < len(raster); off += bandBytes {
		if err := p.write(ctx, raster[off:min(off+bandBytes, len(raster))]); err != nil {
			return jobID, fmt.Errorf("printer: job %s: %w", jobID, err)
		}
	}
	tail := cmdFeed
	if !p.cfg.NoCutter {
		tail = append(append([]byte(nil), cmdFeed...), cmdCut...)
	}
	if err := p.write(ctx, tail); err != nil {
		return jobID, fmt.Errorf("printer: job %s: %w", jobID, err)
	}

	st, bits = p.status(ctx, afterJobTimeout)
	if err := refuse(st, bits); err != nil {
		log.Warn("print failed", "state", st.State, "media", st.Media, "detail", st.Detail)
		return jobID, fmt.Errorf("printer: job %s: %w", jobID, err)
	}
	log.Info("printed", "rows", mono.Bounds().Dy(), "bytes", len(raster), "took", p.now().Sub(start))
	return jobID, nil
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

// write sends all of b.
func (p *Printer) write(ctx context.Context, b []byte) error {
	for len(b) > 0 {
		if err := ctx.Err(); err != nil {
			return err
		}
		n, err := p.port.Write(b)
		if err != nil {
			return fmt.Errorf("write: %w", err)
		}
		b = b[n:]
	}
	return nil
}

// status queries DLE EOT 1, 2 and 4, each within timeout.
func (p *Printer) status(ctx context.Context, timeout time.Duration) (device.Status, statusBits) {
	var answers []byte
	for _, n := range []byte{1, 2, 4} {
		b, err := p.query(ctx, n, timeout)
		if err != nil {
			p.log.Debug("status query", "n", n, "err", err)
			break
		}
		answers = append(answers, b)
	}
	st, bits := decodeStatus(answers)
	st.At = p.now()
	return st, bits
}

// query sends DLE EOT n and returns the first well-formed status byte.
func (p *Printer) query(ctx context.Context, n byte, timeout time.Duration) (byte, error) {
	// Drop stale bytes (late answers, automatic status) before asking.
	if err := p.port.ResetInputBuffer(); err != nil {
		return 0, fmt.Errorf("flush input: %w", err)
	}
	if err := p.write(ctx, []byte{0x10, 0x04, n}); err != nil {
		return 0, err
	}
	deadline := p.now().Add(timeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	var buf [16]byte
	for {
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		left := deadline.Sub(p.now())
		if left <= 0 {
			return 0, errors.New("no answer")
		}
		if err := p.port.SetReadTimeout(left); err != nil {
			return 0, fmt.Errorf("set read timeout: %w", err)
		}
		k, err := p.port.Read(buf[:])
		if err != nil {
			return 0, fmt.Errorf("read: %w", err)
		}
		for _, b := range buf[:k] {
			if validStatusByte(b) {
				return b, nil
			}
		}
	}
}
