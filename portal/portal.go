// Package portal is the reference portal: the portal API of
// govkiosk/backend-client/api served for real (catalogue, enrollment CA,
// heartbeats, confirmation codes, intake, status), the national-ID test
// provider mounted at /idp and /phone, and the fleet console at /.
//
// It is a stand-in for the national portal. The console, the admin JSON
// and the phone simulator (only with Options.PhoneSimulator, for the demo)
// need the admin token (see admin.go). Start serves HTTPS, and the kiosk
// API asks for the kiosks' device certificates (mutual TLS; see tls.go);
// plain http only on loopback, for demos and tests.
package portal

import (
	"context"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"govkiosk/backend-client/api"
	"govkiosk/backend-client/fleetwire"
)

// OIDCClientID is the OIDC client id of every kiosk.
const OIDCClientID = "govkiosk"

// Options configure a Server.
type Options struct {
	Listen            string        // e.g. "127.0.0.1:8090"
	PublicURL         string        // base URL kiosks and phones use (default: "https://" + Listen, "http://" with PlainHTTP)
	TLSCertFile       string        // Start: a server certificate chain (PEM) instead of one the enrollment CA issues (production)
	TLSKeyFile        string        // its private key (PEM)
	PlainHTTP         bool          // Start: plain http, on a loopback Listen only (demos and tests); see tls.go
	DataDir           string        // SQLite DB, documents, keys
	KioskRedirectURIs []string      // OIDC redirect URIs allowed for client "govkiosk"
	EnrollTokens      []string      // one-time enrollment tokens accepted (at least 16 characters)
	EnrollTokenTTL    time.Duration // how long an enrollment token of EnrollTokens or IssueEnrollToken works after it was issued (default EnrollTokenTTL)
	DeviceCertTTL     time.Duration // how long a kiosk's device certificate is valid (default api.DefaultDeviceCertTTL)
	RenewInterval     time.Duration // a kiosk renews its certificate at most once in this time (default 1 h; negative: no limit)
	AllowUnenrolled   bool          // demo: accept heartbeats and packets from kiosks with no enrolled key
	FleetBroker       string        // given to enrolling kiosks: the fleet broker they join (tls://host:port); empty: none
	FleetTechKey      string        // given to enrolling kiosks: the fleet's technician-code key they pin ("ed25519:BASE64"); empty: none
	OfficeCode        string        // the office enrolled kiosks belong to: one of the catalogue's office profiles (default "QN-TK")
	OfficeName        api.Text      // default: the name in that office's profile
	TrackingPrefix    string        // tracking numbers look like PREFIX-2026-000042 (default "QN")
	MaxConcurrent     int           // API requests in progress at once (default 64); more get 503
	MaxPerKiosk       int           // of those, from one kiosk (default 8)
	RateLimits        RateLimits    // confirmation codes and wrong codes (zero fields: DefaultRateLimits)
	AdminToken        string        // opens the console, the admin JSON and the phone simulator (default: random, see AdminToken)
	PhoneSimulator    bool          // demo: serve the simulated citizen phone at /phone
	Identity          Identity      // nil: the national-ID test provider of govkiosk/portal/idp
	Log               *slog.Logger
	Now               func() time.Time
	Rand              io.Reader // default crypto/rand

	// CatalogueTTL is how long a signed catalogue is good for (its
	// expiresAt); it is signed again once half of it has passed. Default
	// 7 days: a kiosk cut off for longer warns that its catalogue expired.
	CatalogueTTL time.Duration
}

// Server is the reference portal.
type Server struct {
	opts       Options
	log        *slog.Logger
	now        func() time.Time
	rand       io.Reader
	store      *store
	keys       *keys
	identity   Identity
	catalogue  api.Catalogue
	procs      map[string]api.Procedure
	handler    http.Handler
	adminToken string

	signMu   sync.Mutex
	signed   api.SignedCatalogue // the catalogue as last signed
	signedAt time.Time

	intakeMu   sync.Mutex // serialises intake so one packet is stored once
	inflightMu sync.Mutex
	inflight   map[string]bool // packets being finalised
	uploads    uploadLocks
	crl        crlCache
	limits     *limiter
	closeOnce  sync.Once
	closeErr   error
	done       chan struct{}
}

