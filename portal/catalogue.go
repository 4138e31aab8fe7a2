package portal

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/sha256"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"time"
	_ "time/tzdata" // office time zones are checked on any machine

	"govkiosk/backend-client/api"
	"govkiosk/kiosk/lang"
)

//go:embed catalogue.json
var catalogueJSON []byte

// LoadCatalogue decodes and validates the embedded catalogue.
func LoadCatalogue() (api.Catalogue, error) {
	var c api.Catalogue
	dec := json.NewDecoder(bytes.NewReader(catalogueJSON))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return c, fmt.Errorf("catalogue.json: %w", err)
	}
	if err := ValidateCatalogue(c); err != nil {
		return c, fmt.Errorf("catalogue.json: %w", err)
	}
	return c, nil
}

// ValidateCatalogue checks a catalogue: unique ids, every Text in every
// language of kiosk/lang, known field types with compilable patterns, select options, known
// prefill claims, document page ranges, conditions that name a select
// field and its options, no scanned document of a type a registry holds,
// registry documents from a registry that holds them, and office profiles
// (languages, currency, time zone, procedures that charge in the office's
// currency).
func ValidateCatalogue(c api.Catalogue) error {
	var errs []error
	text := func(where string, t api.Text) {
		for _, l := range lang.Codes() {
			if t[l] == "" {
				errs = append(errs, fmt.Errorf("%s: missing %q text", where, l))
			}
		}
	}
	if _, err := api.CompareVersions(c.Version, c.Version); err != nil {
		errs = append(errs, err) // kiosks refuse one older than theirs: it must compare
	}
	if len(c.Procedures) == 0 {
		errs = append(errs, errors.New("no procedures"))
	}
	ids := map[string]bool{}
	for _, p := range c.Procedures {
		w := "procedure " + p.ID
		if p.ID == "" || ids[p.ID] {
			errs = append(errs, fmt.Errorf("%s: empty or duplicate id", w))
		}
		ids[p.ID] = true
		if p.Code == "" || p.Currency == "" || p.ProcessingDays < 0 || p.FeeMinor < 0 {
			errs = append(errs, fmt.Errorf("%s: code, currency, fee or processing days invalid", w))
		}
		text(w+" name", p.Name)
		text(w+" summary", p.Summary)
		text(w+" agency", p.Agency)
		if len(p.Fields) < 1 || len(p.Fields) > 6 {
			errs = append(errs, fmt.Errorf("%s: %d fields, want 1..6", w, len(p.Fields)))
		}
		names := map[string]bool{}
		for _, f := range p.Fields {
			fw := w + " field " + f.Name
			if f.Name == "" || names[f.Name] {
				errs = append(errs, fmt.Errorf("%s: empty or duplicate name", fw))
			}
			names[f.Name] = true
			text(fw+" label", f.Label)
			if f.Help != nil {
				text(fw+" help", f.Help)
			}
			switch f.Type {
			case api.FieldText, api.FieldNumber, api.FieldDate, api.FieldPhone:
			case api.FieldSelect:
				if len(f.Options) == 0 {
					errs = append(errs, fmt.Errorf("%s: select without options", fw))
				}
				for _, o := range f.Options {
					text(fw+" option "+o.Value, o.Label)
				}
			default:
				errs = append(errs, fmt.Errorf("%s: unknown type %q", fw, f.Type))
			}
			if f.Pattern != "" {
				if _, err := regexp.Compile(f.Pattern); err != nil {
					errs = append(errs, fmt.Errorf("%s: pattern: %w", fw, err))
				}
			}
			switch f.Prefill {
			case "", "name", "birthdate", "address", "phone_number", "citizen_id":
			default:
				errs = append(errs, fmt.Errorf("%s: unknown prefill claim %q", fw, f.Prefill))
			}
		}
		condition := func(where string, cond *api.Condition) {
			if cond == nil {
				return
			}
			var field *api.Field
			for i := range p.Fields {
				if p.Fields[i].Name == cond.Field {
					field = &p.Fields[i]
				}
			}
			if field == nil || field.Type != api.FieldSelect {
				errs = append(errs, fmt.Errorf("%s: condition names %q, not a select field of the procedure", where, cond.Field))
				return
			}
			if len(cond.In) == 0 {
				errs = append(errs, fmt.Errorf("%s: condition on %s lists no value", where, cond.Field))
			}
			for _, v := range cond.In {
				if !slices.ContainsFunc(field.Options, func(o api.Option) bool { return o.Value == v }) {
					errs = append(errs, fmt.Errorf("%s: condition value %q is not an option of %s", where, v, cond.Field))
				}
			}
		}
		types := map[string]bool{}
		for _, d := range p.Documents {
			dw := w + " document " + d.Type
			if d.Type == "" || types[d.Type] {
				errs = append(errs, fmt.Errorf("%s: empty or duplicate type", dw))
			}
			types[d.Type] = true
			text(dw+" label", d.Label)
			if d.MinPages < 0 || d.MaxPages < 1 || d.MinPages > d.MaxPages || (d.Required && d.MinPages < 1) {
				errs = append(errs, fmt.Errorf("%s: pages %d..%d invalid", dw, d.MinPages, d.MaxPages))
			}
			condition(dw, d.When)
			for _, r := range c.Registries {
				if slices.Contains(r.Holds, d.Type) {
					errs = append(errs, fmt.Errorf("%s: registry %s holds it: list it in fromRegistries, do not ask for a copy", dw, r.ID))
				}
			}
		}
		for _, d := range p.FromRegistries {
			dw := w + " registry document " + d.Type
			text(dw+" label", d.Label)
			condition(dw, d.When)
			if r, ok := c.Registry(d.Registry); !ok {
				errs = append(errs, fmt.Errorf("%s: unknown registry %q", dw, d.Registry))
			} else if !slices.Contains(r.Holds, d.Type) {
				errs = append(errs, fmt.Errorf("%s: registry %s does not hold %q", dw, r.ID, d.Type))
			}
		}
	}
	regs := map[string]bool{}
	for _, r := range c.Registries {
		w := "registry " + r.ID
		if r.ID == "" || regs[r.ID] {
			errs = append(errs, fmt.Errorf("%s: empty or duplicate id", w))
		}
		regs[r.ID] = true
		if r.Country == "" || len(r.Holds) == 0 {
			errs = append(errs, fmt.Errorf("%s: country and holds are required", w))
		}
		text(w+" name", r.Name)
	}
	errs = append(errs, validateOffices(c, ids)...)
	return errors.Join(errs...)
}

