package printer

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.bug.st/serial"
	"golang.org/x/sys/unix"
)

// Transports.
const (
	TransportSerial = "serial" // a tty: USB-serial adapter, RS-232, or a pty in tests
	TransportUSBLP  = "usblp"  // the USB printer class device, /dev/usb/lp*
)

// ErrWriteTimeout is returned when the printer took no data for
// Opts.WriteTimeout (stalled, flow control stuck, or unplugged).
var ErrWriteTimeout = errors.New("printer: write timed out")

// writeChunk bounds one write system call, so that progress is seen often.
const writeChunk = 1024

// link is one open connection to the printer. A link that failed is closed
// and thrown away; the printer opens a new one on its next use.
type link interface {
	// write sends all of p, failing if no byte moved for the write timeout.
	write(ctx context.Context, p []byte) error
	// read reads what is there, waiting at most d; (0, nil) when nothing came.
	read(p []byte, d time.Duration) (int, error)
	close() error
}

// dial opens cfg's device.
func dial(cfg Opts) (link, error) {
	switch cfg.Transport {
	case TransportUSBLP:
		return dialFile(cfg)
	default:
		return dialSerial(cfg)
	}
}

// transportFor infers the transport from the device path.
func transportFor(path string) string {
	if strings.HasPrefix(path, "/dev/usb/lp") {
		return TransportUSBLP
	}
	return TransportSerial
}

// serialLink is a tty through go.bug.st/serial.
type serialLink struct {
	port    serial.Port
	timeout time.Duration
	once    sync.Once
}

func dialSerial(cfg Opts) (link, error) {
	port, err := serial.Open(cfg.Port, &serial.Mode{
		BaudRate: cfg.Baud,
		DataBits: 8,
		Parity:   serial.NoParity,
		StopBits: serial.OneStopBit,
	})
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", cfg.Port, err)
	}
	return &serialLink{port: port, timeout: cfg.WriteTimeout.Duration}, nil
}

func (l *serialLink) write(ctx context.Context, p []byte) error {
	// go.bug.st/serial writes block with no timeout: flushing the output
	// queue (TCOFLUSH) releases a blocked write, and the port is closed.
	return guardedWrite(ctx, l.port.Write, l.shut, p, l.timeout)
}

// shut flushes and closes the port without waiting: go.bug.st/serial's
// Close waits for a Write in progress to return, so closing inline from a
// timed-out write would hang the caller behind the very write it abandons.
func (l *serialLink) shut() {
	l.once.Do(func() {
		go func() {
			l.port.ResetOutputBuffer()
			l.port.Close()
		}()
	})
}

func (l *serialLink) read(p []byte, d time.Duration) (int, error) {
	if err := l.port.SetReadTimeout(max(d, 0)); err != nil {
		return 0, fmt.Errorf("set read timeout: %w", err)
	}
	// The wall clock, not Opts.Now: this measures the kernel's own read
	// timeout, to tell a hung-up tty (zero bytes at once) from silence.
	start := time.Now()
	n, err := l.port.Read(p)
	if err != nil {
		return n, fmt.Errorf("read: %w", err)
	}
	if n == 0 && time.Since(start) < d/2 {
		// go.bug.st/serial reports a hung-up tty as zero bytes at once.
		return 0, errors.New("read: end of file (device gone)")
	}
	return n, nil
}

func (l *serialLink) close() error { l.shut(); return nil }

// fileLink is a device read and written as a plain file through the Go
// runtime's poller, so deadlines work: the usblp driver supports poll.
type fileLink struct {
	f       *os.File
	timeout time.Duration
}

func dialFile(cfg Opts) (link, error) {
	f, err := os.OpenFile(cfg.Port, os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", cfg.Port, err)
	}
	if err := f.SetReadDeadline(time.Time{}); err != nil {
		f.Close()
		return nil, fmt.Errorf("open %s: no timeouts on this device: %w", cfg.Port, err)
	}
	return &fileLink{f: f, timeout: cfg.WriteTimeout.Duration}, nil
}

func (l *fileLink) write(ctx context.Context, p []byte) error {
	return guardedWrite(ctx, func(b []byte) (int, error) {
		// os.File deadlines are wall-clock instants, whatever Opts.Now says.
		if err := l.f.SetWriteDeadline(time.Now().Add(l.timeout)); err != nil {
			return 0, err
		}
		n, err := l.f.Write(b)
		if errors.Is(err, os.ErrDeadlineExceeded) {
			err = ErrWriteTimeout
		}
		return n, err
	}, func() { l.f.Close() }, p, l.timeout)
}

func (l *fileLink) read(p []byte, d time.Duration) (int, error) {
	// os.File deadlines are wall-clock instants, whatever Opts.Now says.
	if err := l.f.SetReadDeadline(time.Now().Add(max(d, time.Millisecond))); err != nil {
		return 0, fmt.Errorf("set read deadline: %w", err)
	}
	n, err := l.f.Read(p)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return n, nil
	}
	if err != nil {
		return n, fmt.Errorf("read: %w", err)
	}
	return n, nil
}

func (l *fileLink) close() error { return l.f.Close() }

// guardedWrite writes p in chunks with write from a goroutine and waits
// for it. When no chunk completes within timeout, or ctx ends, abort is
// called (it must make a blocked write return, e.g. by closing the device)
// and the link is unusable afterwards.
func guardedWrite(ctx context.Context, write func([]byte) (int, error), abort func(), p []byte, timeout time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	var stop atomic.Bool
	progress := make(chan struct{}, 1)
	done := make(chan error, 1)
	go func() {
		b := p
		for len(b) > 0 && !stop.Load() {
			n, err := write(b[:min(len(b), writeChunk)])
			b = b[max(n, 0):]
			if err != nil {
				done <- fmt.Errorf("write: %w", err)
				return
			}
			select {
			case progress <- struct{}{}:
			default:
			}
		}
		done <- nil
	}()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for {
		select {
		case err := <-done:
			if err == nil {
				err = ctx.Err() // stopped between chunks
			}
			return err
		case <-progress:
			timer.Reset(timeout)
		case <-timer.C:
			stop.Store(true)
			abort()
			return ErrWriteTimeout
		case <-ctx.Done():
			stop.Store(true)
			abort()
			return ctx.Err()
		}
	}
}
