// Package identity is the kiosk's national digital ID login: an OpenID
// Connect relying party using the authorization code flow with PKCE (S256),
// pushed authorization requests (RFC 9126) when the provider offers them,
// a fresh state, nonce and verifier per citizen, and a fully verified ID
// token (signature via the provider's JWKS with key rotation, iss, aud,
// azp, exp/iat with bounded skew, nonce, at_hash, an auth_time not older
// than the login, since prompt=login is asked, and an acr among
// Config.ACRValues when set). For providers that only
// offer it, the device authorization grant (RFC 8628) is an adapter
// (StartDevice, PollDevice). EndSession revokes what a session was given.
//
// The kiosk browser is sent to the URL from Begin; the provider's page shows
// a QR the citizen scans with the ID app on their own phone; after approval
// the browser comes back to the kiosk's loopback callback, whose query goes
// to Complete with the Pending that Begin returned.
//
// The client never asks for refresh tokens (no offline_access) and drops
// any it is given. It authenticates to the provider as a public client
// (client_id only, PKCE) or, when Config.Signer is set, with
// private_key_jwt (RFC 7523).
package identity

import (
	"context"
	"crypto"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
)

// Sentinel errors; every error from this package wraps at least one of them
// so the UI can tell the citizen clearly what happened.
var (
	// ErrStateMismatch: the callback does not belong to this login (wrong
	// or missing state, a replayed callback, or a login left too long).
	ErrStateMismatch = errors.New("identity: login does not match this session")
	// ErrDenied: the citizen (or the provider) declined the login.
	ErrDenied = errors.New("identity: login was declined")
	// ErrProviderDown: the ID provider could not be reached, was too slow
	// or failed.
	ErrProviderDown = errors.New("identity: ID provider unavailable")
	// ErrInvalidToken: the provider's answer failed verification (code
	// refused, bad signature, wrong issuer/audience/nonce, expired token,
	// malformed claims).
	ErrInvalidToken = errors.New("identity: ID could not be verified")
	// ErrExpired: the login took too long (login page left unattended,
	// device code or ID token expired). Joined with ErrStateMismatch or
	// ErrInvalidToken where those also apply. The citizen should start again.
	ErrExpired = errors.New("identity: login expired")
	// ErrNotSupported: the provider does not offer what was asked (a device
	// flow on a provider without a device authorization endpoint).
	ErrNotSupported = errors.New("identity: not offered by the ID provider")
	// ErrNumberMismatch: the citizen picked another number on the phone
	// than the one the kiosk screen showed, and the provider refused the
	// login (joined with ErrDenied): likely a QR relayed to someone who is
	// not at the kiosk.
	ErrNumberMismatch = errors.New("identity: the number picked on the phone was not the kiosk's")
)

const (
	// maxPendingAge bounds how long a login may take from Begin to Complete.
	maxPendingAge = 15 * time.Minute
	// maxClockSkew is the tolerance between the provider's and the kiosk's
	// clocks for exp and iat.
	maxClockSkew = 60 * time.Second
	// maxResponse bounds any response body read from the provider.
	maxResponse = 1 << 20
)

// scopes are the scopes asked for. Never offline_access: a kiosk must not
// hold anything that outlives the citizen's session.
var scopes = []string{oidc.ScopeOpenID, "profile", "address", "phone"}

// Config configures a Client.
type Config struct {
	Issuer      string // the provider's issuer URL
	ClientID    string
	RedirectURL string       // the kiosk's loopback callback
	HTTPClient  *http.Client // nil: a client with a 30 s timeout
	Now         func() time.Time
	Rand        io.Reader // nil: crypto/rand
	Log         *slog.Logger
	// Signer, when set, authenticates the kiosk at the provider's token,
	// PAR, device and revocation endpoints with private_key_jwt (RFC 7523):
	// a short-lived JWT signed by this key (ECDSA P-256/384/521, Ed25519 or
	// RSA). KeyID is put in its header. Nil: a public client (client_id only).
	Signer crypto.Signer
	KeyID  string
	// After waits between device flow polls; nil: time.After. Tests inject
	// it to run polls without waiting.
	After func(time.Duration) <-chan time.Time
	// PostLogoutRedirectURL is passed to the provider's end_session endpoint
	// by LogoutURL (optional).
	PostLogoutRedirectURL string
	// ACRValues are the authentication context classes (OIDC Core §2 acr)
	// the kiosk accepts, strongest first; they are sent as acr_values, and
	// an ID token whose acr is not one of them is refused. Empty: any.
	ACRValues []string
}