// New opens (or creates) the portal's data directory and builds the server.
func New(opts Options) (*Server, error) {
	if opts.DataDir == "" {
		return nil, errors.New("portal: DataDir is required")
	}
	if opts.PublicURL == "" {
		if opts.Listen == "" {
			return nil, errors.New("portal: Listen or PublicURL is required")
		}
		opts.PublicURL = "https://" + opts.Listen
		if opts.PlainHTTP {
			opts.PublicURL = "http://" + opts.Listen
		}
	}
	opts.PublicURL = strings.TrimRight(opts.PublicURL, "/")
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Rand == nil {
		opts.Rand = rand.Reader
	}
	if opts.OfficeCode == "" {
		opts.OfficeCode = "QN-TK"
	}
	if b := opts.FleetBroker; b != "" {
		if u, err := url.Parse(b); err != nil || u.Scheme != "tls" || u.Hostname() == "" || u.Port() == "" {
			return nil, fmt.Errorf("portal: fleet broker %q is not a tls://host:port URL", b)
		}
	}
	if k := opts.FleetTechKey; k != "" {
		if _, err := fleetwire.ParseTechKey(k); err != nil {
			return nil, fmt.Errorf("portal: fleet technician key: %w", err)
		}
	}
	if opts.TrackingPrefix == "" {
		opts.TrackingPrefix = "QN"
	}
	if opts.EnrollTokenTTL <= 0 {
		opts.EnrollTokenTTL = EnrollTokenTTL
	}
	for _, t := range opts.EnrollTokens {
		if len(t) < minGivenEnrollTok {
			return nil, fmt.Errorf("portal: enrollment tokens must have at least %d characters", minGivenEnrollTok)
		}
	}
	if opts.DeviceCertTTL <= 0 {
		opts.DeviceCertTTL = api.DefaultDeviceCertTTL
	}
	if opts.RenewInterval == 0 {
		opts.RenewInterval = time.Hour
	}
	if opts.CatalogueTTL <= 0 {
		opts.CatalogueTTL = 7 * 24 * time.Hour
	}
	for _, d := range []string{"documents", "uploads"} {
		if err := os.MkdirAll(filepath.Join(opts.DataDir, d), 0o700); err != nil {
			return nil, fmt.Errorf("portal: create data dir: %w", err)
		}
	}
	s := &Server{
		opts: opts,
		log:  opts.Log,
		now:  opts.Now,
		rand: opts.Rand,
		done: make(chan struct{}),

		limits: newLimiter(opts.RateLimits),
	}
	if err := s.initAdminToken(); err != nil {
		return nil, err
	}
	var err error
	if s.keys, err = loadKeys(opts.DataDir, opts.Rand, opts.Now()); err != nil {
		return nil, fmt.Errorf("portal: keys: %w", err)
	}
	if s.catalogue, err = LoadCatalogue(); err != nil {
		return nil, fmt.Errorf("portal: %w", err)
	}
	if len(s.catalogue.Offices) > 0 {
		office, ok := s.catalogue.Office(opts.OfficeCode)
		if !ok {
			return nil, fmt.Errorf("portal: office %q has no profile in the catalogue", opts.OfficeCode)
		}
		if s.opts.OfficeName == nil {
			s.opts.OfficeName = office.Name
		}
	}
	s.procs = make(map[string]api.Procedure, len(s.catalogue.Procedures))
	for _, p := range s.catalogue.Procedures {
		s.procs[p.ID] = p
	}
	if s.catalogue.IDIssuers, err = idCardTrustList(s.keys.idCard); err != nil {
		return nil, fmt.Errorf("portal: %w", err)
	}
	if _, err = s.signedCatalogue(); err != nil {
		return nil, fmt.Errorf("portal: %w", err)
	}
	if s.store, err = openStore(filepath.Join(opts.DataDir, "portal.db")); err != nil {
		return nil, fmt.Errorf("portal: %w", err)
	}
	s.store.newRef = func(prefix string, year int) (string, error) { return newTrackingNumber(s.rand, prefix, year) }
	for _, t := range opts.EnrollTokens {
		if err := s.store.addEnrollToken(s.tokenHash(t), s.now()); err != nil {
			s.store.close()
			return nil, fmt.Errorf("portal: enroll token: %w", err)
		}
	}
	s.identity = opts.Identity
	if s.identity == nil {
		if s.identity, err = s.newIDPIdentity(opts); err != nil {
			s.store.close()
			return nil, fmt.Errorf("portal: identity provider: %w", err)
		}
	}
	s.handler = s.routes()
	return s, nil
}

