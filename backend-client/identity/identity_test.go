package identity

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"golang.org/x/oauth2"

	"govkiosk/portal/idp"
)

const (
	clientID    = "kiosk-qn-001"
	redirectURL = "http://127.0.0.1:8081/callback"
)

type env struct {
	srv  *httptest.Server
	p    *idp.Provider
	hc   *http.Client
	logs *bytes.Buffer
	c    *Client

	numbers sync.Map // link code → the number its login page shows
}

type envOpt struct {
	now     func() time.Time                // provider clock
	wrap    func(http.Handler) http.Handler // tampering in front of the provider
	strip   []string                        // discovery members to hide (e.g. the PAR endpoint)
	clients []idp.Client                    // more clients
	cfg     func(*Config)                   // client configuration changes
}

func newEnv(t *testing.T, o envOpt) *env {
	t.Helper()
	var h atomic.Value
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.Load().(http.Handler).ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	p, err := idp.New(idp.Config{
		Issuer:   srv.URL + "/idp",
		PhoneURL: srv.URL + "/phone",
		Clients:  append([]idp.Client{{ID: clientID, RedirectURIs: []string{redirectURL}}}, o.clients...),
		Now:      o.now,
	})
	if err != nil {
		t.Fatal(err)
	}
	var handler http.Handler = p.Handler()
	if o.wrap != nil {
		handler = o.wrap(handler)
	}
	if len(o.strip) > 0 {
		handler = stripDiscovery(handler, o.strip)
	}
	h.Store(handler)
	logs := &bytes.Buffer{}
	hc := &http.Client{Timeout: 30 * time.Second}
	cfg := Config{
		Issuer: srv.URL + "/idp", ClientID: clientID, RedirectURL: redirectURL, HTTPClient: hc,
		Log: slog.New(slog.NewJSONHandler(&lockedWriter{w: logs}, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	if o.cfg != nil {
		o.cfg(&cfg)
	}
	return &env{srv: srv, p: p, hc: hc, logs: logs, c: New(cfg)}
}

// stripDiscovery hides members of the provider's discovery document.
func stripDiscovery(next http.Handler, keys []string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasSuffix(r.URL.Path, "/.well-known/openid-configuration") {
			next.ServeHTTP(w, r)
			return
		}
		rec := httptest.NewRecorder()
		next.ServeHTTP(rec, r)
		var d map[string]any
		_ = json.Unmarshal(rec.Body.Bytes(), &d)
		for _, k := range keys {
			delete(d, k)
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(d)
	})
}

var noPAR = []string{"pushed_authorization_request_endpoint"}

type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}

var (
	reLinkCode = regexp.MustCompile(`data-link-code="([^"]+)"`)
	reWait     = regexp.MustCompile(`data-wait="([^"]+)"`)
	reNumber   = regexp.MustCompile(`id="match-number">([0-9]+)<`)
)

// openLogin follows authURL in a browser-like client to the login page and
// returns the link code and the long-poll URL the page's script uses.
func (e *env) openLogin(t *testing.T, authURL string) (linkCode, waitURL string) {
	t.Helper()
	resp, err := e.hc.Get(authURL)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("login page: %s: %s", resp.Status, page)
	}
	lc, w, n := reLinkCode.FindSubmatch(page), reWait.FindSubmatch(page), reNumber.FindSubmatch(page)
	if lc == nil || w == nil || n == nil {
		t.Fatalf("no link code, wait URL or number in page:\n%s", page)
	}
	e.numbers.Store(string(lc[1]), string(n[1])) // what the citizen reads off the kiosk screen
	return string(lc[1]), e.srv.URL + string(w[1])
}

// phone approves (or declines) the login on the citizen's simulated phone.
func (e *env) phone(t *testing.T, action, linkCode, citizenID string) {
	t.Helper()
	number, _ := e.numbers.Load(linkCode)
	b, _ := json.Marshal(map[string]any{"linkCode": linkCode, "citizenId": citizenID, "number": number})
	resp, err := e.hc.Post(e.srv.URL+"/phone/api/"+action, "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("phone %s: %s", action, resp.Status)
	}
}

