package kiosk

import (
	"context"
	"errors"
	"log/slog"
	"sync"

	"govkiosk/backend-client/api"
)

// Setup is a kiosk that is not set up yet: it has no identity, so it
// serves no citizen; its screen asks the technician to hold an enrollment
// code to the QR reader. A code read starts the enrollment; the screen
// shows its progress and result (the kiosk id and office, or the reason
// it failed, with a way to try again), then the self-test's; the
// technician's Start ends setup and the kiosk starts serving.
//
//	waiting ─(enrollment code)─► enrolling ─► testing ─► ready ─(Start)─► Done
//	                                 └──► failed ─(Retry)─► waiting
//
// Scans that are not enrollment codes leave the step as it is and set a
// notice. What the screen shows is a copy (View).
type Setup struct {
	deps SetupDeps
	log  *slog.Logger

	mu      sync.Mutex
	view    SetupView
	subs    map[chan struct{}]bool
	started bool
	done    chan struct{}
	wg      sync.WaitGroup
}

// SetupStep is where setup is.
type SetupStep string

// The steps of setup.
const (
	SetupWaiting   SetupStep = "waiting"   // hold the enrollment code to the reader
	SetupEnrolling SetupStep = "enrolling" // the portal is being asked
	SetupFailed    SetupStep = "failed"    // Reason says why; Retry to scan again
	SetupTesting   SetupStep = "testing"   // enrolled; the self-test runs
	SetupReady     SetupStep = "ready"     // enrolled and tested: Start to serve citizens
)

// Notices about the last scan in setup mode.
const (
	SetupNoticeNotCode = "not-code" // another kind of QR was held to the reader
	SetupNoticeBadCode = "bad-code" // an enrollment code, but damaged or incomplete
	SetupNoticeBusy    = "busy"     // a code was read while enrolling or after it
)

// SetupCheck is one line of the self-test on the setup screen.
type SetupCheck struct {
	Name   string // device name (config.Name*) or "portal"
	OK     bool
	State  string // the device's status (device.State)
	Detail string // for the technician; no personal data passes here
}

// SetupView is what the setup screen shows.
type SetupView struct {
	Step    SetupStep
	Notice  string // SetupNotice*, about the last scan; "" when none
	Reason  string // SetupFailed: why, one of provisioning's Fail* reasons
	KioskID string // once enrolled
	Office  string // once enrolled
	Checks  []SetupCheck
	TestOK  bool // every check passed
}

// SetupDeps is what setup does outside the screen.
type SetupDeps struct {
	// Enroll enrolls the kiosk with the code and writes its identity; it
	// returns the kiosk id and office.
	Enroll func(ctx context.Context, code api.EnrollCode) (kioskID, office string, err error)
	// Reason names why an Enroll failed (provisioning.EnrollFailure).
	Reason func(error) string
	// SelfTest checks the devices and the portal once enrolled.
	SelfTest func(ctx context.Context) []SetupCheck
	Log      *slog.Logger
}

// NewSetup is setup at its first step.
func NewSetup(d SetupDeps) *Setup {
	log := d.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Setup{deps: d, log: log, view: SetupView{Step: SetupWaiting}, subs: map[chan struct{}]bool{}, done: make(chan struct{})}
}

// View is a copy of what the screen shows.
func (s *Setup) View() SetupView {
	s.mu.Lock()
	defer s.mu.Unlock()
	v := s.view
	v.Checks = append([]SetupCheck(nil), s.view.Checks...)
	return v
}

// Done is closed once the technician started the kiosk.
func (s *Setup) Done() <-chan struct{} { return s.done }

// Subscribe returns a channel that gets a value whenever the screen
// changes, and a function to stop.
func (s *Setup) Subscribe() (<-chan struct{}, func()) {
	ch := make(chan struct{}, 1)
	s.mu.Lock()
	s.subs[ch] = true
	s.mu.Unlock()
	return ch, func() {
		s.mu.Lock()
		delete(s.subs, ch)
		s.mu.Unlock()
	}
}

// change applies f to the view under the lock and tells subscribers.
func (s *Setup) change(f func(v *SetupView)) {
	s.mu.Lock()
	f(&s.view)
	for ch := range s.subs {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
	s.mu.Unlock()
}

// Scan takes a code read by a QR reader. An enrollment code while waiting
// starts the enrollment in the background, bound to ctx; anything else
// only sets a notice. The token is never logged.
func (s *Setup) Scan(ctx context.Context, data []byte) {
	code, err := api.ParseEnrollCode(string(data))
	switch {
	case errors.Is(err, api.ErrNotEnrollCode):
		s.log.Info("setup: a code that is not an enrollment code was read", "bytes", len(data))
		s.change(func(v *SetupView) { v.Notice = SetupNoticeNotCode })
		return
	case err != nil:
		s.log.Warn("setup: damaged enrollment code", "err", err)
		s.change(func(v *SetupView) { v.Notice = SetupNoticeBadCode })
		return
	}
	s.mu.Lock()
	if s.view.Step != SetupWaiting && s.view.Step != SetupFailed {
		s.mu.Unlock()
		s.change(func(v *SetupView) { v.Notice = SetupNoticeBusy })
		return
	}
	s.view = SetupView{Step: SetupEnrolling}
	s.wg.Add(1)
	s.mu.Unlock()
	s.change(func(*SetupView) {})
	s.log.Info("setup: enrolling", "portal", code.PortalURL, "office", code.Office)
	go func() {
		defer s.wg.Done()
		s.enroll(ctx, code)
	}()
}

func (s *Setup) enroll(ctx context.Context, code api.EnrollCode) {
	id, office, err := s.deps.Enroll(ctx, code)
	if err != nil {
		reason := "other"
		if s.deps.Reason != nil {
			reason = s.deps.Reason(err)
		}
		s.log.Warn("setup: enrollment failed", "reason", reason, "err", err)
		s.change(func(v *SetupView) { *v = SetupView{Step: SetupFailed, Reason: reason} })
		return
	}
	s.log.Info("setup: enrolled", "kiosk", id, "office", office)
	s.change(func(v *SetupView) { *v = SetupView{Step: SetupTesting, KioskID: id, Office: office} })
	var checks []SetupCheck
	if s.deps.SelfTest != nil {
		checks = s.deps.SelfTest(ctx)
	}
	ok := true
	for _, c := range checks {
		ok = ok && c.OK
	}
	s.log.Info("setup: self-test done", "ok", ok, "checks", len(checks))
	s.change(func(v *SetupView) { v.Step, v.Checks, v.TestOK = SetupReady, checks, ok })
}

// Retry goes back from a failed enrollment to waiting for a code.
func (s *Setup) Retry() {
	s.change(func(v *SetupView) {
		if v.Step == SetupFailed {
			*v = SetupView{Step: SetupWaiting}
		}
	})
}

// ErrSetupNotReady is Start before the kiosk is enrolled and tested.
var ErrSetupNotReady = errors.New("setup: the kiosk is not enrolled yet")

// Start ends setup once the kiosk is enrolled and tested.
func (s *Setup) Start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.view.Step != SetupReady {
		return ErrSetupNotReady
	}
	if !s.started {
		s.started = true
		close(s.done)
	}
	return nil
}

// Wait waits for an enrollment in progress (its ctx bounds it).
func (s *Setup) Wait() { s.wg.Wait() }
