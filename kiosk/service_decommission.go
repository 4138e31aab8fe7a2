package kiosk

import (
	"context"
	"errors"
)

// Decommissioning from service mode: the technician asks, is shown what
// it means and confirms; the kiosk then retires itself at the portal
// (ServiceDeps.Decommission), which refuses while applications wait in the
// outbox and wipes nothing when the portal cannot be reached.

// Message keys of decommissioning.
const (
	MsgSvcDecomUndelivered = "svc.err.decom_undelivered" // applications wait: DecommissionView.Pending says how many
	MsgSvcDecomUnreachable = "svc.err.decom_unreachable" // the portal was not reached: nothing wiped
	MsgSvcDecomFailed      = "svc.err.decom_failed"      // the portal refused: nothing wiped
	MsgSvcDecommissioned   = "svc.ok.decommissioned"     // retired: the kiosk wipes itself and restarts in setup mode
)

// DecommissionKeys are the message keys decommissioning puts on screen.
var DecommissionKeys = []string{MsgSvcDecomUndelivered, MsgSvcDecomUnreachable, MsgSvcDecomFailed, MsgSvcDecommissioned}

// DecommissionView is the decommission part of the service screen.
type DecommissionView struct {
	Offered    bool // the kiosk can decommission itself
	Confirming bool // the confirm screen is up
	Done       bool // retired: the kiosk is wiping itself
	Pending    int  // with MsgSvcDecomUndelivered: how many applications wait
}

// Undelivered is the refusal of a decommission while applications wait
// (the wiring returns it; provisioning.ErrUndelivered has this shape).
type Undelivered interface{ Undelivered() int }

// ErrPortalAway marks a decommission the portal did not hear: the wiring
// wraps its error in it.
var ErrPortalAway = errors.New("the portal could not be reached")

// AskDecommission shows the confirm screen.
func (s *Service) AskDecommission() error {
	if _, err := s.touch(); err != nil {
		return err
	}
	s.mu.Lock()
	s.decom.Confirming = s.d.Decommission != nil
	s.notice = ""
	s.changedLocked()
	s.mu.Unlock()
	return nil
}

// CancelDecommission closes the confirm screen.
func (s *Service) CancelDecommission() error {
	if _, err := s.touch(); err != nil {
		return err
	}
	s.mu.Lock()
	s.decom.Confirming = false
	s.changedLocked()
	s.mu.Unlock()
	return nil
}

// Decommission retires the kiosk once the confirm screen is up. Refusals
// leave everything as it was and say why on the screen.
func (s *Service) Decommission(ctx context.Context) error {
	id, err := s.touch()
	if err != nil {
		return err
	}
	s.mu.Lock()
	confirming := s.decom.Confirming
	s.mu.Unlock()
	if !confirming || s.d.Decommission == nil {
		return userErr(MsgSvcNotActive, errors.New("decommission not confirmed"))
	}
	err = s.d.Decommission(ctx, id) // no lock held: it asks the portal
	var u Undelivered
	s.mu.Lock()
	s.decom.Confirming, s.decom.Pending = false, 0
	switch {
	case err == nil:
		s.decom.Done, s.notice = true, MsgSvcDecommissioned
	case errors.As(err, &u):
		s.decom.Pending, s.notice = u.Undelivered(), MsgSvcDecomUndelivered
	case errors.Is(err, ErrPortalAway):
		s.notice = MsgSvcDecomUnreachable
	default:
		s.notice = MsgSvcDecomFailed
	}
	s.changedLocked()
	s.mu.Unlock()
	if err != nil {
		s.d.Log.Warn("service: decommission refused", "token", id, "err", err)
		return nil // on the screen already
	}
	s.action(id, "decommissioned")
	return nil
}
