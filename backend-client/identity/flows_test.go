package identity

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"govkiosk/portal/idp"
)

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *fakeClock { return &fakeClock{t: time.Now()} }

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func TestPAR(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, envOpt{})
	authURL, p, err := e.c.Begin(ctx, "vi")
	if err != nil {
		t.Fatal(err)
	}
	q := mustQuery(t, authURL)
	if len(q) != 2 || q.Get("client_id") != clientID || !strings.HasPrefix(q.Get("request_uri"), "urn:ietf:params:oauth:request_uri:") {
		t.Fatalf("auth URL %s", authURL)
	}
	for _, secret := range []string{p.state, p.nonce, p.verifier, s256(p.verifier)} {
		if strings.Contains(authURL, secret) {
			t.Errorf("auth URL carries a login parameter")
		}
	}
	lc, w := e.openLogin(t, authURL)
	// The request_uri starts one login: opened again while it is pending (the
	// kiosk's screen redrawn around it) it shows that same login, never a
	// second one (RFC 9126 §4 allows such reloads).
	resp, err := e.hc.Get(authURL)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `data-link-code="`+lc+`"`) {
		t.Errorf("request_uri opened again: %s, want the same login %s", resp.Status, lc)
	}
	e.phone(t, "approve", lc, citizen(t, "vn", 0).ID)
	if _, err := e.c.Complete(ctx, p, e.waitRedirect(t, w)); err != nil {
		t.Fatal(err)
	}
	// Once decided, it is used up.
	resp, err = e.hc.Get(authURL)
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), "invalid_request_uri") {
		t.Errorf("request_uri after the login: %s, want invalid_request_uri", resp.Status)
	}

	t.Run("PAR endpoint down", func(t *testing.T) {
		e := newEnv(t, envOpt{wrap: failPath("/par", http.StatusServiceUnavailable)})
		if _, _, err := e.c.Begin(ctx, "en"); !errors.Is(err, ErrProviderDown) {
			t.Errorf("Begin: %v", err)
		}
	})
}

// failPath answers requests to paths ending in suffix with status.
func failPath(suffix string, status int) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if strings.HasSuffix(r.URL.Path, suffix) {
				writeTestJSON(w, status, map[string]string{"error": "temporarily_unavailable"})
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

func writeTestJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func TestPrivateKeyJWT(t *testing.T) {
	ctx := context.Background()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	reg := idp.Client{ID: "kiosk-pkjwt", RedirectURIs: []string{redirectURL},
		JWKS: jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &key.PublicKey, KeyID: "k1", Algorithm: "ES256", Use: "sig"}}}}
	for _, tc := range []struct {
		name   string
		signer *ecdsa.PrivateKey
		ok     bool
	}{
		{"registered key", key, true},
		{"no key (public client)", nil, false},
		{"another key", other, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, envOpt{clients: []idp.Client{reg}, cfg: func(c *Config) {
				c.ClientID, c.KeyID = "kiosk-pkjwt", "k1"
				if tc.signer != nil {
					c.Signer = tc.signer
				}
			}})
			authURL, p, err := e.c.Begin(ctx, "en")
			if !tc.ok {
				if !errors.Is(err, ErrProviderDown) {
					t.Errorf("Begin: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			lc, w := e.openLogin(t, authURL)
			e.phone(t, "approve", lc, citizen(t, "th", 0).ID)
			id, err := e.c.Complete(ctx, p, e.waitRedirect(t, w))
			if err != nil {
				t.Fatal(err)
			}
			tok := id.AccessToken
			if err := e.c.EndSession(ctx, id); err != nil {
				t.Fatal(err)
			}
			if _, ok := e.p.CitizenForAccessToken(tok); ok {
				t.Errorf("token survives revocation")
			}
		})
	}
}

// deviceEnv is our provider and a client sharing a fake clock; the
// client's waits are recorded and advance the clock (by adv(d)), and
// onWait runs at each wait (n counts from 1).
type deviceEnv struct {
	*env
	clk   *fakeClock
	mu    sync.Mutex
	waits []time.Duration
}

