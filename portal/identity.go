package portal

import (
	"log/slog"
	"net/http"

	"govkiosk/portal/idp"
)

// Identity is what the portal needs from the national-ID provider.
type Identity interface {
	// Handler serves the provider's own pages (/idp/..., /phone/...).
	Handler() http.Handler
	// CitizenForAccessToken resolves a citizen's OIDC access token to the
	// identity the provider verified (ok false: unknown or expired token).
	CitizenForAccessToken(token string) (c Citizen, ok bool)
	// Deliver sends text to the citizen's own phone or app.
	Deliver(citizenID, text string)
}

// Citizen is the identity the national-ID provider verified: the claims
// that prefill read-only form fields (api.Field.Prefill). Personal data.
type Citizen struct {
	ID        string // national ID number (claim citizen_id)
	Name      string // name
	BirthDate string // birthdate, YYYY-MM-DD
	Address   string // address
	Phone     string // phone_number
}

// LogValue keeps the citizen's data out of logs.
func (c Citizen) LogValue() slog.Value { return slog.StringValue("[citizen redacted]") }

// claims are the citizen's identity claims by their api.Field.Prefill names.
func (c Citizen) claims() map[string]string {
	return map[string]string{"citizen_id": c.ID, "name": c.Name, "birthdate": c.BirthDate, "address": c.Address, "phone_number": c.Phone}
}

// ProviderIdentity adapts the national-ID test provider to Identity.
func ProviderIdentity(p *idp.Provider) Identity { return providerIdentity{p} }

type providerIdentity struct{ p *idp.Provider }

func (a providerIdentity) Handler() http.Handler { return a.p.Handler() }

func (a providerIdentity) CitizenForAccessToken(token string) (Citizen, bool) {
	c, ok := a.p.CitizenForAccessToken(token)
	if !ok || c.ID == "" {
		return Citizen{}, false
	}
	return Citizen{ID: c.ID, Name: c.Name, BirthDate: c.BirthDate, Address: c.Address, Phone: c.Phone}, true
}

func (a providerIdentity) Deliver(citizenID, text string) { a.p.Deliver(citizenID, text) }

func newIDPIdentity(opts Options) (Identity, error) {
	p, err := idp.New(idp.Config{
		Issuer:   opts.PublicURL + "/idp",
		PhoneURL: opts.PublicURL + "/phone",
		Clients:  []idp.Client{{ID: OIDCClientID, RedirectURIs: opts.KioskRedirectURIs}},
		Now:      opts.Now,
		Rand:     opts.Rand,
		Log:      opts.Log.With("component", "idp"),
	})
	if err != nil {
		return nil, err
	}
	return ProviderIdentity(p), nil
}
