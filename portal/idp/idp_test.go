package idp

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html"
	"image"
	_ "image/png"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/makiuchi-d/gozxing"
	"github.com/makiuchi-d/gozxing/qrcode"

	"govkiosk/kiosk/lang"
)

const (
	testClient   = "kiosk-qn-001"
	testRedirect = "http://127.0.0.1:8081/callback"
)

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

type env struct {
	srv *httptest.Server
	p   *Provider
	clk *fakeClock
	hc  *http.Client // does not follow redirects
}

func newEnv(t *testing.T) *env {
	t.Helper()
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	clk := &fakeClock{t: time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)}
	p, err := New(Config{
		Issuer:   srv.URL + "/idp",
		PhoneURL: srv.URL + "/phone",
		Clients:  []Client{{ID: testClient, RedirectURIs: []string{testRedirect}}},
		Now:      clk.Now,
	})
	if err != nil {
		t.Fatal(err)
	}
	mux.Handle("/", p.Handler())
	hc := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	return &env{srv: srv, p: p, clk: clk, hc: hc}
}

var (
	testVerifier  = strings.Repeat("v", 43)
	testChallenge = s256(testVerifier)
)

func s256(v string) string {
	s := sha256.Sum256([]byte(v))
	return base64.RawURLEncoding.EncodeToString(s[:])
}

func goodQuery() url.Values {
	return url.Values{
		"client_id":             {testClient},
		"redirect_uri":          {testRedirect},
		"response_type":         {"code"},
		"scope":                 {"openid profile"},
		"state":                 {"st-123"},
		"nonce":                 {"no-456"},
		"code_challenge":        {testChallenge},
		"code_challenge_method": {"S256"},
	}
}

