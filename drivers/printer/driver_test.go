package printer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"govkiosk/drivers/device"
	"govkiosk/drivers/printer/escposemu"
)

// eventually polls cond until it holds or 10 s pass.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func zbar(t *testing.T, path string) string {
	t.Helper()
	bin, err := exec.LookPath("zbarimg")
	if err != nil {
		t.Skip("zbarimg not installed")
	}
	out, err := exec.Command(bin, "--raw", "-q", path).Output()
	if err != nil {
		t.Fatalf("zbarimg %s: %v", path, err)
	}
	return strings.TrimRight(string(out), "\n")
}

func waitJob(t *testing.T, emu *escposemu.Emulator, n int) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	jobs, err := emu.WaitJobs(ctx, n)
	if err != nil {
		t.Fatal(err)
	}
	return jobs[n-1]
}

// Both transports drive the same emulator: the serial one through
// go.bug.st/serial, the USB printer class one as a plain file (the pty
// stands in for /dev/usb/lp0).
func TestTransports(t *testing.T) {
	for _, tr := range []string{TransportSerial, TransportUSBLP} {
		t.Run(tr, func(t *testing.T) {
			p, emu := setup(t, Opts{Transport: tr})
			if st := p.Status(context.Background()); st.State != device.Online {
				t.Fatalf("status %+v", st)
			}
			emu.SetState(escposemu.State{PaperLow: true})
			if st := p.Status(context.Background()); st.Media != device.PaperLow || !st.Usable() {
				t.Errorf("paper low: %+v", st)
			}
			id, err := p.PrintImage(context.Background(), solid(576, 40))
			if err != nil {
				t.Fatal(err)
			}
			if j, _ := p.Job(id); j.Phase != JobDone || j.Rows != 40+DefaultOpts.FeedDots {
				t.Errorf("job %+v", j)
			}
			waitJob(t, emu, 1)
		})
	}
	if got := transportFor("/dev/usb/lp0"); got != TransportUSBLP {
		t.Errorf("transportFor(/dev/usb/lp0) = %q", got)
	}
	if got := transportFor("/dev/ttyUSB0"); got != TransportSerial {
		t.Errorf("transportFor(/dev/ttyUSB0) = %q", got)
	}
}

// A printer that stops taking data fails the job with ErrWriteTimeout
// instead of hanging; once it takes data again, the driver reconnects and
// the fragment of the failed job is cut off on its own before the next
// receipt.
func TestWriteTimeout(t *testing.T) {
	for _, tr := range []string{TransportSerial, TransportUSBLP} {
		t.Run(tr, func(t *testing.T) {
			p, emu := setup(t, Opts{Transport: tr, WriteTimeout: device.D(300 * time.Millisecond)})
			emu.StallAfter(8000)
			id, err := p.PrintImage(context.Background(), solid(576, 4000)) // 288 kB
			if !errors.Is(err, ErrWriteTimeout) {
				t.Fatalf("err = %v, want ErrWriteTimeout", err)
			}
			if j, _ := p.Job(id); j.Phase != JobFailed {
				t.Errorf("job %+v", j)
			}
			emu.Resume()
			eventually(t, "printer back", func() bool { return p.Status(context.Background()).State == device.Online })
			if _, err := p.PrintImage(context.Background(), receiptImage(t, "https://example.test/t/after-stall")); err != nil {
				t.Fatal(err)
			}
			last := waitJob(t, emu, 2)
			if got := zbar(t, last); got != "https://example.test/t/after-stall" {
				t.Errorf("receipt after the stall reads %q", got)
			}
		})
	}
}