func newDeviceEnv(t *testing.T, o envOpt, adv func(n int, d time.Duration) time.Duration, onWait func(n int)) *deviceEnv {
	clk := newClock()
	de := &deviceEnv{clk: clk}
	o.now = clk.Now
	o.cfg = func(c *Config) {
		c.Now = clk.Now
		c.After = func(d time.Duration) <-chan time.Time {
			de.mu.Lock()
			de.waits = append(de.waits, d)
			n := len(de.waits)
			de.mu.Unlock()
			if adv != nil {
				d = adv(n, d)
			}
			clk.Advance(d)
			if onWait != nil {
				onWait(n)
			}
			ch := make(chan time.Time, 1)
			ch <- clk.Now()
			return ch
		}
	}
	de.env = newEnv(t, o)
	return de
}

func TestDeviceFlow(t *testing.T) {
	vn := citizen(t, "vn", 0).ID
	var d *DeviceLogin
	var de *deviceEnv
	approveAt := func(k int, action string) func(n int) {
		return func(n int) {
			if n == k {
				de.phone(t, action, d.UserCode, vn)
			}
		}
	}
	sec := time.Second
	for _, tc := range []struct {
		name      string
		adv       func(n int, d time.Duration) time.Duration
		onWait    func(n int)
		cancel    bool
		wantErr   error
		wantWaits []time.Duration // nil: not checked
	}{
		{name: "approved after two pending polls", onWait: approveAt(3, "approve"), wantWaits: []time.Duration{5 * sec, 5 * sec, 5 * sec}},
		{name: "slow_down adds 5 s", adv: func(n int, d time.Duration) time.Duration {
			if n == 1 {
				return d - sec // polls a second early once
			}
			return d
		}, onWait: approveAt(3, "approve"), wantWaits: []time.Duration{5 * sec, 10 * sec, 10 * sec}},
		{name: "slow_down twice", adv: func(n int, d time.Duration) time.Duration {
			if n <= 2 {
				return d - sec
			}
			return d
		}, onWait: approveAt(3, "approve"), wantWaits: []time.Duration{5 * sec, 10 * sec, 15 * sec}},
		{name: "declined on the phone", onWait: approveAt(2, "deny"), wantErr: ErrDenied},
		{name: "never approved: expires", wantErr: ErrExpired},
		{name: "provider says expired_token", adv: func(n int, d time.Duration) time.Duration { return 3 * time.Minute }, wantErr: ErrExpired},
		{name: "cancelled", cancel: true, wantErr: context.Canceled},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			onWait := tc.onWait
			if tc.cancel {
				onWait = func(n int) {
					if n == 2 {
						cancel()
					}
				}
			}
			de = newDeviceEnv(t, envOpt{}, tc.adv, onWait)
			var err error
			d, err = de.c.StartDevice(ctx, "vi")
			if err != nil {
				t.Fatal(err)
			}
			if d.Interval != 5*sec || d.ExpiresIn != 120*sec || !strings.HasSuffix(d.VerificationURIComplete, "/phone/link/"+strings.ReplaceAll(d.UserCode, "-", "")) {
				t.Fatalf("device login %+v", d)
			}
			id, err := de.c.PollDevice(ctx, d)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("PollDevice: %v, want %v", err, tc.wantErr)
				}
			} else if err != nil || id.CitizenID != vn {
				t.Fatalf("PollDevice: %v %+v", err, id)
			}
			if tc.wantWaits != nil && !reflect.DeepEqual(de.waits, tc.wantWaits) {
				t.Errorf("waits %v, want %v", de.waits, tc.wantWaits)
			}
			if len(de.waits) > 30 {
				t.Errorf("%d polls for a 120 s code", len(de.waits))
			}
			// The code is dead after use either way.
			if _, err := de.c.PollDevice(ctx, d); !errors.Is(err, ErrStateMismatch) {
				t.Errorf("second PollDevice: %v", err)
			}
			if logs := de.logs.String(); strings.Contains(logs, d.UserCode) || strings.Contains(logs, d.deviceCode) {
				t.Errorf("device codes logged")
			}
		})
	}

	t.Run("forged ID token", func(t *testing.T) {
		attacker, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		de = newDeviceEnv(t, envOpt{wrap: resignIDToken(t, attacker, true)}, nil, approveAt(1, "approve"))
		var err error
		if d, err = de.c.StartDevice(context.Background(), "en"); err != nil {
			t.Fatal(err)
		}
		if _, err := de.c.PollDevice(context.Background(), d); !errors.Is(err, ErrInvalidToken) {
			t.Errorf("forged: %v", err)
		}
	})
	t.Run("provider without device endpoint", func(t *testing.T) {
		e := newEnv(t, envOpt{strip: []string{"device_authorization_endpoint"}})
		if _, err := e.c.StartDevice(context.Background(), "en"); !errors.Is(err, ErrNotSupported) {
			t.Errorf("StartDevice: %v", err)
		}
	})
	t.Run("token endpoint down: backs off, then gives up", func(t *testing.T) {
		de = newDeviceEnv(t, envOpt{wrap: failPath("/token", http.StatusServiceUnavailable)}, nil, nil)
		var err error
		if d, err = de.c.StartDevice(context.Background(), "en"); err != nil {
			t.Fatal(err)
		}
		if _, err := de.c.PollDevice(context.Background(), d); !errors.Is(err, ErrProviderDown) {
			t.Errorf("PollDevice: %v", err)
		}
		if want := []time.Duration{5 * sec, 10 * sec, 20 * sec}; !reflect.DeepEqual(de.waits, want) {
			t.Errorf("waits %v, want %v", de.waits, want)
		}
	})
}

