package portal

import (
	"net/http"

	"govkiosk/portal/idp"
)

// Identity is what the portal needs from the national-ID provider.
type Identity interface {
	// Handler serves the provider's own pages (/idp/..., /phone/...).
	Handler() http.Handler
	// CitizenIDForAccessToken resolves a citizen's OIDC access token.
	CitizenIDForAccessToken(token string) (citizenID string, ok bool)
	// Deliver sends text to the citizen's own phone or app.
	Deliver(citizenID, text string)
}

// ProviderIdentity adapts the national-ID test provider to Identity.
func ProviderIdentity(p *idp.Provider) Identity { return providerIdentity{p} }

type providerIdentity struct{ p *idp.Provider }

func (a providerIdentity) Handler() http.Handler { return a.p.Handler() }

func (a providerIdentity) CitizenIDForAccessToken(token string) (string, bool) {
	c, ok := a.p.CitizenForAccessToken(token)
	if !ok || c.ID == "" {
		return "", false
	}
	return c.ID, true
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
