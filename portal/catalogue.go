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
	"time"

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
// prefill claims, and document page ranges.
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
		for _, d := range p.Documents {
			dw := w + " document " + d.Type
			if d.Type == "" {
				errs = append(errs, fmt.Errorf("%s: empty type", dw))
			}
			text(dw+" label", d.Label)
			if d.MinPages < 0 || d.MaxPages < 1 || d.MinPages > d.MaxPages || (d.Required && d.MinPages < 1) {
				errs = append(errs, fmt.Errorf("%s: pages %d..%d invalid", dw, d.MinPages, d.MaxPages))
			}
		}
	}
	return errors.Join(errs...)
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
