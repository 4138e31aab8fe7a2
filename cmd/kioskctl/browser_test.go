package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"govkiosk/kiosk"
	"govkiosk/ui"
)

// kioskSocket is a real UI and controller serving the launcher's socket,
// as the kiosk does with --browser-socket.
func kioskSocket(t *testing.T) (*kiosk.Controller, string, string) {
	t.Helper()
	cfg := kiosk.Config{KioskID: "K-BROWSER"}
	cfg.SetDefaults()
	ctrl := kiosk.NewController(kiosk.Deps{Config: cfg})
	srv, err := ui.New(ctrl, ui.Options{Log: slog.New(slog.DiscardHandler), Listen: "127.0.0.1:18123"})
	if err != nil {
		t.Fatal(err)
	}
	dir, err := os.MkdirTemp("", "kb") // unix socket paths are short
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	sock := filepath.Join(dir, "browser.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: srv.LauncherHandler(), ReadHeaderTimeout: 5 * time.Second}
	go hs.Serve(ln)
	t.Cleanup(func() { hs.Close() })
	return ctrl, sock, dir
}

// fakeChromium is a script standing in for Chromium: it logs its pid and
// arguments, one start a line, then waits to be stopped (or exits at once
// with exitNow).
func fakeChromium(t *testing.T, exitNow bool) (bin, log string) {
	t.Helper()
	dir := t.TempDir()
	log = filepath.Join(dir, "starts.log")
	body := "#!/bin/sh\necho \"$$ $*\" >> " + log + "\n"
	if exitNow {
		body += "exit 3\n"
	} else {
		body += "exec sleep 600\n"
	}
	bin = filepath.Join(dir, "chromium")
	if err := os.WriteFile(bin, []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
	return bin, log
}

type start struct {
	pid               int
	profile, launchAt string
}

// starts waits up to d for at least n starts in the log.
func starts(t *testing.T, log string, n int, d time.Duration) []start {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		b, _ := os.ReadFile(log)
		var out []start
		for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
			if l == "" {
				continue
			}
			f := strings.Fields(l)
			var s start
			s.launchAt = f[len(f)-1]
			for _, a := range f {
				if p, ok := strings.CutPrefix(a, "--user-data-dir="); ok {
					s.profile = p
				}
			}
			if _, err := fmt.Sscan(f[0], &s.pid); err != nil {
				t.Fatalf("log line %q", l)
			}
			out = append(out, s)
		}
		if len(out) >= n {
			return out
		}
		if time.Now().After(deadline) {
			t.Fatalf("waited %v for %d browser starts; got %d: %q", d, n, len(out), b)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func alive(pid int) bool { return syscall.Kill(pid, 0) == nil }

// TestBrowserRestartsBetweenCitizens: the launcher opens Chromium at a
// launch URL on a fresh profile; when a citizen's session ends it stops
// that Chromium, removes its profile and opens a new one, on another fresh
// profile at a new launch URL; at shutdown nothing is left.
func TestBrowserRestartsBetweenCitizens(t *testing.T) {
	ctrl, sock, _ := kioskSocket(t)
	bin, log := fakeChromium(t, false)
	profiles := t.TempDir()
	l := &launcher{socket: sock, profiles: profiles, chromium: bin, retry: 50 * time.Millisecond,
		log: slog.New(slog.DiscardHandler), output: os.Stderr}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	var runErr error
	go func() { runErr = l.run(ctx); close(done) }()
	defer func() { cancel(); <-done }()

	first := starts(t, log, 1, 10*time.Second)[0]
	if !strings.HasPrefix(first.launchAt, "http://127.0.0.1:18123/") || !strings.Contains(first.launchAt, "secret=") {
		t.Errorf("Chromium opened %q, not a launch URL", first.launchAt)
	}
	if filepath.Dir(first.profile) != profiles {
		t.Errorf("profile %q is not under %s", first.profile, profiles)
	}
	if _, err := os.Stat(first.profile); err != nil {
		t.Errorf("the profile does not exist while Chromium runs: %v", err)
	}

	// Browsing without a session end keeps the same browser.
	time.Sleep(700 * time.Millisecond) // beyond ui's session poll
	if got := starts(t, log, 1, time.Second); len(got) != 1 {
		t.Fatalf("the browser was restarted without a session ending: %d starts", len(got))
	}

	// A citizen comes and goes.
	if err := ctrl.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(700 * time.Millisecond)
	if err := ctrl.Cancel(); err != nil {
		t.Fatal(err)
	}
	second := starts(t, log, 2, 10*time.Second)[1]
	if second.profile == first.profile || second.launchAt == first.launchAt {
		t.Errorf("the next citizen's browser reuses profile %q or launch URL %q", second.profile, second.launchAt)
	}
	if _, err := os.Stat(first.profile); !os.IsNotExist(err) {
		t.Errorf("the last citizen's profile %s is still there: %v", first.profile, err)
	}
	deadline := time.Now().Add(browserStop + time.Second)
	for alive(first.pid) && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if alive(first.pid) {
		t.Errorf("the last citizen's Chromium (pid %d) still runs", first.pid)
	}

	cancel()
	select {
	case <-done:
		if runErr != nil {
			t.Fatalf("run: %v", runErr)
		}
	case <-time.After(browserStop + 2*time.Second):
		t.Fatal("the launcher did not stop within its bound")
	}
	if ents, _ := os.ReadDir(profiles); len(ents) != 0 {
		t.Errorf("profiles left behind at shutdown: %v", ents)
	}
	if alive(second.pid) {
		t.Errorf("Chromium (pid %d) outlived the launcher", second.pid)
	}
}

// A Chromium that exits is opened again, each time on a new profile, and
// no profile is left behind.
func TestBrowserReopensAfterExit(t *testing.T) {
	_, sock, _ := kioskSocket(t)
	bin, log := fakeChromium(t, true)
	profiles := t.TempDir()
	l := &launcher{socket: sock, profiles: profiles, chromium: bin, retry: 20 * time.Millisecond,
		log: slog.New(slog.DiscardHandler), output: os.Stderr}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- l.run(ctx) }()
	got := starts(t, log, 3, 10*time.Second)
	cancel()
	<-done
	seen := map[string]bool{}
	for _, s := range got {
		if seen[s.profile] {
			t.Errorf("profile %s used twice", s.profile)
		}
		seen[s.profile] = true
	}
	if ents, _ := os.ReadDir(profiles); len(ents) != 0 {
		t.Errorf("profiles left behind: %v", ents)
	}
}

// With the kiosk not up yet, the launcher waits and retries, and opens
// nothing.
func TestBrowserWaitsForTheKiosk(t *testing.T) {
	bin, log := fakeChromium(t, false)
	l := &launcher{socket: filepath.Join(t.TempDir(), "none.sock"), profiles: t.TempDir(), chromium: bin,
		retry: 20 * time.Millisecond, log: slog.New(slog.DiscardHandler), output: os.Stderr}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if err := l.run(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(log); !os.IsNotExist(err) {
		t.Errorf("Chromium was opened without a launch URL")
	}
}