// Unplugging the printer (the device node goes away) is NoDevice; plugging
// it back (same path, as udev's by-id links give) is found again without
// restarting the driver.
func TestReconnectAfterUnplug(t *testing.T) {
	for _, tr := range []string{TransportSerial, TransportUSBLP} {
		t.Run(tr, func(t *testing.T) {
			dir := t.TempDir()
			link := filepath.Join(dir, "printer")
			emu1, err := escposemu.Start(filepath.Join(dir, "1"), testLogger(t))
			if err != nil {
				t.Fatal(err)
			}
			defer emu1.Close()
			if err := os.Symlink(emu1.PortPath(), link); err != nil {
				t.Fatal(err)
			}
			p, err := Open(&Opts{Port: link, Transport: tr}, testLogger(t))
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close()
			if st := p.Status(context.Background()); st.State != device.Online {
				t.Fatalf("status %+v", st)
			}
			emu1.Close()
			os.Remove(link)
			if st := p.Status(context.Background()); st.State != device.NoDevice {
				t.Fatalf("unplugged: %+v", st)
			}
			if _, err := p.PrintImage(context.Background(), solid(576, 10)); !errors.Is(err, ErrOffline) {
				t.Errorf("print while unplugged: %v", err)
			}
			emu2, err := escposemu.Start(filepath.Join(dir, "2"), testLogger(t))
			if err != nil {
				t.Fatal(err)
			}
			defer emu2.Close()
			if err := os.Symlink(emu2.PortPath(), link); err != nil {
				t.Fatal(err)
			}
			if st := p.Status(context.Background()); st.State != device.Online {
				t.Fatalf("plugged back: %+v", st)
			}
			if _, err := p.PrintImage(context.Background(), solid(576, 10)); err != nil {
				t.Fatal(err)
			}
			waitJob(t, emu2, 1)
		})
	}
}

// Idle polling keeps LastStatus fresh; paper near end shows as media
// "low" (a health warning) while the printer stays usable.
func TestMonitor(t *testing.T) {
	p, emu := setup(t, Opts{})
	ctx, cancel := context.WithCancel(context.Background())
	ticks := make(chan time.Time)
	done := make(chan error, 1)
	go func() { done <- p.Monitor(ctx, ticks) }()
	eventually(t, "first poll", func() bool { return p.LastStatus().State == device.Online })

	steps := []struct {
		st    escposemu.State
		state device.State
		media string
	}{
		{escposemu.State{PaperLow: true}, device.Online, device.PaperLow},
		{escposemu.State{PaperOut: true}, device.UserError, device.PaperOut},
		{escposemu.State{Error: true}, device.HardwareError, device.PaperFull},
		{escposemu.State{}, device.Online, device.PaperFull},
	}
	for _, s := range steps {
		emu.SetState(s.st)
		ticks <- time.Now()
		eventually(t, fmt.Sprintf("%+v", s.st), func() bool {
			st := p.LastStatus()
			return st.State == s.state && st.Media == s.media
		})
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("Monitor returned %v", err)
	}
}

// With automatic status back on, the printer sends 4-byte reports unasked;
// they and line noise must not be taken for DLE EOT answers.
func TestAutoStatusBackAndNoise(t *testing.T) {
	p, emu := setup(t, Opts{AutoStatusBack: true})
	tests := []struct {
		name  string
		st    escposemu.State
		noise []byte
		state device.State
		media string
	}{
		{"ready", escposemu.State{}, nil, device.Online, device.PaperFull},
		{"near end", escposemu.State{PaperLow: true}, nil, device.Online, device.PaperLow},
		{"noise", escposemu.State{PaperLow: true}, []byte{0x00, 0xff, 0x37, 0x22, 0x41, 0x11, 0x13, 0x10, 0x80}, device.Online, device.PaperLow},
		{"cover open", escposemu.State{CoverOpen: true}, []byte{0x37, 0x22, '1', '2', '3', '4', 0}, device.UserError, device.PaperFull},
		{"paper out", escposemu.State{PaperOut: true}, nil, device.UserError, device.PaperOut},
		{"ready again", escposemu.State{}, []byte{0x10, 0x00, 0x00, 0x00}, device.Online, device.PaperFull},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			emu.SetState(tc.st)
			emu.Inject(tc.noise)
			st := p.Status(context.Background())
			if st.State != tc.state || st.Media != tc.media {
				t.Errorf("status %+v, want %s/%s", st, tc.state, tc.media)
			}
		})
	}
	emu.SetState(escposemu.State{})
	if _, err := p.PrintImage(context.Background(), solid(576, 30)); err != nil {
		t.Fatal(err)
	}
	// An automatic report alone updates the cached status.
	emu.SetState(escposemu.State{PaperLow: true})
	eventually(t, "ASB read by the next query", func() bool {
		return p.Status(context.Background()).Media == device.PaperLow
	})
}

