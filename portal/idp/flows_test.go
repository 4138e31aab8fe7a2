package idp

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

func (e *env) postForm(t *testing.T, path string, f url.Values) (int, map[string]any) {
	t.Helper()
	resp, err := e.hc.PostForm(e.srv.URL+path, f)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var out map[string]any
	_ = json.Unmarshal(b, &out)
	return resp.StatusCode, out
}

func TestPARFlow(t *testing.T) {
	e := newEnv(t)
	q := goodQuery()
	st, out := e.postForm(t, "/idp/par", q)
	uri, _ := out["request_uri"].(string)
	if st != http.StatusCreated || !strings.HasPrefix(uri, requestURIPre) || out["expires_in"] != float64(60) {
		t.Fatalf("PAR: %d %v", st, out)
	}
	ref := url.Values{"client_id": {testClient}, "request_uri": {uri}}
	lc, wp, _ := e.startLogin(t, ref)
	// Reloading the page while the login is pending shows the same login
	// (QR, number), never a second one.
	if resp, body := e.get(t, "/idp/authorize?"+ref.Encode()); resp.StatusCode != 200 || !strings.Contains(body, `data-link-code="`+lc+`"`) {
		t.Errorf("reloaded request_uri: %d, want the same login %s", resp.StatusCode, lc)
	}
	if r, _ := e.postJSON(t, "/phone/api/approve", map[string]string{"linkCode": lc, "citizenId": TestCitizens()[0].ID, "number": e.p.numberOf(lc)}); r.StatusCode != 204 {
		t.Fatalf("approve: %s", r.Status)
	}
	// Once decided, the request_uri is used up.
	if resp, body := e.get(t, "/idp/authorize?"+ref.Encode()); resp.StatusCode != 400 || !strings.Contains(body, "invalid_request_uri") {
		t.Errorf("reused request_uri after approval: %d", resp.StatusCode)
	}
	if wr := e.wait(t, wp); wr.Status != statusApproved || !strings.Contains(wr.Redirect, "state=st-123") {
		t.Errorf("wait: %+v", wr)
	}

	for _, tc := range []struct {
		name    string
		push    func(q url.Values)
		ref     func(ref url.Values)
		advance time.Duration
		status  int
		code    string
	}{
		{name: "bad request pushed", push: func(q url.Values) { q.Del("code_challenge") }, status: 400, code: "invalid_request"},
		{name: "unknown client pushes", push: func(q url.Values) { q.Set("client_id", "evil") }, status: 401, code: "invalid_client"},
		{name: "request_uri pushed", push: func(q url.Values) { q.Set("request_uri", "x") }, status: 400, code: "invalid_request"},
		{name: "other client redeems", ref: func(r url.Values) { r.Set("client_id", "evil") }, status: 400},
		{name: "expired request_uri", advance: parTTL, status: 400},
		{name: "unknown request_uri", ref: func(r url.Values) { r.Set("request_uri", requestURIPre+"nope") }, status: 400},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q := goodQuery()
			if tc.push != nil {
				tc.push(q)
			}
			st, out := e.postForm(t, "/idp/par", q)
			if tc.code != "" {
				if st != tc.status || out["error"] != tc.code {
					t.Errorf("PAR: %d %v", st, out)
				}
				return
			}
			ref := url.Values{"client_id": {testClient}, "request_uri": {out["request_uri"].(string)}}
			if tc.ref != nil {
				tc.ref(ref)
			}
			e.clk.Advance(tc.advance)
			if resp, _ := e.get(t, "/idp/authorize?"+ref.Encode()); resp.StatusCode != tc.status {
				t.Errorf("authorize: %d", resp.StatusCode)
			}
		})
	}
}

