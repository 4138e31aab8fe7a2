package update_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"govkiosk/fleet/updates"
	"govkiosk/kiosk/update"
)

func partial(t *testing.T, root string) (string, int64) {
	t.Helper()
	m, _ := filepath.Glob(filepath.Join(root, "update", "download", "*.partial"))
	if len(m) != 1 {
		t.Fatalf("partial downloads: %v, want one", m)
	}
	fi, err := os.Stat(m[0])
	if err != nil {
		t.Fatal(err)
	}
	return m[0], fi.Size()
}

// A download cut mid-way resumes from the bytes it kept, with a Range
// request, and installs only after the whole file verifies.
func TestDownloadResumesAfterCut(t *testing.T) {
	s := newServer(t, updates.Options{})
	root := kioskRoot(t, s, "1.0.0")
	s.release(t, "2.0.0", 300<<10, nil)
	k := newKiosk(t, s, root, "1.0.0", nil)
	o, err := k.u.Look(ctx(t))
	if err != nil || o == nil {
		t.Fatalf("look: %+v, %v", o, err)
	}

	s.mu.Lock()
	s.cutAt = 100 << 10
	s.mu.Unlock()
	if _, err := k.u.Download(ctx(t), o); err == nil {
		t.Fatal("a download cut at 100 KiB succeeded")
	}
	_, have := partial(t, root)
	if have == 0 || have > 100<<10 {
		t.Fatalf("partial file after the cut has %d bytes, want some of the first 100 KiB", have)
	}

	path, err := k.u.Download(ctx(t), o)
	if err != nil {
		t.Fatalf("resumed download: %v", err)
	}
	reqs := s.bundleRequests()
	if len(reqs) != 2 || reqs[0] != "" || reqs[1] != "bytes="+strconv.FormatInt(have, 10)+"-" {
		t.Errorf("bundle requests %q; want a full one, then bytes=%d-", reqs, have)
	}
	if err := k.u.Install(o, path); err != nil {
		t.Fatalf("install of the resumed download: %v", err)
	}
	if got := bootCurrent(t, root); got != "2.0.0" {
		t.Errorf("current runs %s", got)
	}
}

// A partial file damaged while the kiosk was off (torn by power loss, or
// overwritten) is caught by the signed hashes, dropped, and fetched again.
func TestDamagedPartialIsRefetched(t *testing.T) {
	s := newServer(t, updates.Options{})
	root := kioskRoot(t, s, "1.0.0")
	s.release(t, "2.0.0", 200<<10, nil)
	k := newKiosk(t, s, root, "1.0.0", nil)
	o, err := k.u.Look(ctx(t))
	if err != nil || o == nil {
		t.Fatalf("look: %+v, %v", o, err)
	}
	s.mu.Lock()
	s.cutAt = 150 << 10
	s.mu.Unlock()
	k.u.Download(ctx(t), o)
	p, have := partial(t, root)
	b, _ := os.ReadFile(p)
	for i := range b[:have/2] {
		b[i] = 0 // zeros, as a torn write leaves them
	}
	os.WriteFile(p, b, 0o600)

	if _, err := k.u.Download(ctx(t), o); !errors.Is(err, update.ErrVerify) {
		t.Fatalf("download over a damaged partial: %v; want ErrVerify", err)
	}
	if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the damaged partial was kept: %v", err)
	}
	path, err := k.u.Download(ctx(t), o)
	if err != nil {
		t.Fatalf("fresh download: %v", err)
	}
	if reqs := s.bundleRequests(); reqs[len(reqs)-1] != "" {
		t.Errorf("the fresh download asked for %q, want the whole file", reqs[len(reqs)-1])
	}
	if err := k.u.Install(o, path); err != nil {
		t.Fatal(err)
	}
}

// No byte is fetched while a citizen is in a session; a session that
// starts mid-download pauses it, and it resumes where it stopped.
func TestDownloadWaitsForIdleKiosk(t *testing.T) {
	s := newServer(t, updates.Options{})
	root := kioskRoot(t, s, "1.0.0")
	s.release(t, "2.0.0", 200<<10, nil)
	var busy atomic.Bool
	var asked atomic.Int32
	busyAfter := atomic.Int32{} // >0: become busy at this call
	k := newKiosk(t, s, root, "1.0.0", func(o *update.Options) {
		o.Busy = func() bool {
			n := asked.Add(1)
			if a := busyAfter.Load(); a > 0 && n >= a {
				busy.Store(true)
			}
			return busy.Load()
		}
	})
	o, err := k.u.Look(ctx(t))
	if err != nil || o == nil {
		t.Fatalf("look: %+v, %v", o, err)
	}

	busy.Store(true)
	if _, err := k.u.Download(ctx(t), o); !errors.Is(err, update.ErrBusy) {
		t.Fatalf("download during a session: %v; want ErrBusy", err)
	}
	if reqs := s.bundleRequests(); len(reqs) != 0 {
		t.Fatalf("a busy kiosk fetched: %q", reqs)
	}

	busy.Store(false)
	asked.Store(0)
	busyAfter.Store(3) // a citizen arrives after two chunks
	if _, err := k.u.Download(ctx(t), o); !errors.Is(err, update.ErrBusy) {
		t.Fatalf("download interrupted by a session: %v; want ErrBusy", err)
	}
	_, have := partial(t, root)
	if have == 0 {
		t.Fatal("nothing kept from before the session")
	}

	busyAfter.Store(0)
	busy.Store(false)
	if _, err := k.u.Download(ctx(t), o); err != nil {
		t.Fatalf("download after the session: %v", err)
	}
	reqs := s.bundleRequests()
	if want := "bytes=" + strconv.FormatInt(have, 10) + "-"; len(reqs) != 2 || reqs[1] != want {
		t.Errorf("bundle requests %q; want the resumed one to ask %s", reqs, want)
	}
}