// While a job prints, Status answers at once from the cache (Busy) rather
// than queueing behind the job.
func TestStatusWhilePrinting(t *testing.T) {
	p, emu := setup(t, Opts{WriteTimeout: device.D(10 * time.Second)})
	if st := p.Status(context.Background()); st.State != device.Online {
		t.Fatal(st)
	}
	// The stall after 4000 bytes holds the job mid-print as long as the
	// test needs; 400 rows (28 KB) are well past it. A longer job only
	// lengthens the emulator's PNG encoding, during which it answers no
	// DLE EOT: under the race detector on a loaded machine that took more
	// than the driver's 500 ms status timeout and failed the job.
	emu.StallAfter(4000)
	done := make(chan error, 1)
	go func() {
		_, err := p.PrintImage(context.Background(), solid(576, 400))
		done <- err
	}()
	eventually(t, "busy status", func() bool { return p.Status(context.Background()).State == device.Busy })
	emu.Resume()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the job did not end within 30 s of the printer resuming")
	}
	if st := p.Status(context.Background()); st.State != device.Online {
		t.Errorf("after the job: %+v", st)
	}
}

// A printer that misses a status answer while it prints a long raster has
// not failed: the job still completes (the job deadline bounds the wait).
func TestSilenceWhilePrintingIsNotAFault(t *testing.T) {
	p, emu := setup(t, Opts{WriteTimeout: device.D(10 * time.Second)})
	emu.StallAfter(4000)
	done := make(chan error, 1)
	go func() {
		_, err := p.PrintImage(context.Background(), solid(576, 3000))
		done <- err
	}()
	// Mute only once the job is being sent: the status asked before
	// sending must still answer.
	eventually(t, "the job's data to fill the printer", emu.Stalled)
	emu.MuteStatus(1)
	emu.Resume()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("a late status answer failed the job: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the job did not finish within 30s of the printer resuming")
	}
}

// A native QR code (GS ( k) between raster parts, on both paper widths.
func TestNativeQRBothWidths(t *testing.T) {
	payload := "https://dichvucong.example.vn/tra-cuu?ma=QN-2026-000042"
	for _, width := range []int{576, 384} {
		t.Run(fmt.Sprint(width), func(t *testing.T) {
			emu, err := escposemu.StartWith(t.TempDir(), escposemu.Options{WidthDots: width}, testLogger(t))
			if err != nil {
				t.Fatal(err)
			}
			defer emu.Close()
			p, err := Open(&Opts{Port: emu.PortPath(), WidthDots: width, QRLevel: "Q", QRModule: 8}, testLogger(t))
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close()
			head := textLines(width, 3)
			if _, err := p.Print(context.Background(), Part{Image: head}, Part{QR: payload}, Part{Image: head}); err != nil {
				t.Fatal(err)
			}
			job := waitJob(t, emu, 1)
			if got := zbar(t, job); got != payload {
				t.Errorf("QR reads %q", got)
			}
			if emu.Unknown() != 0 {
				t.Errorf("emulator skipped %d unknown bytes", emu.Unknown())
			}
		})
	}
}