// A client registered with RequirePAR gets no login page for a request
// sent straight to the authorization endpoint; the pushed one works, and
// discovery says PAR is required once every client requires it.
func TestRequirePAR(t *testing.T) {
	e := newEnv(t)
	discovered := func() any {
		var d map[string]any
		_, body := e.get(t, "/idp/.well-known/openid-configuration")
		_ = json.Unmarshal([]byte(body), &d)
		return d["require_pushed_authorization_requests"]
	}
	if got := discovered(); got != false {
		t.Errorf("require_pushed_authorization_requests = %v with a public client that need not push", got)
	}
	c := e.p.clients[testClient]
	c.RequirePAR = true
	e.p.clients[testClient] = c
	if got := discovered(); got != true {
		t.Errorf("require_pushed_authorization_requests = %v, want true", got)
	}
	resp, body := e.get(t, "/idp/authorize?"+goodQuery().Encode())
	loc, _ := url.Parse(resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusSeeOther || loc.Query().Get("error") != "invalid_request" || reLinkCode.MatchString(body) {
		t.Fatalf("authorize without PAR: %s %s", resp.Status, resp.Header.Get("Location"))
	}
	st, out := e.postForm(t, "/idp/par", goodQuery())
	if st != http.StatusCreated {
		t.Fatalf("PAR: %d %v", st, out)
	}
	e.startLogin(t, url.Values{"client_id": {testClient}, "request_uri": {out["request_uri"].(string)}})
}

// A client whose keys are looked up per kid (the portal: each kiosk's
// enrolled device key) authenticates with the key its kid names, and with
// no other.
func TestClientKeysByKid(t *testing.T) {
	e := newEnv(t)
	keys := map[string]*ecdsa.PrivateKey{}
	for _, kid := range []string{"KIOSK-0001", "KIOSK-0002"} {
		keys[kid], _ = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	}
	e.p.clients["fleet"] = Client{ID: "fleet", RedirectURIs: []string{testRedirect}, Keys: func(kid string) (jose.JSONWebKey, bool) {
		k, ok := keys[kid]
		if !ok {
			return jose.JSONWebKey{}, false
		}
		return jose.JSONWebKey{Key: &k.PublicKey, KeyID: kid, Algorithm: "ES256"}, true
	}}
	now := e.clk.Now()
	claims := func() jwt.Claims {
		return jwt.Claims{Issuer: "fleet", Subject: "fleet", Audience: jwt.Audience{e.p.issuer}, ID: rand.Text(),
			IssuedAt: jwt.NewNumericDate(now), Expiry: jwt.NewNumericDate(now.Add(time.Minute))}
	}
	for _, tc := range []struct {
		name string
		key  *ecdsa.PrivateKey
		kid  string
		ok   bool
	}{
		{"its own key", keys["KIOSK-0002"], "KIOSK-0002", true},
		{"another kiosk's key under its kid", keys["KIOSK-0001"], "KIOSK-0002", false},
		{"an unknown kid", keys["KIOSK-0001"], "KIOSK-0404", false},
		{"no kid", keys["KIOSK-0001"], "", false},
		{"client_id alone", nil, "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := url.Values{"client_id": {"fleet"}, "token": {"whatever"}}
			if tc.key != nil {
				f.Set("client_assertion_type", assertionType)
				f.Set("client_assertion", assertion(t, tc.key, tc.kid, claims()))
			}
			if st, out := e.postForm(t, "/idp/revoke", f); (st == 200) != tc.ok {
				t.Errorf("revoke: %d %v, want ok %v", st, out, tc.ok)
			}
		})
	}
}

// pkjwtEnv registers a private_key_jwt client.
func pkjwtEnv(t *testing.T) (*env, *ecdsa.PrivateKey) {
	t.Helper()
	e := newEnv(t)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	e.p.clients["pk"] = Client{ID: "pk", RedirectURIs: []string{testRedirect},
		JWKS: jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &key.PublicKey, KeyID: "k1", Algorithm: "ES256", Use: "sig"}}}}
	return e, key
}