// waitRedirect long-polls like the login page and returns the callback query.
func (e *env) waitRedirect(t *testing.T, waitURL string) url.Values {
	t.Helper()
	resp, err := e.hc.Get(waitURL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var wr struct{ Status, Redirect string }
	if err := json.NewDecoder(resp.Body).Decode(&wr); err != nil {
		t.Fatal(err)
	}
	if (wr.Status != "approved" && wr.Status != "denied") || !strings.HasPrefix(wr.Redirect, redirectURL+"?") {
		t.Fatalf("wait: %+v", wr)
	}
	u, err := url.Parse(wr.Redirect)
	if err != nil {
		t.Fatal(err)
	}
	return u.Query()
}

// login runs Begin and the citizen's side of the login up to the callback.
func (e *env) login(t *testing.T, lang, citizenID string) (*Pending, url.Values) {
	t.Helper()
	authURL, p, err := e.c.Begin(context.Background(), lang)
	if err != nil {
		t.Fatal(err)
	}
	lc, w := e.openLogin(t, authURL)
	e.phone(t, "approve", lc, citizenID)
	return p, e.waitRedirect(t, w)
}

func citizen(t *testing.T, profile string, idx int) idp.Citizen {
	t.Helper()
	for _, c := range idp.TestCitizens() {
		if c.Profile == profile {
			if idx == 0 {
				return c
			}
			idx--
		}
	}
	t.Fatalf("no %s citizen", profile)
	return idp.Citizen{}
}

func TestFullFlow(t *testing.T) {
	e := newEnv(t, envOpt{})
	for _, tc := range []struct {
		lang string
		cit  idp.Citizen
	}{
		{"th", citizen(t, "th", 0)},
		{"vi", citizen(t, "vn", 0)},
		{"vi", citizen(t, "vn", 1)},
		{"en", citizen(t, "vn", 1)},
	} {
		t.Run(tc.lang+"/"+tc.cit.BirthDate, func(t *testing.T) {
			p, cb := e.login(t, tc.lang, tc.cit.ID)
			id, err := e.c.Complete(context.Background(), p, cb)
			if err != nil {
				t.Fatal(err)
			}
			want := Identity{
				CitizenID: tc.cit.ID, Name: tc.cit.Name, GivenName: tc.cit.GivenName, FamilyName: tc.cit.FamilyName,
				BirthDate: tc.cit.BirthDate, Address: tc.cit.Address, Phone: tc.cit.Phone, Profile: tc.cit.Profile,
				AccessToken: id.AccessToken, Expiry: id.Expiry, idToken: id.idToken,
			}
			if *id != want {
				t.Errorf("identity\n got %+v\nwant %+v", *id, want)
			}
			if time.Until(id.Expiry) < 5*time.Minute {
				t.Errorf("expiry %v", id.Expiry)
			}
			if got, ok := e.p.CitizenForAccessToken(id.AccessToken); !ok || got.ID != tc.cit.ID {
				t.Errorf("access token does not name the citizen at the portal")
			}
			if id.BirthYear() != tc.cit.BirthDate[:4] {
				t.Errorf("birth year %q", id.BirthYear())
			}
		})
	}
	// Nothing personal reached the log.
	logs := e.logs.String()
	for _, c := range idp.TestCitizens() {
		for _, s := range []string{c.ID, c.Name, c.FamilyName, c.Phone, c.BirthDate} {
			if strings.Contains(logs, s) {
				t.Errorf("log holds personal data %q", s)
			}
		}
	}
	if !strings.Contains(logs, `"identity login completed"`) {
		t.Errorf("no completion log line:\n%s", logs)
	}
}

func TestBeginIsFreshPerCitizen(t *testing.T) {
	e := newEnv(t, envOpt{strip: noPAR})
	u1, p1, err := e.c.Begin(context.Background(), "vi")
	if err != nil {
		t.Fatal(err)
	}
	u2, p2, err := e.c.Begin(context.Background(), "th")
	if err != nil {
		t.Fatal(err)
	}
	if p1.state == p2.state || p1.nonce == p2.nonce || p1.verifier == p2.verifier || p1.state == p1.nonce {
		t.Errorf("state/nonce/verifier reused")
	}
	q1, _ := url.Parse(u1)
	q2, _ := url.Parse(u2)
	for k, want := range map[string]string{
		"client_id": clientID, "redirect_uri": redirectURL, "response_type": "code",
		"code_challenge_method": "S256", "code_challenge": oauth2.S256ChallengeFromVerifier(p1.verifier),
		"state": p1.state, "nonce": p1.nonce, "ui_locales": "vi", "prompt": "login",
	} {
		if got := q1.Query().Get(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	if q2.Query().Get("ui_locales") != "th" || !strings.Contains(q1.Query().Get("scope"), "openid") {
		t.Errorf("auth URL %s", u2)
	}
	if strings.Contains(u1, p1.verifier) {
		t.Errorf("verifier leaked into the auth URL")
	}
}

func TestAttacks(t *testing.T) {
	ctx := context.Background()
	vn := func(t *testing.T) string { return citizen(t, "vn", 0).ID }

	t.Run("state mismatch", func(t *testing.T) {
		e := newEnv(t, envOpt{})
		for name, mod := range map[string]func(url.Values){
			"other state":    func(q url.Values) { q.Set("state", "attacker") },
			"missing state":  func(q url.Values) { q.Del("state") },
			"repeated state": func(q url.Values) { q.Add("state", "x") },
		} {
			p, cb := e.login(t, "en", vn(t))
			mod(cb)
			if _, err := e.c.Complete(ctx, p, cb); !errors.Is(err, ErrStateMismatch) {
				t.Errorf("%s: %v", name, err)
			}
		}
	})

	t.Run("callback replayed", func(t *testing.T) {
		e := newEnv(t, envOpt{})
		p, cb := e.login(t, "en", vn(t))
		if _, err := e.c.Complete(ctx, p, cb); err != nil {
			t.Fatal(err)
		}
		if _, err := e.c.Complete(ctx, p, cb); !errors.Is(err, ErrStateMismatch) {
			t.Errorf("replay: %v", err)
		}
		if _, err := e.c.Complete(ctx, nil, cb); !errors.Is(err, ErrStateMismatch) {
			t.Errorf("nil pending: %v", err)
		}
	})

	t.Run("code reused at the token endpoint", func(t *testing.T) {
		e := newEnv(t, envOpt{})
		p, cb := e.login(t, "en", vn(t))
		// The code leaks and is redeemed first (even with the right verifier).
		prov, err := e.c.discover(ctx)
		if err != nil {
			t.Fatal(err)
		}
		stolen, err := e.c.token(ctx, prov, url.Values{"grant_type": {"authorization_code"}, "code": {cb.Get("code")},
			"redirect_uri": {redirectURL}, "code_verifier": {p.verifier}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.c.Complete(ctx, p, cb); !errors.Is(err, ErrInvalidToken) {
			t.Errorf("reused code: %v", err)
		}
		if _, ok := e.p.CitizenForAccessToken(stolen.AccessToken); ok {
			t.Errorf("the first redemption's token survives the replay")
		}
	})

	t.Run("wrong PKCE verifier", func(t *testing.T) {
		e := newEnv(t, envOpt{})
		p, cb := e.login(t, "en", vn(t))
		p.verifier = strings.Repeat("A", 43)
		if _, err := e.c.Complete(ctx, p, cb); !errors.Is(err, ErrInvalidToken) {
			t.Errorf("wrong verifier: %v", err)
		}
	})

	t.Run("crossed codes", func(t *testing.T) {
		e := newEnv(t, envOpt{})
		pA, cbA := e.login(t, "en", vn(t))
		pB, cbB := e.login(t, "en", citizen(t, "th", 0).ID)
		// The attacker's code (B) injected into the victim's callback (A).
		cbA.Set("code", cbB.Get("code"))
		if _, err := e.c.Complete(ctx, pA, cbA); !errors.Is(err, ErrInvalidToken) {
			t.Errorf("crossed code: %v", err)
		}
		_ = pB
	})

	t.Run("nonce mismatch", func(t *testing.T) {
		// Without PAR, where state and challenge are visible in the URL.
		e := newEnv(t, envOpt{strip: noPAR})
		authURL, p, err := e.c.Begin(ctx, "en")
		if err != nil {
			t.Fatal(err)
		}
		// An attacker who knows the PKCE challenge and state (both public in
		// the URL) runs their own login with another nonce and injects the code.
		u, _ := url.Parse(authURL)
		q := u.Query()
		q.Set("nonce", "attacker-nonce")
		u.RawQuery = q.Encode()
		lc, w := e.openLogin(t, u.String())
		e.phone(t, "approve", lc, vn(t))
		cb := e.waitRedirect(t, w)
		_, err = e.c.Complete(ctx, p, cb)
		if !errors.Is(err, ErrInvalidToken) || !strings.Contains(err.Error(), "nonce") {
			t.Errorf("nonce mismatch: %v", err)
		}
	})

	t.Run("token signed by another key", func(t *testing.T) {
		for _, sameKid := range []bool{true, false} {
			attacker, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
			e := newEnv(t, envOpt{wrap: resignIDToken(t, attacker, sameKid)})
			p, cb := e.login(t, "en", vn(t))
			if _, err := e.c.Complete(ctx, p, cb); !errors.Is(err, ErrInvalidToken) {
				t.Errorf("forged signature (same kid %v): %v", sameKid, err)
			}
		}
	})

	t.Run("expired token", func(t *testing.T) {
		past := time.Now().Add(-12 * time.Minute) // ID tokens live 10 min; skew allows 1
		e := newEnv(t, envOpt{now: func() time.Time { return past }})
		p, cb := e.login(t, "en", vn(t))
		if _, err := e.c.Complete(ctx, p, cb); !errors.Is(err, ErrInvalidToken) || !strings.Contains(err.Error(), "expired") {
			t.Errorf("expired: %v", err)
		}
	})

	t.Run("denied on the phone", func(t *testing.T) {
		e := newEnv(t, envOpt{})
		authURL, p, err := e.c.Begin(ctx, "th")
		if err != nil {
			t.Fatal(err)
		}
		lc, w := e.openLogin(t, authURL)
		e.phone(t, "deny", lc, "")
		if _, err := e.c.Complete(ctx, p, e.waitRedirect(t, w)); !errors.Is(err, ErrDenied) {
			t.Errorf("denied: %v", err)
		}
	})

	t.Run("callback from another issuer", func(t *testing.T) {
		e := newEnv(t, envOpt{})
		p, cb := e.login(t, "en", vn(t))
		cb.Set("iss", "https://evil.example")
		if _, err := e.c.Complete(ctx, p, cb); !errors.Is(err, ErrInvalidToken) {
			t.Errorf("mix-up: %v", err)
		}
	})

	t.Run("stale pending", func(t *testing.T) {
		e := newEnv(t, envOpt{})
		p, cb := e.login(t, "en", vn(t))
		p.created = p.created.Add(-maxPendingAge - time.Second)
		if _, err := e.c.Complete(ctx, p, cb); !errors.Is(err, ErrStateMismatch) {
			t.Errorf("stale: %v", err)
		}
	})
}

// resignIDToken replaces the provider's ID token with the same claims signed
// by the attacker's key, under the provider's kid or a new one.
func resignIDToken(t *testing.T, key *ecdsa.PrivateKey, sameKid bool) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if !strings.HasSuffix(r.URL.Path, "/token") {
				next.ServeHTTP(w, r)
				return
			}
			rec := httptest.NewRecorder()
			next.ServeHTTP(rec, r)
			var body map[string]any
			if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || body["id_token"] == nil {
				t.Errorf("tamper: token response %s", rec.Body)
				w.WriteHeader(rec.Code)
				return
			}
			parts := strings.Split(body["id_token"].(string), ".")
			payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
			hdr, _ := base64.RawURLEncoding.DecodeString(parts[0])
			var h struct{ Kid string }
			_ = json.Unmarshal(hdr, &h)
			kid := "attacker"
			if sameKid {
				kid = h.Kid
			}
			signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: jose.JSONWebKey{Key: key, KeyID: kid}}, nil)
			if err != nil {
				t.Error(err)
				return
			}
			jws, _ := signer.Sign(payload)
			body["id_token"], _ = jws.CompactSerialize()
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(body)
		})
	}
}

