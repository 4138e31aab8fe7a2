// Package escposemu emulates an 80 mm ESC/POS receipt printer on a real
// pseudo-terminal: it answers DLE EOT status queries from the state the test
// sets, turns raster (GS v 0), QR (GS ( k) and crude text output into paper,
// and writes each cut receipt as a PNG file.
package escposemu

import (
	"context"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"log/slog"
	"os"
	"path/filepath"
	"sync"

	"github.com/creack/pty"
	"golang.org/x/sys/unix"
)

// State is what the emulated printer's sensors say.
type State struct{ PaperLow, PaperOut, CoverOpen, Offline bool }

// Emulator is one emulated printer behind a pty.
type Emulator struct {
	ptmx, tty *os.File
	outDir    string
	log       *slog.Logger

	mu      sync.Mutex
	m       *machine
	jobs    []string
	changed chan struct{} // closed and replaced whenever jobs grows
	done    chan struct{}
	closeMu sync.Once
}

// Start opens a pty in raw mode and serves the printer protocol on it until
// Close. Receipts are written to outDir as job-0001.png, job-0002.png, ...
func Start(outDir string, log *slog.Logger) (*Emulator, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(outDir, 0o750); err != nil {
		return nil, fmt.Errorf("escposemu: %w", err)
	}
	master, tty, err := pty.Open()
	if err != nil {
		return nil, fmt.Errorf("escposemu: open pty: %w", err)
	}
	if err := makeRaw(tty); err != nil {
		master.Close()
		tty.Close()
		return nil, fmt.Errorf("escposemu: raw mode: %w", err)
	}
	// pty.Open leaves the master blocking, so Close could not interrupt a
	// Read. Re-open it non-blocking through the runtime poller.
	ptmx, err := pollable(master)
	if err != nil {
		tty.Close()
		return nil, fmt.Errorf("escposemu: %w", err)
	}
	e := &Emulator{
		ptmx: ptmx, tty: tty, outDir: outDir,
		log:     log.With("device", "printer-emulator"),
		m:       newMachine(),
		changed: make(chan struct{}),
		done:    make(chan struct{}),
	}
	go e.serve()
	return e, nil
}

func makeRaw(f *os.File) error {
	fd := int(f.Fd())
	t, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		return err
	}
	t.Iflag &^= unix.IGNBRK | unix.BRKINT | unix.PARMRK | unix.ISTRIP | unix.INLCR | unix.IGNCR | unix.ICRNL | unix.IXON | unix.IXOFF
	t.Oflag &^= unix.OPOST
	t.Lflag &^= unix.ECHO | unix.ECHONL | unix.ICANON | unix.ISIG | unix.IEXTEN
	t.Cflag &^= unix.CSIZE | unix.PARENB
	t.Cflag |= unix.CS8
	t.Cc[unix.VMIN] = 1
	t.Cc[unix.VTIME] = 0
	return unix.IoctlSetTermios(fd, unix.TCSETS, t)
}

func pollable(f *os.File) (*os.File, error) {
	fd, err := unix.Dup(int(f.Fd()))
	f.Close()
	if err != nil {
		return nil, fmt.Errorf("dup pty master: %w", err)
	}
	unix.CloseOnExec(fd)
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("pty master non-blocking: %w", err)
	}
	return os.NewFile(uintptr(fd), "/dev/ptmx"), nil
}

// PortPath is the tty the driver opens.
func (e *Emulator) PortPath() string { return e.tty.Name() }

// SetState sets the sensors. While paper is out, the cover open or the
// printer offline, printing is dropped (paper already printed stays until
// the next cut); clearing PaperOut is loading a new roll.
func (e *Emulator) SetState(s State) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.m.st = s
}

// RunOutAfterRows makes the paper end after n more dot rows (0: never).
func (e *Emulator) RunOutAfterRows(n int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.m.runOut = max(n, 0)
}

// Jobs lists the PNG files written so far, oldest first.
func (e *Emulator) Jobs() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]string(nil), e.jobs...)
}

// WaitJobs waits until at least n jobs have been written.
func (e *Emulator) WaitJobs(ctx context.Context, n int) ([]string, error) {
	for {
		e.mu.Lock()
		jobs, ch := append([]string(nil), e.jobs...), e.changed
		e.mu.Unlock()
		if len(jobs) >= n {
			return jobs, nil
		}
		select {
		case <-ch:
		case <-e.done:
			return jobs, errors.New("escposemu: closed")
		case <-ctx.Done():
			return jobs, fmt.Errorf("escposemu: %d of %d jobs: %w", len(jobs), n, ctx.Err())
		}
	}
}

// Close stops the emulator and closes the pty. Paper printed but not cut
// is written out as a last job first.
func (e *Emulator) Close() error {
	var err error
	e.closeMu.Do(func() {
		err = errors.Join(e.ptmx.Close(), e.tty.Close())
		<-e.done
		e.mu.Lock()
		if len(e.m.rows) > 0 && e.m.canPrint() {
			e.m.cut()
		}
		e.mu.Unlock()
		e.writeCuts()
	})
	return err
}

func (e *Emulator) serve() {
	defer close(e.done)
	buf := make([]byte, 64<<10)
	for {
		n, err := e.ptmx.Read(buf)
		if n > 0 {
			e.mu.Lock()
			reply := e.m.feed(buf[:n])
			notes := e.m.notes
			e.m.notes = nil
			e.mu.Unlock()
			for _, s := range notes {
				e.log.Debug("escpos", "note", s)
			}
			// Cuts go to disk before the answers that follow them, so a
			// driver that saw its status answer finds its job written.
			e.writeCuts()
			if len(reply) > 0 {
				if _, werr := e.ptmx.Write(reply); werr != nil {
					e.log.Warn("write reply", "err", werr)
				}
			}
		}
		if err != nil {
			// EIO: no slave open; cannot happen while we hold the tty.
			if !errors.Is(err, os.ErrClosed) {
				e.log.Warn("pty read", "err", err)
			}
			return
		}
	}
}

// writeCuts saves finished jobs as PNG files.
func (e *Emulator) writeCuts() {
	e.mu.Lock()
	cuts := e.m.cuts
	e.m.cuts = nil
	next := len(e.jobs) + 1
	e.mu.Unlock()
	for _, img := range cuts {
		path := filepath.Join(e.outDir, fmt.Sprintf("job-%04d.png", next))
		next++
		if err := writePNG(path, img); err != nil {
			e.log.Error("write job", "err", err)
			continue
		}
		e.log.Info("job printed", "file", filepath.Base(path), "rows", img.Bounds().Dy())
		e.mu.Lock()
		e.jobs = append(e.jobs, path)
		close(e.changed)
		e.changed = make(chan struct{})
		e.mu.Unlock()
	}
}

// writePNG writes img as a 1-bit PNG (black on white), atomically.
func writePNG(path string, img *image.Gray) error {
	pal := image.NewPaletted(img.Bounds(), color.Palette{color.White, color.Black})
	for i, v := range img.Pix {
		if v < 128 {
			pal.Pix[i] = 1
		}
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".job-*.png")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := png.Encode(tmp, pal); err != nil {
		tmp.Close()
		return fmt.Errorf("encode %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
