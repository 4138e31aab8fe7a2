package qrreader

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.bug.st/serial"

	"govkiosk/drivers/device"
	"govkiosk/drivers/qrreader/imageremu"
)

// wait is the deadline for things that must happen; no test depends on how
// fast they happen.
const wait = 10 * time.Second

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// lockedBuffer collects log output from several goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

type harness struct {
	r    *Serial
	errc chan error
	stop context.CancelFunc
	logs *lockedBuffer
}

func startSerial(t *testing.T, cfg SerialOpts, now func() time.Time, tweak func(*Serial)) *harness {
	t.Helper()
	logs := &lockedBuffer{}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	cfg.Now = now
	r, err := OpenSerial(&cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	if tweak != nil {
		tweak(r)
	}
	ctx, cancel := context.WithCancel(context.Background())
	h := &harness{r: r, errc: make(chan error, 1), stop: cancel, logs: logs}
	go func() { h.errc <- r.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-h.errc:
		case <-time.After(wait):
			t.Error("Run did not return after cancel")
		}
	})
	return h
}

func (h *harness) waitState(t *testing.T, want device.State) {
	t.Helper()
	deadline := time.Now().Add(wait)
	for h.r.Status(context.Background()).State != want {
		if time.Now().After(deadline) {
			t.Fatalf("status %+v, want state %s", h.r.Status(context.Background()), want)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func (h *harness) next(t *testing.T) Scan {
	t.Helper()
	select {
	case s := <-h.r.Scans():
		return s
	case <-time.After(wait):
		t.Fatalf("no scan arrived; status %+v", h.r.Status(context.Background()))
		return Scan{}
	}
}

func startEmu(t *testing.T) *imageremu.Emulator {
	t.Helper()
	e, err := imageremu.Start(nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

func TestSerialReadsFromImager(t *testing.T) {
	binary := []byte{0x00, 0xff, 0x01, 0x80, 0xfe, 0x1b, 'a', 0x00}
	tests := []struct {
		name   string
		maxLen int
		send   func(e *imageremu.Emulator) error
		want   [][]byte
	}{
		{
			name: "scan byte-exact",
			send: func(e *imageremu.Emulator) error { return e.Scan([]byte("https://dvc.example.gov.vn/a?b=1&c=ü")) },
			want: [][]byte{[]byte("https://dvc.example.gov.vn/a?b=1&c=ü")},
		},
		{
			name: "CR, LF and CRLF terminators",
			send: func(e *imageremu.Emulator) error { return e.WriteRaw([]byte("cr\rlf\ncrlf\r\nlast\r")) },
			want: [][]byte{[]byte("cr"), []byte("lf"), []byte("crlf"), []byte("last")},
		},
		{
			name: "fragments",
			send: func(e *imageremu.Emulator) error {
				for _, f := range []string{"HS-", "2024", "-0000", "42\r", "\nnext\r"} {
					if err := e.WriteRaw([]byte(f)); err != nil {
						return err
					}
				}
				return nil
			},
			want: [][]byte{[]byte("HS-2024-000042"), []byte("next")},
		},
		{
			name: "several codes in one write",
			send: func(e *imageremu.Emulator) error { return e.WriteRaw([]byte("one\rtwo\rthree\r")) },
			want: [][]byte{[]byte("one"), []byte("two"), []byte("three")},
		},
		{
			name:   "over-long line discarded, next one read",
			maxLen: 16,
			send: func(e *imageremu.Emulator) error {
				if err := e.WriteRaw(bytes.Repeat([]byte("N"), 100)); err != nil {
					return err
				}
				if err := e.Scan(bytes.Repeat([]byte("M"), 17)); err != nil {
					return err
				}
				return e.Scan([]byte("good"))
			},
			want: [][]byte{[]byte("good")},
		},
		{
			name: "binary payload",
			send: func(e *imageremu.Emulator) error { return e.Scan(binary) },
			want: [][]byte{binary},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := startEmu(t)
			clock := &fakeClock{t: time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC)}
			h := startSerial(t, SerialOpts{Port: e.PortPath(), MaxLen: tc.maxLen}, clock.Now, nil)
			h.waitState(t, device.Online)
			if err := tc.send(e); err != nil {
				t.Fatal(err)
			}
			for i, want := range tc.want {
				s := h.next(t)
				if !bytes.Equal(s.Data, want) {
					t.Fatalf("scan %d = %q, want %q", i, s.Data, want)
				}
				if s.Source != "serial" || !s.At.Equal(clock.Now()) {
					t.Fatalf("scan %d: source %q at %v", i, s.Source, s.At)
				}
			}
			// Nothing more was produced: the next scan is the sentinel.
			if err := e.Scan([]byte("sentinel")); err != nil {
				t.Fatal(err)
			}
			if s := h.next(t); string(s.Data) != "sentinel" {
				t.Fatalf("extra scan %q", s.Data)
			}
			if st := h.r.Status(context.Background()); st.Device != "qrreader" || st.State != device.Online {
				t.Fatalf("status %+v", st)
			}
		})
	}
}

func TestSerialDebounce(t *testing.T) {
	e := startEmu(t)
	clock := &fakeClock{t: time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC)}
	h := startSerial(t, SerialOpts{Port: e.PortPath(), Debounce: device.D(2 * time.Second)}, clock.Now, nil)
	h.waitState(t, device.Online)

	steps := []struct {
		advance time.Duration
		send    []string
		want    string // the next scan that must arrive
	}{
		{0, []string{"A"}, "A"},                            // t=0
		{time.Second, []string{"A", "B"}, "B"},             // t=1: A within 2 s of its emission: dropped
		{500 * time.Millisecond, []string{"B", "C"}, "C"},  // t=1.5: B too
		{1500 * time.Millisecond, []string{"A"}, "A"},      // t=3: 3 s after A's last emission
		{1999 * time.Millisecond, []string{"A", "B"}, "B"}, // t=4.999: A 1.999 s after: dropped; B 3.999 s after its last emission
		{time.Millisecond, []string{"A"}, "A"},             // t=5: exactly 2 s after: emitted
	}
	for i, st := range steps {
		clock.Advance(st.advance)
		for _, s := range st.send {
			if err := e.Scan([]byte(s)); err != nil {
				t.Fatal(err)
			}
		}
		if got := h.next(t); string(got.Data) != st.want {
			t.Fatalf("step %d: got %q, want %q", i, got.Data, st.want)
		}
	}
}

func TestSerialDropsWhenNobodyReads(t *testing.T) {
	e := startEmu(t)
	h := startSerial(t, SerialOpts{Port: e.PortPath()}, nil, nil)
	h.waitState(t, device.Online)
	total := scanBuffer + 3
	for i := range total {
		if err := e.Scan([]byte{'c', byte('a' + i)}); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(wait)
	for {
		h.r.out.mu.Lock()
		d := h.r.out.dropped
		h.r.out.mu.Unlock()
		if d == 3 {
			break
		}
		if d > 3 || time.Now().After(deadline) {
			t.Fatalf("dropped %d, want 3", d)
		}
		time.Sleep(2 * time.Millisecond)
	}
	for i := range scanBuffer {
		if s := h.next(t); !bytes.Equal(s.Data, []byte{'c', byte('a' + i)}) {
			t.Fatalf("scan %d = %q", i, s.Data)
		}
	}
}

func TestSerialNeverLogsPayload(t *testing.T) {
	e := startEmu(t)
	h := startSerial(t, SerialOpts{Port: e.PortPath(), Debounce: device.D(time.Hour), MaxLen: 64}, nil, nil)
	h.waitState(t, device.Online)
	secret := "CCCD-079123456789-SECRET"
	for _, s := range []string{secret, secret} {
		if err := e.Scan([]byte(s)); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.Scan([]byte("end")); err != nil {
		t.Fatal(err)
	}
	if s := h.next(t); string(s.Data) != secret {
		t.Fatalf("got %q", s.Data)
	}
	if s := h.next(t); string(s.Data) != "end" {
		t.Fatalf("got %q", s.Data)
	}
	logs := h.logs.String()
	if !bytes.Contains([]byte(logs), []byte("debounced")) {
		t.Fatalf("expected a debounce log line, logs:\n%s", logs)
	}
	if bytes.Contains([]byte(logs), []byte("SECRET")) {
		t.Fatalf("payload leaked into logs:\n%s", logs)
	}
}

// TestSerialUnplugAndReconnect unplugs the imager, checks the driver reports
// noDevice and backs off instead of spinning, then plugs a new imager in at
// the configured path (a symlink, as udev makes) and reads from it.
func TestSerialUnplugAndReconnect(t *testing.T) {
	dir := t.TempDir()
	link := filepath.Join(dir, "ttyQR")
	e1 := startEmu(t)
	if err := os.Symlink(e1.PortPath(), link); err != nil {
		t.Fatal(err)
	}
	var opens atomic.Int64
	const minBackoff = 10 * time.Millisecond
	h := startSerial(t, SerialOpts{Port: link}, nil, func(r *Serial) {
		r.reconnect.InitialInterval, r.reconnect.MaxInterval = minBackoff, 80*time.Millisecond
		r.open = func(p string, m *serial.Mode) (serial.Port, error) {
			opens.Add(1)
			return serial.Open(p, m)
		}
	})
	h.waitState(t, device.Online)
	if err := e1.Scan([]byte("first")); err != nil {
		t.Fatal(err)
	}
	if s := h.next(t); string(s.Data) != "first" {
		t.Fatalf("got %q", s.Data)
	}

	// Unplug: the imager goes and so does its device path (udev removes the
	// link). The old /dev/pts number may be handed to another process's
	// terminal at once, so the link must not keep pointing at it.
	if err := e1.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(link); err != nil {
		t.Fatal(err)
	}
	h.waitState(t, device.NoDevice)
	if st := h.r.Status(context.Background()); st.Device != "qrreader" || st.Action != device.ActionMaintenance || st.Detail == "" {
		t.Fatalf("status %+v", st)
	}

	// It keeps retrying...
	start, before := time.Now(), opens.Load()
	deadline := start.Add(3 * wait) // generous: CI machines run other packages beside this one
	for opens.Load() < before+3 {
		if time.Now().After(deadline) {
			t.Fatalf("only %d open attempts after unplug", opens.Load()-before)
		}
		time.Sleep(5 * time.Millisecond)
	}
	// ...but not in a busy loop: at most one attempt per minimum backoff
	// (it doubles, so far fewer in fact). A spinning loop makes thousands.
	elapsed, n := time.Since(start), opens.Load()-before
	if limit := int64(elapsed/minBackoff) + 2; n > limit {
		t.Fatalf("%d open attempts in %v: not backing off (limit %d)", n, elapsed, limit)
	}
	if h.r.Status(context.Background()).State != device.NoDevice {
		t.Fatalf("status %+v while unplugged", h.r.Status(context.Background()))
	}

	// Plug a new imager in where the config points.
	e2 := startEmu(t)
	tmp := link + ".new"
	if err := os.Symlink(e2.PortPath(), tmp); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, link); err != nil {
		t.Fatal(err)
	}
	h.waitState(t, device.Online)
	if err := e2.Scan([]byte("second")); err != nil {
		t.Fatal(err)
	}
	if s := h.next(t); string(s.Data) != "second" {
		t.Fatalf("got %q", s.Data)
	}

	h.stop()
	select {
	case err := <-h.errc:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Run returned %v, want context.Canceled", err)
		}
		h.errc <- err // for the cleanup
	case <-time.After(wait):
		t.Fatal("Run did not return after cancel while reading")
	}
	if st := h.r.Status(context.Background()); st.State != device.Offline {
		t.Fatalf("status after stop %+v", st)
	}
}

func TestSerialMissingPort(t *testing.T) {
	cfg := SerialOpts{Port: filepath.Join(t.TempDir(), "absent")}
	r, err := OpenSerial(&cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if st := r.Status(context.Background()); st.State != device.Offline || st.Device != "qrreader" {
		t.Fatalf("status before Run %+v", st)
	}
	if got := r.String(); got != "qrreader("+cfg.Port+")" {
		t.Errorf("String = %q", got)
	}
	h := startSerial(t, cfg, nil, nil)
	h.waitState(t, device.NoDevice)
	h.stop()
	select {
	case err := <-h.errc:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Run returned %v", err)
		}
		h.errc <- err
	case <-time.After(wait):
		t.Fatal("Run did not return after cancel while backing off")
	}
}

// TestSerialReconnectBackoff pins the reconnect pace (250 ms doubling to
// 5 s, no jitter, from the start again after a good connection) and checks
// that cancelling Run ends even a long wait at once.
func TestSerialReconnectBackoff(t *testing.T) {
	r, err := OpenSerial(&SerialOpts{Port: "/dev/null"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	b := r.reconnect
	for round := 0; round < 2; round++ {
		b.Reset()
		for i, w := range []time.Duration{250, 500, 1000, 2000, 4000, 5000, 5000} {
			if got := b.NextBackOff(); got != w*time.Millisecond {
				t.Errorf("round %d, wait %d: %v, want %v", round, i+1, got, w*time.Millisecond)
			}
		}
	}

	h := startSerial(t, SerialOpts{Port: filepath.Join(t.TempDir(), "absent")}, nil, func(r *Serial) {
		r.reconnect.InitialInterval, r.reconnect.MaxInterval = time.Hour, time.Hour
	})
	h.waitState(t, device.NoDevice)
	h.stop()
	select {
	case err := <-h.errc:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Run returned %v", err)
		}
		h.errc <- err
	case <-time.After(wait):
		t.Fatal("Run did not return after cancel during an hour's wait")
	}
	if st := h.r.Status(context.Background()); st.State != device.Offline {
		t.Fatalf("status after cancel %+v", st)
	}
}

// Close stops Run cleanly (nil, not an error), port closed, status offline;
// options no imager could work with are refused.
func TestSerialCloseAndOpts(t *testing.T) {
	e := startEmu(t)
	h := startSerial(t, SerialOpts{Port: e.PortPath()}, nil, nil)
	h.waitState(t, device.Online)
	if err := h.r.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-h.errc:
		if err != nil {
			t.Fatalf("Run after Close returned %v, want nil", err)
		}
		h.errc <- err // for the cleanup
	case <-time.After(wait):
		t.Fatal("Run did not return after Close")
	}
	if st := h.r.Status(context.Background()); st.State != device.Offline {
		t.Fatalf("status after Close %+v", st)
	}
	for name, o := range map[string]*SerialOpts{
		"nil (no port)":     nil,
		"negative debounce": {Port: "/dev/null", Debounce: device.D(-time.Second)},
		"negative max len":  {Port: "/dev/null", MaxLen: -1},
	} {
		if _, err := OpenSerial(o, nil); err == nil {
			t.Errorf("%s: OpenSerial succeeded", name)
		}
	}
}
