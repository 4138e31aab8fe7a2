package idqr

import (
	"govkiosk/backend-client/api"

	"errors"
	"fmt"
	"log/slog"
	"math"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Claims is what a verified identity QR says. Every field but Issuer, KeyID
// and the times is personal data: the type redacts itself in logs and in
// fmt output.
type Claims struct {
	Issuer      string // CWT iss
	KeyID       string // the trust-list key that verified it (set by Decode; ignored by Issue)
	CitizenID   string
	Name        string // full name as the issuer writes it
	GivenName   string
	FamilyName  string
	BirthDate   string // YYYY-MM-DD
	Gender      string // "male", "female", "other" or ""
	Address     string // lines separated by "\n"
	Nationality string // ISO 3166 alpha-2 or alpha-3, e.g. "TH", "VNM"
	IssuedAt    time.Time
	Expires     time.Time
	NotBefore   time.Time // zero if the token has no nbf
}

// LogValue redacts the claims: only the issuer, key ID and which fields are
// present reach a log.
func (c Claims) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("issuer", c.Issuer),
		slog.String("kid", c.KeyID),
		slog.Bool("citizenId", c.CitizenID != ""),
		slog.Bool("name", c.Name != "" || c.GivenName != "" || c.FamilyName != ""),
		slog.Bool("birthDate", c.BirthDate != ""),
		slog.Bool("address", c.Address != ""),
	)
}

// String redacts the claims in fmt output (%v, %s, %+v).
func (c Claims) String() string {
	return fmt.Sprintf("idqr.Claims{Issuer:%q KeyID:%q redacted}", c.Issuer, c.KeyID)
}

// GoString redacts the claims in %#v.
func (c Claims) GoString() string { return c.String() }

// wireCWT is the wire form: CWT claims with the MOSIP Claim 169 identity
// data under key 169.
type wireCWT struct {
	Iss      string        `cbor:"1,keyasint,omitempty"`
	Exp      any           `cbor:"4,keyasint,omitempty"`
	Nbf      any           `cbor:"5,keyasint,omitempty"`
	Iat      any           `cbor:"6,keyasint,omitempty"`
	Identity *wireIdentity `cbor:"169,keyasint,omitempty"`
}

type wireIdentity struct {
	ID          string `cbor:"1,keyasint,omitempty"`
	FullName    string `cbor:"4,keyasint,omitempty"`
	FirstName   string `cbor:"5,keyasint,omitempty"`
	LastName    string `cbor:"7,keyasint,omitempty"`
	DateOfBirth string `cbor:"8,keyasint,omitempty"`
	Gender      any    `cbor:"9,keyasint,omitempty"`
	Address     string `cbor:"10,keyasint,omitempty"`
	Nationality string `cbor:"13,keyasint,omitempty"`
}

var genders = []string{1: "male", 2: "female", 3: "other"}

// toWire maps Claims to the CWT, checking them as Decode would.
func (c Claims) toWire() (wireCWT, error) {
	if err := c.check(); err != nil {
		return wireCWT{}, err
	}
	w := wireCWT{
		Iss: c.Issuer,
		Exp: c.Expires.Unix(),
		Iat: c.IssuedAt.Unix(),
		Identity: &wireIdentity{
			ID: c.CitizenID, FullName: c.Name, FirstName: c.GivenName, LastName: c.FamilyName,
			DateOfBirth: strings.ReplaceAll(c.BirthDate, "-", ""),
			Address:     c.Address, Nationality: c.Nationality,
		},
	}
	if !c.NotBefore.IsZero() {
		w.Nbf = c.NotBefore.Unix()
	}
	if c.Gender != "" {
		for i, g := range genders {
			if g != "" && g == c.Gender {
				w.Identity.Gender = int64(i)
			}
		}
	}
	return w, nil
}

// fromWire maps the CWT to Claims and checks them.
func fromWire(w wireCWT) (*Claims, error) {
	if w.Identity == nil {
		return nil, errors.New("no identity claim (169)")
	}
	id := w.Identity
	c := &Claims{
		Issuer: w.Iss, CitizenID: id.ID, Name: id.FullName, GivenName: id.FirstName,
		FamilyName: id.LastName, Address: id.Address, Nationality: id.Nationality,
	}
	var err error
	if c.IssuedAt, err = numericDate(w.Iat, "iat"); err != nil {
		return nil, err
	}
	if c.Expires, err = numericDate(w.Exp, "exp"); err != nil {
		return nil, err
	}
	if w.Nbf != nil {
		if c.NotBefore, err = numericDate(w.Nbf, "nbf"); err != nil {
			return nil, err
		}
	}
	if id.DateOfBirth != "" {
		d, err := time.Parse("20060102", id.DateOfBirth)
		if err != nil || len(id.DateOfBirth) != 8 {
			return nil, errors.New("date of birth is not YYYYMMDD")
		}
		c.BirthDate = d.Format(time.DateOnly)
	}
	switch g := id.Gender.(type) {
	case nil:
	case int64:
		if g < 1 || g >= int64(len(genders)) {
			return nil, fmt.Errorf("gender code %d not in 1..3", g)
		}
		c.Gender = genders[g]
	case string:
		if len(g) != 1 || g[0] < '1' || g[0] > '3' {
			return nil, errors.New(`gender text not "1".."3"`)
		}
		c.Gender = genders[g[0]-'0']
	default:
		return nil, fmt.Errorf("gender is a %T", g)
	}
	if err := c.check(); err != nil {
		return nil, err
	}
	return c, nil
}

