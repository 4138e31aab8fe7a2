// Package idp is the reference portal's test national digital ID provider:
// an OpenID Connect provider (authorization code flow with PKCE S256 only,
// pushed authorization requests (RFC 9126), the device authorization grant
// (RFC 8628), token revocation (RFC 7009); public clients or clients
// authenticating with private_key_jwt, which may be required to push their
// requests; every login is of acr ACRSubstantial) whose login page shows a QR code
// that the citizen scans with the ID app on their own phone, as with
// Thailand's ThaID, Vietnam's VNeID or MOSIP eSignet's wallet-linked login.
// A login QR, and the authorization request behind it, lives qrTTL (60 s):
// then the page sends the browser back to the client with
// error=login_required and the client asks again for a fresh one, so a QR
// photographed and relayed to someone else goes stale within a minute
// (IETF cross-device BCP). A phone simulator, served
// by the same handler, plays the citizen's phone: it approves logins and
// holds an inbox of messages sent to the citizen (confirmation codes).
//
// Everything is kept in memory; the provider is for demos and tests.
package idp

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// Lifetimes.
const (
	qrTTL          = 60 * time.Second  // a login QR and its authorization request live this long
	loginTTL       = 120 * time.Second // a device user code lives this long
	parTTL         = 60 * time.Second  // pushed authorization requests
	deviceInterval = 5 * time.Second   // RFC 8628 polling interval
	maxAssertion   = 5 * time.Minute   // longest lifetime of a client assertion
	codeTTL        = 60 * time.Second  // authorization codes
	idTokenTTL     = 10 * time.Minute
	accessTokenTTL = 10 * time.Minute
	keepExpired    = 5 * time.Minute // expired records kept so that late polls and replays get a clear answer
	maxLive        = 10000           // bound on live login transactions
	inboxMax       = 100             // messages kept per citizen
	defaultPoll    = 25 * time.Second
)

// Client is a registered relying party (a kiosk). A client with neither
// JWKS nor Keys is public: it sends its client_id and proves possession
// with PKCE. A client with either is confidential: it must authenticate at
// the token, PAR, device and revocation endpoints with private_key_jwt
// signed by one of its keys.
type Client struct {
	ID           string
	RedirectURIs []string
	JWKS         jose.JSONWebKeySet // public keys for private_key_jwt
	// Keys, when set, finds the key of a private_key_jwt assertion by the
	// kid in its header, at the time of the request: the reference portal
	// answers with the enrolled device key of the kiosk the kid names, so
	// a kiosk enrolled after start-up can log citizens in and one whose key
	// is replaced cannot go on with the old one. An assertion without a kid
	// is refused.
	Keys func(kid string) (jose.JSONWebKey, bool)
	// RequirePAR refuses authorization requests that were not pushed first
	// (RFC 9126 §5, client metadata require_pushed_authorization_requests).
	RequirePAR bool
}

// confidential reports whether c must authenticate with private_key_jwt.
func (c Client) confidential() bool { return len(c.JWKS.Keys) > 0 || c.Keys != nil }

// Config configures a Provider.
type Config struct {
	Issuer   string // absolute URL, e.g. "http://127.0.0.1:8090/idp"; the handler serves paths under its path
	PhoneURL string // absolute URL of the phone simulator, e.g. "http://127.0.0.1:8090/phone"
	Clients  []Client
	Now      func() time.Time // nil: time.Now
	Rand     io.Reader        // nil: crypto/rand
	Log      *slog.Logger     // nil: discard
}

// Provider is the test ID provider. It is safe for concurrent use.
type Provider struct {
	issuer    string // without trailing slash
	issuerP   string // path part of issuer, "" or "/idp"
	phoneURL  string
	phoneP    string
	clients   map[string]Client
	citizens  []Citizen
	now       func() time.Time
	rand      io.Reader
	log       *slog.Logger
	longPoll  time.Duration
	subjectFn func(citizenID string) string

	mu      sync.Mutex
	keys    []*signingKey // last is current; at most two
	txns    map[string]*txn
	links   map[string]*txn
	devices map[string]*txn // by device code
	codes   map[string]*authCode
	tokens  map[string]*accessToken
	pars    map[string]*parRequest // by request_uri
	jtis    map[string]time.Time   // client assertion IDs seen, until their expiry
	inbox   map[string][]message
	parked  int // long polls waiting (observed by tests)
}