func TestProviderDown(t *testing.T) {
	ctx := context.Background()
	t.Run("closed server", func(t *testing.T) {
		srv := httptest.NewServer(http.NotFoundHandler())
		srv.Close()
		c := New(Config{Issuer: srv.URL + "/idp", ClientID: clientID, RedirectURL: redirectURL})
		if _, _, err := c.Begin(ctx, "en"); !errors.Is(err, ErrProviderDown) {
			t.Errorf("Begin: %v", err)
		}
	})
	t.Run("discovery retried after failure", func(t *testing.T) {
		var down atomic.Bool
		down.Store(true)
		e := newEnv(t, envOpt{wrap: func(next http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if down.Load() {
					http.Error(w, "maintenance", http.StatusServiceUnavailable)
					return
				}
				next.ServeHTTP(w, r)
			})
		}})
		if _, _, err := e.c.Begin(ctx, "en"); !errors.Is(err, ErrProviderDown) {
			t.Fatalf("Begin while down: %v", err)
		}
		down.Store(false)
		p, cb := e.login(t, "en", citizen(t, "vn", 0).ID)
		// Down again at the token exchange.
		down.Store(true)
		if _, err := e.c.Complete(ctx, p, cb); !errors.Is(err, ErrProviderDown) {
			t.Errorf("Complete while down: %v", err)
		}
	})
	t.Run("server gone before Complete", func(t *testing.T) {
		e := newEnv(t, envOpt{})
		p, cb := e.login(t, "en", citizen(t, "vn", 0).ID)
		e.srv.CloseClientConnections()
		e.srv.Close()
		if _, err := e.c.Complete(ctx, p, cb); !errors.Is(err, ErrProviderDown) {
			t.Errorf("Complete: %v", err)
		}
	})
}

