package kiosk

import (
	"slices"
	"time"

	"govkiosk/backend-client/api"
)

// The kiosk's office profile (api.Office, in the signed catalogue): which
// languages it speaks first, its time zone, its help contacts; and the
// documents its procedures retrieve from registries instead of asking the
// citizen for copies.

// RegistryDocView is a document the office retrieves from a registry, in
// the session's language: the citizen neither brings nor scans it.
type RegistryDocView struct {
	Label    string // "Identity card"
	Registry string // "National Population Database"
}

// languages are the languages offered, the first the default: the office
// profile's, in its order, as far as the configuration offers them; the
// configured ones without a profile.
func (c *Controller) languages() []string {
	if c.d.Catalogue != nil {
		if o, ok := c.d.Catalogue.Office(); ok {
			var out []string
			for _, l := range o.Languages {
				if slices.Contains(c.d.Config.Languages, l) {
					out = append(out, l)
				}
			}
			if len(out) > 0 {
				return out
			}
		}
	}
	return slices.Clone(c.d.Config.Languages)
}

// officeName is the office's name in language code: its profile's, else
// the one given at enrollment.
func (c *Controller) officeName(code string) string {
	if c.d.Catalogue != nil {
		if o, ok := c.d.Catalogue.Office(); ok && len(o.Name) > 0 {
			return o.Name.Get(code)
		}
	}
	return api.Text(c.d.Config.OfficeName).Get(code)
}

// officeHelp is where the office's citizens get help, in language code;
// "" without a profile.
func (c *Controller) officeHelp(code string) string {
	if c.d.Catalogue != nil {
		if o, ok := c.d.Catalogue.Office(); ok {
			return o.Help.Get(code)
		}
	}
	return ""
}

// location is the office's time zone, for the receipt's time of receipt;
// nil (the machine's) without a profile.
func (c *Controller) location() *time.Location {
	if c.d.Catalogue == nil {
		return nil
	}
	return c.d.Catalogue.Location()
}

// registryDocs are the documents of the session's procedure the office
// retrieves from registries, given the answers so far.
func (c *Controller) registryDocs(s *session) []RegistryDocView {
	p := s.offered
	if p == nil {
		p = s.procedure
	}
	if p == nil {
		return nil
	}
	var out []RegistryDocView
	for _, d := range p.RegistryDocumentsFor(s.form) {
		v := RegistryDocView{Label: d.Label.Get(s.lang)}
		if c.d.Catalogue != nil {
			if r, ok := c.d.Catalogue.Registry(d.Registry); ok {
				v.Registry = r.Name.Get(s.lang)
			}
		}
		out = append(out, v)
	}
	return out
}

// applyAnswers narrows the session's procedure to the documents its
// answers call for (api.Procedure.DocumentsFor, which the portal's intake
// checks too) and keeps what was already scanned for a document that is
// still asked for, so changing an answer that does not matter loses no
// scan, and one that does drops only that document's pages.
func (s *session) applyAnswers() {
	if s.offered == nil {
		return
	}
	p := *s.offered
	p.Documents = s.offered.DocumentsFor(s.form)
	var docs []ScannedDocument
	if s.docs != nil || len(p.Documents) > 0 {
		docs = make([]ScannedDocument, len(p.Documents))
		if s.procedure != nil {
			for i, d := range p.Documents {
				for j, old := range s.procedure.Documents {
					if old.Type == d.Type && j < len(s.docs) {
						docs[i] = s.docs[j]
					}
				}
			}
		}
	}
	s.procedure, s.docs = &p, docs
}
