// Package supervise tells the service manager how the kiosk is doing, in
// the sd_notify protocol (systemd's Type=notify with WatchdogSec):
//
//   - READY=1 once the kiosk's devices and UI are up (Ready);
//   - WATCHDOG=1 at half the watchdog interval, only while every health
//     probe passes (Run): a kiosk whose controller is stuck or whose UI no
//     longer answers stops pinging, and systemd restarts it;
//   - STOPPING=1 as it shuts down (Stopping).
//
// Each probe runs with a deadline of half the interval; a probe that has
// not returned by the next tick is still failing (it is never run twice at
// once). The notify function is injected (Systemd is the real one); with no
// watchdog configured Run only waits for its context.
package supervise

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/coreos/go-systemd/v22/daemon"
)

// Notifier sends one sd_notify state ("READY=1", "WATCHDOG=1", …).
type Notifier func(state string) error

// Systemd notifies the service manager through $NOTIFY_SOCKET; without it
// (not started by systemd) it does nothing.
func Systemd(state string) error {
	_, err := daemon.SdNotify(false, state)
	return err
}

// WatchdogInterval is the watchdog interval systemd gave this process
// (WATCHDOG_USEC, for this PID), or 0 when there is none.
func WatchdogInterval() (time.Duration, error) {
	return daemon.SdWatchdogEnabled(false)
}

// Probe is one health check: nil while healthy.
type Probe struct {
	Name  string
	Check func(ctx context.Context) error
}

// Options configure a Supervisor.
type Options struct {
	Notify   Notifier      // required
	Interval time.Duration // the watchdog interval; 0: no watchdog
	Probes   []Probe
	Log      *slog.Logger
	// NewTicker makes the ping ticker (nil: time.NewTicker).
	NewTicker func(time.Duration) (<-chan time.Time, func())
}

// Supervisor speaks for the kiosk to the service manager.
type Supervisor struct {
	o       Options
	pending map[string]chan error // probes still running from an earlier tick
}

// New returns a Supervisor.
func New(o Options) *Supervisor {
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.NewTicker == nil {
		o.NewTicker = func(d time.Duration) (<-chan time.Time, func()) {
			t := time.NewTicker(d)
			return t.C, t.Stop
		}
	}
	return &Supervisor{o: o, pending: map[string]chan error{}}
}

// Ready tells the service manager the kiosk is up.
func (s *Supervisor) Ready(status string) {
	s.send("READY=1\nSTATUS=" + status)
}

// Stopping tells the service manager the kiosk is shutting down.
func (s *Supervisor) Stopping() {
	s.send("STOPPING=1\nSTATUS=stopping")
}

func (s *Supervisor) send(state string) {
	if err := s.o.Notify(state); err != nil {
		s.o.Log.Warn("could not notify the service manager", "state", strings.SplitN(state, "\n", 2)[0], "err", err)
	}
}

// Run pings the watchdog while the kiosk is healthy, until ctx ends.
func (s *Supervisor) Run(ctx context.Context) error {
	if s.o.Interval <= 0 {
		<-ctx.Done()
		return nil
	}
	every := s.o.Interval / 2
	tick, stop := s.o.NewTicker(every)
	defer stop()
	healthy := true
	for {
		err := s.check(ctx, every)
		switch {
		case ctx.Err() != nil:
			return nil
		case err == nil:
			if !healthy {
				s.o.Log.Info("kiosk healthy again: watchdog pings resume")
				s.send("STATUS=ready")
			}
			s.send("WATCHDOG=1")
		case healthy:
			s.o.Log.Warn("kiosk unhealthy: watchdog pings stop, systemd restarts the kiosk unless it recovers",
				"err", err, "within", s.o.Interval)
			s.send("STATUS=unhealthy: " + err.Error())
		}
		healthy = err == nil
		select {
		case <-ctx.Done():
			return nil
		case <-tick:
		}
	}
}

// check runs every probe at once, each within d, and joins their failures.
func (s *Supervisor) check(ctx context.Context, d time.Duration) error {
	cctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	for _, p := range s.o.Probes {
		if _, running := s.pending[p.Name]; running {
			continue
		}
		done := make(chan error, 1)
		s.pending[p.Name] = done
		go func() { done <- p.Check(cctx) }()
	}
	var errs []error
	for _, p := range s.o.Probes {
		err, answered := wait(cctx, s.pending[p.Name])
		if !answered {
			// Still running: failing now, and left to finish (it is not
			// started again until it does).
			errs = append(errs, fmt.Errorf("%s: no answer within %v", p.Name, d))
			continue
		}
		delete(s.pending, p.Name)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", p.Name, err))
		}
	}
	return errors.Join(errs...)
}

// wait is the probe's answer, if it comes before ctx ends (an answer
// already there counts even when ctx has ended).
func wait(ctx context.Context, done <-chan error) (error, bool) {
	select {
	case err := <-done:
		return err, true
	default:
	}
	select {
	case err := <-done:
		return err, true
	case <-ctx.Done():
		select {
		case err := <-done:
			return err, true
		default:
			return nil, false
		}
	}
}