// A crash at any point of the switch leaves current naming a release that
// starts, and the version that starts settles as committed.
func TestCrashMidSwitch(t *testing.T) {
	for _, step := range []string{"pending", "linked", "renamed"} {
		t.Run(step, func(t *testing.T) {
			s := newServer(t, updates.Options{})
			root := kioskRoot(t, s, "1.0.0")
			s.release(t, "2.0.0", 0, nil)
			crash := errors.New("power cut at " + step)
			k := newKiosk(t, s, root, "1.0.0", func(o *update.Options) {
				*o = update.WithFault(*o, func(at string) error {
					if at == step {
						return crash
					}
					return nil
				})
			})
			o, err := k.u.Look(ctx(t))
			if err != nil || o == nil {
				t.Fatalf("look: %+v, %v", o, err)
			}
			path, err := k.u.Download(ctx(t), o)
			if err != nil {
				t.Fatal(err)
			}
			if err := k.u.Install(o, path); !errors.Is(err, crash) {
				t.Fatalf("install: %v; want the injected crash", err)
			}

			// systemd starts whatever current names.
			runs := bootCurrent(t, root)
			want := map[string]string{"pending": "1.0.0", "linked": "1.0.0", "renamed": "2.0.0"}[step]
			if runs != want {
				t.Fatalf("after a crash at %s current runs %s, want %s", step, runs, want)
			}
			next := newKiosk(t, s, root, runs, nil)
			st, err := next.u.Boot(ctx(t))
			if err != nil || st.Phase != update.Committed || st.Version != runs {
				t.Fatalf("boot of %s after the crash: %+v, %v; want committed", runs, st, err)
			}
			if _, err := os.Lstat(filepath.Join(root, ".current.next")); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("the half-made link is left: %v", err)
			}
			if got := bootCurrent(t, root); got != runs {
				t.Errorf("current runs %s after boot, want %s", got, runs)
			}
			checkOutbox(t, root)
			if runs == "1.0.0" {
				// The old version takes the release again.
				next.install(t, "2.0.0")
				if got := bootCurrent(t, root); got != "2.0.0" {
					t.Errorf("the retried install runs %s", got)
				}
			}
		})
	}
}

// Run, the loop the kiosk starts, takes a release from look to restart on
// its own, and a staged rollout that leaves this kiosk out offers nothing.
func TestRunInstallsAdmittedRelease(t *testing.T) {
	s := newServer(t, updates.Options{})
	root := kioskRoot(t, s, "1.0.0")
	salt := "2.0.0-salt"
	name := s.release(t, "2.0.0", 64<<10, &update.Rollout{Percent: 0, Salt: salt})

	c, stop := context.WithTimeout(context.Background(), 20*time.Second)
	defer stop()
	looks := make(chan struct{}, 100)
	k := newKiosk(t, s, root, "1.0.0", func(o *update.Options) {
		o.Interval = 20 * time.Millisecond
		o.BusyPoll = 20 * time.Millisecond
		o.BytesPerSecond = 1 << 20
		o.Busy = func() bool { return false }
		o.Restart = func() error { stop(); return nil }
		o.Clock = func() time.Time {
			select {
			case looks <- struct{}{}:
			default:
			}
			return time.Now()
		}
	})
	done := make(chan error, 1)
	go func() { done <- k.u.Run(c) }()
	for range 3 { // three looks with the kiosk outside the wave
		select {
		case <-looks:
		case <-c.Done():
			t.Fatal("Run did not look at the repository within 20 s")
		}
	}
	if reqs := s.bundleRequests(); len(reqs) != 0 {
		t.Fatalf("a kiosk outside the rollout fetched %q", reqs)
	}
	if err := s.repo.SetRollout(name, &update.Rollout{Percent: 100, Salt: salt}); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(25 * time.Second):
		t.Fatal("Run did not install and restart within 25 s")
	}
	if got := bootCurrent(t, root); got != "2.0.0" {
		t.Errorf("after Run current runs %s, want 2.0.0", got)
	}
}
