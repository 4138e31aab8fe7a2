package kiosk

import (
	"errors"
	"unicode/utf8"

	"govkiosk/backend-client/api"
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
			form[f.Name] = NormalizeValue(f, values[f.Name])
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

// Questions lists the form's questions, one a screen: the index in fields
// of each field the citizen answers. Read-only fields (from the national
// ID) are shown with the first. A form of read-only fields alone is one
// screen too, which shows them for the citizen to check.
func Questions(fields []api.Field) []int {
	var q []int
	for i, f := range fields {
		if !f.ReadOnly {
			q = append(q, i)
		}
	}
	if len(q) == 0 && len(fields) > 0 {
		q = []int{-1}
	}
	return q
}

// mergeDraft copies the editable fields present in values into s's form,
// as they are (unchecked, untrimmed: a word typed on the keyboard may end in
// the space just typed); a value longer than any field may hold is cut
// there. Read-only fields keep the identity provider's values.
func (s *session) mergeDraft(values map[string]string) {
	form := cloneMap(s.form)
	if form == nil {
		form = map[string]string{}
	}
	for _, f := range s.procedure.Fields {
		v, ok := values[f.Name]
		if !ok || f.ReadOnly {
			continue
		}
		if utf8.RuneCountInString(v) > api.MaxFieldRunes {
			v = string([]rune(v)[:api.MaxFieldRunes])
		}
		form[f.Name] = v
	}
	s.form = form
}

// SaveDraft keeps what the citizen has put in the form so far, unchecked
// (mergeDraft), so that a redraw (a language switch, larger text, a code
// held to the reader, a key of the keyboard without script) shows it
// again. Fields not in values keep what they had.
func (c *Controller) SaveDraft(values map[string]string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.s.step != StepForm || c.outOfService {
		return nil
	}
	c.touchLocked()
	c.s.mergeDraft(values)
	return nil
}

// AnswerQuestion takes the answer to question q of the form (the one on
// screen; an answer from a screen no longer shown is ignored). A valid
// answer moves on to the next question; after the last, the whole form is
// checked and, valid, the documents follow; otherwise the first question
// with a problem is shown again with it.
func (c *Controller) AnswerQuestion(q int, values map[string]string) error {
	return c.do([]Step{StepForm}, func(s *session) error {
		qs := Questions(s.procedure.Fields)
		if q != s.question || q < 0 || q >= len(qs) {
			return nil
		}
		s.mergeDraft(normalized(s.procedure.Fields, values))
		all := ValidateForm(s.procedure.Fields, s.form)
		if i := qs[q]; i >= 0 {
			if p, ok := all[s.procedure.Fields[i].Name]; ok {
				s.formProblems = map[string]string{s.procedure.Fields[i].Name: p}
				return ErrFormProblems
			}
		}
		s.formProblems = nil
		if q+1 < len(qs) {
			s.question = q + 1
			s.moved()
			return nil
		}
		if len(all) > 0 {
			s.formProblems = all
			for n, i := range qs {
				if _, bad := all[s.procedure.Fields[max(i, 0)].Name]; bad {
					s.question = n
					break
				}
			}
			s.moved()
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
		s.challenge, s.confirmToken, s.refusal, s.question = nil, "", "", 0
		return s.fire(evFix)
	})
}

// normalized is values in the one form the portal checks (NormalizeValue):
// "45,5" is 45.5, a phone number loses its spaces.
func normalized(fields []api.Field, values map[string]string) map[string]string {
	out := make(map[string]string, len(values))
	for k, v := range values {
		out[k] = v
	}
	for _, f := range fields {
		if v, ok := values[f.Name]; ok {
			out[f.Name] = NormalizeValue(f, v)
		}
	}
	return out
}
