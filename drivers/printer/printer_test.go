package printer

import (
	"context"
	"errors"
	"image"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"govkiosk/drivers/device"
	"govkiosk/drivers/printer/escposemu"
)

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// setup starts an emulator and opens the driver on its pty.
func setup(t *testing.T, cfg Opts) (*Printer, *escposemu.Emulator) {
	t.Helper()
	emu, err := escposemu.Start(t.TempDir(), testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { emu.Close() })
	cfg.Port = emu.PortPath()
	p, err := Open(&cfg, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p, emu
}

func TestPrintReceiptDecodesWithZbar(t *testing.T) {
	zbar, err := exec.LookPath("zbarimg")
	if err != nil {
		t.Skip("zbarimg not installed")
	}
	p, emu := setup(t, Opts{Baud: 115200, WidthDots: 576, BandRows: 128})
	payload := "https://dichvucong.example.vn/tra-cuu?ma=QN-2025-000123&k=7f3a"
	img := receiptImage(t, payload)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	id, err := p.PrintImage(ctx, img)
	if err != nil {
		t.Fatal(err)
	}
	if id == "" {
		t.Error("empty job ID")
	}
	jobs, err := emu.WaitJobs(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.CommandContext(ctx, zbar, "--raw", "-q", jobs[0]).Output()
	if err != nil {
		t.Fatalf("zbarimg %s: %v", jobs[0], err)
	}
	if got := strings.TrimRight(string(out), "\n"); got != payload {
		t.Errorf("zbarimg read %q, want %q", got, payload)
	}
	if dir := os.Getenv("PRINTER_TEST_OUT"); dir != "" {
		b, _ := os.ReadFile(jobs[0])
		os.WriteFile(dir+"/job.png", b, 0o644)
	}
}

func TestStatusFromEmulator(t *testing.T) {
	p, emu := setup(t, Opts{})
	tests := []struct {
		name   string
		st     escposemu.State
		state  device.State
		media  string
		action device.Action
	}{
		{"ready", escposemu.State{}, device.Online, device.PaperFull, device.ActionNone},
		{"paper low", escposemu.State{PaperLow: true}, device.Online, device.PaperLow, device.ActionNone},
		{"paper out", escposemu.State{PaperOut: true}, device.UserError, device.PaperOut, device.ActionClear},
		{"cover open", escposemu.State{CoverOpen: true}, device.UserError, device.PaperFull, device.ActionClear},
		{"cover open and paper low", escposemu.State{CoverOpen: true, PaperLow: true}, device.UserError, device.PaperLow, device.ActionClear},
		{"offline", escposemu.State{Offline: true}, device.Offline, device.PaperFull, device.ActionReset},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			emu.SetState(tc.st)
			st := p.Status(context.Background())
			if st.Device != "printer" || st.State != tc.state || st.Media != tc.media || st.Action != tc.action {
				t.Errorf("Status = %+v, want %s/%s/%q", st, tc.state, tc.media, tc.action)
			}
			if st.At.IsZero() {
				t.Error("no time stamp")
			}
		})
	}
}

func TestStatusNoDevice(t *testing.T) {
	p, emu := setup(t, Opts{})
	emu.Close() // the pty goes away under the driver
	st := p.Status(context.Background())
	if st.State != device.NoDevice || st.Usable() {
		t.Errorf("Status = %+v, want noDevice", st)
	}
	if _, err := p.PrintImage(context.Background(), solid(576, 10)); !errors.Is(err, ErrOffline) {
		t.Errorf("PrintImage err = %v, want ErrOffline", err)
	}
}

func solid(w, h int) *image.Gray {
	return image.NewGray(image.Rect(0, 0, w, h)) // all black
}

func TestPrintRefused(t *testing.T) {
	p, emu := setup(t, Opts{})
	tests := []struct {
		st   escposemu.State
		want error
	}{
		{escposemu.State{PaperOut: true}, ErrPaperOut},
		{escposemu.State{CoverOpen: true}, ErrCoverOpen},
		{escposemu.State{Offline: true}, ErrOffline},
	}
	for _, tc := range tests {
		emu.SetState(tc.st)
		id, err := p.PrintImage(context.Background(), solid(576, 50))
		if !errors.Is(err, tc.want) || id == "" {
			t.Errorf("%+v: PrintImage = %q, %v; want a job ID and %v", tc.st, id, err, tc.want)
		}
		if j, ok := p.Job(id); !ok || j.Phase != JobRefused || j.Err == "" {
			t.Errorf("%+v: job %+v, want refused with a reason", tc.st, j)
		}
	}
	// Nothing reached the paper.
	emu.SetState(escposemu.State{})
	if _, err := p.PrintImage(context.Background(), solid(576, 50)); err != nil {
		t.Fatal(err)
	}
	if jobs := emu.Jobs(); len(jobs) != 1 {
		t.Errorf("jobs %v, want exactly the one allowed job", jobs)
	}
}

