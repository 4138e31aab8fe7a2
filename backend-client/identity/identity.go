// Package identity is the kiosk's national digital ID login: an OpenID
// Connect relying party using the authorization code flow with PKCE (S256),
// a fresh state, nonce and verifier per citizen, and a fully verified ID
// token (signature via the provider's JWKS, iss, aud, exp, nonce, at_hash).
//
// The kiosk browser is sent to the URL from Begin; the provider's page shows
// a QR the citizen scans with the ID app on their own phone; after approval
// the browser comes back to the kiosk's loopback callback, whose query goes
// to Complete with the Pending that Begin returned.
package identity

import (
	"context"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// Sentinel errors; Begin and Complete wrap them so the UI can tell the
// citizen clearly what happened.
var (
	// ErrStateMismatch: the callback does not belong to this login (wrong
	// or missing state, a replayed callback, or a login left too long).
	ErrStateMismatch = errors.New("identity: login does not match this session")
	// ErrDenied: the citizen (or the provider) declined the login.
	ErrDenied = errors.New("identity: login was declined")
	// ErrProviderDown: the ID provider could not be reached or failed.
	ErrProviderDown = errors.New("identity: ID provider unavailable")
	// ErrInvalidToken: the provider's answer failed verification (code
	// refused, bad signature, wrong issuer/audience/nonce, expired token,
	// malformed claims).
	ErrInvalidToken = errors.New("identity: ID could not be verified")
)

// maxPendingAge bounds how long a login may take from Begin to Complete.
const maxPendingAge = 15 * time.Minute

// Config configures a Client.
type Config struct {
	Issuer      string // the provider's issuer URL
	ClientID    string
	RedirectURL string       // the kiosk's loopback callback
	HTTPClient  *http.Client // nil: a client with a 30 s timeout
	Now         func() time.Time
	Rand        io.Reader // nil: crypto/rand
	Log         *slog.Logger
}

// Client logs citizens in. It is safe for concurrent use.
type Client struct {
	cfg  Config
	hc   *http.Client
	now  func() time.Time
	rand io.Reader
	log  *slog.Logger

	mu       sync.Mutex
	oauth    *oauth2.Config
	verifier *oidc.IDTokenVerifier
}

// New makes a client. It does no network I/O: discovery happens on the
// first Begin and is cached once it succeeds.
func New(cfg Config) *Client {
	c := &Client{cfg: cfg, hc: cfg.HTTPClient, now: cfg.Now, rand: cfg.Rand, log: cfg.Log}
	if c.hc == nil {
		c.hc = &http.Client{Timeout: 30 * time.Second}
	}
	if c.now == nil {
		c.now = time.Now
	}
	if c.rand == nil {
		c.rand = cryptoRand{}
	} else {
		c.rand = &lockedReader{r: c.rand}
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	return c
}

// Pending is one citizen's login in progress. It lives in memory only and
// can be completed once.
type Pending struct {
	state, nonce, verifier string
	created                time.Time
	used                   atomic.Bool
}

// discover fetches the provider's metadata once it is reachable.
func (c *Client) discover(ctx context.Context) (*oauth2.Config, *oidc.IDTokenVerifier, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.oauth != nil {
		return c.oauth, c.verifier, nil
	}
	p, err := oidc.NewProvider(oidc.ClientContext(ctx, c.hc), c.cfg.Issuer)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: discovery: %v", ErrProviderDown, err)
	}
	ep := p.Endpoint()
	ep.AuthStyle = oauth2.AuthStyleInParams // a public client: client_id in the form, no secret
	c.oauth = &oauth2.Config{
		ClientID:    c.cfg.ClientID,
		Endpoint:    ep,
		RedirectURL: c.cfg.RedirectURL,
		Scopes:      []string{oidc.ScopeOpenID, "profile", "address", "phone"},
	}
	// The key set outlives this call's context: keep its values (the HTTP
	// client), not its cancellation.
	c.verifier = p.VerifierContext(oidc.ClientContext(context.WithoutCancel(ctx), c.hc), &oidc.Config{
		ClientID: c.cfg.ClientID,
		Now:      c.now,
	})
	c.log.Info("identity provider discovered")
	return c.oauth, c.verifier, nil
}

// Begin starts a login: it returns the provider URL to show in the kiosk
// browser and the Pending to hand to Complete. lang ("th", "vi", "en") is
// passed as ui_locales.
func (c *Client) Begin(ctx context.Context, lang string) (string, *Pending, error) {
	oc, _, err := c.discover(ctx)
	if err != nil {
		return "", nil, err
	}
	var r [3][32]byte
	for i := range r {
		if _, err := io.ReadFull(c.rand, r[i][:]); err != nil {
			return "", nil, fmt.Errorf("identity: randomness: %w", err)
		}
	}
	enc := base64.RawURLEncoding.EncodeToString
	// The verifier has oauth2.GenerateVerifier's form (32 octets, base64url,
	// RFC 7636 §4.1) but draws from the injected randomness.
	p := &Pending{state: enc(r[0][:]), nonce: enc(r[1][:]), verifier: enc(r[2][:]), created: c.now()}
	opts := []oauth2.AuthCodeOption{oidc.Nonce(p.nonce), oauth2.S256ChallengeOption(p.verifier)}
	if lang != "" {
		opts = append(opts, oauth2.SetAuthURLParam("ui_locales", lang))
	}
	c.log.Info("identity login begun", "lang", lang)
	return oc.AuthCodeURL(p.state, opts...), p, nil
}

// Identity is a verified citizen. It holds personal data: it redacts itself
// in logs (LogValue) and must not outlive the citizen's session.
type Identity struct {
	CitizenID, Name, GivenName, FamilyName, BirthDate, Address, Phone, Profile string
	AccessToken                                                                string
	Expiry                                                                     time.Time
}

type claims struct {
	Name       string `json:"name"`
	GivenName  string `json:"given_name"`
	FamilyName string `json:"family_name"`
	BirthDate  string `json:"birthdate"`
	Address    string `json:"address"`
	Phone      string `json:"phone_number"`
	PID        string `json:"pid"`
	Profile    string `json:"id_profile"`
	AZP        string `json:"azp"`
}

// Complete finishes the login p with the query of the kiosk's callback:
// it checks the state and any error, exchanges the code with the PKCE
// verifier and verifies the ID token and its nonce. p is used up by the
// first call, whatever its outcome.
func (c *Client) Complete(ctx context.Context, p *Pending, callback url.Values) (*Identity, error) {
	if p == nil || !p.used.CompareAndSwap(false, true) {
		return nil, fmt.Errorf("%w: login already completed or never begun", ErrStateMismatch)
	}
	if c.now().Sub(p.created) > maxPendingAge {
		return nil, fmt.Errorf("%w: login took too long", ErrStateMismatch)
	}
	if len(callback["state"]) != 1 || subtle.ConstantTimeCompare([]byte(callback.Get("state")), []byte(p.state)) != 1 {
		c.log.Warn("identity callback state mismatch")
		return nil, fmt.Errorf("%w: state", ErrStateMismatch)
	}
	oc, verifier, err := c.discover(ctx)
	if err != nil {
		return nil, err
	}
	if iss := callback.Get("iss"); iss != "" && iss != c.cfg.Issuer { // RFC 9207 mix-up defence
		return nil, fmt.Errorf("%w: callback from another issuer", ErrInvalidToken)
	}
	if e := callback.Get("error"); e != "" {
		c.log.Info("identity provider returned an error", "error", e)
		switch e {
		case "access_denied", "login_required", "consent_required", "interaction_required":
			return nil, fmt.Errorf("%w: %s", ErrDenied, e)
		default:
			return nil, fmt.Errorf("%w: authorization error %q", ErrProviderDown, e)
		}
	}
	code := callback.Get("code")
	if code == "" {
		return nil, fmt.Errorf("%w: callback has no code", ErrInvalidToken)
	}

	tok, err := oc.Exchange(context.WithValue(ctx, oauth2.HTTPClient, c.hc), code, oauth2.VerifierOption(p.verifier))
	if err != nil {
		return nil, classifyExchange(err)
	}
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		return nil, fmt.Errorf("%w: token response has no id_token", ErrInvalidToken)
	}
	idt, err := verifier.Verify(ctx, raw)
	if err != nil {
		c.log.Warn("identity id token rejected", "err", err)
		return nil, fmt.Errorf("%w: %v", ErrInvalidToken, err)
	}
	if subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(p.nonce)) != 1 {
		c.log.Warn("identity id token nonce mismatch")
		return nil, fmt.Errorf("%w: nonce", ErrInvalidToken)
	}
	if idt.AccessTokenHash != "" {
		if err := idt.VerifyAccessToken(tok.AccessToken); err != nil {
			return nil, fmt.Errorf("%w: at_hash: %v", ErrInvalidToken, err)
		}
	}
	var cl claims
	if err := idt.Claims(&cl); err != nil {
		return nil, fmt.Errorf("%w: claims: %v", ErrInvalidToken, err)
	}
	if cl.AZP != "" && cl.AZP != c.cfg.ClientID {
		return nil, fmt.Errorf("%w: azp", ErrInvalidToken)
	}
	if err := checkCitizenID(cl.Profile, cl.PID); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidToken, err)
	}
	id := &Identity{
		CitizenID: cl.PID, Name: cl.Name, GivenName: cl.GivenName, FamilyName: cl.FamilyName,
		BirthDate: cl.BirthDate, Address: cl.Address, Phone: cl.Phone, Profile: cl.Profile,
		AccessToken: tok.AccessToken, Expiry: tok.Expiry,
	}
	c.log.Info("identity login completed", "identity", id)
	return id, nil
}