func assertion(t *testing.T, key *ecdsa.PrivateKey, kid string, c jwt.Claims) string {
	t.Helper()
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: jose.JSONWebKey{Key: key, KeyID: kid}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	s, err := jwt.Signed(signer).Claims(c).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestPrivateKeyJWTAuth(t *testing.T) {
	e, key := pkjwtEnv(t)
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	now := e.clk.Now()
	good := func() jwt.Claims {
		return jwt.Claims{Issuer: "pk", Subject: "pk", Audience: jwt.Audience{e.p.issuer}, ID: "j-" + time.Now().Format(time.RFC3339Nano),
			IssuedAt: jwt.NewNumericDate(now), Expiry: jwt.NewNumericDate(now.Add(time.Minute))}
	}
	replayed := assertion(t, key, "k1", good())
	for _, tc := range []struct {
		name string
		form func() url.Values
		ok   bool
	}{
		{"issuer as audience", func() url.Values { return url.Values{"client_assertion": {assertion(t, key, "k1", good())}} }, true},
		{"endpoint as audience", func() url.Values {
			c := good()
			c.Audience = jwt.Audience{e.p.issuer + "/revoke"}
			return url.Values{"client_assertion": {assertion(t, key, "k1", c)}}
		}, true},
		{"no kid", func() url.Values { return url.Values{"client_assertion": {assertion(t, key, "", good())}} }, true},
		{"first use", func() url.Values { return url.Values{"client_assertion": {replayed}} }, true},
		{"replayed jti", func() url.Values { return url.Values{"client_assertion": {replayed}} }, false},
		{"another key", func() url.Values { return url.Values{"client_assertion": {assertion(t, other, "k1", good())}} }, false},
		{"other audience", func() url.Values {
			c := good()
			c.Audience = jwt.Audience{"https://elsewhere.example"}
			return url.Values{"client_assertion": {assertion(t, key, "k1", c)}}
		}, false},
		{"expired", func() url.Values {
			c := good()
			c.Expiry = jwt.NewNumericDate(now.Add(-time.Minute))
			return url.Values{"client_assertion": {assertion(t, key, "k1", c)}}
		}, false},
		{"lives too long", func() url.Values {
			c := good()
			c.Expiry = jwt.NewNumericDate(now.Add(time.Hour))
			return url.Values{"client_assertion": {assertion(t, key, "k1", c)}}
		}, false},
		{"no jti", func() url.Values {
			c := good()
			c.ID = ""
			return url.Values{"client_assertion": {assertion(t, key, "k1", c)}}
		}, false},
		{"subject of another client", func() url.Values {
			c := good()
			c.Subject = testClient
			return url.Values{"client_assertion": {assertion(t, key, "k1", c)}}
		}, false},
		{"client_id alone", func() url.Values { return url.Values{"client_id": {"pk"}} }, false},
		{"garbage", func() url.Values { return url.Values{"client_assertion": {"a.b.c"}} }, false},
		{"public client with an assertion", func() url.Values {
			c := good()
			c.Issuer, c.Subject = testClient, testClient
			return url.Values{"client_id": {testClient}, "client_assertion": {assertion(t, key, "k1", c)}}
		}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := tc.form()
			if f.Has("client_assertion") {
				f.Set("client_assertion_type", assertionType)
			}
			f.Set("token", "whatever")
			st, out := e.postForm(t, "/idp/revoke", f)
			if (st == 200) != tc.ok {
				t.Errorf("revoke: %d %v, want ok %v", st, out, tc.ok)
			}
			if !tc.ok && out["error"] != "invalid_client" {
				t.Errorf("error %v", out["error"])
			}
		})
	}
}

