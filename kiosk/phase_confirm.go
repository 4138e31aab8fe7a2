package kiosk

import (
	"context"
	"crypto"
	"crypto/sha256"
	"errors"
	"strings"
	"time"

	"github.com/google/uuid"

	backendclient "govkiosk/backend-client"
	"govkiosk/backend-client/api"
	"govkiosk/kiosk/outbox"
	"govkiosk/kiosk/receipt"
)

// The confirmation code and the submission.

// portalWait bounds one call to the portal made while the citizen waits.
const portalWait = 20 * time.Second

// writeWait bounds writing a packet to the outbox (encryption and fsyncs).
const writeWait = 30 * time.Second

// RequestCode asks the portal to send a confirmation code to the citizen's
// phone. The portal is called with the lock released.
func (c *Controller) RequestCode(ctx context.Context) error {
	var token, procedure, language string
	o, err := c.begin(ctx, []Step{StepReview, StepConfirm}, MsgBusySendingCode, true, func(s *session) error {
		token, procedure, language = s.ident.AccessToken, s.procedure.ID, s.lang
		return nil
	})
	if o == nil || err != nil {
		return err
	}
	defer o.end()
	pctx, cancel := context.WithTimeout(o.ctx, portalWait)
	ch, err := c.d.Portal.RequestConfirmation(pctx, token, api.ConfirmationRequest{ProcedureID: procedure, KioskID: c.d.Config.KioskID, Language: language})
	cancel()
	return o.apply(func(s *session) error {
		switch {
		case isUnauthorized(err):
			return c.loginExpiredLocked(s, err)
		case err != nil:
			err = codeError(err)
			c.setNotice(err)
			return err
		}
		s.challenge = &ch
		s.attemptsLeft = ch.Attempts
		if s.step == StepReview {
			return s.fire(evCodeSent)
		}
		// A new code on the code screen: say so, the screen looks the same.
		s.notice, s.noticeCode, s.noticeUntil = MsgCodeResent, "", time.Time{}
		return nil
	})
}

// codeError is what the citizen is told when the portal does not send or
// check a code: the wait, when it limits codes or wrong codes (a 429
// without one says a minute), else that it could not be reached.
func codeError(err error) error {
	reason, wait, ok := backendclient.RateLimited(err)
	if !ok {
		return userErr(MsgCodeUnavailable, err)
	}
	key := MsgCodeWait
	if reason == api.ReasonCitizenWrongCodes || reason == api.ReasonKioskWrongCodes {
		key = MsgCodeLocked
	}
	return &UserError{Key: key, Err: err, Wait: max(wait, time.Minute)}
}

