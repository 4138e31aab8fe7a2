package kiosk

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/url"
	"time"

	backendclient "govkiosk/backend-client"
	"govkiosk/backend-client/api"
	"govkiosk/backend-client/identity"
)

// National-ID login and "Is this you?".

// BeginLogin begins a national-ID login and returns the provider's login
// URL; the login screen frames that page (its QR) inside the kiosk's own,
// with the kiosk's cancel, help and idle countdown around it, until the
// login ends or the session does. Called again (retry) it begins a fresh
// one. The provider is called (PAR, discovery) with the lock released.
func (c *Controller) BeginLogin(ctx context.Context) (string, error) {
	var lang string
	var b identity.Binding
	o, err := c.begin(ctx, []Step{StepLogin}, MsgBusyLogin, true, func(s *session) error {
		lang, b = s.lang, c.bindingLocked(s)
		return nil
	})
	if err != nil {
		return "", err
	}
	if o == nil {
		return "", userErr(MsgSessionExpired, errors.New("login started outside the login step"))
	}
	defer o.end()
	authURL, p, err := c.d.Login.BeginBound(o.ctx, lang, b)
	aerr := o.apply(func(s *session) error {
		if err != nil {
			err = loginErr(err)
			c.setNotice(err)
			return err
		}
		s.pending, s.loginRefreshes = p, 0
		s.loginURL, s.loginAt = authURL, c.d.Now()
		return nil
	})
	if aerr != nil {
		if errors.Is(aerr, errStale) {
			return "", userErr(MsgSessionExpired, aerr)
		}
		return "", aerr
	}
	return authURL, nil
}

// bindingLocked names where the session's login happens, in its language,
// for the citizen's phone to show.
func (c *Controller) bindingLocked(s *session) identity.Binding {
	b := identity.Binding{Office: c.officeName(s.lang), Kiosk: c.d.Config.KioskID}
	if s.procedure != nil {
		b.Procedure = s.procedure.Name.Get(s.lang)
	}
	return b
}

func loginErr(err error) error {
	switch {
	case errors.Is(err, identity.ErrNumberMismatch):
		return userErr(MsgLoginNumberWrong, err)
	case errors.Is(err, identity.ErrExpired):
		return userErr(MsgSessionExpired, err)
	case errors.Is(err, identity.ErrDenied):
		return userErr(MsgLoginDenied, err)
	case errors.Is(err, identity.ErrProviderDown):
		return userErr(MsgProviderDown, err)
	default:
		return userErr(MsgLoginFailed, err)
	}
}

// ErrCallbackIgnored: a request to the login callback while a login is
// pending that is not its answer (another state, or none). It changed
// nothing: the pending login waits for its real answer.
var ErrCallbackIgnored = errors.New("kiosk: login callback does not match the pending login")

// maxLoginRefreshes bounds how many times a login whose QR expired unused is
// begun again on its own before the kiosk goes back to the start: with the
// provider's 60 s QRs, a QR is on screen for at most four minutes after the
// citizen's last touch.
const maxLoginRefreshes = 3

// CompleteLogin takes the provider's callback. The code is exchanged and the
// ID token verified with the lock released. A callback that does not carry
// the pending login's state is ErrCallbackIgnored and leaves everything as
// it was, so a stray or forged request cannot spoil the citizen's login.
//
// When the provider sends the browser back because the QR expired unused,
// the login is begun again (a fresh authorization request, QR and number)
// and next is its URL, for the browser to go to; after maxLoginRefreshes
// the session ends with a message on the start screen. Otherwise next is ""
// and the kiosk's own screen shows the outcome.
func (c *Controller) CompleteLogin(ctx context.Context, q url.Values) (next string, err error) {
	if pending, ok := c.callbackMatches(q); pending && !ok {
		c.d.Log.Warn("login callback ignored: it does not answer the pending login")
		return "", ErrCallbackIgnored
	}
	var p *identity.Pending
	var lang string
	var b identity.Binding
	var refreshes int
	o, err := c.begin(ctx, []Step{StepLogin}, MsgBusyLogin, true, func(s *session) error {
		if s.pending == nil {
			return errNoPending // answered meanwhile
		}
		if !c.d.Login.CallbackMatches(s.pending, q) {
			return ErrCallbackIgnored // a new login began meanwhile
		}
		p, s.pending, s.loginURL = s.pending, nil, "" // single use, whatever happens
		lang, b, refreshes = s.lang, c.bindingLocked(s), s.loginRefreshes
		return nil
	})
	if errors.Is(err, ErrCallbackIgnored) {
		return "", err
	}
	if o == nil || err != nil {
		// A callback for a session that is gone: never log anybody in.
		c.d.Log.Warn("login callback without a pending login")
		c.lateLogin()
		return "", userErr(MsgSessionExpired, errNoPending)
	}
	defer o.end()
	id, err := c.d.Login.Complete(o.ctx, p, q)
	if qrExpired(err) {
		return c.loginAgain(o, lang, b, refreshes, err)
	}
	aerr := o.apply(func(s *session) error {
		if err != nil {
			err = loginErr(err)
			c.setNotice(err)
			return err
		}
		s.ident = id
		c.log().Info("citizen logged in", "identity", id)
		return s.fire(evLoggedIn)
	})
	if errors.Is(aerr, errStale) {
		// Wiped while the token was exchanged: the login is dropped.
		c.revoke(id)
		return "", userErr(MsgSessionExpired, aerr)
	}
	return "", aerr
}

