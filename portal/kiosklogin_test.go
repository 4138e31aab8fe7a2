package portal_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	backendclient "govkiosk/backend-client"
	"govkiosk/backend-client/api"
	"govkiosk/backend-client/identity"
	"govkiosk/portal"
)

const kioskRedirect = "http://127.0.0.1:8080/auth/callback"

// assertionRecorder keeps the client assertions the kiosk sends, so that
// a test can replay one.
type assertionRecorder struct {
	mu   sync.Mutex
	sent []string
}

func (r *assertionRecorder) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Body != nil {
		b, _ := io.ReadAll(req.Body)
		req.Body.Close()
		req.Body = io.NopCloser(bytes.NewReader(b))
		if f, err := url.ParseQuery(string(b)); err == nil && f.Get("client_assertion") != "" {
			r.mu.Lock()
			r.sent = append(r.sent, f.Get("client_assertion"))
			r.mu.Unlock()
		}
	}
	return http.DefaultTransport.RoundTrip(req)
}

func (r *assertionRecorder) first() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.sent) == 0 {
		return ""
	}
	return r.sent[0]
}

// idpEnv is the portal with its own national-ID provider and one enrolled
// kiosk logging citizens in with the real identity client.
type idpEnv struct {
	url     string
	issuer  string
	kioskID string
	key     *ecdsa.PrivateKey
	rec     *assertionRecorder
	login   *identity.Client
	hc      *http.Client // a browser that does not follow redirects
}

var reMatchNumber = regexp.MustCompile(`id="match-number">([0-9]{2})<`)

func newIDPEnv(t *testing.T) *idpEnv {
	t.Helper()
	var h http.Handler = http.NotFoundHandler()
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { h.ServeHTTP(w, r) }))
	t.Cleanup(ts.Close)
	s, err := portal.New(portal.Options{PublicURL: ts.URL, DataDir: t.TempDir(), KioskRedirectURIs: []string{kioskRedirect},
		PhoneSimulator: true, AdminToken: testAdminToken})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	h = s.Handler()
	e := &idpEnv{url: ts.URL, issuer: ts.URL + api.PathIdP, rec: &assertionRecorder{},
		hc: &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
	tok, err := s.IssueEnrollToken()
	if err != nil {
		t.Fatal(err)
	}
	var pub string
	e.key, pub = newKey(t)
	resp, err := backendclient.New(ts.URL, nil, "", nil).Enroll(context.Background(), api.EnrollRequest{Token: tok, PublicKeyPEM: pub})
	if err != nil {
		t.Fatal(err)
	}
	e.kioskID = resp.KioskID
	e.login = identity.New(identity.Config{
		Issuer: resp.OIDCIssuer, ClientID: resp.OIDCClientID, RedirectURL: kioskRedirect,
		HTTPClient: &http.Client{Transport: e.rec, Timeout: 30 * time.Second},
		Signer:     e.key, KeyID: e.kioskID, ACRValues: resp.OIDCACRValues,
	})
	if len(resp.OIDCACRValues) == 0 {
		t.Fatal("enrollment gave no levels of assurance to require")
	}
	return e
}

var (
	reLinkCode = regexp.MustCompile(`data-link-code="([^"]+)"`)
	reWait     = regexp.MustCompile(`data-wait="([^"]+)"`)
)

// approve plays the kiosk browser and the citizen's phone for authURL and
// returns the query of the callback to the kiosk.
func (e *idpEnv) approve(t *testing.T, authURL, citizenID string) url.Values {
	t.Helper()
	resp, err := e.hc.Get(authURL)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	lc, w := reLinkCode.FindSubmatch(page), reWait.FindSubmatch(page)
	if resp.StatusCode != http.StatusOK || lc == nil || w == nil {
		t.Fatalf("login page: %s %s", resp.Status, page)
	}
	num := reMatchNumber.FindSubmatch(page)
	if num == nil {
		t.Fatalf("login page shows no number to match: %s", page)
	}
	b, _ := json.Marshal(map[string]string{"linkCode": string(lc[1]), "citizenId": citizenID, "number": string(num[1])})
	req, _ := http.NewRequest(http.MethodPost, e.url+api.PathPhone+"/api/approve", bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+testAdminToken)
	if resp, err = e.hc.Do(req); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("approve: %s", resp.Status)
	}
	if resp, err = e.hc.Get(e.url + string(w[1])); err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var wr struct{ Status, Redirect string }
	if err := json.NewDecoder(resp.Body).Decode(&wr); err != nil || wr.Status != "approved" {
		t.Fatalf("wait: %+v %v", wr, err)
	}
	u, err := url.Parse(wr.Redirect)
	if err != nil {
		t.Fatal(err)
	}
	return u.Query()
}