func (e *env) get(t *testing.T, path string) (*http.Response, string) {
	t.Helper()
	resp, err := e.hc.Get(e.srv.URL + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func (e *env) postJSON(t *testing.T, path string, v any) (*http.Response, string) {
	t.Helper()
	b, _ := json.Marshal(v)
	resp, err := e.hc.Post(e.srv.URL+path, "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, string(body)
}

var (
	reLinkCode = regexp.MustCompile(`data-link-code="([^"]+)"`)
	reWait     = regexp.MustCompile(`data-wait="([^"]+)"`)
	reQR       = regexp.MustCompile(`src="data:image/png;base64,([^"]+)"`)
)

// startLogin opens the login page and returns the link code and wait path.
func (e *env) startLogin(t *testing.T, q url.Values) (linkCode, waitPath, page string) {
	t.Helper()
	resp, page := e.get(t, "/idp/authorize?"+q.Encode())
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("authorize: %s: %s", resp.Status, page)
	}
	lc, w := reLinkCode.FindStringSubmatch(page), reWait.FindStringSubmatch(page)
	if lc == nil || w == nil {
		t.Fatalf("login page lacks link code or wait URL:\n%s", page)
	}
	return lc[1], w[1], page
}

func (e *env) wait(t *testing.T, waitPath string) waitResponse {
	t.Helper()
	resp, body := e.get(t, waitPath)
	var wr waitResponse
	if err := json.Unmarshal([]byte(body), &wr); err != nil {
		t.Fatalf("wait %s: %v: %s", resp.Status, err, body)
	}
	return wr
}

func TestAuthorizeValidation(t *testing.T) {
	e := newEnv(t)
	tests := []struct {
		name     string
		mod      func(q url.Values)
		status   int    // 200 page, 400 error page, 303 redirect
		wantErr  string // error code on the page or in the redirect
		wantStat bool   // redirect carries state
	}{
		{"valid", func(q url.Values) {}, 200, "", false},
		{"unknown client", func(q url.Values) { q.Set("client_id", "evil") }, 400, "invalid_client", false},
		{"missing client", func(q url.Values) { q.Del("client_id") }, 400, "invalid_client", false},
		{"unregistered redirect_uri", func(q url.Values) { q.Set("redirect_uri", "http://evil.example/cb") }, 400, "invalid_request", false},
		{"redirect_uri with extra path", func(q url.Values) { q.Set("redirect_uri", testRedirect+"/x") }, 400, "invalid_request", false},
		{"redirect_uri with other port", func(q url.Values) { q.Set("redirect_uri", "http://127.0.0.1:9999/callback") }, 400, "invalid_request", false},
		{"missing redirect_uri", func(q url.Values) { q.Del("redirect_uri") }, 400, "invalid_request", false},
		{"repeated redirect_uri", func(q url.Values) { q.Add("redirect_uri", "http://evil.example/cb") }, 400, "invalid_request", false},
		{"token response type", func(q url.Values) { q.Set("response_type", "token") }, 303, "unsupported_response_type", true},
		{"no openid scope", func(q url.Values) { q.Set("scope", "profile") }, 303, "invalid_scope", true},
		{"missing PKCE", func(q url.Values) { q.Del("code_challenge"); q.Del("code_challenge_method") }, 303, "invalid_request", true},
		{"plain PKCE method", func(q url.Values) { q.Set("code_challenge_method", "plain") }, 303, "invalid_request", true},
		{"missing PKCE method", func(q url.Values) { q.Del("code_challenge_method") }, 303, "invalid_request", true},
		{"short challenge", func(q url.Values) { q.Set("code_challenge", "abc") }, 303, "invalid_request", true},
		{"missing state", func(q url.Values) { q.Del("state") }, 303, "invalid_request", false},
		{"missing nonce", func(q url.Values) { q.Del("nonce") }, 303, "invalid_request", true},
		{"repeated nonce", func(q url.Values) { q.Add("nonce", "x") }, 303, "invalid_request", true},
		{"prompt none", func(q url.Values) { q.Set("prompt", "none") }, 303, "login_required", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			q := goodQuery()
			tc.mod(q)
			resp, body := e.get(t, "/idp/authorize?"+q.Encode())
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tc.status, body)
			}
			switch tc.status {
			case 200:
				if !reLinkCode.MatchString(body) {
					t.Errorf("no login page")
				}
			case 400:
				if resp.Header.Get("Location") != "" {
					t.Errorf("error page must not redirect, Location %q", resp.Header.Get("Location"))
				}
				if !strings.Contains(body, `id="error-code">`+tc.wantErr+`<`) {
					t.Errorf("page lacks error %q:\n%s", tc.wantErr, body)
				}
			case 303:
				loc, err := url.Parse(resp.Header.Get("Location"))
				if err != nil {
					t.Fatal(err)
				}
				if got := loc.Scheme + "://" + loc.Host + loc.Path; got != testRedirect {
					t.Errorf("redirected to %q", got)
				}
				lq := loc.Query()
				if lq.Get("error") != tc.wantErr {
					t.Errorf("error %q, want %q", lq.Get("error"), tc.wantErr)
				}
				if (lq.Get("state") == "st-123") != tc.wantStat {
					t.Errorf("state %q (want present: %v)", lq.Get("state"), tc.wantStat)
				}
				if lq.Get("code") != "" {
					t.Errorf("error redirect carries a code")
				}
			}
		})
	}
}