// qrExpired reports whether a login ended because its QR was not used in
// time (the provider's login_required), as opposed to a token that failed
// its checks or a callback that came too late.
func qrExpired(err error) bool {
	return errors.Is(err, identity.ErrExpired) && !errors.Is(err, identity.ErrInvalidToken) && !errors.Is(err, identity.ErrStateMismatch)
}

// loginAgain follows a login whose QR expired unused (within op o): it
// begins a fresh one, refreshes of maxLoginRefreshes having been used, or
// ends the session with a message on the start screen.
func (c *Controller) loginAgain(o *op, lang string, b identity.Binding, refreshes int, expired error) (string, error) {
	if refreshes >= maxLoginRefreshes {
		aerr := o.apply(func(s *session) error {
			c.wipeLocked("login QR expired")
			err := userErr(MsgLoginTimedOut, expired)
			c.setNotice(err)
			return err
		})
		if errors.Is(aerr, errStale) {
			return "", userErr(MsgSessionExpired, aerr)
		}
		return "", aerr
	}
	authURL, p, err := c.d.Login.BeginBound(o.ctx, lang, b)
	aerr := o.apply(func(s *session) error {
		if err != nil {
			err = loginErr(err)
			c.setNotice(err)
			return err
		}
		s.pending, s.loginRefreshes = p, refreshes+1
		s.loginURL, s.loginAt = authURL, c.d.Now()
		c.log().Info("login QR expired unused; a fresh one is shown", "refresh", s.loginRefreshes)
		return nil
	})
	if errors.Is(aerr, errStale) {
		return "", userErr(MsgSessionExpired, aerr)
	}
	if aerr != nil {
		return "", aerr
	}
	return authURL, nil
}

var errNoPending = errors.New("no pending login")

// lateLogin tells whoever looks at the start screen that an approval came
// after its session had ended (cancelled, timed out): it was not used.
// A later citizen busy with their own session is not disturbed.
func (c *Controller) lateLogin() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.s.step == StepAttract && c.s.busy == "" && !c.outOfService {
		c.setNotice(userErr(MsgSessionExpired, errors.New("login approved after its session ended")))
		c.changedLocked()
	}
}

// callbackMatches reports whether a login is pending and whether q answers
// it. It only reads the session: a stray request does not reset the idle
// timer.
func (c *Controller) callbackMatches(q url.Values) (pending, ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.s
	pending = s.step == StepLogin && s.pending != nil
	return pending, pending && c.d.Login.CallbackMatches(s.pending, q)
}

// revoke ends a login that never became part of a session.
func (c *Controller) revoke(id *identity.Identity) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.revokeLocked("", id)
}

// citizenKey identifies a citizen within a session without keeping the ID.
func citizenKey(id *identity.Identity) string {
	sum := sha256.Sum256([]byte("govkiosk-citizen\x00" + id.CitizenID))
	return hex.EncodeToString(sum[:])
}

// ConfirmIdentity answers "Is this you?". No ends that person's login at
// the provider and goes back to the login screen, with the language and
// procedure kept and a message saying why, for the citizen to log in with
// their own ID (the UI begins the fresh login).
func (c *Controller) ConfirmIdentity(yes bool) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.touchLocked()
	s := c.s
	if s.step != StepIdentity || s.busy != "" {
		return nil
	}
	if !yes {
		c.log().Info("citizen said the login is not theirs; logging in again")
		c.revokeLocked(s.id, s.ident)
		s.ident = nil
		if err := s.fire(evNotMe); err != nil {
			return err
		}
		s.notice, s.noticeCode, s.noticeUntil, s.noticeAt = MsgNotMe, "", time.Time{}, c.d.Now()
		return nil
	}
	s.resume = false
	if s.reloginFor != "" {
		if s.reloginFor == citizenKey(s.ident) {
			s.resume = s.form != nil
		} else {
			// Somebody else logged in after the first citizen's login
			// expired: nothing of the first may be shown to them.
			s.form, s.formProblems, s.docs, s.idqrChecked = nil, nil, nil, false
		}
	}
	s.reloginFor = ""
	if s.form == nil {
		s.form = prefill(s.procedure.Fields, s.ident)
		s.docs = make([]ScannedDocument, len(s.procedure.Documents))
	}
	return s.fire(evConfirmed)
}

func prefill(fields []api.Field, id *identity.Identity) map[string]string {
	form := map[string]string{}
	for _, f := range fields {
		switch f.Prefill {
		case "name":
			form[f.Name] = id.Name
		case "birthdate":
			form[f.Name] = id.BirthDate
		case "address":
			form[f.Name] = id.Address
		case "phone_number":
			form[f.Name] = id.Phone
		case "citizen_id":
			form[f.Name] = id.CitizenID
		}
	}
	return form
}

// loginExpiredLocked handles the portal refusing the citizen's access token
// (a portal restart, an expired login): the citizen logs in again and finds
// their procedure, language, form and documents kept, if it is them.
func (c *Controller) loginExpiredLocked(s *session, err error) error {
	if s.ident != nil {
		s.reloginFor = citizenKey(s.ident)
		c.revokeLocked(s.id, s.ident)
	}
	s.ident, s.challenge, s.confirmToken, s.pending = nil, nil, "", nil
	if ferr := s.fire(evLoginAgain); ferr != nil {
		return ferr
	}
	uerr := userErr(MsgLoginAgain, err)
	c.setNotice(uerr)
	return uerr
}

// isUnauthorized reports whether the portal refused the citizen's token.
func isUnauthorized(err error) bool {
	var ae *backendclient.APIError
	return errors.As(err, &ae) && ae.StatusCode == 401
}