// Client logs citizens in. It is safe for concurrent use.
type Client struct {
	cfg   Config
	hc    *http.Client
	now   func() time.Time
	rand  io.Reader
	log   *slog.Logger
	after func(time.Duration) <-chan time.Time

	mu   sync.Mutex
	prov *provider
}

// provider is what discovery found.
type provider struct {
	md       metadata
	verifier *oidc.IDTokenVerifier
}

// metadata is the part of the discovery document the client uses.
type metadata struct {
	Issuer             string   `json:"issuer"`
	AuthorizationURL   string   `json:"authorization_endpoint"`
	TokenURL           string   `json:"token_endpoint"`
	PARURL             string   `json:"pushed_authorization_request_endpoint"`
	DeviceURL          string   `json:"device_authorization_endpoint"`
	RevocationURL      string   `json:"revocation_endpoint"`
	EndSessionURL      string   `json:"end_session_endpoint"`
	AuthMethods        []string `json:"token_endpoint_auth_methods_supported"`
	IssParamSupported  bool     `json:"authorization_response_iss_parameter_supported"`
	RequirePAR         bool     `json:"require_pushed_authorization_requests"`
	CodeChallengeAlgos []string `json:"code_challenge_methods_supported"`
}

// New makes a client. It does no network I/O: discovery happens on the
// first Begin and is cached once it succeeds.
func New(cfg Config) *Client {
	c := &Client{cfg: cfg, hc: cfg.HTTPClient, now: cfg.Now, rand: cfg.Rand, log: cfg.Log, after: cfg.After}
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
	if c.after == nil {
		c.after = time.After
	}
	return c
}

// Pending is one citizen's login in progress. It lives in memory only and
// can be completed once.
type Pending struct {
	state, nonce, verifier string
	number                 string // shown on the kiosk screen, picked on the phone
	created                time.Time
	used                   atomic.Bool
}

// Number is the two-digit number the citizen must pick on the phone.
func (p *Pending) Number() string { return p.number }

// matchNumber draws a uniformly random two-digit number, 10–99.
func (c *Client) matchNumber() (string, error) {
	var b [1]byte
	for {
		if _, err := io.ReadFull(c.rand, b[:]); err != nil {
			return "", fmt.Errorf("identity: randomness: %w", err)
		}
		if b[0] < 180 { // 2·90: b%90 stays uniform
			return strconv.Itoa(10 + int(b[0])%90), nil
		}
	}
}

// CallbackMatches reports whether callback is the answer to p: it carries
// p's state, once, and p has not been completed. It does no I/O and uses
// nothing up, so a caller can ignore a callback that does not match and
// keep p for the real one.
func (c *Client) CallbackMatches(p *Pending, callback url.Values) bool {
	return p != nil && !p.used.Load() && p.answeredBy(callback)
}

// answeredBy compares the callback's state with p's in constant time.
func (p *Pending) answeredBy(callback url.Values) bool {
	return p.state != "" && len(callback["state"]) == 1 &&
		subtle.ConstantTimeCompare([]byte(callback.Get("state")), []byte(p.state)) == 1
}

// discover fetches the provider's metadata once it is reachable.
func (c *Client) discover(ctx context.Context) (*provider, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.prov != nil {
		return c.prov, nil
	}
	p, err := oidc.NewProvider(oidc.ClientContext(ctx, c.hc), c.cfg.Issuer)
	if err != nil {
		return nil, fmt.Errorf("%w: discovery: %v", ErrProviderDown, err)
	}
	var md metadata
	if err := p.Claims(&md); err != nil {
		return nil, fmt.Errorf("%w: discovery document: %v", ErrProviderDown, err)
	}
	if md.TokenURL == "" || md.AuthorizationURL == "" {
		return nil, fmt.Errorf("%w: discovery document lacks endpoints", ErrProviderDown)
	}
	// The key set outlives this call's context: keep its values (the HTTP
	// client), not its cancellation. Expiry gets maxClockSkew of leeway;
	// iat is checked in verify.
	verifier := p.VerifierContext(oidc.ClientContext(context.WithoutCancel(ctx), c.hc), &oidc.Config{
		ClientID: c.cfg.ClientID,
		Now:      func() time.Time { return c.now().Add(-maxClockSkew) },
	})
	c.prov = &provider{md: md, verifier: verifier}
	c.log.Info("identity provider discovered", "par", md.PARURL != "", "device", md.DeviceURL != "",
		"revocation", md.RevocationURL != "", "endSession", md.EndSessionURL != "", "privateKeyJWT", c.cfg.Signer != nil)
	return c.prov, nil
}