func TestLoginPageLanguagesAndQR(t *testing.T) {
	e := newEnv(t)
	for _, tc := range []struct{ locales, want, lang string }{
		{"", "Log in with your national digital ID", "en"},
		{"vi-VN en", "Đăng nhập bằng định danh điện tử", "vi"},
		{"th", "เข้าสู่ระบบด้วยบัตรประชาชนดิจิทัล", "th"},
		{"fr de", "Log in with your national digital ID", "en"},
	} {
		t.Run(tc.lang+"/"+tc.locales, func(t *testing.T) {
			q := goodQuery()
			if tc.locales != "" {
				q.Set("ui_locales", tc.locales)
			}
			lc, _, page := e.startLogin(t, q)
			if !strings.Contains(page, tc.want) || !strings.Contains(page, `<html lang="`+tc.lang+`">`) {
				t.Errorf("page not in %s", tc.lang)
			}
			if !strings.Contains(page, displayLinkCode(lc)) {
				t.Errorf("link code %s not printed", displayLinkCode(lc))
			}
			m := reQR.FindStringSubmatch(page)
			if m == nil {
				t.Fatal("no QR image")
			}
			pngData, err := base64.StdEncoding.DecodeString(html.UnescapeString(m[1]))
			if err != nil {
				t.Fatal(err)
			}
			img, _, err := image.Decode(bytes.NewReader(pngData))
			if err != nil {
				t.Fatal(err)
			}
			bmp, err := gozxing.NewBinaryBitmapFromImage(img)
			if err != nil {
				t.Fatal(err)
			}
			res, err := qrcode.NewQRCodeReader().Decode(bmp, nil)
			if err != nil {
				t.Fatalf("QR does not decode: %v", err)
			}
			if want := e.srv.URL + "/phone/link/" + lc; res.GetText() != want {
				t.Errorf("QR encodes %q, want %q", res.GetText(), want)
			}
		})
	}
	// The page's script runs only with the CSP nonce.
	resp, page := e.get(t, "/idp/authorize?"+goodQuery().Encode())
	csp := resp.Header.Get("Content-Security-Policy")
	m := regexp.MustCompile(`'nonce-([^']+)'`).FindStringSubmatch(csp)
	if m == nil || !strings.Contains(page, `<script nonce="`+m[1]+`">`) {
		t.Errorf("script nonce missing: CSP %q", csp)
	}
	// Only the client's own screen (the origin of its redirect URI) may
	// frame the login page; the error page may not be framed at all.
	if ru, _ := url.Parse(testRedirect); !strings.Contains(csp, "frame-ancestors "+ru.Scheme+"://"+ru.Host+";") {
		t.Errorf("login page framing: CSP %q, want frame-ancestors %s://%s", csp, ru.Scheme, ru.Host)
	}
	if resp, _ := e.get(t, "/idp/authorize?client_id=nobody"); resp.Header.Get("X-Frame-Options") != "DENY" || !strings.Contains(resp.Header.Get("Content-Security-Policy"), "frame-ancestors 'none'") {
		t.Errorf("error page may be framed: %q", resp.Header.Get("Content-Security-Policy"))
	}
	// Fonts for Thai and Vietnamese come from the kiosk's embedded set.
	if r, body := e.get(t, "/idp/static/fonts/fonts.css"); r.StatusCode != 200 || !strings.Contains(body, "NotoSansThai-Regular.ttf") {
		t.Errorf("fonts.css: %s", r.Status)
	}
	if r, body := e.get(t, "/idp/static/fonts/NotoSansThai-Regular.ttf"); r.StatusCode != 200 || len(body) < 1000 {
		t.Errorf("font: %s %d bytes", r.Status, len(body))
	}
	if r, _ := e.get(t, "/idp/static/fonts/..%2f..%2fgo.mod"); r.StatusCode == 200 {
		t.Errorf("font path escapes")
	}
}

type tokenResp struct {
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int    `json:"expires_in"`
	IDToken      string `json:"id_token"`
	RefreshToken string `json:"refresh_token"`
	Error        string `json:"error"`
}