func TestEndSession(t *testing.T) {
	ctx := context.Background()
	vn := citizen(t, "vn", 0).ID
	for _, tc := range []struct {
		name        string
		o           envOpt
		wantErr     error
		wantRevoked bool
	}{
		{"revoked", envOpt{}, nil, true},
		{"provider offers no revocation", envOpt{strip: []string{"revocation_endpoint"}}, nil, false},
		{"revocation endpoint down", envOpt{wrap: failPath("/revoke", http.StatusServiceUnavailable)}, ErrProviderDown, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, tc.o)
			p, cb := e.login(t, "en", vn)
			id, err := e.c.Complete(ctx, p, cb)
			if err != nil {
				t.Fatal(err)
			}
			if _, ok := e.c.LogoutURL(ctx, id); ok {
				t.Errorf("LogoutURL offered by a provider without end_session_endpoint")
			}
			tok := id.AccessToken
			if err := e.c.EndSession(ctx, id); !errors.Is(err, tc.wantErr) || (tc.wantErr == nil && err != nil) {
				t.Errorf("EndSession: %v, want %v", err, tc.wantErr)
			}
			if id.AccessToken != "" || id.idToken != "" {
				t.Errorf("tokens kept")
			}
			if _, ok := e.p.CitizenForAccessToken(tok); ok == tc.wantRevoked {
				t.Errorf("token valid = %v after EndSession, want %v", ok, !tc.wantRevoked)
			}
			if err := e.c.EndSession(ctx, id); err != nil {
				t.Errorf("second EndSession: %v", err)
			}
			if strings.Contains(e.logs.String(), tok) {
				t.Errorf("access token logged")
			}
		})
	}
	if err := New(Config{Issuer: "http://127.0.0.1:1/none"}).EndSession(ctx, nil); err != nil {
		t.Errorf("nil identity: %v", err)
	}
}

