// Package imageremu emulates a 2D QR imager in USB-CDC serial mode on a real
// pseudo-terminal: the driver under test opens PortPath() exactly as it would
// open /dev/ttyACM0, and every scanned code arrives as its bytes followed by
// CR, as real imagers send them by default.
package imageremu

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"

	"github.com/creack/pty"
	"golang.org/x/sys/unix"
)

// ErrClosed is returned by writes after Close.
var ErrClosed = errors.New("imageremu: emulator closed")

// Emulator is one emulated imager. It keeps its end of the terminal open, so
// bytes written before the driver opens the port wait in the tty buffer.
type Emulator struct {
	log  *slog.Logger
	path string

	mu     sync.Mutex
	master *os.File // the device side: what we write, the host reads
	tty    *os.File // held open so settings and buffered input survive
	closed bool
}

// Start opens a pseudo-terminal and puts its tty side in raw mode: no echo,
// no CR/LF translation, no line editing, 8-bit clean.
func Start(log *slog.Logger) (*Emulator, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	master, tty, err := pty.Open()
	if err != nil {
		return nil, fmt.Errorf("imageremu: open pty: %w", err)
	}
	if err := makeRaw(int(tty.Fd())); err != nil {
		master.Close()
		tty.Close()
		return nil, fmt.Errorf("imageremu: raw mode on %s: %w", tty.Name(), err)
	}
	e := &Emulator{log: log.With("device", "imageremu", "port", tty.Name()), path: tty.Name(), master: master, tty: tty}
	e.log.Debug("imager emulator started")
	return e, nil
}

// makeRaw is cfmakeraw(3) through termios ioctls.
func makeRaw(fd int) error {
	t, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		return err
	}
	t.Iflag &^= unix.IGNBRK | unix.BRKINT | unix.PARMRK | unix.ISTRIP | unix.INLCR | unix.IGNCR | unix.ICRNL | unix.IXON
	t.Oflag &^= unix.OPOST
	t.Lflag &^= unix.ECHO | unix.ECHONL | unix.ICANON | unix.ISIG | unix.IEXTEN
	t.Cflag &^= unix.CSIZE | unix.PARENB
	t.Cflag |= unix.CS8
	t.Cc[unix.VMIN] = 1
	t.Cc[unix.VTIME] = 0
	return unix.IoctlSetTermios(fd, unix.TCSETS, t)
}

// PortPath is the tty the driver opens, e.g. /dev/pts/7.
func (e *Emulator) PortPath() string { return e.path }

// Scan sends one code the way the imager does: its bytes, then CR.
func (e *Emulator) Scan(data []byte) error {
	msg := make([]byte, 0, len(data)+1)
	msg = append(append(msg, data...), '\r')
	return e.write(msg)
}

// WriteRaw sends bytes as they are: fragments, noise, over-long lines, other
// terminators.
func (e *Emulator) WriteRaw(b []byte) error { return e.write(b) }

func (e *Emulator) write(b []byte) error {
	e.mu.Lock()
	closed := e.closed
	e.mu.Unlock()
	if closed {
		return ErrClosed
	}
	// Not under mu: a write blocked on a full tty buffer must not block
	// Close, which then makes the write fail.
	if _, err := e.master.Write(b); err != nil {
		return fmt.Errorf("imageremu: write: %w", err)
	}
	return nil
}

// Close unplugs the imager: the tty disappears and a driver reading it gets
// an error.
func (e *Emulator) Close() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return nil
	}
	e.closed = true
	err := errors.Join(e.master.Close(), e.tty.Close())
	e.log.Debug("imager emulator closed")
	if err != nil {
		return fmt.Errorf("imageremu: close: %w", err)
	}
	return nil
}
