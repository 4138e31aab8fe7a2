// Package escposemu emulates an 80 mm (or 58 mm) ESC/POS receipt printer on
// a real pseudo-terminal: it answers DLE EOT status queries from the state
// the test sets (and automatic status back, GS a, when turned on), turns
// raster (GS v 0), QR (GS ( k) and crude text output into paper, holds
// print data while it cannot print (paper out, cover open, offline, error)
// until the state clears or the host clears the buffer (DLE DC4 8), answers
// GS ( H process IDs once the data before them is printed, and writes each
// cut receipt as a PNG file. Render runs the same parser on a byte stream
// without a pty. Unknown commands are skipped, counted and logged.
package escposemu

import (
	"context"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"

	"github.com/creack/pty"
	"golang.org/x/sys/unix"
)

// State is what the emulated printer's sensors say.
type State struct{ PaperLow, PaperOut, CoverOpen, Offline, Error bool }

// Options configure an emulator; the zero value is an 80 mm printer.
type Options struct {
	WidthDots   int  // head width: 576 (80 mm, default) or 384 (58 mm)
	NoProcessID bool // an older printer: GS ( H is unknown to it
}

// Emulator is one emulated printer behind a pty.
type Emulator struct {
	ptmx, tty *os.File
	outDir    string
	log       *slog.Logger

	mu      sync.Mutex
	m       *machine
	jobs    []string
	changed chan struct{} // closed and replaced whenever jobs grows
	stallIn int           // bytes still taken before stalling; -1: no stall
	resume  chan struct{} // closed by Resume
	quit    chan struct{}
	done    chan struct{}
	closeMu sync.Once
}

// Start opens a pty in raw mode and serves the printer protocol on it until
// Close. Receipts are written to outDir as job-0001.png, job-0002.png, ...
func Start(outDir string, log *slog.Logger) (*Emulator, error) {
	return StartWith(outDir, Options{}, log)
}

// StartWith is Start with options.
func StartWith(outDir string, opt Options, log *slog.Logger) (*Emulator, error) {
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
	m := newMachineWidth(opt.WidthDots)
	m.noPID = opt.NoProcessID
	e := &Emulator{
		ptmx: ptmx, tty: tty, outDir: outDir,
		log:     log.With("device", "printer-emulator"),
		m:       m,
		changed: make(chan struct{}),
		quit:    make(chan struct{}),
		done:    make(chan struct{}),
		stallIn: -1,
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

// SetState sets the sensors. While paper is out, the cover open, the
// printer offline or in error, print data waits in the printer's buffer and
// is printed when the state clears (unless the host cleared the buffer).
// Clearing PaperOut is loading a new roll: what was printed but not cut
// before the paper ran out is torn off (see Torn).
func (e *Emulator) SetState(s State) {
	e.mu.Lock()
	reply := e.m.setState(s)
	e.mu.Unlock()
	e.writeCuts()
	e.reply(reply)
}

// StallAfter makes the printer stop taking data after about n more bytes
// (a read already under way may take more), like a printer whose input
// buffer is full and never drains: the host's writes then block.
func (e *Emulator) StallAfter(n int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.resume == nil {
		e.resume = make(chan struct{})
	}
	e.stallIn = max(n, 0)
}

// MuteStatus leaves the next n DLE EOT queries unanswered, like a printer
// too busy with a long raster to answer in time.
func (e *Emulator) MuteStatus(n int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.m.mute = max(n, 0)
}

// Stalled reports whether the printer has taken all StallAfter let it and
// now takes no more data.
func (e *Emulator) Stalled() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.stallIn == 0
}

// Resume ends a stall.
func (e *Emulator) Resume() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.stallIn = -1
	if e.resume != nil {
		close(e.resume)
		e.resume = nil
	}
}

// Inject sends raw bytes to the host, as line noise or a confused printer
// would.
func (e *Emulator) Inject(b []byte) { e.reply(b) }

// Torn is how many partial receipts were torn off when paper was loaded.
func (e *Emulator) Torn() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.m.torn
}

// Unknown is how many bytes were skipped as unknown or malformed commands.
func (e *Emulator) Unknown() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.m.unknown
}

// Held is how many operations wait in the printer's buffer.
func (e *Emulator) Held() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.m.held)
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
		close(e.quit)
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
		e.mu.Lock()
		left, resume := e.stallIn, e.resume
		e.mu.Unlock()
		if left == 0 {
			select {
			case <-resume:
			case <-e.quit:
				return
			}
			continue
		}
		want := buf
		if left > 0 {
			want = buf[:min(left, len(buf))]
		}
		n, err := e.ptmx.Read(want)
		e.mu.Lock()
		if e.stallIn > 0 {
			e.stallIn = max(e.stallIn-n, 0)
		}
		e.mu.Unlock()
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
			e.reply(reply)
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

func (e *Emulator) reply(b []byte) {
	if len(b) == 0 {
		return
	}
	if _, err := e.ptmx.Write(b); err != nil && !errors.Is(err, os.ErrClosed) {
		e.log.Warn("write reply", "err", err)
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

// EncodePNG writes paper (black below 128) as a 1-bit PNG, black on white.
func EncodePNG(w io.Writer, img *image.Gray) error {
	b := img.Bounds()
	pal := image.NewPaletted(image.Rect(0, 0, b.Dx(), b.Dy()), color.Palette{color.White, color.Black})
	for y := 0; y < b.Dy(); y++ {
		src := img.Pix[img.PixOffset(b.Min.X, b.Min.Y+y):]
		dst := pal.Pix[y*pal.Stride : y*pal.Stride+b.Dx()]
		for x := range dst {
			if src[x] < 128 {
				dst[x] = 1
			}
		}
	}
	return png.Encode(w, pal)
}

// Result is what Render makes of a byte stream.
type Result struct {
	Pages   []*image.Gray // one per cut, widthDots wide, black (0) on white (255)
	Uncut   *image.Gray   // paper printed after the last cut; nil if none
	Replies []byte        // what the printer would have sent back
	Unknown int           // bytes skipped as unknown or malformed commands
	Notes   []string      // what a log would say (first 64)
}

// Render runs stream through the emulated printer (paper loaded, no pty)
// with a head widthDots wide (0: 576).
func Render(stream []byte, widthDots int) Result {
	m := newMachineWidth(widthDots)
	r := Result{Replies: m.feed(stream)}
	r.Pages, r.Unknown, r.Notes = m.cuts, m.unknown, m.notes
	if len(m.rows) > 0 {
		r.Uncut = m.paper()
	}
	return r
}

// writePNG writes img as a 1-bit PNG (black on white), atomically.
func writePNG(path string, img *image.Gray) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".job-*.png")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := EncodePNG(tmp, img); err != nil {
		tmp.Close()
		return fmt.Errorf("encode %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