func TestRefreshTokenDropped(t *testing.T) {
	const rt = "RT-do-not-keep-0123456789"
	inject := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if !strings.HasSuffix(r.URL.Path, "/token") {
				next.ServeHTTP(w, r)
				return
			}
			rec := httptest.NewRecorder()
			next.ServeHTTP(rec, r)
			var body map[string]any
			_ = json.Unmarshal(rec.Body.Bytes(), &body)
			body["refresh_token"] = rt
			writeTestJSON(w, rec.Code, body)
		})
	}
	rec := &formRecorder{}
	e := newEnv(t, envOpt{wrap: inject, cfg: func(c *Config) { c.HTTPClient = &http.Client{Transport: rec} }})
	p, cb := e.login(t, "en", citizen(t, "vn", 0).ID)
	id, err := e.c.Complete(context.Background(), p, cb)
	if err != nil {
		t.Fatal(err)
	}
	v := reflect.ValueOf(*id)
	for i := range v.NumField() {
		if f := v.Field(i); f.Kind() == reflect.String && strings.Contains(f.String(), rt) {
			t.Errorf("identity field %s keeps the refresh token", v.Type().Field(i).Name)
		}
	}
	logs := e.logs.String()
	if strings.Contains(logs, rt) || !strings.Contains(logs, "refresh token; dropped") {
		t.Errorf("logs: %s", logs)
	}
	rec.noOfflineAccess(t)
	if !strings.Contains(rec.pushed().Get("scope"), "openid") {
		t.Errorf("pushed scope %q", rec.pushed().Get("scope"))
	}
}

// fakeOP is a minimal provider whose token endpoint returns an ID token
// with whatever claims the test wants, signed by a key in its JWKS: for
// the claim checks a signature alone cannot catch.
type fakeOP struct {
	srv    *httptest.Server
	key    *ecdsa.PrivateKey
	claims func(base map[string]any) // edits the ID token's claims
	raw    func(idt string) string   // edits the serialized ID token
	extra  map[string]any            // added to the token response
	nonce  string
}

func newFakeOP(t *testing.T) *fakeOP {
	f := &fakeOP{}
	f.key, _ = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	mux := http.NewServeMux()
	f.srv = httptest.NewServer(mux)
	t.Cleanup(f.srv.Close)
	iss := f.srv.URL
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		writeTestJSON(w, 200, map[string]any{"issuer": iss, "authorization_endpoint": iss + "/authorize",
			"token_endpoint": iss + "/token", "jwks_uri": iss + "/jwks", "id_token_signing_alg_values_supported": []string{"ES256"}})
	})
	mux.HandleFunc("GET /jwks", func(w http.ResponseWriter, r *http.Request) {
		writeTestJSON(w, 200, jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &f.key.PublicKey, KeyID: "op", Algorithm: "ES256", Use: "sig"}}})
	})
	mux.HandleFunc("POST /token", func(w http.ResponseWriter, r *http.Request) {
		now := time.Now()
		at := "access-" + r.PostFormValue("code")
		h := sha256.Sum256([]byte(at))
		cl := map[string]any{"iss": iss, "sub": "s1", "aud": clientID, "exp": now.Add(5 * time.Minute).Unix(), "iat": now.Unix(),
			"auth_time": now.Unix(), "acr": acrHigh, "nonce": f.nonce, "at_hash": base64.RawURLEncoding.EncodeToString(h[:16]),
			"pid": "1103700123458", "id_profile": "th", "name": "สมชาย ใจดี", "birthdate": "1985-03-14"}
		if f.claims != nil {
			f.claims(cl)
		}
		payload, _ := json.Marshal(cl)
		signer, _ := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: jose.JSONWebKey{Key: f.key, KeyID: "op"}}, nil)
		jws, _ := signer.Sign(payload)
		idt, _ := jws.CompactSerialize()
		if f.raw != nil {
			idt = f.raw(idt)
		}
		body := map[string]any{"access_token": at, "token_type": "Bearer", "expires_in": 300, "id_token": idt}
		for k, v := range f.extra {
			body[k] = v
		}
		writeTestJSON(w, 200, body)
	})
	return f
}