// validCode reports whether code has the shape of a confirmation code, so a
// slip of the finger never costs the citizen one of their tries.
func validCode(code string) bool {
	if len(code) != 6 {
		return false
	}
	for _, r := range code {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// VerifyCode checks the typed code; a right code submits the application.
// The code confirms exactly what the citizen reviewed: the application is
// copied before the portal is asked, its review digest goes with the code,
// and that copy is the packet. Nothing here holds the lock across the
// portal, the disk or the printer.
func (c *Controller) VerifyCode(ctx context.Context, code string) error {
	code = strings.ReplaceAll(strings.TrimSpace(code), " ", "")
	var token, challengeID string
	var app Application
	o, err := c.begin(ctx, []Step{StepConfirm}, MsgBusyChecking, true, func(s *session) error {
		if s.challenge == nil {
			return userErr(MsgCodeExpired, errors.New("no code requested"))
		}
		if !validCode(code) {
			err := userErr(MsgCodeShort, errors.New("code is not 6 digits"))
			c.setNotice(err)
			return err
		}
		token, challengeID = s.ident.AccessToken, s.challenge.ID
		app = s.application(c.d.Config, c.d.Now().UTC())
		return nil
	})
	if o == nil || err != nil {
		return err
	}
	defer o.end()

	digest := api.ReviewDigest(app.Review())
	pctx, cancel := context.WithTimeout(o.ctx, portalWait)
	res, err := c.d.Portal.VerifyConfirmation(pctx, token, api.ConfirmationVerify{ID: challengeID, Code: code, ReviewDigest: digest})
	cancel()

	var parked string
	aerr := o.apply(func(s *session) error {
		switch {
		case isUnauthorized(err):
			return c.loginExpiredLocked(s, err)
		case err != nil:
			err = codeError(err)
			c.setNotice(err)
			return err
		case !res.OK:
			s.attemptsLeft = res.AttemptsLeft
			key := MsgCodeWrong
			switch res.Reason {
			case "expired":
				key = MsgCodeExpired
			case "exhausted":
				key = MsgCodeExhausted
			}
			if key != MsgCodeWrong {
				s.challenge = nil // a new code must be requested
			}
			err := userErr(key, errors.New("confirmation refused: "+res.Reason))
			c.setNotice(err)
			return err
		}
		// From here the application is being written: no cancel until the
		// citizen has their receipt (every step below has a deadline).
		s.setBusy(MsgBusySending, false)
		s.confirmToken = res.Token
		app.ConfirmationToken = res.Token
		parked = s.parked
		return nil
	})
	if aerr != nil {
		return aerr
	}
	return c.submit(o, app, parked)
}

// application copies what the packet is built from.
func (s *session) application(cfg Config, now time.Time) Application {
	a := Application{
		KioskID: cfg.KioskID, OfficeCode: cfg.OfficeCode, Language: s.lang,
		Procedure: *s.procedure, Form: cloneMap(s.form),
		Applicant: api.Applicant{CitizenID: s.ident.CitizenID, Name: s.ident.Name, BirthDate: s.ident.BirthDate, Phone: s.ident.Phone},
		Docs:      append([]ScannedDocument(nil), s.docs...), ConfirmationToken: s.confirmToken, CreatedAt: now,
	}
	return a
}

// submit writes the packet durably, then waits a little for the portal. The
// citizen is told "received" only once the packet is in the outbox, and
// "refused" (never "received") when the portal refuses it for good.
func (c *Controller) submit(o *op, app Application, parked string) error {
	// Not even a wipe stops the packet being written now.
	wctx, cancel := context.WithTimeout(context.WithoutCancel(o.ctx), writeWait)
	defer cancel()
	id, err := uuid.NewRandomFromReader(c.d.Rand)
	if err != nil {
		return c.submitFailed(o, err)
	}
	app.PacketID = id.String()
	mj, docs, provisional, err := BuildPacket(app)
	if err != nil {
		return c.submitFailed(o, err)
	}
	digest := sha256.Sum256(mj)
	sig, err := c.d.Signer.Sign(c.d.Rand, digest[:], crypto.SHA256) // ECDSA: ASN.1
	if err != nil {
		return c.submitFailed(o, err)
	}
	if err := c.d.Outbox.Enqueue(wctx, outbox.Packet{
		ID: app.PacketID, ProvisionalNumber: provisional, ManifestJSON: mj, Signature: sig, Docs: docs,
	}); err != nil {
		if outbox.IsLimit(err) {
			err = userErr(MsgOutboxFull, err)
		}
		return c.submitFailed(o, err)
	}
	// From here on the application is safe: the citizen may be told "received".
	if aerr := o.apply(func(s *session) error {
		s.confirmToken, s.parked = "", ""
		return nil
	}); aerr != nil {
		c.d.Log.Warn("application queued after its session ended", "packet", app.PacketID)
	}
	c.d.Log.Info("application queued", "packet", app.PacketID, "procedure", app.Procedure.ID, "documents", len(docs))
	if parked != "" {
		// The portal refused the earlier packet for good; this one replaces it.
		if err := c.d.Outbox.Withdraw(parked); err != nil {
			c.d.Log.Warn("refused packet not withdrawn", "packet", parked, "err", err)
		}
	}
	c.d.Outbox.Kick()

	r := &Receipt{PacketID: app.PacketID, Reference: provisional, Provisional: true, ReceivedAt: app.CreatedAt}
	qctx, qcancel := context.WithTimeout(wctx, c.d.SubmitWait)
	entry, werr := c.d.Outbox.Wait(qctx, app.PacketID)
	qcancel()
	switch {
	case werr == nil && entry.State == outbox.StateNeedsAttention:
		c.d.Log.Warn("portal refused the application", "packet", app.PacketID, "reason", entry.LastError)
		c.d.Metrics.Submission("refused")
		return o.apply(func(s *session) error {
			s.parked, s.refusal = app.PacketID, refusalKey(entry.LastError)
			return s.fire(evRefused)
		})
	case werr == nil && entry.Delivered() && entry.Result != nil:
		r.Reference = entry.Result.TrackingNumber
		r.Provisional = false
		r.AppointmentDate = entry.Result.AppointmentDate
		r.ReceivedAt = entry.Result.ReceivedAt
	default:
		c.d.Log.Warn("portal did not answer in time; provisional receipt", "packet", app.PacketID)
		r.AppointmentDate = appointmentEstimate(app.CreatedAt, app.Procedure.ProcessingDays)
	}
	c.d.Metrics.Submission(map[bool]string{true: "provisional", false: "accepted"}[r.Provisional])
	r.TrackURL = strings.TrimRight(c.d.Config.PortalURL, "/") + api.PathTrack + r.Reference

	var data receipt.Data
	if err := o.apply(func(s *session) error {
		s.receipt = r
		s.setBusy(MsgBusyPrinting, false)
		data = c.receiptData(s)
		return s.fire(evSubmitted)
	}); err != nil {
		return nil // the packet is queued; the session is gone
	}
	c.printReceipt(wctx, o, data)
	return nil
}

// submitFailed puts a failure to write the packet on the confirm screen.
func (c *Controller) submitFailed(o *op, err error) error {
	o.apply(func(s *session) error {
		c.setNotice(err)
		return nil
	})
	return err
}

// refusalKey says, from the outbox's record of the portal's answer, what the
// citizen is told about a refusal.
func refusalKey(reason string) string {
	switch {
	case strings.Contains(reason, "HTTP 422"), strings.Contains(reason, "field"):
		return MsgRefusedForm
	default:
		return MsgRefusedStaff
	}
}