// Every cut mode, and the cutterless printer, as bytes and as paper.
func TestCutModes(t *testing.T) {
	img := solid(576, 8)
	tests := []struct {
		cfg   Opts
		tail  []byte
		pages int
	}{
		{Opts{}, []byte{0x1b, 'J', 120, 0x1d, 'V', 48}, 1},
		{Opts{Cut: CutPartial}, []byte{0x1b, 'J', 120, 0x1d, 'V', 49}, 1},
		{Opts{Cut: CutFeedFull, FeedDots: 40}, []byte{0x1d, 'V', 65, 40}, 1},
		{Opts{Cut: CutFeedPartial}, []byte{0x1d, 'V', 66, 120}, 1},
		{Opts{Cut: CutNone, FeedDots: 300}, []byte{0x1b, 'J', 255, 0x1b, 'J', 45}, 0},
		{Opts{NoCutter: true, Cut: CutPartial}, []byte{0x1b, 'J', 120}, 0},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%s/%v", tc.cfg.Cut, tc.cfg.NoCutter), func(t *testing.T) {
			enc, err := Encode(tc.cfg, Part{Image: img})
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.HasSuffix(enc.Data, tc.tail) {
				t.Errorf("ends % x, want % x", enc.Data[len(enc.Data)-12:], tc.tail)
			}
			r := escposemu.Render(enc.Data, 576)
			if len(r.Pages) != tc.pages || r.Unknown != 0 {
				t.Errorf("%d pages, %d unknown bytes; want %d pages", len(r.Pages), r.Unknown, tc.pages)
			}
			if tc.pages == 0 && (r.Uncut == nil || r.Uncut.Bounds().Dy() != enc.Rows) {
				t.Errorf("cutterless paper %v, want %d rows", r.Uncut, enc.Rows)
			}
		})
	}
	for _, bad := range []Opts{{Cut: "zigzag"}, {QRLevel: "X"}, {QRModule: 17}, {Transport: "parallel"}, {WidthDots: 4096}} {
		if _, err := Encode(bad, Part{Image: img}); err == nil {
			t.Errorf("Encode accepted %+v", bad)
		}
	}
	if _, err := Encode(Opts{}); err == nil {
		t.Error("empty job accepted")
	}
	if _, err := Encode(Opts{WidthDots: 384}, Part{QR: strings.Repeat("x", 3000)}); err == nil {
		t.Error("QR too big accepted")
	}
}

// The native QR command sequence, byte for byte: model 2, module size,
// error level (48..51 = L, M, Q, H), store with the right length, print.
func TestEncodeQRBytes(t *testing.T) {
	for level, n := range map[string]byte{"L": 48, "M": 49, "Q": 50, "H": 51} {
		b, rows, err := encodeQR("hello", Opts{WidthDots: 576, QRModule: 4, QRLevel: level})
		if err != nil {
			t.Fatal(err)
		}
		want := []byte{
			0x1d, '(', 'k', 4, 0, 49, 65, 50, 0,
			0x1d, '(', 'k', 3, 0, 49, 67, 4,
			0x1d, '(', 'k', 3, 0, 49, 69, n,
			0x1d, '(', 'k', 8, 0, 49, 80, 48, 'h', 'e', 'l', 'l', 'o',
			0x1d, '(', 'k', 3, 0, 49, 81, 48,
		}
		if !bytes.Contains(b, want) {
			t.Errorf("level %s: % x", level, b)
		}
		if rows != (21+8)*4 { // version 1: 21 modules, 4-module quiet zones
			t.Errorf("level %s: %d rows", level, rows)
		}
	}
}

// A printer without GS ( H is found out on connect; jobs then end with the
// status check, and do not time out as failed although printed.
func TestPrinterWithoutProcessID(t *testing.T) {
	emu, err := escposemu.StartWith(t.TempDir(), escposemu.Options{NoProcessID: true}, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	defer emu.Close()
	p, err := Open(&Opts{Port: emu.PortPath()}, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	id, err := p.PrintImage(context.Background(), solid(576, 30))
	if err != nil {
		t.Fatal(err)
	}
	if j, _ := p.Job(id); j.Phase != JobDone {
		t.Errorf("job %+v", j)
	}
	waitJob(t, emu, 1)
}