// validateOffices checks the office profiles: each names a country, its
// supported languages, a currency every procedure it offers charges in,
// and a time zone this machine knows (time/tzdata is linked in, so every
// IANA zone is); each procedure is offered by some office. A catalogue
// without offices is one office's, as before profiles.
func validateOffices(c api.Catalogue, procIDs map[string]bool) []error {
	var errs []error
	if len(c.Offices) == 0 {
		return nil
	}
	procs := map[string]api.Procedure{}
	for _, p := range c.Procedures {
		procs[p.ID] = p
	}
	codes := map[string]bool{}
	offered := map[string]bool{}
	for _, o := range c.Offices {
		w := "office " + o.Code
		if o.Code == "" || codes[o.Code] {
			errs = append(errs, fmt.Errorf("%s: empty or duplicate code", w))
		}
		codes[o.Code] = true
		if o.Country == "" || o.Currency == "" {
			errs = append(errs, fmt.Errorf("%s: country and currency are required", w))
		}
		for _, l := range lang.Codes() {
			if o.Name[l] == "" || o.Help[l] == "" {
				errs = append(errs, fmt.Errorf("%s: name and help need %q text", w, l))
			}
		}
		if len(o.Languages) == 0 {
			errs = append(errs, fmt.Errorf("%s: no languages", w))
		}
		for _, l := range o.Languages {
			if !lang.Supported(l) {
				errs = append(errs, fmt.Errorf("%s: language %q is not supported", w, l))
			}
		}
		if _, err := time.LoadLocation(o.TimeZone); err != nil || o.TimeZone == "" || o.TimeZone == "Local" {
			errs = append(errs, fmt.Errorf("%s: time zone %q is not an IANA zone", w, o.TimeZone))
		}
		if len(o.Procedures) == 0 {
			errs = append(errs, fmt.Errorf("%s: offers no procedure", w))
		}
		for _, id := range o.Procedures {
			p, ok := procs[id]
			switch {
			case !ok || !procIDs[id]:
				errs = append(errs, fmt.Errorf("%s: unknown procedure %q", w, id))
			case p.Currency != o.Currency:
				errs = append(errs, fmt.Errorf("%s: procedure %s charges in %s, the office in %s", w, id, p.Currency, o.Currency))
			}
			offered[id] = true
		}
	}
	for _, p := range c.Procedures {
		if !offered[p.ID] {
			errs = append(errs, fmt.Errorf("procedure %s: no office offers it", p.ID))
		}
	}
	return errs
}