type txn struct {
	id, linkCode                              string
	clientID, redirectURI, state, nonce, lang string
	challenge, scope                          string
	created, expires                          time.Time // expires: of the link code, and of the login with it
	status                                    string    // statusPending, statusApproved, statusDenied
	citizenID                                 string
	authTime                                  time.Time
	redirect                                  string
	changed                                   chan struct{} // closed when status leaves pending
	bind                                      binding       // where the login happens; the number to match

	// Device authorization grant (RFC 8628); device is false for logins
	// started at the authorization endpoint.
	device     bool
	deviceCode string
	interval   time.Duration
	lastPoll   time.Time
	redeemed   bool
}

type authCode struct {
	t           *txn
	expires     time.Time
	used        bool
	accessToken string // issued from this code; revoked if the code is replayed
}

type accessToken struct {
	citizenID, clientID string
	expires             time.Time
}

type message struct {
	At   time.Time `json:"at"`
	Text string    `json:"text"`
}

const (
	statusPending  = "pending"
	statusApproved = "approved"
	statusDenied   = "denied"
	statusExpired  = "expired"
)

// New checks cfg and makes a provider with a fresh signing key.
func New(cfg Config) (*Provider, error) {
	iss, issPath, err := parseBase(cfg.Issuer)
	if err != nil {
		return nil, fmt.Errorf("idp: issuer: %w", err)
	}
	phone, phonePath, err := parseBase(cfg.PhoneURL)
	if err != nil {
		return nil, fmt.Errorf("idp: phone URL: %w", err)
	}
	if phonePath == "" || phonePath == issPath || (issPath != "" && strings.HasPrefix(phonePath+"/", issPath+"/")) {
		return nil, fmt.Errorf("idp: phone URL path %q must be non-empty and outside the issuer path %q", phonePath, issPath)
	}
	p := &Provider{
		issuer:   iss,
		issuerP:  issPath,
		phoneURL: phone,
		phoneP:   phonePath,
		clients:  make(map[string]Client),
		citizens: TestCitizens(),
		now:      cfg.Now,
		rand:     cfg.Rand,
		log:      cfg.Log,
		longPoll: defaultPoll,
		txns:     make(map[string]*txn),
		links:    make(map[string]*txn),
		codes:    make(map[string]*authCode),
		devices:  make(map[string]*txn),
		pars:     make(map[string]*parRequest),
		jtis:     make(map[string]time.Time),
		tokens:   make(map[string]*accessToken),
		inbox:    make(map[string][]message),
	}
	if p.now == nil {
		p.now = time.Now
	}
	if p.rand == nil {
		p.rand = rand.Reader
	} else {
		p.rand = &lockedReader{r: p.rand}
	}
	if p.log == nil {
		p.log = slog.New(slog.DiscardHandler)
	}
	p.subjectFn = p.subject
	for _, c := range cfg.Clients {
		if c.ID == "" || len(c.RedirectURIs) == 0 {
			return nil, fmt.Errorf("idp: client %q needs an ID and at least one redirect URI", c.ID)
		}
		for _, ru := range c.RedirectURIs {
			u, err := url.Parse(ru)
			if err != nil || !u.IsAbs() || u.Fragment != "" {
				return nil, fmt.Errorf("idp: client %q: redirect URI %q must be absolute without fragment", c.ID, ru)
			}
		}
		if _, dup := p.clients[c.ID]; dup {
			return nil, fmt.Errorf("idp: client %q registered twice", c.ID)
		}
		for _, k := range c.JWKS.Keys {
			if !k.Valid() || !k.IsPublic() {
				return nil, fmt.Errorf("idp: client %q: JWKS must hold valid public keys", c.ID)
			}
		}
		p.clients[c.ID] = Client{ID: c.ID, RedirectURIs: append([]string(nil), c.RedirectURIs...),
			JWKS: jose.JSONWebKeySet{Keys: append([]jose.JSONWebKey(nil), c.JWKS.Keys...)}, Keys: c.Keys, RequirePAR: c.RequirePAR}
	}
	k, err := newSigningKey(p.rand)
	if err != nil {
		return nil, fmt.Errorf("idp: signing key: %w", err)
	}
	p.keys = []*signingKey{k}
	return p, nil
}

