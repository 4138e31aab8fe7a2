package kiosk

// One-time service PINs from the fleet (fleetwire.CmdServicePIN): the fleet
// sends only a salted Argon2id hash of the PIN, the technician's staff id
// and an expiry; the kiosk keeps at most MaxServicePINs of them in memory,
// each good once. On the offer screen (door open) the technician types the
// PIN on the on-screen pad; MaxPINTries wrong PINs in a row lock PIN entry
// for PINLockout and tell the fleet (service-pin-locked). A PIN is logged
// and reported by its id, never itself.

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"govkiosk/backend-client/fleetwire"
)

// Bounds of service PINs.
const (
	MaxServicePINs = 4
	MaxPINTries    = 5
	PINLockout     = 5 * time.Minute
	// pinSkew is how far the fleet's clock may be ahead of the kiosk's
	// when it sets an expiry.
	pinSkew = time.Minute
)

// Message keys of service PINs.
const (
	MsgSvcPINWrong   = "svc.err.pin_wrong"
	MsgSvcPINExpired = "svc.err.pin_expired"
	MsgSvcPINLocked  = "svc.err.pin_locked"
)

func init() {
	ServiceMessageKeys = append(ServiceMessageKeys, MsgSvcPINWrong, MsgSvcPINExpired, MsgSvcPINLocked)
}

// ErrServicePIN is a service PIN the kiosk does not keep.
var ErrServicePIN = errors.New("service PIN refused")

// AddServicePIN keeps a PIN the fleet gave (the fleet link's
// fleetclient.ServicePINs). The oldest is dropped beyond MaxServicePINs.
func (s *Service) AddServicePIN(p fleetwire.ServicePIN) error {
	now := s.d.Now()
	switch {
	case !now.Before(p.Expires):
		return fmt.Errorf("%w: %s expired at %s", ErrServicePIN, p.ID, p.Expires.Format(time.RFC3339))
	case p.Expires.Sub(now) > fleetwire.MaxServicePINTTL+pinSkew:
		return fmt.Errorf("%w: %s is good for %v, more than %v", ErrServicePIN, p.ID, p.Expires.Sub(now).Round(time.Second), fleetwire.MaxServicePINTTL)
	}
	s.mu.Lock()
	s.pins = slices.DeleteFunc(s.pins, func(q fleetwire.ServicePIN) bool { return q.ID == p.ID })
	s.pins = append(s.pins, p)
	if n := len(s.pins) - MaxServicePINs; n > 0 {
		s.pins = slices.Delete(s.pins, 0, n)
	}
	s.mu.Unlock()
	s.d.Log.Info("service PIN received from the fleet", "pin", p.ID, "expires", p.Expires)
	return nil
}

// TypePIN applies a key press to the PIN being typed on the offer screen:
// edit gets the digits typed so far and returns them after the press; what
// is not at most fleetwire.ServicePINDigits digits is ignored.
func (s *Service) TypePIN(edit func(draft string) string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.door || s.active {
		return
	}
	next := edit(s.pinDraft)
	if len(next) <= fleetwire.ServicePINDigits && strings.Trim(next, "0123456789") == "" {
		s.pinDraft = next
		s.changedLocked()
	}
}

// EnterPIN takes the PIN typed so far (TypePIN) and enters service mode if
// it is a PIN the fleet gave, not expired and not used.
func (s *Service) EnterPIN() error {
	s.mu.Lock()
	pin := s.pinDraft
	s.pinDraft = ""
	s.mu.Unlock()
	return s.enterPIN(pin)
}

// enterPIN checks pin. Attempts are one at a time (pinMu), so parallel
// guesses cannot outrun the lockout; the hashes are computed with no lock
// on the screen's state.
func (s *Service) enterPIN(pin string) error {
	s.pinMu.Lock()
	defer s.pinMu.Unlock()
	now := s.d.Now()
	s.mu.Lock()
	if !s.door || s.active {
		s.mu.Unlock()
		return errSvcNotActive
	}
	if now.Before(s.pinLocked) {
		until := s.pinLocked
		s.notice = MsgSvcPINLocked
		s.changedLocked()
		s.mu.Unlock()
		return userErr(MsgSvcPINLocked, fmt.Errorf("PIN entry locked until %s", until.Format(time.TimeOnly)))
	}
	pins := slices.Clone(s.pins)
	s.mu.Unlock()

	var hit *fleetwire.ServicePIN
	for i := range pins {
		if pins[i].Match(pin) {
			hit = &pins[i]
			break
		}
	}

	s.mu.Lock()
	var kind, detail string
	var err error
	switch {
	case hit != nil && !s.door:
		err = errSvcNotActive
	case hit != nil && !now.Before(hit.Expires):
		s.pins = slices.DeleteFunc(s.pins, func(q fleetwire.ServicePIN) bool { return q.ID == hit.ID })
		s.notice = MsgSvcPINExpired
		s.d.Log.Warn("service PIN refused: expired", "pin", hit.ID, "expired", hit.Expires)
		kind, detail = "service-refused", "token "+hit.ID+": expired"
		err = userErr(MsgSvcPINExpired, fmt.Errorf("service PIN %s expired", hit.ID))
	case hit != nil:
		s.pins = slices.DeleteFunc(s.pins, func(q fleetwire.ServicePIN) bool { return q.ID == hit.ID }) // good once
		s.pinFails = 0
		s.active, s.touched, s.notice = true, now, ""
		s.token = fleetwire.TechClaims{ID: hit.ID, Technician: hit.Technician, Expires: fleetwire.Unix(hit.Expires)}
		s.d.Log.Info("service mode entered", "pin", hit.ID)
		kind, detail = "service-enter", "token "+hit.ID // the id says it is a PIN
	default:
		s.pinFails++
		if s.pinFails >= MaxPINTries {
			s.pinLocked, s.pinFails = now.Add(PINLockout), 0
			s.notice = MsgSvcPINLocked
			s.d.Log.Warn("service PIN entry locked after wrong PINs", "tries", MaxPINTries, "until", s.pinLocked)
			kind, detail = "service-pin-locked", fmt.Sprintf("%d wrong PINs: PIN entry locked for %v", MaxPINTries, PINLockout)
			err = userErr(MsgSvcPINLocked, errors.New("PIN entry locked"))
		} else {
			s.notice = MsgSvcPINWrong
			s.d.Log.Warn("service PIN refused: no such PIN", "tries", s.pinFails)
			err = userErr(MsgSvcPINWrong, errors.New("wrong service PIN"))
		}
	}
	s.changedLocked()
	s.mu.Unlock()
	if kind != "" {
		s.report(kind, detail)
	}
	return err
}
