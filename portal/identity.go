package portal

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/go-jose/go-jose/v4"

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

// KioskACRValues are the levels of assurance a kiosk login must reach,
// strongest first, as given to kiosks at enrollment: the eIDAS levels high
// and substantial (the test provider's logins are substantial).
var KioskACRValues = []string{"http://eidas.europa.eu/LoA/high", idp.ACRSubstantial}

// newIDPIdentity is the national-ID test provider with the kiosks as one
// confidential client (FAPI 2.0 style): each kiosk signs its
// private_key_jwt client assertions with its enrolled device key, named by
// its kiosk ID as kid, and pushes its authorization requests (PAR).
func (s *Server) newIDPIdentity(opts Options) (Identity, error) {
	p, err := idp.New(idp.Config{
		Issuer:   opts.PublicURL + "/idp",
		PhoneURL: opts.PublicURL + "/phone",
		Clients: []idp.Client{{ID: OIDCClientID, RedirectURIs: opts.KioskRedirectURIs,
			Keys: s.kioskJWK, RequirePAR: true}},
		Now:  opts.Now,
		Rand: opts.Rand,
		Log:  opts.Log.With("component", "idp"),
	})
	if err != nil {
		return nil, err
	}
	return ProviderIdentity(p), nil
}

// kioskJWK is the enrolled device key of the kiosk kioskID, for the
// provider's check of its client assertions: none for a revoked or
// retired kiosk.
func (s *Server) kioskJWK(kioskID string) (jose.JSONWebKey, bool) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	k, err := s.store.kiosk(ctx, kioskID)
	if err != nil {
		s.log.Warn("kiosk key for a client assertion", "kiosk", kioskID, "err", err)
		return jose.JSONWebKey{}, false
	}
	if k.KeyPEM == "" {
		return jose.JSONWebKey{}, false
	}
	if k.State != kioskActive {
		s.log.Warn("client assertion of a revoked kiosk", "kiosk", kioskID)
		return jose.JSONWebKey{}, false
	}
	pub, err := parsePublicKeyPEM(k.KeyPEM)
	if err != nil {
		s.log.Warn("stored key of a kiosk", "kiosk", kioskID, "err", err)
		return jose.JSONWebKey{}, false
	}
	return jose.JSONWebKey{Key: pub, KeyID: kioskID, Algorithm: string(jose.ES256), Use: "sig"}, true
}
