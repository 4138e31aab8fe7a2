package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

const browserUsage = `
  kioskctl browser [--socket /run/govkiosk/browser.sock] [--profiles DIR] [--chromium chromium] [-- CHROMIUM-FLAGS...]
      The touchscreen (govkiosk-browser.service runs it inside cage): open
      Chromium in kiosk mode at a one-time launch URL from the kiosk (started
      with --browser-socket), each time on a fresh profile under DIR
      (default $RUNTIME_DIRECTORY, a tmpfs), and open it again, on another
      fresh profile, whenever a citizen's session ends or Chromium exits.
`

// browserStop bounds Chromium's exit once it is asked to stop.
const browserStop = 5 * time.Second

func runBrowser(ctx context.Context, args []string, _, stderr io.Writer) error {
	fs := flag.NewFlagSet("browser", flag.ContinueOnError)
	socket := fs.String("socket", "/run/govkiosk/browser.sock", "the kiosk's browser socket (kiosk --browser-socket)")
	profiles := fs.String("profiles", os.Getenv("RUNTIME_DIRECTORY"), "where each start's fresh profile is made (default $RUNTIME_DIRECTORY)")
	chromium := fs.String("chromium", "chromium", "the Chromium binary")
	retry := fs.Duration("retry", time.Second, "wait before opening the browser again after it exited or the kiosk did not answer")
	if err := parseFlags(fs, args, stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if *profiles == "" {
		return errors.New("browser: --profiles is required outside systemd (no $RUNTIME_DIRECTORY)")
	}
	if st, err := os.Stat(*profiles); err != nil || !st.IsDir() {
		return fmt.Errorf("browser: --profiles %s is not a directory", *profiles)
	}
	bin, err := exec.LookPath(*chromium)
	if err != nil {
		return fmt.Errorf("browser: %w (install the Debian package chromium)", err)
	}
	l := &launcher{
		socket: *socket, profiles: *profiles, chromium: bin, extra: fs.Args(), retry: *retry,
		log:    slog.New(slog.NewTextHandler(stderr, nil)).With("part", "browser"),
		output: stderr,
	}
	return l.run(ctx)
}

// launcher keeps the touchscreen's browser open.
type launcher struct {
	socket, profiles, chromium string
	extra                      []string // more Chromium flags
	retry                      time.Duration
	log                        *slog.Logger
	output                     io.Writer // Chromium's stdout and stderr
}

// run opens the browser again and again until ctx ends.
func (l *launcher) run(ctx context.Context) error {
	for {
		err := l.once(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if err == nil {
			continue // a session ended: the next citizen gets a fresh browser at once
		}
		l.log.Warn("opening the browser again", "err", err, "in", l.retry)
		t := time.NewTimer(l.retry)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
	}
}

// once opens Chromium on a fresh profile at a fresh launch URL and returns
// when a session ends (nil), or with why it stopped otherwise. The profile
// is removed before it returns.
func (l *launcher) once(ctx context.Context) error {
	hc := l.client()
	launchURL, err := l.launchURL(ctx, hc)
	if err != nil {
		return err
	}
	profile, err := os.MkdirTemp(l.profiles, "profile-")
	if err != nil {
		return fmt.Errorf("browser profile: %w", err)
	}
	defer os.RemoveAll(profile)

	bctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// Listen for session ends before the browser opens: none is missed.
	ends, err := l.sessionEnds(bctx, hc)
	if err != nil {
		return err
	}
	defer ends.Close()

	args := []string{"--kiosk", "--no-first-run", "--noerrdialogs", "--disable-background-networking",
		"--disable-component-update", "--disable-sync", "--disable-pinch", "--overscroll-history-navigation=0",
		"--disable-features=Translate", "--user-data-dir=" + profile}
	if os.Getenv("WAYLAND_DISPLAY") != "" {
		args = append(args, "--ozone-platform=wayland")
	}
	args = append(append(args, l.extra...), launchURL)
	cmd := exec.CommandContext(bctx, l.chromium, args...)
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = browserStop
	cmd.Stdout, cmd.Stderr = l.output, l.output
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start chromium: %w", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	ended := make(chan error, 1)
	go func() { ended <- waitSessionEnd(ends) }()

	select {
	case err := <-exited:
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("chromium exited: %v", err)
	case err := <-ended:
		if err != nil {
			// The kiosk went away (a restart gives the UI a new launch).
			l.log.Warn("lost the kiosk's session stream: opening the browser again", "err", err)
		} else {
			l.log.Info("a session ended: opening the browser again on a fresh profile")
		}
		cancel()
		<-exited
		return err
	}
}

// client reaches the kiosk's browser socket.
func (l *launcher) client() *http.Client {
	var d net.Dialer
	return &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return d.DialContext(ctx, "unix", l.socket)
		},
		DisableKeepAlives: true,
	}}
}

func (l *launcher) launchURL(ctx context.Context, hc *http.Client) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	resp, err := l.get(ctx, hc, "/launch")
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if err != nil {
		return "", fmt.Errorf("launch URL: %w", err)
	}
	u := strings.TrimSpace(string(b))
	if !strings.HasPrefix(u, "http://") {
		return "", fmt.Errorf("launch URL: the kiosk answered %q", u)
	}
	return u, nil
}

// sessionEnds opens the kiosk's stream of session ends.
func (l *launcher) sessionEnds(ctx context.Context, hc *http.Client) (io.ReadCloser, error) {
	resp, err := l.get(ctx, hc, "/session-ends")
	if err != nil {
		return nil, err
	}
	return resp.Body, nil
}

func (l *launcher) get(ctx context.Context, hc *http.Client, path string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://kiosk"+path, nil)
	if err != nil {
		return nil, err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("the kiosk at %s: %w", l.socket, err)
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		return nil, fmt.Errorf("the kiosk at %s: %s %s", l.socket, path, resp.Status)
	}
	return resp, nil
}

// waitSessionEnd returns nil at the first session end on the stream, or
// why the stream stopped.
func waitSessionEnd(r io.Reader) error {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		if sc.Text() == "session-ended" {
			return nil
		}
	}
	if err := sc.Err(); err != nil {
		return err
	}
	return io.ErrUnexpectedEOF
}