// post sends a back-channel form to the provider and returns the status
// and the OAuth error code.
func (e *idpEnv) post(t *testing.T, path string, f url.Values) (int, string) {
	t.Helper()
	resp, err := e.hc.PostForm(e.issuer+path, f)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		Error string `json:"error"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out.Error
}

// assertion is a client assertion for the kiosk client signed by key.
func (e *idpEnv) assertion(t *testing.T, key *ecdsa.PrivateKey, kid string, edit func(*jwt.Claims)) string {
	t.Helper()
	now := time.Now()
	c := jwt.Claims{Issuer: portal.OIDCClientID, Subject: portal.OIDCClientID, Audience: jwt.Audience{e.issuer},
		ID: rand.Text(), IssuedAt: jwt.NewNumericDate(now), Expiry: jwt.NewNumericDate(now.Add(time.Minute))}
	if edit != nil {
		edit(&c)
	}
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

// TestKioskLoginIsConfidential: the kiosk client of the portal's provider
// is confidential (private_key_jwt with the enrolled device key) and must
// push its authorization requests; a login attempted without those, with
// a forged or replayed assertion, is refused.
func TestKioskLoginIsConfidential(t *testing.T) {
	e := newIDPEnv(t)
	ctx := context.Background()
	const citizenID = "049190012345"

	t.Run("authorization request without PAR", func(t *testing.T) {
		q := url.Values{
			"client_id": {portal.OIDCClientID}, "redirect_uri": {kioskRedirect}, "response_type": {"code"},
			"scope": {"openid profile"}, "state": {"st-1"}, "nonce": {"no-1"},
			"code_challenge": {strings.Repeat("A", 43)}, "code_challenge_method": {"S256"},
		}
		resp, err := e.hc.Get(e.issuer + "/authorize?" + q.Encode())
		if err != nil {
			t.Fatal(err)
		}
		page, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK || reLinkCode.Match(page) {
			t.Fatalf("a login page for a request that was not pushed: %s", resp.Status)
		}
		if loc, _ := url.Parse(resp.Header.Get("Location")); resp.StatusCode == http.StatusSeeOther && loc.Query().Get("error") != "invalid_request" {
			t.Errorf("redirected with %q, want invalid_request", loc.Query().Get("error"))
		}
	})

	t.Run("PAR without client assertion", func(t *testing.T) {
		st, code := e.post(t, "/par", url.Values{
			"client_id": {portal.OIDCClientID}, "redirect_uri": {kioskRedirect}, "response_type": {"code"},
			"scope": {"openid"}, "state": {"st-2"}, "nonce": {"no-2"},
			"code_challenge": {strings.Repeat("A", 43)}, "code_challenge_method": {"S256"},
		})
		if st != http.StatusUnauthorized || code != "invalid_client" {
			t.Errorf("PAR as a public client: %d %q, want 401 invalid_client", st, code)
		}
	})

	authURL, p, err := e.login.Begin(ctx, "vi")
	if err != nil {
		t.Fatalf("Begin with the enrolled device key: %v", err)
	}
	if q := mustParse(t, authURL).Query(); q.Get("request_uri") == "" || q.Has("code_challenge") {
		t.Fatalf("authorization URL %s does not carry a pushed request", authURL)
	}
	cb := e.approve(t, authURL, citizenID)
	parAssertion := e.rec.first()
	if parAssertion == "" {
		t.Fatal("the kiosk sent no client assertion")
	}

	// Each attack presents the genuine code; none may redeem it.
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	grant := func(extra url.Values) url.Values {
		f := url.Values{"grant_type": {"authorization_code"}, "code": {cb.Get("code")}, "redirect_uri": {kioskRedirect},
			"code_verifier": {strings.Repeat("v", 43)}, "client_id": {portal.OIDCClientID}}
		for k, v := range extra {
			f[k] = v
		}
		if f.Has("client_assertion") {
			f.Set("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
		}
		return f
	}
	for _, tc := range []struct {
		name string
		form url.Values
	}{
		{"no client assertion", grant(nil)},
		{"assertion forged with another key", grant(url.Values{"client_assertion": {e.assertion(t, other, e.kioskID, nil)}})},
		{"assertion naming a kiosk that is not enrolled", grant(url.Values{"client_assertion": {e.assertion(t, other, "KIOSK-9999", nil)}})},
		{"assertion replayed from the PAR request", grant(url.Values{"client_assertion": {parAssertion}})},
		{"assertion for another audience", grant(url.Values{"client_assertion": {e.assertion(t, e.key, e.kioskID, func(c *jwt.Claims) {
			c.Audience = jwt.Audience{"https://elsewhere.example/token"}
		})}})},
		{"assertion expired", grant(url.Values{"client_assertion": {e.assertion(t, e.key, e.kioskID, func(c *jwt.Claims) {
			c.Expiry = jwt.NewNumericDate(time.Now().Add(-2 * time.Minute))
		})}})},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if st, code := e.post(t, "/token", tc.form); st != http.StatusUnauthorized || code != "invalid_client" {
				t.Errorf("token request: %d %q, want 401 invalid_client", st, code)
			}
		})
	}

	id, err := e.login.Complete(ctx, p, cb)
	if err != nil {
		t.Fatalf("the genuine kiosk, after the attacks: %v", err)
	}
	if id.CitizenID != citizenID {
		t.Errorf("logged in %q", id.CitizenID)
	}
}

func mustParse(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}
