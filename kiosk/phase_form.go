package kiosk

import (
	"errors"
	"strings"

	"govkiosk/backend-client/idqr"
)

// The form, and the signed ID QR that may cross-check and prefill it.

// ErrFormProblems is returned by SubmitForm when a value is refused; the
// problems are in the View, per field.
var ErrFormProblems = userErr(MsgFormProblems, errors.New("form has problems"))

// SubmitForm validates the form; valid values move on to the documents.
// Read-only fields keep the values the identity provider gave.
func (c *Controller) SubmitForm(values map[string]string) error {
	return c.do([]Step{StepForm}, func(s *session) error {
		form := map[string]string{}
		for _, f := range s.procedure.Fields {
			if f.ReadOnly {
				form[f.Name] = s.form[f.Name]
				continue
			}
			form[f.Name] = strings.TrimSpace(values[f.Name])
		}
		s.form = form
		s.formProblems = ValidateForm(s.procedure.Fields, form)
		if len(s.formProblems) > 0 {
			return ErrFormProblems
		}
		s.applyAnswers()
		return s.fire(evFormDone)
	})
}

// identityQRLocked checks the signed ID QR on a citizen's card. It may
// cross-check and prefill the form of the citizen who logged in with the
// national ID; it never logs anybody in on its own. Decoding is CPU only.
func (c *Controller) identityQRLocked(data []byte) {
	s := c.s
	if s.step != StepForm || s.ident == nil {
		c.setNotice(userErr(MsgIDQRNotLogin, errors.New("identity QR outside the form")))
		return
	}
	trust := c.d.IDTrust
	if trust == nil {
		trust = c.d.Catalogue.IDTrust()
	}
	claims, err := idqr.Decode(data, trust, c.d.Now(), idqr.Limits{})
	if err != nil {
		c.setNotice(userErr(MsgIDQRInvalid, err))
		return
	}
	if claims.CitizenID != s.ident.CitizenID {
		c.setNotice(userErr(MsgIDQROtherPerson, errors.New("identity QR of another citizen")))
		return
	}
	form := cloneMap(s.form)
	if form == nil {
		form = map[string]string{}
	}
	for _, f := range s.procedure.Fields {
		if form[f.Name] != "" {
			continue
		}
		switch f.Prefill {
		case "birthdate":
			form[f.Name] = claims.BirthDate
		case "address":
			form[f.Name] = claims.Address
		case "name":
			form[f.Name] = claims.Name
		}
	}
	s.form = form
	s.idqrChecked = true
	s.notice, s.noticeCode = "", ""
	c.log().Info("signed ID QR matched the logged-in citizen", "issuer_key", claims.KeyID)
}

// FixAnswers leaves the refusal screen for the form, keeping everything the
// citizen entered and scanned; the refused packet is withdrawn once the
// corrected one is written.
func (c *Controller) FixAnswers() error {
	return c.do([]Step{StepRefused}, func(s *session) error {
		s.challenge, s.confirmToken, s.refusal = nil, "", ""
		return s.fire(evFix)
	})
}
