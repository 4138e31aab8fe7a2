package supervise

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// fakeSystemd is a unixgram socket standing in for systemd's notify
// socket: NOTIFY_SOCKET points at it, and the real go-systemd client
// (Systemd) sends to it.
type fakeSystemd struct {
	t    *testing.T
	conn *net.UnixConn
}

func newFakeSystemd(t *testing.T) *fakeSystemd {
	// A short path: unix socket names are limited to 108 bytes.
	dir, err := os.MkdirTemp("", "sdn")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	path := filepath.Join(dir, "notify")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	t.Setenv("NOTIFY_SOCKET", path)
	return &fakeSystemd{t: t, conn: conn}
}

// next is the next datagram within d, or "" when none came.
func (f *fakeSystemd) next(d time.Duration) string {
	f.t.Helper()
	buf := make([]byte, 4096)
	f.conn.SetReadDeadline(time.Now().Add(d))
	n, err := f.conn.Read(buf)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return ""
	}
	if err != nil {
		f.t.Fatalf("read the notify socket: %v", err)
	}
	return string(buf[:n])
}

// expect waits up to d for a datagram starting with want, failing with
// what came instead.
func (f *fakeSystemd) expect(want string, d time.Duration) {
	f.t.Helper()
	deadline := time.Now().Add(d)
	var seen []string
	for time.Now().Before(deadline) {
		msg := f.next(time.Until(deadline))
		if strings.HasPrefix(msg, want) {
			return
		}
		if msg != "" {
			seen = append(seen, msg)
		}
	}
	f.t.Fatalf("waited %v for %q on the notify socket; got %q", d, want, seen)
}

// quiet asserts no WATCHDOG=1 comes for d.
func (f *fakeSystemd) noWatchdog(d time.Duration) {
	f.t.Helper()
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if msg := f.next(time.Until(deadline)); strings.Contains(msg, "WATCHDOG=1") {
			f.t.Fatalf("WATCHDOG=1 sent while unhealthy")
		}
	}
}

const interval = 60 * time.Millisecond

func TestReadyWatchdogWhileHealthyStopping(t *testing.T) {
	sd := newFakeSystemd(t)
	var failing atomic.Bool
	s := New(Options{
		Notify: Systemd, Interval: interval,
		Probes: []Probe{{Name: "ui", Check: func(context.Context) error {
			if failing.Load() {
				return errors.New("no answer")
			}
			return nil
		}}},
	})
	s.Ready("ready")
	sd.expect("READY=1", time.Second)

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	for range 3 {
		sd.expect("WATCHDOG=1", 10*interval)
	}

	failing.Store(true)
	sd.expect("STATUS=unhealthy: ui: no answer", 10*interval)
	sd.noWatchdog(4 * interval)

	failing.Store(false)
	sd.expect("STATUS=ready", 10*interval)
	sd.expect("WATCHDOG=1", 10*interval)

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return within 5 s of its context ending")
	}
	s.Stopping()
	sd.expect("STOPPING=1", time.Second)
}

// A probe that hangs (a deadlocked controller) fails by its deadline and
// stops the pings; it is not started again while it hangs.
func TestHungProbeStopsWatchdog(t *testing.T) {
	sd := newFakeSystemd(t)
	var started atomic.Int32
	release := make(chan struct{})
	defer close(release)
	s := New(Options{
		Notify: Systemd, Interval: interval,
		Probes: []Probe{
			{Name: "ui", Check: func(context.Context) error { return nil }},
			{Name: "controller", Check: func(context.Context) error { started.Add(1); <-release; return nil }},
		},
	})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go s.Run(ctx)
	sd.expect("STATUS=unhealthy: controller: no answer within", 10*interval)
	sd.noWatchdog(5 * interval)
	if n := started.Load(); n != 1 {
		t.Errorf("the hung probe was started %d times, want once", n)
	}
}

// Without a watchdog interval Run sends nothing and returns with its context.
func TestNoWatchdog(t *testing.T) {
	sd := newFakeSystemd(t)
	s := New(Options{Notify: Systemd, Probes: []Probe{{Name: "ui", Check: func(context.Context) error { return nil }}}})
	ctx, cancel := context.WithTimeout(context.Background(), 3*interval)
	defer cancel()
	if err := s.Run(ctx); err != nil {
		t.Fatal(err)
	}
	if msg := sd.next(interval); msg != "" {
		t.Errorf("sent %q without a watchdog", msg)
	}
}

// WatchdogInterval reads systemd's WATCHDOG_USEC for this process only.
func TestWatchdogInterval(t *testing.T) {
	t.Setenv("WATCHDOG_USEC", "30000000")
	t.Setenv("WATCHDOG_PID", strconv.Itoa(os.Getpid()))
	if d, err := WatchdogInterval(); err != nil || d != 30*time.Second {
		t.Errorf("WatchdogInterval = %v, %v; want 30s", d, err)
	}
	t.Setenv("WATCHDOG_PID", strconv.Itoa(os.Getpid()+1))
	if d, err := WatchdogInterval(); err != nil || d != 0 {
		t.Errorf("WatchdogInterval for another PID = %v, %v; want 0", d, err)
	}
}

// A notify socket that has gone away is logged, never fatal.
func TestNotifyErrorIsNotFatal(t *testing.T) {
	var sent []string
	s := New(Options{Notify: func(st string) error { sent = append(sent, st); return fmt.Errorf("gone") }})
	s.Ready("ready")
	s.Stopping()
	if len(sent) != 2 {
		t.Errorf("sent %q", sent)
	}
}