// random returns n fresh base64url-encoded values of 32 random octets.
func (c *Client) random(n int) ([]string, error) {
	out := make([]string, n)
	for i := range out {
		var b [32]byte
		if _, err := io.ReadFull(c.rand, b[:]); err != nil {
			return nil, fmt.Errorf("identity: randomness: %w", err)
		}
		out[i] = base64.RawURLEncoding.EncodeToString(b[:])
	}
	return out, nil
}

// Binding says where a login happens, for the citizen's phone to show on
// its approval page (IETF cross-device BCP): a citizen sent a relayed QR
// sees that the login is for a kiosk they are not standing at.
type Binding struct {
	Office    string // the office's name, in the citizen's language
	Kiosk     string // the kiosk's ID
	Procedure string // the procedure's name, in the citizen's language
}

// Begin is BeginBound without a Binding.
func (c *Client) Begin(ctx context.Context, lang string) (string, *Pending, error) {
	return c.BeginBound(ctx, lang, Binding{})
}

// BeginBound starts a login: it returns the provider URL to show in the
// kiosk browser and the Pending to hand to Complete. lang (a kiosk/lang
// code) is passed as ui_locales, b as kiosk_office, kiosk_id and
// kiosk_procedure, and a fresh two-digit number as match_number: the
// provider's page shows it on the kiosk screen and the citizen picks it
// among three on the phone. When the provider offers PAR, the request is
// pushed first (so the binding comes from the authenticated client) and the
// URL carries only client_id and request_uri.
func (c *Client) BeginBound(ctx context.Context, lang string, b Binding) (string, *Pending, error) {
	prov, err := c.discover(ctx)
	if err != nil {
		return "", nil, err
	}
	r, err := c.random(3)
	if err != nil {
		return "", nil, err
	}
	number, err := c.matchNumber()
	if err != nil {
		return "", nil, err
	}
	// The verifier has oauth2.GenerateVerifier's form (32 octets, base64url,
	// RFC 7636 §4.1) but draws from the injected randomness.
	p := &Pending{state: r[0], nonce: r[1], verifier: r[2], number: number, created: c.now()}
	q := url.Values{
		"response_type":         {"code"},
		"client_id":             {c.cfg.ClientID},
		"redirect_uri":          {c.cfg.RedirectURL},
		"scope":                 {strings.Join(scopes, " ")},
		"state":                 {p.state},
		"nonce":                 {p.nonce},
		"code_challenge":        {s256(p.verifier)},
		"code_challenge_method": {"S256"},
		// The kiosk browser is shared: never let a provider session left
		// by the previous citizen log the next one in. max_age=0 says the
		// same and makes auth_time mandatory in the ID token (OIDC Core
		// §3.1.2.1), which Complete checks is not older than this login.
		"prompt":  {"login"},
		"max_age": {"0"},
	}
	if lang != "" {
		q.Set("ui_locales", lang)
	}
	q.Set("match_number", number)
	for k, v := range map[string]string{"kiosk_office": b.Office, "kiosk_id": b.Kiosk, "kiosk_procedure": b.Procedure} {
		if v != "" {
			q.Set(k, v)
		}
	}
	if len(c.cfg.ACRValues) > 0 {
		q.Set("acr_values", strings.Join(c.cfg.ACRValues, " "))
	}
	if prov.md.PARURL != "" {
		uri, err := c.pushRequest(ctx, prov, q)
		if err != nil {
			return "", nil, err
		}
		q = url.Values{"client_id": {c.cfg.ClientID}, "request_uri": {uri}}
	}
	c.log.Info("identity login begun", "lang", lang, "par", prov.md.PARURL != "")
	return withQuery(prov.md.AuthorizationURL, q), p, nil
}