// numericDate reads an RFC 8392 NumericDate: an integer or a finite float
// of seconds since the epoch. Fractions are dropped.
func numericDate(v any, name string) (time.Time, error) {
	const maxSeconds = 253402300799 // 9999-12-31T23:59:59Z
	var s int64
	switch v := v.(type) {
	case nil:
		return time.Time{}, fmt.Errorf("missing %s", name)
	case int64:
		s = v
	case float64:
		if math.IsNaN(v) || v < 0 || v > maxSeconds {
			return time.Time{}, fmt.Errorf("%s out of range", name)
		}
		s = int64(v)
	default:
		return time.Time{}, fmt.Errorf("%s is a %T, not a NumericDate", name, v)
	}
	if s <= 0 || s > maxSeconds {
		return time.Time{}, fmt.Errorf("%s out of range", name)
	}
	return time.Unix(s, 0).UTC(), nil
}

// check validates the claims' content (not their times against a clock).
// Errors name fields, never values.
func (c Claims) check() error {
	switch {
	case c.Issuer == "":
		return errors.New("missing iss")
	case c.IssuedAt.IsZero():
		return errors.New("missing iat")
	case c.Expires.IsZero():
		return errors.New("missing exp")
	case !c.Expires.After(c.IssuedAt):
		return errors.New("exp is not after iat")
	case c.CitizenID == "":
		return errors.New("missing citizen ID")
	case c.Name == "" && c.GivenName == "" && c.FamilyName == "":
		return errors.New("missing name")
	}
	if c.BirthDate != "" {
		if _, err := time.Parse(time.DateOnly, c.BirthDate); err != nil || len(c.BirthDate) != 10 {
			return errors.New("birth date is not YYYY-MM-DD")
		}
	}
	if c.Gender != "" && c.Gender != "male" && c.Gender != "female" && c.Gender != "other" {
		return errors.New("gender is not male, female or other")
	}
	for _, f := range []struct {
		name, v  string
		newlines bool
	}{
		{"iss", c.Issuer, false}, {"citizen ID", c.CitizenID, false}, {"name", c.Name, false},
		{"given name", c.GivenName, false}, {"family name", c.FamilyName, false},
		{"address", c.Address, true}, {"nationality", c.Nationality, false},
	} {
		if err := cleanText(f.v, f.newlines); err != nil {
			return fmt.Errorf("%s: %w", f.name, err)
		}
	}
	return checkCitizenID(c.CitizenID, c.Nationality)
}

func cleanText(s string, newlines bool) error {
	if !utf8.ValidString(s) {
		return errors.New("not UTF-8")
	}
	for _, r := range s {
		if (unicode.IsControl(r) && !(newlines && r == '\n')) || r == '\u2028' || r == '\u2029' {
			return errors.New("control character")
		}
	}
	return nil
}

// checkCitizenID: a Thai national's ID, or any 13-digit ID, must carry the
// Thai mod-11 check digit; a Vietnamese national's ID is 12 digits; any
// other is 1-64 characters of letters, digits and '-'.
func checkCitizenID(id, nationality string) error {
	switch strings.ToUpper(nationality) {
	case "TH", "THA":
		if !validThaiID(id) {
			return errors.New("citizen ID of a Thai national fails the Thai checksum")
		}
		return nil
	case "VN", "VNM":
		if !allDigits(id, 12) {
			return errors.New("citizen ID of a Vietnamese national is not 12 digits")
		}
		return nil
	}
	if allDigits(id, 13) && !validThaiID(id) {
		return errors.New("13-digit citizen ID fails the Thai checksum")
	}
	if len(id) > 64 {
		return errors.New("citizen ID too long")
	}
	for _, r := range id {
		if !(r == '-' || unicode.IsLetter(r) || unicode.IsDigit(r)) {
			return errors.New("citizen ID has a character other than a letter, digit or '-'")
		}
	}
	return nil
}

func validThaiID(id string) bool { return api.ValidThaiID(id) }

func allDigits(s string, n int) bool { return api.AllDigits(s, n) }
