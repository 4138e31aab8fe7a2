package kiosk

import (
	"context"
	"errors"
	"fmt"
	"slices"

	backendclient "govkiosk/backend-client"
)

// The first screens: attract, catalogue, and the status of an earlier
// application read from its receipt QR.

// Start leaves the attract (or status) screen for the catalogue.
func (c *Controller) Start() error {
	return c.do([]Step{StepAttract, StepStatus}, func(s *session) error {
		s.status = nil
		c.d.Metrics.SessionStarted()
		return s.fire(evStart)
	})
}

// SetLanguage switches the language. It works at any step, even while an
// operation runs, and keeps everything the citizen did.
func (c *Controller) SetLanguage(lang string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.touchLocked()
	if !slices.Contains(c.languages(), lang) {
		return fmt.Errorf("kiosk: language %q not offered", lang)
	}
	c.s.lang = lang
	return nil
}

// ToggleLargeText switches to larger text and back, at any step.
func (c *Controller) ToggleLargeText() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.touchLocked()
	c.s.largeText = !c.s.largeText
}

// Back returns to the previous screen where the flow table has one.
func (c *Controller) Back() error {
	return c.do(nil, func(s *session) error {
		if s.step == StepDocuments && s.docIndex > 0 {
			s.docIndex--
			s.moved()
			return nil
		}
		if s.step == StepForm && s.question > 0 {
			s.question--
			s.formProblems = nil
			s.moved()
			return nil
		}
		if !s.canGoBack() {
			return nil
		}
		return s.fire(evBack)
	})
}

// ChooseProcedure picks a procedure from the catalogue.
func (c *Controller) ChooseProcedure(ctx context.Context, id string) error {
	p, ok := c.d.Catalogue.Procedure(id)
	// Device status and the outbox's disk check are I/O: done unlocked.
	var refuse error
	switch {
	case !ok:
		refuse = userErr(MsgGeneric, fmt.Errorf("unknown procedure %q", id))
	case p.NeedsScanner() && !c.scannerReady(ctx):
		refuse = userErr(MsgProcedureUnready, errors.New("scanner not ready"))
	default:
		// Refuse before the citizen starts, never after they have typed and scanned.
		if err := c.d.Outbox.Admit(); err != nil {
			refuse = userErr(MsgOutboxFull, err)
		}
	}
	return c.do([]Step{StepCatalogue}, func(s *session) error {
		if refuse != nil {
			c.setNotice(refuse)
			return refuse
		}
		s.offered, s.procedure = &p, &p
		s.applyAnswers()
		return s.fire(evProcedure)
	})
}

// showStatus looks up an earlier application from its receipt QR. The
// portal is asked with the lock released.
func (c *Controller) showStatus(ctx context.Context, ref string) {
	o, err := c.begin(ctx, []Step{StepAttract, StepStatus}, MsgBusyStatus, true, nil)
	if o == nil || err != nil {
		return
	}
	defer o.end()
	pctx, cancel := context.WithTimeout(o.ctx, portalWait)
	st, err := c.d.Portal.Status(pctx, ref)
	cancel()
	o.apply(func(s *session) error {
		if err := s.fire(evStatus); err != nil {
			return err
		}
		s.status = nil
		if err != nil {
			key := MsgStatusOffline
			var apiErr *backendclient.APIError
			if errors.As(err, &apiErr) && apiErr.StatusCode == 404 {
				key = MsgStatusNotFound
			}
			c.setNotice(userErr(key, err))
			return nil
		}
		s.status = &st
		return nil
	})
}

// HandleScan routes a code from the QR reader. Payloads are never logged.
func (c *Controller) HandleScan(ctx context.Context, data []byte) {
	kind, ref := ClassifyQR(data, c.d.Config.PortalURL)
	if kind == QRProvisioning && c.d.Technician != nil && c.d.Technician() {
		c.d.Log.Info("qr scanned", "kind", kind, "bytes", len(data))
		c.d.Metrics.QRRead(kind)
		if c.d.Provision != nil {
			c.d.Provision(ctx, data)
		}
		return
	}
	c.mu.Lock()
	c.d.Log.Info("qr scanned", "kind", kind, "bytes", len(data), "step", string(c.s.step))
	c.d.Metrics.QRRead(kind)
	idle := (c.s.step == StepAttract || c.s.step == StepStatus) && c.s.busy == ""
	switch {
	case c.outOfService:
		c.mu.Unlock() // nobody is served while the door is open
	case kind == QRIdentity:
		c.touchLocked()
		c.identityQRLocked(data)
		c.changedLocked()
		c.mu.Unlock()
	case !idle:
		c.mu.Unlock() // mid-session scans are ignored; the citizen is busy with something else
	case kind == QRTracking:
		c.mu.Unlock()
		c.showStatus(ctx, ref)
	default:
		c.touchLocked()
		c.s.fire(evStatus)
		c.s.status = nil
		c.setNotice(userErr(MsgNotForKiosk, fmt.Errorf("qr kind %s", kind)))
		c.changedLocked()
		c.mu.Unlock()
	}
}

// AskCancel is the footer's Cancel. Before the application is submitted
// it asks first ("Do you want to stop? Everything you entered will be
// deleted."): Cancel then wipes, KeepGoing goes back. Where nothing would
// be lost (the catalogue, the status screen, after submission) it wipes at
// once.
func (c *Controller) AskCancel() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.touchLocked()
	s := c.s
	if c.outOfService {
		return nil
	}
	switch s.step {
	case StepAttract, StepCatalogue, StepStatus, StepReceipt, StepRating, StepThanks:
		if s.busy != "" && !s.cancellable {
			return errBusy
		}
		c.wipeLocked("cancel")
		return nil
	}
	s.askCancel = true
	c.changedLocked()
	return nil
}

// KeepGoing answers "Do you want to stop?" with no: the screen is as it was.
func (c *Controller) KeepGoing() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.touchLocked()
	c.s.askCancel = false
}