func (e *env) token(t *testing.T, code, verifier string) (int, tokenResp) {
	t.Helper()
	resp, err := e.hc.PostForm(e.srv.URL+"/idp/token", url.Values{
		"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {testRedirect},
		"client_id": {testClient}, "code_verifier": {verifier},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var tr tokenResp
	if err := json.NewDecoder(resp.Body).Decode(&tr); err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, tr
}

// approved runs a login to the point where the kiosk has the code.
func (e *env) approved(t *testing.T, citizenID string) (code string) {
	t.Helper()
	lc, wp, _ := e.startLogin(t, goodQuery())
	if r, body := e.postJSON(t, "/phone/api/approve", map[string]string{"linkCode": lc, "citizenId": citizenID, "number": e.p.numberOf(lc)}); r.StatusCode != http.StatusNoContent {
		t.Fatalf("approve: %s %s", r.Status, body)
	}
	wr := e.wait(t, wp)
	if wr.Status != statusApproved {
		t.Fatalf("wait: %+v", wr)
	}
	u, err := url.Parse(wr.Redirect)
	if err != nil {
		t.Fatal(err)
	}
	if u.Query().Get("state") != "st-123" || u.Query().Get("iss") != e.p.issuer || !strings.HasPrefix(wr.Redirect, testRedirect+"?") {
		t.Fatalf("redirect %q", wr.Redirect)
	}
	return u.Query().Get("code")
}

func TestTokenFlowClaimsAndAccessToken(t *testing.T) {
	e := newEnv(t)
	cit := TestCitizens()[1]
	code := e.approved(t, cit.ID)

	if st, tr := e.token(t, code, testVerifier); st != 200 || tr.TokenType != "Bearer" || tr.ExpiresIn != 600 || tr.RefreshToken != "" || tr.IDToken == "" {
		t.Fatalf("token: %d %+v", st, tr)
	} else {
		// Verify the ID token with the published JWKS.
		var set jose.JSONWebKeySet
		_, body := e.get(t, "/idp/jwks")
		if err := json.Unmarshal([]byte(body), &set); err != nil {
			t.Fatal(err)
		}
		jws, err := jose.ParseSignedCompact(tr.IDToken, []jose.SignatureAlgorithm{jose.ES256})
		if err != nil {
			t.Fatal(err)
		}
		keys := set.Key(jws.Signatures[0].Header.KeyID)
		if len(keys) != 1 {
			t.Fatalf("kid %q not in JWKS", jws.Signatures[0].Header.KeyID)
		}
		payload, err := jws.Verify(keys[0])
		if err != nil {
			t.Fatal(err)
		}
		var cl map[string]any
		_ = json.Unmarshal(payload, &cl)
		now := e.clk.Now().Unix()
		for k, want := range map[string]any{
			"iss": e.p.issuer, "aud": testClient, "azp": testClient, "nonce": "no-456",
			"name": cit.Name, "given_name": cit.GivenName, "family_name": cit.FamilyName,
			"birthdate": cit.BirthDate, "address": cit.Address, "phone_number": cit.Phone,
			"pid": cit.ID, "id_profile": "vn", "exp": float64(now + 600), "iat": float64(now), "auth_time": float64(now),
			"acr": ACRSubstantial,
		} {
			if cl[k] != want {
				t.Errorf("claim %s = %v, want %v", k, cl[k], want)
			}
		}
		if sub, _ := cl["sub"].(string); sub == "" || strings.Contains(sub, cit.ID) {
			t.Errorf("sub %q must be set and not the citizen ID", sub)
		}

		got, ok := e.p.CitizenForAccessToken(tr.AccessToken)
		if !ok || got.ID != cit.ID {
			t.Errorf("CitizenForAccessToken = %v, %v", got.ID, ok)
		}
		req, _ := http.NewRequest("GET", e.srv.URL+"/idp/userinfo", nil)
		req.Header.Set("Authorization", "Bearer "+tr.AccessToken)
		resp, err := e.hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var ui map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&ui)
		resp.Body.Close()
		if resp.StatusCode != 200 || ui["pid"] != cit.ID || ui["sub"] != cl["sub"] {
			t.Errorf("userinfo %s %v", resp.Status, ui)
		}

		// A replayed code fails and revokes what it gave.
		if st, tr2 := e.token(t, code, testVerifier); st != 400 || tr2.Error != "invalid_grant" {
			t.Errorf("replayed code: %d %+v", st, tr2)
		}
		if _, ok := e.p.CitizenForAccessToken(tr.AccessToken); ok {
			t.Errorf("access token survives code replay")
		}
	}

	// Access tokens expire.
	code = e.approved(t, cit.ID)
	_, tr := e.token(t, code, testVerifier)
	if _, ok := e.p.CitizenForAccessToken(tr.AccessToken); !ok {
		t.Fatal("fresh token refused")
	}
	e.clk.Advance(accessTokenTTL)
	if _, ok := e.p.CitizenForAccessToken(tr.AccessToken); ok {
		t.Errorf("expired access token accepted")
	}
	for _, bad := range []string{"", "nonsense"} {
		if _, ok := e.p.CitizenForAccessToken(bad); ok {
			t.Errorf("token %q accepted", bad)
		}
	}
}

func TestTokenEndpointRejects(t *testing.T) {
	e := newEnv(t)
	cit := TestCitizens()[0].ID
	tests := []struct {
		name  string
		setup func() (code, verifier string)
	}{
		{"wrong verifier burns the code", func() (string, string) {
			code := e.approved(t, cit)
			if st, _ := e.token(t, code, strings.Repeat("w", 43)); st != 400 {
				t.Errorf("wrong verifier: %d", st)
			}
			return code, testVerifier
		}},
		{"expired code", func() (string, string) {
			code := e.approved(t, cit)
			e.clk.Advance(codeTTL)
			return code, testVerifier
		}},
		{"unknown code", func() (string, string) { return "nope", testVerifier }},
		{"short verifier", func() (string, string) { return e.approved(t, cit), "abc" }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, v := tc.setup()
			if st, tr := e.token(t, code, v); st != 400 || tr.Error != "invalid_grant" || tr.AccessToken != "" {
				t.Errorf("got %d %+v", st, tr)
			}
		})
	}
	resp, err := e.hc.PostForm(e.srv.URL+"/idp/token", url.Values{"grant_type": {"refresh_token"}, "client_id": {testClient}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 400 {
		t.Errorf("refresh grant: %s", resp.Status)
	}
	resp, err = e.hc.PostForm(e.srv.URL+"/idp/token", url.Values{"grant_type": {"authorization_code"}, "client_id": {"evil"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 {
		t.Errorf("unknown client: %s", resp.Status)
	}
}

func TestWaitLongPollAndExpiry(t *testing.T) {
	e := newEnv(t)
	lc, wp, _ := e.startLogin(t, goodQuery())

	got := make(chan waitResponse, 1)
	go func() {
		resp, err := http.Get(e.srv.URL + wp)
		if err != nil {
			got <- waitResponse{Status: err.Error()}
			return
		}
		defer resp.Body.Close()
		var wr waitResponse
		_ = json.NewDecoder(resp.Body).Decode(&wr)
		got <- wr
	}()
	// Approve once the poll is parked; the poll must then answer at once.
	waitFor(t, func() bool { e.p.mu.Lock(); defer e.p.mu.Unlock(); return e.p.parked == 1 })
	if r, _ := e.postJSON(t, "/phone/api/approve", map[string]string{"linkCode": strings.ToLower(displayLinkCode(lc)), "citizenId": TestCitizens()[2].ID, "number": e.p.numberOf(lc)}); r.StatusCode != 204 {
		t.Fatalf("approve: %s", r.Status)
	}
	if wr := <-got; wr.Status != statusApproved || !strings.Contains(wr.Redirect, "code=") {
		t.Errorf("long poll: %+v", wr)
	}

	// A second login expires after 60 s, sends the kiosk browser back with
	// login_required and cannot be approved then.
	lc2, wp2, _ := e.startLogin(t, goodQuery())
	e.clk.Advance(qrTTL)
	if wr := e.wait(t, wp2); wr.Status != statusExpired || !strings.Contains(wr.Redirect, "error=login_required") {
		t.Errorf("expired login: %+v", wr)
	}
	if r, _ := e.postJSON(t, "/phone/api/approve", map[string]string{"linkCode": lc2, "citizenId": TestCitizens()[0].ID, "number": e.p.numberOf(lc2)}); r.StatusCode != http.StatusGone {
		t.Errorf("approve expired: %s", r.Status)
	}
	// An approved login stays approved for late polls.
	if wr := e.wait(t, wp); wr.Status != statusApproved {
		t.Errorf("approved login after expiry time: %+v", wr)
	}
	if wr := e.wait(t, "/idp/login/unknown/wait"); wr.Status != statusExpired {
		t.Errorf("unknown txn: %+v", wr)
	}
}

func TestPhoneAPI(t *testing.T) {
	e := newEnv(t)
	cits := TestCitizens()
	lc1, _, _ := e.startLogin(t, goodQuery())
	e.clk.Advance(time.Second)
	lc2, wp2, _ := e.startLogin(t, goodQuery())

	var pend []struct {
		LinkCode  string    `json:"linkCode"`
		CreatedAt time.Time `json:"createdAt"`
		Choices   []string  `json:"choices"`
	}
	_, body := e.get(t, "/phone/api/pending")
	if err := json.Unmarshal([]byte(body), &pend); err != nil {
		t.Fatal(err)
	}
	if len(pend) != 2 || pend[0].LinkCode != lc2 || pend[1].LinkCode != lc1 || !pend[0].CreatedAt.After(pend[1].CreatedAt) {
		t.Fatalf("pending (newest first): %s", body)
	}
	n1 := e.p.numberOf(lc1)
	if !slices.Contains(pend[1].Choices, n1) || len(pend[1].Choices) != 3 {
		t.Fatalf("the phone offers %v for %s, whose number is %s", pend[1].Choices, lc1, n1)
	}

	for _, tc := range []struct {
		name string
		body any
		want int
	}{
		{"unknown link", map[string]string{"linkCode": "ZZZZZZZZ", "citizenId": cits[0].ID, "number": "10"}, 404},
		{"unknown citizen", map[string]string{"linkCode": lc1, "citizenId": "000000000000", "number": n1}, 400},
		{"malformed", "not an object", 400},
		{"no number", map[string]string{"linkCode": lc1, "citizenId": cits[0].ID}, 400},
		{"ok", map[string]string{"linkCode": lc1, "citizenId": cits[0].ID, "number": n1}, 204},
		{"again", map[string]string{"linkCode": lc1, "citizenId": cits[0].ID, "number": n1}, 409},
	} {
		if r, body := e.postJSON(t, "/phone/api/approve", tc.body); r.StatusCode != tc.want {
			t.Errorf("%s: %s %s, want %d", tc.name, r.Status, body, tc.want)
		}
	}
	// Declining sends the kiosk back with access_denied.
	if r, _ := e.postJSON(t, "/phone/api/deny", map[string]string{"linkCode": lc2}); r.StatusCode != 204 {
		t.Fatalf("deny: %s", r.Status)
	}
	wr := e.wait(t, wp2)
	if u, _ := url.Parse(wr.Redirect); wr.Status != statusDenied || u.Query().Get("error") != "access_denied" || u.Query().Get("code") != "" {
		t.Errorf("denied wait: %+v", wr)
	}
	if _, body := e.get(t, "/phone/api/pending"); strings.TrimSpace(body) != "[]" {
		t.Errorf("pending after decisions: %s", body)
	}

	// Inbox: newest first, per citizen.
	e.p.Deliver(cits[1].ID, "Mã xác nhận của bạn: 123456")
	e.clk.Advance(time.Minute)
	e.p.Deliver(cits[1].ID, "Second <b>message</b>")
	var inbox []struct {
		At   time.Time `json:"at"`
		Text string    `json:"text"`
	}
	_, body = e.get(t, "/phone/api/inbox?citizen="+cits[1].ID)
	if err := json.Unmarshal([]byte(body), &inbox); err != nil {
		t.Fatal(err)
	}
	if len(inbox) != 2 || inbox[0].Text != "Second <b>message</b>" || inbox[1].Text != "Mã xác nhận của bạn: 123456" || !inbox[0].At.After(inbox[1].At) {
		t.Errorf("inbox: %s", body)
	}
	if _, body := e.get(t, "/phone/api/inbox?citizen="+cits[0].ID); strings.TrimSpace(body) != "[]" {
		t.Errorf("other citizen's inbox: %s", body)
	}
	if r, _ := e.get(t, "/phone/api/inbox"); r.StatusCode != 400 {
		t.Errorf("inbox without citizen: %s", r.Status)
	}
	// The phone page shows the inbox, escaped.
	r, page := e.get(t, "/phone?citizen="+cits[1].ID)
	if r.StatusCode != 200 || !strings.Contains(page, "Mã xác nhận của bạn: 123456") || !strings.Contains(page, "Second &lt;b&gt;message&lt;/b&gt;") {
		t.Errorf("phone page %s:\n%s", r.Status, page)
	}
}

func TestPhoneHTMLApprove(t *testing.T) {
	e := newEnv(t)
	lc, wp, _ := e.startLogin(t, goodQuery())
	r, page := e.get(t, "/phone/")
	if r.StatusCode != 200 || !strings.Contains(page, `/phone/link/`+lc) {
		t.Fatalf("phone page lacks pending login %s:\n%s", lc, page)
	}
	r, page = e.get(t, "/phone/link/"+lc)
	if r.StatusCode != 200 || !strings.Contains(page, `name="citizenId"`) || !strings.Contains(page, TestCitizens()[0].Name) {
		t.Fatalf("link page %s:\n%s", r.Status, page)
	}
	resp, err := e.hc.PostForm(e.srv.URL+"/phone/link/"+lc, url.Values{"citizenId": {TestCitizens()[3].ID}, "number": {e.p.numberOf(lc)}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("approve form: %s", resp.Status)
	}
	if wr := e.wait(t, wp); wr.Status != statusApproved {
		t.Errorf("wait: %+v", wr)
	}
	if r, _ := e.get(t, "/phone/link/"+lc); r.StatusCode != 404 {
		t.Errorf("decided link page: %s", r.Status)
	}
}

func TestDiscoveryAndRotateKey(t *testing.T) {
	e := newEnv(t)
	var d map[string]any
	_, body := e.get(t, "/idp/.well-known/openid-configuration")
	if err := json.Unmarshal([]byte(body), &d); err != nil {
		t.Fatal(err)
	}
	iss := e.srv.URL + "/idp"
	for k, want := range map[string]string{
		"issuer": iss, "authorization_endpoint": iss + "/authorize", "token_endpoint": iss + "/token",
		"jwks_uri": iss + "/jwks", "userinfo_endpoint": iss + "/userinfo",
		"pushed_authorization_request_endpoint": iss + "/par", "device_authorization_endpoint": iss + "/device_authorization",
		"revocation_endpoint": iss + "/revoke",
	} {
		if d[k] != want {
			t.Errorf("%s = %v, want %s", k, d[k], want)
		}
	}
	for k, want := range map[string]string{
		"code_challenge_methods_supported": "S256", "response_types_supported": "code",
		"id_token_signing_alg_values_supported": "ES256",
	} {
		if l, _ := d[k].([]any); len(l) != 1 || l[0] != want {
			t.Errorf("%s = %v, want [%s]", k, d[k], want)
		}
	}
	if got, want := fmt.Sprint(d["ui_locales_supported"]), fmt.Sprint(lang.Codes()); got != want {
		t.Errorf("ui_locales_supported = %s, want kiosk/lang's %s", got, want)
	}
	if got := fmt.Sprint(d["token_endpoint_auth_methods_supported"]); got != "[none private_key_jwt]" {
		t.Errorf("token_endpoint_auth_methods_supported = %s", got)
	}
	if got := fmt.Sprint(d["grant_types_supported"]); got != "[authorization_code "+deviceGrant+"]" {
		t.Errorf("grant_types_supported = %s", got)
	}

	kids := func() []string {
		var set jose.JSONWebKeySet
		_, body := e.get(t, "/idp/jwks")
		_ = json.Unmarshal([]byte(body), &set)
		var out []string
		for _, k := range set.Keys {
			out = append(out, k.KeyID)
		}
		return out
	}
	k0 := kids()
	if len(k0) != 1 {
		t.Fatalf("JWKS: %v", k0)
	}
	if err := e.p.RotateKey(); err != nil {
		t.Fatal(err)
	}
	k1 := kids()
	if len(k1) != 2 || k1[0] != k0[0] || k1[1] == k0[0] {
		t.Fatalf("after rotation: %v (before %v)", k1, k0)
	}
	if err := e.p.RotateKey(); err != nil {
		t.Fatal(err)
	}
	if k2 := kids(); len(k2) != 2 || k2[0] != k1[1] {
		t.Fatalf("after second rotation: %v (before %v)", k2, k1)
	}
	_, tr := e.token(t, e.approved(t, TestCitizens()[0].ID), testVerifier)
	jws, err := jose.ParseSignedCompact(tr.IDToken, []jose.SignatureAlgorithm{jose.ES256})
	if err != nil {
		t.Fatal(err)
	}
	if kid := jws.Signatures[0].Header.KeyID; kid != kids()[1] {
		t.Errorf("signed with %q, want the newest key", kid)
	}
}

func TestNewValidates(t *testing.T) {
	good := Config{Issuer: "http://127.0.0.1:8090/idp", PhoneURL: "http://127.0.0.1:8090/phone",
		Clients: []Client{{ID: "k", RedirectURIs: []string{"http://127.0.0.1:8081/callback"}}}}
	if _, err := New(good); err != nil {
		t.Fatalf("good config: %v", err)
	}
	for name, mod := range map[string]func(*Config){
		"relative issuer":     func(c *Config) { c.Issuer = "/idp" },
		"issuer with query":   func(c *Config) { c.Issuer = "http://h/idp?x=1" },
		"phone inside issuer": func(c *Config) { c.PhoneURL = "http://127.0.0.1:8090/idp/phone" },
		"phone at root":       func(c *Config) { c.PhoneURL = "http://127.0.0.1:8090/" },
		"client without URIs": func(c *Config) { c.Clients = []Client{{ID: "k"}} },
		"relative redirect":   func(c *Config) { c.Clients = []Client{{ID: "k", RedirectURIs: []string{"/cb"}}} },
		"duplicate client":    func(c *Config) { c.Clients = append(c.Clients, c.Clients[0]) },
	} {
		c := good
		mod(&c)
		if _, err := New(c); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestTestCitizens(t *testing.T) {
	cits := TestCitizens()
	if len(cits) < 3 {
		t.Fatalf("%d citizens", len(cits))
	}
	profiles := map[string]int{}
	for _, c := range cits {
		profiles[c.Profile]++
		switch c.Profile {
		case "th":
			if !thaiChecksumOK(c.ID) {
				t.Errorf("%s: Thai checksum fails", c.ID)
			}
		case "vn":
			if len(c.ID) != 12 || strings.Trim(c.ID, "0123456789") != "" {
				t.Errorf("%s: not 12 digits", c.ID)
			}
		default:
			t.Errorf("%s: profile %q", c.ID, c.Profile)
		}
		if _, err := time.Parse("2006-01-02", c.BirthDate); err != nil {
			t.Errorf("%s: birth date %q", c.ID, c.BirthDate)
		}
		if c.Name == "" || c.Address == "" || !strings.HasPrefix(c.Phone, "+") {
			t.Errorf("%s: incomplete", c.ID)
		}
	}
	if profiles["th"] == 0 || profiles["vn"] < 2 {
		t.Errorf("profiles %v", profiles)
	}
	cits[0].Name = "changed"
	if TestCitizens()[0].Name == "changed" {
		t.Errorf("TestCitizens shares its slice")
	}
}

func thaiChecksumOK(id string) bool {
	if len(id) != 13 {
		return false
	}
	sum := 0
	for i := range 12 {
		sum += int(id[i]-'0') * (13 - i)
	}
	return int(id[12]-'0') == (11-sum%11)%10
}

// waitFor polls cond until it holds (the test's deadline bounds it).
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition never held")
		}
		time.Sleep(time.Millisecond)
	}
}