func parseBase(s string) (full, path string, err error) {
	u, err := url.Parse(s)
	if err != nil {
		return "", "", err
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return "", "", fmt.Errorf("%q must be an absolute http(s) URL without query or fragment", s)
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	u.RawPath = ""
	return u.String(), u.Path, nil
}

// RotateKey makes a new signing key; the JWKS keeps publishing the previous
// one too, so ID tokens signed just before the rotation still verify.
func (p *Provider) RotateKey() error {
	k, err := newSigningKey(p.rand)
	if err != nil {
		return fmt.Errorf("idp: rotate key: %w", err)
	}
	p.mu.Lock()
	p.keys = append(p.keys, k)
	if len(p.keys) > 2 {
		p.keys = p.keys[len(p.keys)-2:]
	}
	p.mu.Unlock()
	p.log.Info("idp signing key rotated", "kid", k.kid)
	return nil
}

// CitizenForAccessToken returns the citizen an access token was issued for,
// if the token is known and unexpired.
func (p *Provider) CitizenForAccessToken(token string) (Citizen, bool) {
	if token == "" {
		return Citizen{}, false
	}
	p.mu.Lock()
	at, ok := p.tokens[token]
	p.mu.Unlock()
	if !ok || !p.now().Before(at.expires) {
		return Citizen{}, false
	}
	return p.citizen(at.citizenID)
}

// Deliver puts a message in the citizen's phone inbox (the simulated ID
// app). The text is never logged.
func (p *Provider) Deliver(citizenID, text string) {
	p.mu.Lock()
	box := append(p.inbox[citizenID], message{At: p.now(), Text: text})
	if len(box) > inboxMax {
		box = box[len(box)-inboxMax:]
	}
	p.inbox[citizenID] = box
	p.mu.Unlock()
	p.log.Info("idp phone message delivered")
}

func (p *Provider) citizen(id string) (Citizen, bool) {
	for _, c := range p.citizens {
		if c.ID == id {
			return c, true
		}
	}
	return Citizen{}, false
}

// Handler serves the provider under the issuer's path and the phone
// simulator under the phone URL's path.
func (p *Provider) Handler() http.Handler {
	mux := http.NewServeMux()
	ip, pp := p.issuerP, p.phoneP
	mux.HandleFunc("GET "+ip+"/.well-known/openid-configuration", p.serveDiscovery)
	mux.HandleFunc("GET "+ip+"/authorize", p.serveAuthorize)
	mux.HandleFunc("GET "+ip+"/login/{txn}/wait", p.serveWait)
	mux.HandleFunc("POST "+ip+"/par", p.servePAR)
	mux.HandleFunc("POST "+ip+"/device_authorization", p.serveDeviceAuthorization)
	mux.HandleFunc("POST "+ip+"/revoke", p.serveRevoke)
	mux.HandleFunc("POST "+ip+"/token", p.serveToken)
	mux.HandleFunc("GET "+ip+"/jwks", p.serveJWKS)
	mux.HandleFunc("GET "+ip+"/userinfo", p.serveUserinfo)
	mux.HandleFunc("POST "+ip+"/userinfo", p.serveUserinfo)
	mux.HandleFunc("GET "+ip+"/static/fonts/{file}", serveFont)

	mux.HandleFunc("GET "+pp+"", p.servePhoneHome)
	mux.HandleFunc("GET "+pp+"/{$}", p.servePhoneHome)
	mux.HandleFunc("GET "+pp+"/link/{code}", p.servePhoneLink)
	mux.HandleFunc("POST "+pp+"/link/{code}", p.servePhoneLinkPost)
	mux.HandleFunc("POST "+pp+"/api/approve", p.servePhoneAPIApprove)
	mux.HandleFunc("POST "+pp+"/api/deny", p.servePhoneAPIDeny)
	mux.HandleFunc("GET "+pp+"/api/pending", p.servePhoneAPIPending)
	mux.HandleFunc("GET "+pp+"/api/inbox", p.servePhoneAPIInbox)
	return mux
}

// lockedReader serialises reads from an injected randomness source, which
// need not be safe for concurrent use.
type lockedReader struct {
	mu sync.Mutex
	r  io.Reader
}

func (l *lockedReader) Read(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.r.Read(b)
}

var errRand = errors.New("idp: randomness source failed")