// TestIDTokenChecks: each claim an attacker (or a broken provider) could
// get wrong while the signature is genuine.
func TestIDTokenChecks(t *testing.T) {
	now := time.Now()
	set := func(k string, v any) func(map[string]any) { return func(c map[string]any) { c[k] = v } }
	for _, tc := range []struct {
		name    string
		claims  func(map[string]any)
		raw     func(string) string
		extra   map[string]any
		wantErr []error // nil: success
		check   func(t *testing.T, id *Identity)
	}{
		{name: "genuine"},
		{name: "token from another issuer", claims: set("iss", "https://other-idp.example"), wantErr: []error{ErrInvalidToken}},
		{name: "wrong audience", claims: set("aud", "another-kiosk"), wantErr: []error{ErrInvalidToken}},
		{name: "several audiences without azp", claims: set("aud", []string{clientID, "other"}), wantErr: []error{ErrInvalidToken}},
		{name: "several audiences with our azp", claims: func(c map[string]any) { c["aud"] = []string{clientID, "other"}; c["azp"] = clientID }},
		{name: "azp of another client", claims: set("azp", "another-kiosk"), wantErr: []error{ErrInvalidToken}},
		{name: "expired", claims: set("exp", now.Add(-2*time.Minute).Unix()), wantErr: []error{ErrInvalidToken, ErrExpired}},
		{name: "expired within the allowed skew", claims: set("exp", now.Add(-20*time.Second).Unix())},
		{name: "issued in the future", claims: set("iat", now.Add(5*time.Minute).Unix()), wantErr: []error{ErrInvalidToken}},
		{name: "no iat", claims: func(c map[string]any) { delete(c, "iat") }, wantErr: []error{ErrInvalidToken}},
		{name: "no nonce", claims: func(c map[string]any) { delete(c, "nonce") }, wantErr: []error{ErrInvalidToken}},
		{name: "nonce of another session", claims: set("nonce", "earlier-session-nonce"), wantErr: []error{ErrInvalidToken}},
		{name: "access token swapped (at_hash)", claims: set("at_hash", "AAAAAAAAAAAAAAAAAAAAAA"), wantErr: []error{ErrInvalidToken}},
		{name: "Thai ID fails checksum", claims: set("pid", "1103700123457"), wantErr: []error{ErrInvalidToken}},
		{name: "generic profile: 12-digit ID", claims: func(c map[string]any) { delete(c, "id_profile"); c["pid"] = "049190012345" },
			check: func(t *testing.T, id *Identity) {
				if id.Profile != "vn" {
					t.Errorf("profile %q", id.Profile)
				}
			}},
		{name: "generic profile: no usable ID", claims: func(c map[string]any) { delete(c, "id_profile"); c["pid"] = "12345" }, wantErr: []error{ErrInvalidToken}},
		{name: "address object", claims: set("address", map[string]any{"formatted": "99/1 Phahonyothin"}),
			check: func(t *testing.T, id *Identity) {
				if id.Address != "99/1 Phahonyothin" {
					t.Errorf("address %q", id.Address)
				}
			}},
		{name: "unsigned (alg none)", raw: func(s string) string {
			parts := strings.Split(s, ".")
			return base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none"}`)) + "." + parts[1] + "."
		}, wantErr: []error{ErrInvalidToken}},
		{name: "signature tampered", raw: func(s string) string {
			parts := strings.Split(s, ".")
			var cl map[string]any
			b, _ := base64.RawURLEncoding.DecodeString(parts[1])
			_ = json.Unmarshal(b, &cl)
			cl["pid"] = "3100600482719" // another valid citizen
			b, _ = json.Marshal(cl)
			return parts[0] + "." + base64.RawURLEncoding.EncodeToString(b) + "." + parts[2]
		}, wantErr: []error{ErrInvalidToken}},
		{name: "refresh token dropped", extra: map[string]any{"refresh_token": "rt"}},
		{name: "unknown token type", extra: map[string]any{"token_type": "mac"}, wantErr: []error{ErrInvalidToken}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			op := newFakeOP(t)
			op.claims, op.raw, op.extra = tc.claims, tc.raw, tc.extra
			c := New(Config{Issuer: op.srv.URL, ClientID: clientID, RedirectURL: redirectURL})
			authURL, p, err := c.Begin(context.Background(), "th")
			if err != nil {
				t.Fatal(err)
			}
			q := mustQuery(t, authURL)
			op.nonce = q.Get("nonce")
			id, err := c.Complete(context.Background(), p, url.Values{"state": {q.Get("state")}, "code": {"c1"}, "iss": {op.srv.URL}})
			if tc.wantErr == nil {
				if err != nil {
					t.Fatal(err)
				}
				if tc.check != nil {
					tc.check(t, id)
				}
				return
			}
			for _, want := range tc.wantErr {
				if !errors.Is(err, want) {
					t.Errorf("Complete: %v, want %v", err, want)
				}
			}
		})
	}
}