// pushRequest posts an authorization request to the PAR endpoint and
// returns its request_uri (RFC 9126 §2).
func (c *Client) pushRequest(ctx context.Context, prov *provider, q url.Values) (string, error) {
	var out struct {
		RequestURI string `json:"request_uri"`
		ExpiresIn  int64  `json:"expires_in"`
	}
	status, e, err := c.post(ctx, prov, prov.md.PARURL, q, &out)
	if err != nil {
		return "", err
	}
	if status != http.StatusCreated && status != http.StatusOK {
		return "", oauthError("PAR endpoint", status, e)
	}
	if out.RequestURI == "" {
		return "", fmt.Errorf("%w: PAR response has no request_uri", ErrProviderDown)
	}
	return out.RequestURI, nil
}

// withQuery appends q to the endpoint URL, keeping any query it has.
func withQuery(endpoint string, q url.Values) string {
	u, err := url.Parse(endpoint)
	if err != nil {
		return endpoint + "?" + q.Encode()
	}
	old := u.Query()
	for k, v := range q {
		old[k] = v
	}
	u.RawQuery = old.Encode()
	return u.String()
}

// Identity is a verified citizen. It holds personal data: it redacts itself
// in logs (LogValue) and must not outlive the citizen's session (call
// EndSession, then drop it).
type Identity struct {
	CitizenID, Name, GivenName, FamilyName, BirthDate, Address, Phone, Profile string
	AccessToken                                                                string
	Expiry                                                                     time.Time

	idToken string // raw ID token, for LogoutURL's id_token_hint
}

// Complete finishes the login p with the query of the kiosk's callback:
// it checks the state and any error, exchanges the code with the PKCE
// verifier and verifies the ID token and its nonce. p is used up by the
// first call, whatever its outcome.
func (c *Client) Complete(ctx context.Context, p *Pending, callback url.Values) (*Identity, error) {
	if p == nil {
		return nil, fmt.Errorf("%w: login never begun", ErrStateMismatch)
	}
	if !p.answeredBy(callback) {
		// Not this login's answer: p is not used up by it, so a stray or
		// forged callback cannot spoil the citizen's real one.
		c.log.Warn("identity callback state mismatch")
		return nil, fmt.Errorf("%w: state", ErrStateMismatch)
	}
	if !p.used.CompareAndSwap(false, true) {
		return nil, fmt.Errorf("%w: login already completed", ErrStateMismatch)
	}
	if c.now().Sub(p.created) > maxPendingAge {
		return nil, fmt.Errorf("%w: %w: login took too long", ErrStateMismatch, ErrExpired)
	}
	prov, err := c.discover(ctx)
	if err != nil {
		return nil, err
	}
	// RFC 9207 mix-up defence: a provider that promises iss must send it.
	iss, hasIss := callback["iss"]
	if (hasIss && (len(iss) != 1 || iss[0] != prov.md.Issuer)) || (!hasIss && prov.md.IssParamSupported) {
		return nil, fmt.Errorf("%w: callback from another issuer", ErrInvalidToken)
	}
	if e := callback.Get("error"); e != "" {
		c.log.Info("identity provider returned an error", "error", e)
		if e == "access_denied" && callback.Get("denial_reason") == "number_mismatch" {
			return nil, fmt.Errorf("%w: %w", ErrDenied, ErrNumberMismatch)
		}
		switch e {
		case "access_denied", "consent_required", "interaction_required":
			return nil, fmt.Errorf("%w: %s", ErrDenied, e)
		case "login_required":
			// Our provider's answer for a login page left unattended.
			return nil, fmt.Errorf("%w: %s", ErrExpired, e)
		default:
			return nil, fmt.Errorf("%w: authorization error %q", ErrProviderDown, e)
		}
	}
	code := callback.Get("code")
	if code == "" || len(callback["code"]) != 1 {
		return nil, fmt.Errorf("%w: callback has no code", ErrInvalidToken)
	}
	tr, err := c.token(ctx, prov, url.Values{
		"grant_type":    {"authorization_code"},
		"code":          {code},
		"redirect_uri":  {c.cfg.RedirectURL},
		"code_verifier": {p.verifier},
	})
	if err != nil {
		return nil, err
	}
	id, err := c.verify(ctx, prov, tr, tokenCheck{nonce: p.nonce, authAfter: p.created, needAuthTime: true})
	if err != nil {
		return nil, err
	}
	c.log.Info("identity login completed", "identity", id)
	return id, nil
}