func TestPaperRunsOutMidJob(t *testing.T) {
	p, emu := setup(t, Opts{BandRows: 64})
	ctx := context.Background()
	emu.RunOutAfterRows(300)
	id, err := p.PrintImage(ctx, solid(576, 1000))
	if !errors.Is(err, ErrPaperOut) {
		t.Fatalf("PrintImage err = %v, want ErrPaperOut", err)
	}
	if id == "" {
		t.Error("no job ID for a started job")
	}
	if j, ok := p.Job(id); !ok || j.Phase != JobFailed || !strings.Contains(j.Err, "paper out") {
		t.Errorf("job %+v, want failed with paper out", j)
	}
	if st := p.Status(ctx); st.Media != device.PaperOut {
		t.Errorf("status after run-out %+v", st)
	}
	if jobs := emu.Jobs(); len(jobs) != 0 {
		t.Errorf("cut happened without paper: %v", jobs)
	}
	// The driver cleared the printer's buffer: nothing of the failed job
	// waits to come out after the refill.
	if n := emu.Held(); n != 0 {
		t.Errorf("%d operations still held by the printer", n)
	}
	// Reprint before the refill is refused like any job, and stays
	// reprintable.
	id2, err := p.Reprint(ctx, id, Part{Image: solid(576, 100)})
	if !errors.Is(err, ErrPaperOut) {
		t.Fatalf("reprint without paper: %v", err)
	}
	emu.SetState(escposemu.State{}) // new roll
	if emu.Torn() != 1 {
		t.Errorf("torn = %d, want the partial receipt torn off once", emu.Torn())
	}
	if jobs := emu.Jobs(); len(jobs) != 0 {
		t.Fatalf("the refill printed something by itself: %v", jobs)
	}
	id3, err := p.Reprint(ctx, id, Part{Image: solid(576, 100)})
	if err != nil {
		t.Fatal(err)
	}
	if id3 == id || id3 == id2 {
		t.Error("reprint reused a job ID")
	}
	if j, _ := p.Job(id3); j.Phase != JobDone || j.ReprintOf != id {
		t.Errorf("reprint job %+v", j)
	}
	if j, _ := p.Job(id); j.ReprintedBy != id3 || j.Phase != JobFailed {
		t.Errorf("original job %+v", j)
	}
	// No accidental duplicates.
	for _, again := range []string{id, id3} {
		if _, err := p.Reprint(ctx, again, Part{Image: solid(576, 100)}); !errors.Is(err, ErrNotReprintable) {
			t.Errorf("Reprint(%s) err = %v, want ErrNotReprintable", again, err)
		}
	}
	if _, err := p.Reprint(ctx, "no-such-job", Part{Image: solid(576, 100)}); !errors.Is(err, ErrUnknownJob) {
		t.Errorf("unknown job: %v", err)
	}
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	jobs, err := emu.WaitJobs(wctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(jobs) != 1 {
		t.Errorf("jobs %v, want only the reprint", jobs)
	}
}

func TestConcurrentJobs(t *testing.T) {
	p, emu := setup(t, Opts{NoCutter: false})
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := p.PrintImage(context.Background(), solid(576, 100))
			errs <- err
			p.Status(context.Background())
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	// Each job is whole: 100 black rows, then the white feed.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	jobs, err := emu.WaitJobs(ctx, 4)
	if err != nil {
		t.Fatal(err)
	}
	if len(jobs) != 4 {
		t.Errorf("%d jobs", len(jobs))
	}
}

func TestNoCutterAndCancel(t *testing.T) {
	p, emu := setup(t, Opts{NoCutter: true})
	if _, err := p.PrintImage(context.Background(), solid(576, 20)); err != nil {
		t.Fatal(err)
	}
	if jobs := emu.Jobs(); len(jobs) != 0 {
		t.Errorf("a printer without cutter cut: %v", jobs)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := p.PrintImage(ctx, solid(576, 20)); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled job err = %v", err)
	}
}

func TestOpenErrors(t *testing.T) {
	for _, cfg := range []Opts{
		{Port: "/nonexistent/tty"},
		{Port: "/dev/null", BandRows: 961},
		{Port: "/dev/null", WidthDots: 3},
	} {
		if p, err := Open(&cfg, nil); err == nil {
			p.Close()
			t.Errorf("Open(%+v) succeeded", cfg)
		}
	}
}