const (
	acrHigh        = "http://eidas.europa.eu/LoA/high"
	acrSubstantial = "http://eidas.europa.eu/LoA/substantial"
	acrLow         = "http://eidas.europa.eu/LoA/low"
)

// TestAuthTimeAndACR: the kiosk sends prompt=login and asks for a level of
// assurance, so an ID token from an older authentication (a provider
// session another citizen left, a token kept from before this login) or of
// a lower level than required must be refused, even with a good signature.
func TestAuthTimeAndACR(t *testing.T) {
	set := func(k string, v any) func(map[string]any) { return func(c map[string]any) { c[k] = v } }
	for _, tc := range []struct {
		name    string
		acr     []string // the kiosk's ACRValues
		claims  func(begun time.Time) func(map[string]any)
		wantErr bool
	}{
		{name: "fresh authentication at the required level", acr: []string{acrHigh, acrSubstantial}},
		{name: "authenticated just before Begin, within the clock skew", claims: func(b time.Time) func(map[string]any) {
			return set("auth_time", b.Add(-30*time.Second).Unix())
		}},
		{name: "stale auth_time: an earlier session's login", claims: func(b time.Time) func(map[string]any) {
			return set("auth_time", b.Add(-10*time.Minute).Unix())
		}, wantErr: true},
		{name: "no auth_time", claims: func(time.Time) func(map[string]any) {
			return func(c map[string]any) { delete(c, "auth_time") }
		}, wantErr: true},
		{name: "auth_time in the future", claims: func(b time.Time) func(map[string]any) {
			return set("auth_time", b.Add(10*time.Minute).Unix())
		}, wantErr: true},
		{name: "lower acr than required", acr: []string{acrHigh, acrSubstantial}, claims: func(time.Time) func(map[string]any) {
			return set("acr", acrLow)
		}, wantErr: true},
		{name: "no acr when one is required", acr: []string{acrSubstantial}, claims: func(time.Time) func(map[string]any) {
			return func(c map[string]any) { delete(c, "acr") }
		}, wantErr: true},
		{name: "acr is not a string", acr: []string{acrSubstantial}, claims: func(time.Time) func(map[string]any) {
			return set("acr", []string{acrSubstantial})
		}, wantErr: true},
		{name: "no acr required", claims: func(time.Time) func(map[string]any) { return set("acr", acrLow) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			op := newFakeOP(t)
			c := New(Config{Issuer: op.srv.URL, ClientID: clientID, RedirectURL: redirectURL, ACRValues: tc.acr})
			begun := time.Now()
			authURL, p, err := c.Begin(context.Background(), "th")
			if err != nil {
				t.Fatal(err)
			}
			q := mustQuery(t, authURL)
			if got := q.Get("acr_values"); got != strings.Join(tc.acr, " ") {
				t.Errorf("acr_values = %q, want %q", got, strings.Join(tc.acr, " "))
			}
			if q.Get("prompt") != "login" || q.Get("max_age") != "0" {
				t.Errorf("prompt %q max_age %q: a fresh authentication must be asked for", q.Get("prompt"), q.Get("max_age"))
			}
			op.nonce = q.Get("nonce")
			if tc.claims != nil {
				op.claims = tc.claims(begun)
			}
			_, err = c.Complete(context.Background(), p, url.Values{"state": {q.Get("state")}, "code": {"c1"}, "iss": {op.srv.URL}})
			if tc.wantErr && !errors.Is(err, ErrInvalidToken) {
				t.Fatalf("Complete: %v, want ErrInvalidToken", err)
			}
			if !tc.wantErr && err != nil {
				t.Fatalf("Complete: %v", err)
			}
		})
	}
}