// signedCatalogue is the catalogue as signed, with an expiry CatalogueTTL
// after the signing; it is signed again once half of that has passed, so a
// kiosk always gets one with time left. Signing is CPU only.
func (s *Server) signedCatalogue() (api.SignedCatalogue, error) {
	s.signMu.Lock()
	defer s.signMu.Unlock()
	now := s.now()
	if s.signed.Payload != nil && now.Sub(s.signedAt) < s.opts.CatalogueTTL/2 {
		return s.signed, nil
	}
	c := s.catalogue
	c.ExpiresAt = now.Add(s.opts.CatalogueTTL).UTC()
	sc, err := signCatalogue(c, s.keys.portal, s.keys.portalKeyID, s.rand)
	if err != nil {
		return api.SignedCatalogue{}, err
	}
	s.signed, s.signedAt = sc, now
	return sc, nil
}

// signCatalogue marshals the catalogue and signs the bytes.
func signCatalogue(c api.Catalogue, key *ecdsa.PrivateKey, keyID string, rnd io.Reader) (api.SignedCatalogue, error) {
	payload, err := json.Marshal(c)
	if err != nil {
		return api.SignedCatalogue{}, fmt.Errorf("marshal catalogue: %w", err)
	}
	sig, err := signPayload(key, rnd, payload)
	if err != nil {
		return api.SignedCatalogue{}, fmt.Errorf("sign catalogue: %w", err)
	}
	return api.SignedCatalogue{Payload: payload, Signature: sig, KeyID: keyID}, nil
}

// signPayload is the portal's signature scheme for what kiosks verify with
// its key (catalogues, acknowledgements): ECDSA P-256, ASN.1, over SHA-256
// of the payload bytes.
func signPayload(key *ecdsa.PrivateKey, rnd io.Reader, payload []byte) ([]byte, error) {
	sum := sha256.Sum256(payload)
	return ecdsa.SignASN1(rnd, key, sum[:])
}

// validateForm checks submitted form values against the procedure's fields
// with the same rules the kiosk applies (api.CheckForm), and refuses values
// for fields the procedure does not have.
func validateForm(p api.Procedure, form map[string]string) error {
	known := map[string]bool{}
	for _, f := range p.Fields {
		known[f.Name] = true
		if problem := api.CheckField(f, form[f.Name]); problem != "" {
			return fmt.Errorf("field %s: %s", f.Name, problem)
		}
	}
	for k := range form {
		if !known[k] {
			return fmt.Errorf("unknown field %s", k)
		}
	}
	return nil
}

// AppointmentDate is the received date plus days working days: the days
// after the received date that are not Saturdays or Sundays are counted.
// With 0 days, a weekend date rolls to Monday. The date is in received's
// location.
func AppointmentDate(received time.Time, days int) string {
	d := time.Date(received.Year(), received.Month(), received.Day(), 12, 0, 0, 0, received.Location())
	weekend := func(t time.Time) bool { return t.Weekday() == time.Saturday || t.Weekday() == time.Sunday }
	for days == 0 && weekend(d) {
		d = d.AddDate(0, 0, 1)
	}
	for i := 0; i < days; {
		d = d.AddDate(0, 0, 1)
		if !weekend(d) {
			i++
		}
	}
	return d.Format(time.DateOnly)
}

// officeLocation is the time zone of the office with code, from its
// profile in the catalogue: an appointment is counted in the office's
// days, not the server's. Without a profile (or with an unknown zone), the
// server's own.
func (s *Server) officeLocation(code string) *time.Location {
	if o, ok := s.catalogue.Office(code); ok {
		if loc, err := time.LoadLocation(o.TimeZone); err == nil {
			return loc
		}
	}
	return s.now().Location()
}