func TestDeviceGrant(t *testing.T) {
	e := newEnv(t)
	cit := TestCitizens()[3]
	start := func(t *testing.T) (deviceCode, userCode, complete string) {
		t.Helper()
		st, out := e.postForm(t, "/idp/device_authorization", url.Values{"client_id": {testClient}, "scope": {"openid profile"}, "nonce": {"dn"}})
		if st != 200 || out["interval"] != float64(5) || out["expires_in"] != float64(120) || out["verification_uri"] != e.p.phoneURL {
			t.Fatalf("device authorization: %d %v", st, out)
		}
		return out["device_code"].(string), out["user_code"].(string), out["verification_uri_complete"].(string)
	}
	poll := func(t *testing.T, dc string) (int, map[string]any) {
		return e.postForm(t, "/idp/token", url.Values{"grant_type": {deviceGrant}, "device_code": {dc}, "client_id": {testClient}})
	}
	dc, uc, complete := start(t)
	if !strings.HasSuffix(complete, "/phone/link/"+strings.ReplaceAll(uc, "-", "")) {
		t.Errorf("verification_uri_complete %q for %q", complete, uc)
	}
	steps := []struct {
		advance time.Duration
		act     func()
		want    string
	}{
		{0, nil, "slow_down"},               // before the first interval; interval becomes 10 s
		{5 * time.Second, nil, "slow_down"}, // 5 s < 10 s; interval becomes 15 s
		{15 * time.Second, nil, "authorization_pending"},
		{15 * time.Second, func() {
			if r, _ := e.postJSON(t, "/phone/api/approve", map[string]string{"linkCode": uc, "citizenId": cit.ID}); r.StatusCode != 204 {
				t.Fatalf("approve: %s", r.Status)
			}
		}, ""},
		{15 * time.Second, nil, "invalid_grant"}, // used up
	}
	for i, s := range steps {
		e.clk.Advance(s.advance)
		if s.act != nil {
			s.act()
		}
		st, out := poll(t, dc)
		if s.want == "" {
			at, _ := out["access_token"].(string)
			if st != 200 || out["id_token"] == nil {
				t.Fatalf("step %d: %d %v", i, st, out)
			}
			if c, ok := e.p.CitizenForAccessToken(at); !ok || c.ID != cit.ID {
				t.Errorf("device access token does not name the citizen")
			}
			continue
		}
		if st != 400 || out["error"] != s.want {
			t.Errorf("step %d: %d %v, want %s", i, st, out, s.want)
		}
	}

	t.Run("denied", func(t *testing.T) {
		dc, uc, _ := start(t)
		e.postJSON(t, "/phone/api/deny", map[string]string{"linkCode": uc})
		e.clk.Advance(5 * time.Second)
		if _, out := poll(t, dc); out["error"] != "access_denied" {
			t.Errorf("denied: %v", out)
		}
	})
	t.Run("expired", func(t *testing.T) {
		dc, uc, _ := start(t)
		e.clk.Advance(loginTTL)
		if _, out := poll(t, dc); out["error"] != "expired_token" {
			t.Errorf("expired: %v", out)
		}
		if r, _ := e.postJSON(t, "/phone/api/approve", map[string]string{"linkCode": uc, "citizenId": cit.ID}); r.StatusCode != http.StatusGone {
			t.Errorf("approve expired: %s", r.Status)
		}
	})
	t.Run("another client", func(t *testing.T) {
		dc, _, _ := start(t)
		e.p.clients["other"] = Client{ID: "other", RedirectURIs: []string{testRedirect}}
		e.clk.Advance(5 * time.Second)
		if _, out := e.postForm(t, "/idp/token", url.Values{"grant_type": {deviceGrant}, "device_code": {dc}, "client_id": {"other"}}); out["error"] != "invalid_grant" {
			t.Errorf("other client: %v", out)
		}
	})
	t.Run("no openid scope", func(t *testing.T) {
		if st, out := e.postForm(t, "/idp/device_authorization", url.Values{"client_id": {testClient}, "scope": {"profile"}}); st != 400 || out["error"] != "invalid_scope" {
			t.Errorf("%d %v", st, out)
		}
	})
}

func TestRevocation(t *testing.T) {
	e := newEnv(t)
	code := e.approved(t, TestCitizens()[0].ID)
	_, tr := e.token(t, code, testVerifier)
	e.p.clients["other"] = Client{ID: "other", RedirectURIs: []string{testRedirect}}
	// Another client cannot revoke it (but gets 200, RFC 7009 §2.2).
	if st, _ := e.postForm(t, "/idp/revoke", url.Values{"client_id": {"other"}, "token": {tr.AccessToken}}); st != 200 {
		t.Errorf("other client: %d", st)
	}
	if _, ok := e.p.CitizenForAccessToken(tr.AccessToken); !ok {
		t.Fatal("another client revoked the token")
	}
	for _, f := range []url.Values{
		{"client_id": {testClient}},
		{"client_id": {testClient}, "token": {tr.AccessToken}, "token_type_hint": {"weird"}},
	} {
		if st, _ := e.postForm(t, "/idp/revoke", f); st != 400 {
			t.Errorf("bad revocation %v: %d", f, st)
		}
	}
	if st, _ := e.postForm(t, "/idp/revoke", url.Values{"client_id": {testClient}, "token": {tr.AccessToken}, "token_type_hint": {"access_token"}}); st != 200 {
		t.Errorf("revoke: %d", st)
	}
	if _, ok := e.p.CitizenForAccessToken(tr.AccessToken); ok {
		t.Errorf("revoked token accepted")
	}
	// Unknown tokens: still 200.
	if st, _ := e.postForm(t, "/idp/revoke", url.Values{"client_id": {testClient}, "token": {"nope"}}); st != 200 {
		t.Errorf("unknown token: %d", st)
	}
}