// classifyExchange maps a token endpoint failure to a sentinel.
func classifyExchange(err error) error {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		if re.Response != nil && re.Response.StatusCode >= 500 {
			return fmt.Errorf("%w: token endpoint: %s", ErrProviderDown, re.Response.Status)
		}
		if re.ErrorCode == "temporarily_unavailable" || re.ErrorCode == "server_error" {
			return fmt.Errorf("%w: token endpoint: %s", ErrProviderDown, re.ErrorCode)
		}
		return fmt.Errorf("%w: token endpoint refused the code: %s", ErrInvalidToken, re.ErrorCode)
	}
	var ne net.Error
	var ue *url.Error
	if errors.As(err, &ne) || errors.As(err, &ue) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%w: token endpoint: %v", ErrProviderDown, err)
	}
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Errorf("%w: token response: %v", ErrInvalidToken, err)
	}
	return fmt.Errorf("%w: token endpoint: %v", ErrProviderDown, err)
}

func checkCitizenID(profile, id string) error {
	switch profile {
	case "th":
		if !ValidThaiID(id) {
			return errors.New("Thai citizen ID fails its checksum")
		}
	case "vn":
		if !allDigits(id, 12) {
			return errors.New("Vietnamese citizen ID must be 12 digits")
		}
	default:
		return fmt.Errorf("unknown id_profile %q", profile)
	}
	return nil
}

// ValidThaiID reports whether id is 13 ASCII digits whose last digit is the
// mod-11 check digit of the first twelve.
func ValidThaiID(id string) bool {
	if !allDigits(id, 13) {
		return false
	}
	sum := 0
	for i := range 12 {
		sum += int(id[i]-'0') * (13 - i)
	}
	return int(id[12]-'0') == (11-sum%11)%10
}

func allDigits(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for i := range len(s) {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