func TestAttacksMore(t *testing.T) {
	ctx := context.Background()
	vn := citizen(t, "vn", 0).ID

	t.Run("nonce replayed from an earlier session", func(t *testing.T) {
		// A man in the middle keeps the first session's genuine ID token
		// and serves it to the next citizen's session.
		var mu sync.Mutex
		var first string
		e := newEnv(t, envOpt{wrap: func(next http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if !strings.HasSuffix(r.URL.Path, "/token") {
					next.ServeHTTP(w, r)
					return
				}
				rec := httptest.NewRecorder()
				next.ServeHTTP(rec, r)
				var body map[string]any
				_ = json.Unmarshal(rec.Body.Bytes(), &body)
				mu.Lock()
				if first == "" {
					first, _ = body["id_token"].(string)
				} else {
					body["id_token"] = first
					delete(body, "access_token") // keep at_hash out of the way: the nonce must catch it
					body["access_token"] = "x"
				}
				mu.Unlock()
				writeTestJSON(w, rec.Code, body)
			})
		}})
		p1, cb1 := e.login(t, "en", vn)
		if _, err := e.c.Complete(ctx, p1, cb1); err != nil {
			t.Fatal(err)
		}
		p2, cb2 := e.login(t, "en", vn)
		if _, err := e.c.Complete(ctx, p2, cb2); !errors.Is(err, ErrInvalidToken) || !strings.Contains(err.Error(), "nonce") {
			t.Errorf("replayed ID token: %v", err)
		}
	})

	t.Run("provider slow: token endpoint hangs", func(t *testing.T) {
		release := make(chan struct{})
		defer close(release)
		e := newEnv(t, envOpt{
			wrap: func(next http.Handler) http.Handler {
				return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					if strings.HasSuffix(r.URL.Path, "/token") {
						select {
						case <-release:
						case <-r.Context().Done():
						}
						return
					}
					next.ServeHTTP(w, r)
				})
			},
			cfg: func(c *Config) { c.HTTPClient = &http.Client{Timeout: 300 * time.Millisecond} },
		})
		p, cb := e.login(t, "en", vn)
		if _, err := e.c.Complete(ctx, p, cb); !errors.Is(err, ErrProviderDown) {
			t.Errorf("slow token endpoint: %v", err)
		}
	})

	t.Run("provider slow: discovery beyond the context deadline", func(t *testing.T) {
		release := make(chan struct{})
		defer close(release)
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-release:
			case <-r.Context().Done():
			}
		}))
		defer srv.Close()
		c := New(Config{Issuer: srv.URL, ClientID: clientID, RedirectURL: redirectURL})
		dctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
		defer cancel()
		if _, _, err := c.Begin(dctx, "en"); !errors.Is(err, ErrProviderDown) {
			t.Errorf("Begin: %v", err)
		}
	})

	t.Run("login page left unattended", func(t *testing.T) {
		e := newEnv(t, envOpt{})
		authURL, p, err := e.c.Begin(ctx, "en")
		if err != nil {
			t.Fatal(err)
		}
		e.openLogin(t, authURL)
		// What the provider sends the browser back with (see portal/idp).
		cb := url.Values{"state": {p.state}, "error": {"login_required"}, "iss": {e.srv.URL + "/idp"}}
		if _, err := e.c.Complete(ctx, p, cb); !errors.Is(err, ErrExpired) {
			t.Errorf("unattended: %v", err)
		}
	})
}
