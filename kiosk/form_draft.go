package kiosk

import (
	"unicode/utf8"

	"govkiosk/backend-client/api"
)

// KeepFormDraft keeps what the citizen has typed and chosen on the form so
// far, as it is (unchecked, untrimmed: a word may end in the space just
// typed), without moving on: the on-screen keyboard of a browser without
// script posts every key with the form's values, and the redrawn form must
// show them. Read-only fields keep the identity provider's values; a value
// longer than any field may hold is cut there.
func (c *Controller) KeepFormDraft(values map[string]string) error {
	return c.do([]Step{StepForm}, func(s *session) error {
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
		return nil
	})
}
