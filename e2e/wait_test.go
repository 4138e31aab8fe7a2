package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// Every wait of the end-to-end test has a bound, and a wait that runs out
// fails the test naming what it waited for, with the screen. The bounds are
// far above what a step takes on a loaded 2-core machine and far below the
// test binary's timeout, so a stuck step costs a minute, not the whole run
// (the browser's context once had a single 8-minute deadline, and a screen
// that never came held the test for 480 s before anything was said).
const (
	stepBound    = 45 * time.Second // one screen: wait for it, touch it
	slowBound    = 90 * time.Second // scanning pages, submitting the application
	readBound    = 10 * time.Second // reading a value off the screen
	browserStart = 60 * time.Second // Chromium up and its first tab attached
	httpBound    = 15 * time.Second // one request to the portal or the kiosk
	exitBound    = 10 * time.Second // a process to exit after a signal
	buildBound   = 10 * time.Minute // building the binaries, before any test
)

// httpClient is what the test uses for every request: http.Get's default
// client has no timeout, so a server that accepts and never answers would
// hold the test.
var httpClient = &http.Client{Timeout: httpBound}

// named makes a's error say what a was doing (which selector it waited
// for): chromedp's own error is only the context's.
func named[T any](what string, a chromedp.Action[T]) chromedp.Action[T] {
	return func(ctx context.Context, t *chromedp.Target) (T, error) {
		v, err := a(ctx, t)
		if err != nil {
			err = fmt.Errorf("%s: %w", what, err)
		}
		return v, err
	}
}

// runStep runs browser actions within d and names the step in its error;
// d <= 0 runs them without a bound of their own, which only the test of
// this helper does, to show what the bound is for.
func runStep(ctx context.Context, what string, d time.Duration, steps ...chromedp.Action[chromedp.Void]) error {
	_, err := runWithin(ctx, what, d, chromedp.Steps(steps...))
	return err
}

func runWithin[T any](ctx context.Context, what string, d time.Duration, a chromedp.Action[T]) (T, error) {
	if d > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, d)
		defer cancel()
	}
	begin := time.Now()
	v, err := chromedp.Run(ctx, a)
	switch {
	case err == nil:
		return v, nil
	case errors.Is(err, context.DeadlineExceeded):
		return v, fmt.Errorf("%s: still not done after %v (bound %v): %w", what, time.Since(begin).Round(time.Millisecond), d, err)
	default:
		return v, fmt.Errorf("%s: %w", what, err)
	}
}

// within waits at most d for f, which runs in its own goroutine. When d
// runs out, stop is called (it must make f return, say by cancelling f's
// context) and within waits a little more for f before giving up on it.
func within(what string, d time.Duration, f func() error, stop func()) error {
	done := make(chan error, 1)
	go func() { done <- f() }()
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case err := <-done:
		if err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		return nil
	case <-timer.C:
	}
	if stop != nil {
		stop()
	}
	select {
	case <-done:
	case <-time.After(exitBound):
		return fmt.Errorf("%s: not done within %v, and still running %v after being stopped", what, d, exitBound)
	}
	return fmt.Errorf("%s: not done within %v", what, d)
}

// syncBuffer collects a process's output written from another goroutine.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) Bytes() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return bytes.Clone(s.b.Bytes())
}

// stopProcess interrupts cmd and waits for it, killing it when it does not
// exit within exitBound, and waiting for that within exitBound too. done
// is closed when cmd.Wait has returned.
func stopProcess(cmd *exec.Cmd, done <-chan struct{}) error {
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		return nil // already gone
	}
	select {
	case <-done:
		return nil
	case <-time.After(exitBound):
	}
	cmd.Process.Kill()
	select {
	case <-done:
		return fmt.Errorf("pid %d ignored SIGINT for %v and was killed", cmd.Process.Pid, exitBound)
	case <-time.After(exitBound):
		return fmt.Errorf("pid %d still not reaped %v after SIGKILL", cmd.Process.Pid, exitBound)
	}
}

func TestWithinGivesUp(t *testing.T) {
	release := make(chan struct{})
	begin := time.Now()
	err := within("wait for a line that never comes", 100*time.Millisecond,
		func() error { <-release; return errors.New("released") },
		func() { close(release) })
	if took := time.Since(begin); took > 5*time.Second {
		t.Fatalf("within returned after %v, bound 100ms", took)
	}
	if err == nil || err.Error() != "wait for a line that never comes: not done within 100ms" {
		t.Fatalf("within = %v, want the bound named", err)
	}
	if err := within("quick", time.Second, func() error { return nil }, nil); err != nil {
		t.Fatalf("within of a quick func = %v", err)
	}
	if err := within("failing", time.Second, func() error { return errors.New("boom") }, nil); err == nil || err.Error() != "failing: boom" {
		t.Fatalf("within of a failing func = %v", err)
	}
}

// TestStuckStepFailsFast is the regression test of the 480-second hang: a
// screen that never appears fails its step within the step's bound, and the
// error names the step and the element it waited for. The same step without
// a bound is still waiting long after the bound; only cancelling the
// browser's context (8 minutes, before) would have ended it.
func TestStuckStepFailsFast(t *testing.T) {
	need(t, "chromium")
	ctx := browser(t)
	if err := runStep(ctx, "open an empty page", stepBound, chromedp.Navigate("data:text/html,<p>no receipt here</p>")); err != nil {
		t.Fatal(err)
	}
	const bound = 2 * time.Second
	begin := time.Now()
	err := runStep(ctx, "wait for the receipt screen", bound, waitFor("reference"))
	took := time.Since(begin)
	if err == nil {
		t.Fatal("waiting for an element that is not there succeeded")
	}
	t.Logf("bounded step after %v: %v", took.Round(time.Millisecond), err)
	if took > bound+5*time.Second {
		t.Errorf("the bounded step returned after %v, bound %v", took, bound)
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("error %v does not wrap context.DeadlineExceeded", err)
	}
	for _, want := range []string{"wait for the receipt screen", `[data-testid="reference"]`, "bound 2s"} {
		if !bytes.Contains([]byte(err.Error()), []byte(want)) {
			t.Errorf("error %q does not name %q", err, want)
		}
	}
	// The tab is still usable after a step ran out of time.
	if err := runStep(ctx, "read the page", readBound, chromedp.WaitVisible(chromedp.CSS("p"))); err != nil {
		t.Fatalf("after a timed-out step: %v", err)
	}

	uctx, cancel := context.WithCancel(ctx)
	defer cancel()
	unbounded := make(chan error, 1)
	go func() { unbounded <- runStep(uctx, "wait for the receipt screen", 0, waitFor("reference")) }()
	select {
	case err := <-unbounded:
		t.Fatalf("without a bound the step returned by itself: %v", err)
	case <-time.After(3 * bound):
		// Still waiting, as the end-to-end test did for 480 s.
	}
	cancel()
	select {
	case err := <-unbounded:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("the unbounded step ended with %v, want context.Canceled", err)
		}
	case <-time.After(exitBound):
		t.Fatal("the unbounded step did not stop when its context was cancelled")
	}
}