func TestRotateKeyMidSession(t *testing.T) {
	e := newEnv(t, envOpt{})
	ctx := context.Background()
	cit := citizen(t, "th", 0)
	p1, cb1 := e.login(t, "th", cit.ID)
	if _, err := e.c.Complete(ctx, p1, cb1); err != nil { // caches the first key
		t.Fatal(err)
	}
	p2, cb2 := e.login(t, "th", cit.ID)
	if err := e.p.RotateKey(); err != nil {
		t.Fatal(err)
	}
	id, err := e.c.Complete(ctx, p2, cb2)
	if err != nil {
		t.Fatalf("after rotation: %v", err)
	}
	if id.CitizenID != cit.ID {
		t.Errorf("citizen %q", id.CitizenID)
	}
	// Rotated twice mid-session: the key the client knew is gone from the
	// JWKS; the new one is fetched.
	p3, cb3 := e.login(t, "th", cit.ID)
	for range 2 {
		if err := e.p.RotateKey(); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := e.c.Complete(ctx, p3, cb3); err != nil {
		t.Fatalf("after the old key was retired: %v", err)
	}
}

func TestCheckCitizenID(t *testing.T) {
	for _, tc := range []struct {
		profile, id string
		ok          bool
	}{
		{"th", "1103700123458", true},
		{"th", "1103700123457", false},
		{"th", "049190012345", false},
		{"vn", "049190012345", true},
		{"vn", "04919001234", false},
		{"vn", "04919001234x", false},
		{"vn", "1103700123458", false},
		{"xx", "049190012345", false},
		{"", "049190012345", false},
	} {
		if err := checkCitizenID(tc.profile, tc.id); (err == nil) != tc.ok {
			t.Errorf("checkCitizenID(%q, %q) = %v, want ok %v", tc.profile, tc.id, err, tc.ok)
		}
	}
}

func TestValidThaiID(t *testing.T) {
	for _, tc := range []struct {
		id string
		ok bool
	}{
		{"1103700123458", true},
		{"3100600482719", true},
		{"1101700230708", true},
		{"1103700123459", false},
		{"3100600482710", false},
		{"110370012345", false},
		{"11037001234580", false},
		{"1-1037-00123-45-8", false},
		{"110370012345８", false}, // full-width digit
		{"", false},
		{"abcdefghijklm", false},
	} {
		if got := ValidThaiID(tc.id); got != tc.ok {
			t.Errorf("ValidThaiID(%q) = %v, want %v", tc.id, got, tc.ok)
		}
	}
}

func TestMaskedName(t *testing.T) {
	for _, tc := range []struct {
		name, family, profile, want string
	}{
		{"Nguyễn Thị Hồng Nhung", "Nguyễn", "vn", "Nguyễn T** H*** N****"},
		{"Trần Văn Bảy", "Trần", "vn", "Trần V** B**"},
		{"Trần Văn Bảy", "", "vn", "Trần V** B**"},
		// Decomposed diacritics (NFD) count as one letter each.
		{"Tra\u0300n Vă\u0301n", "Tra\u0300n", "vn", "Tra\u0300n V**"},
		{"สมชาย ใจดี", "ใจดี", "th", "สม*** ใจ***"},
		// Thai marks stay with their consonant.
		{"ศักดิ์ชัย มั่นคง", "มั่นคง", "th", "ศัก*** มั่น***"},
		{"John Smith", "Smith", "", "J*** Smith"},
		{"Mary Ann van der Berg", "van der Berg", "", "M*** A** van der Berg"},
		{"Alice Brown", "", "", "A**** Brown"},
		{"Bảy", "", "vn", "Bảy"},
		{"", "", "vn", ""},
	} {
		id := &Identity{Name: tc.name, FamilyName: tc.family, Profile: tc.profile}
		if got := id.MaskedName(); got != tc.want {
			t.Errorf("MaskedName(%q) = %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestBirthYear(t *testing.T) {
	for in, want := range map[string]string{"1941-07-02": "1941", "1990": "1990", "": "", "19x0-01-01": "", "1990/01/01": ""} {
		if got := (&Identity{BirthDate: in}).BirthYear(); got != want {
			t.Errorf("BirthYear(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestLogValueRedacts(t *testing.T) {
	id := &Identity{CitizenID: "049190012345", Name: "Nguyễn Thị Hồng Nhung", Phone: "+84905123456",
		Address: "Thôn 3", BirthDate: "1990-11-02", Profile: "vn", AccessToken: "secret-token"}
	var buf bytes.Buffer
	slog.New(slog.NewTextHandler(&buf, nil)).Info("x", "id", id)
	out := buf.String()
	for _, s := range []string{id.CitizenID, "Nguyễn", id.Phone, "Thôn", "1990", "secret-token"} {
		if strings.Contains(out, s) {
			t.Errorf("log holds %q: %s", s, out)
		}
	}
	if !strings.Contains(out, "id.profile=vn") || !strings.Contains(out, "id.citizenId=true") || !strings.Contains(out, "id.accessToken=true") {
		t.Errorf("log lacks redacted summary: %s", out)
	}
}