// Handler serves the portal API, the identity provider, and the console.
func (s *Server) Handler() http.Handler { return s.handler }

// PublicKey is the key that signs catalogues.
func (s *Server) PublicKey() *ecdsa.PublicKey { return &s.keys.portal.PublicKey }

// CAFingerprint is the fingerprint of the enrollment CA (api.CAFingerprint),
// which a technician gives kioskctl provision with the enrollment token.
func (s *Server) CAFingerprint() string { return api.CAFingerprint(s.keys.caCert.Raw) }

// CAPEM is the enrollment CA certificate (PEM): the root kiosks pin for the
// portal's TLS and that issues their device certificates.
func (s *Server) CAPEM() string { return s.keys.caPEM }

// PublicURL is the base URL kiosks and phones use.
func (s *Server) PublicURL() string { return s.opts.PublicURL }

// IssueEnrollToken creates a new one-time enrollment token for the
// portal's default office (Options.OfficeCode): 160 random bits, valid for
// Options.EnrollTokenTTL. IssueEnrollCode makes one for a chosen office.
func (s *Server) IssueEnrollToken() (string, error) {
	b := make([]byte, 20)
	if _, err := io.ReadFull(s.rand, b); err != nil {
		return "", fmt.Errorf("portal: enroll token: %w", err)
	}
	t := "ENR-" + crockford32(b)
	if err := s.store.addEnrollToken(s.tokenHash(t), s.now()); err != nil {
		return "", fmt.Errorf("portal: enroll token: %w", err)
	}
	return t, nil
}

// Close closes the database. It is safe to call more than once.
func (s *Server) Close() error {
	s.closeOnce.Do(func() { s.closeErr = s.store.close() })
	return s.closeErr
}

// Done is closed when a server started by Start has shut down and closed.
func (s *Server) Done() <-chan struct{} { return s.done }

// Start listens on opts.Listen (which may be "127.0.0.1:0"), builds the
// server with PublicURL defaulting to the address actually bound, and serves
// HTTPS (plain http with PlainHTTP, on loopback only; see tls.go)
// until ctx is done; then it shuts down and closes the server (Done is closed
// afterwards). It returns the portal's public URL.
func Start(ctx context.Context, opts Options) (*Server, string, error) {
	if opts.Listen == "" {
		opts.Listen = "127.0.0.1:8090"
	}
	if opts.PlainHTTP {
		if err := checkPlainHTTP(opts.Listen); err != nil {
			return nil, "", err
		}
	}
	ln, err := net.Listen("tcp", opts.Listen)
	if err != nil {
		return nil, "", fmt.Errorf("portal: listen: %w", err)
	}
	opts.Listen = ln.Addr().String()
	s, err := New(opts)
	if err != nil {
		ln.Close()
		return nil, "", err
	}
	if !opts.PlainHTTP {
		cfg, err := s.tlsConfig()
		if err != nil {
			ln.Close()
			s.Close()
			return nil, "", err
		}
		ln = tls.NewListener(ln, cfg)
	}
	hs := &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- hs.Serve(ln) }()
	go func() {
		defer close(s.done)
		select {
		case <-ctx.Done():
		case err := <-serveErr:
			s.log.Error("portal server stopped", "err", err)
		}
		shutCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := hs.Shutdown(shutCtx); err != nil {
			s.log.Warn("portal shutdown", "err", err)
		}
		if err := s.Close(); err != nil {
			s.log.Warn("portal close", "err", err)
		}
	}()
	s.log.Info("portal listening", "url", s.opts.PublicURL)
	return s, s.opts.PublicURL, nil
}
