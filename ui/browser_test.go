package ui

import (
	"html"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"govkiosk/kiosk"
)

// office is on every screen of the test kiosk: a page that shows it is the
// kiosk's screen, and a refusal must not.
const office = "Văn phòng Hội An"

// uiUnderTest is the UI on a loopback listener, with a real controller.
type uiUnderTest struct {
	s    *Server
	c    *kiosk.Controller
	ts   *httptest.Server
	addr string // host:port of the listener
}

func newUI(t *testing.T) *uiUnderTest {
	t.Helper()
	cfg := kiosk.Config{KioskID: "K-UI", OfficeName: map[string]string{"en": office, "vi": office, "th": office}}
	cfg.SetDefaults()
	c := kiosk.NewController(kiosk.Deps{Config: cfg})
	ts := httptest.NewUnstartedServer(nil)
	addr := ts.Listener.Addr().String()
	s, err := New(c, Options{Log: slog.New(slog.DiscardHandler), Listen: addr})
	if err != nil {
		t.Fatal(err)
	}
	ts.Config.Handler = s
	ts.Start()
	t.Cleanup(ts.Close)
	return &uiUnderTest{s: s, c: c, ts: ts, addr: addr}
}

// browser is a client with a cookie jar that follows redirects, like Chromium.
func browser(t *testing.T) *http.Client {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{Jar: jar}
}

// launch opens a fresh launch URL in b and returns the screen it lands on.
func (u *uiUnderTest) launch(t *testing.T, b *http.Client) string {
	t.Helper()
	launchURL, err := u.s.LaunchURL()
	if err != nil {
		t.Fatal(err)
	}
	code, body := get(t, b, launchURL)
	if code != http.StatusOK || !strings.Contains(body, office) {
		t.Fatalf("launch %s: %d, the kiosk screen not shown:\n%.300s", launchURL, code, body)
	}
	return body
}

func get(t *testing.T, c *http.Client, u string) (int, string) {
	t.Helper()
	resp, err := c.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func post(t *testing.T, c *http.Client, u string) int {
	t.Helper()
	resp, err := c.PostForm(u, url.Values{})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// wantRefused checks a refusal: 403, the plain page that says whose screen
// this is, and nothing of the kiosk's screen.
func wantRefused(t *testing.T, what string, code int, body string) {
	t.Helper()
	if code != http.StatusForbidden {
		t.Errorf("%s: status %d, want 403", what, code)
	}
	if strings.Contains(body, office) || strings.Contains(body, "data-step") {
		t.Errorf("%s: the refusal shows the kiosk's screen:\n%.300s", what, body)
	}
	if !strings.Contains(body, html.EscapeString(T("en", "browser.only_kiosk"))) {
		t.Errorf("%s: the refusal does not say the screen is the kiosk's own browser's:\n%.300s", what, body)
	}
}

// TestUIAnswersOnlyItsOwnBrowser is the attack of a second tab or any local
// process on the UI: reading the screen (a citizen's name and ID), the
// scanned pages and the receipt, listening to redraws and driving the
// session. Only the browser that exchanged the launch secret gets through.
func TestUIAnswersOnlyItsOwnBrowser(t *testing.T) {
	u := newUI(t)
	curl := &http.Client{Timeout: 5 * time.Second} // /events streams for ever to whoever it answers
	for _, path := range []string{"/", "/thumb/0/0", "/receipt.png", "/events", "/static/kiosk.css", "/launch", "/launch?secret=guess"} {
		code, body := get(t, curl, u.ts.URL+path)
		wantRefused(t, "GET "+path+" without the cookie", code, body)
	}
	if code := post(t, curl, u.ts.URL+"/start"); code != http.StatusForbidden {
		t.Errorf("POST /start without the cookie: %d, want 403", code)
	}
	if step := u.c.View(t.Context()).Step; step != kiosk.StepAttract {
		t.Fatalf("a client without the cookie moved the session to %s", step)
	}

	// The kiosk's browser exchanges the secret for its cookie and is sent to /.
	launchURL, err := u.s.LaunchURL()
	if err != nil {
		t.Fatal(err)
	}
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noFollow.Get(launchURL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/" {
		t.Fatalf("launch: %d to %q, want 303 to /", resp.StatusCode, resp.Header.Get("Location"))
	}
	cookies := resp.Cookies()
	if len(cookies) != 1 {
		t.Fatalf("launch set %d cookies, want 1", len(cookies))
	}
	ck := cookies[0]
	if !ck.HttpOnly || ck.SameSite != http.SameSiteStrictMode || ck.Path != "/" || len(ck.Value) < 32 {
		t.Errorf("session cookie %+v: want HttpOnly, SameSite=Strict, Path=/, a long random value", ck)
	}
	if setCookie := resp.Header.Get("Set-Cookie"); !strings.Contains(setCookie, "SameSite=Strict") {
		t.Errorf("Set-Cookie %q lacks SameSite=Strict", setCookie)
	}

	// A second client reusing the secret is refused and gets no cookie.
	resp, err = noFollow.Get(launchURL)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	wantRefused(t, "reused launch secret", resp.StatusCode, string(b))
	if len(resp.Cookies()) != 0 {
		t.Errorf("a reused launch secret set cookies %v", resp.Cookies())
	}

	// With the cookie the screen and the actions work, as plain forms.
	withCookie := func(method, path string) *http.Request {
		r, _ := http.NewRequest(method, u.ts.URL+path, nil)
		r.AddCookie(ck)
		if method == http.MethodPost {
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		return r
	}
	resp, err = noFollow.Do(withCookie(http.MethodPost, "/start"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("POST /start with the cookie: %d", resp.StatusCode)
	}
	resp, err = noFollow.Do(withCookie(http.MethodGet, "/"))
	if err != nil {
		t.Fatal(err)
	}
	b, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(b), `data-step="catalogue"`) {
		t.Fatalf("GET / with the cookie: %d\n%.300s", resp.StatusCode, b)
	}
	// A forged or stale cookie is no cookie.
	r := withCookie(http.MethodGet, "/")
	r.Header.Del("Cookie")
	r.AddCookie(&http.Cookie{Name: ck.Name, Value: strings.Repeat("0", len(ck.Value))})
	resp, err = noFollow.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	b, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	wantRefused(t, "forged cookie", resp.StatusCode, string(b))
}

// TestNewLaunchRotatesTheCookie: a restarted browser gets a new launch URL;
// once it is exchanged the old browser's cookie no longer works, and only
// the newest launch URL does.
func TestNewLaunchRotatesTheCookie(t *testing.T) {
	u := newUI(t)
	first := browser(t)
	u.launch(t, first)
	stale, err := u.s.LaunchURL()
	if err != nil {
		t.Fatal(err)
	}
	second := browser(t)
	u.launch(t, second) // minted after stale: stale is void
	code, body := get(t, first, u.ts.URL+"/")
	wantRefused(t, "the old browser after a new launch", code, body)
	code, body = get(t, browser(t), stale)
	wantRefused(t, "a launch URL minted before the newest", code, body)
	if code, body := get(t, second, u.ts.URL+"/"); code != http.StatusOK || !strings.Contains(body, office) {
		t.Fatalf("the new browser: %d", code)
	}
}

// TestUIRefusesForeignHosts is DNS rebinding: a page on evil.example whose
// name now resolves to 127.0.0.1 talks to the UI as its own origin. The Host
// it sends is not one the UI listens as.
func TestUIRefusesForeignHosts(t *testing.T) {
	u := newUI(t)
	b := browser(t)
	u.launch(t, b)
	_, port, _ := strings.Cut(u.addr, ":")
	for host, ok := range map[string]bool{
		u.addr: true, "127.0.0.1:" + port: true, "localhost:" + port: true, "LOCALHOST:" + port: true,
		"evil.example": false, "evil.example:" + port: false, "127.0.0.1:1": false, "localhost": false,
	} {
		r, _ := http.NewRequest(http.MethodGet, u.ts.URL+"/", nil)
		r.Host = host
		for _, c := range b.Jar.Cookies(r.URL) { // a jar keys cookies by Host
			r.AddCookie(c)
		}
		resp, err := http.DefaultClient.Do(r)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		switch {
		case ok && resp.StatusCode != http.StatusOK:
			t.Errorf("Host %q: %d, want 200", host, resp.StatusCode)
		case !ok && resp.StatusCode != http.StatusMisdirectedRequest:
			t.Errorf("Host %q: %d, want 421", host, resp.StatusCode)
		case !ok && strings.Contains(string(body), office):
			t.Errorf("Host %q: the screen was served", host)
		}
	}
}

// TestUISecurityHeaders: every answer, screen or refusal, forbids framing
// by anything but the kiosk's own pages (the login screen's frame comes
// back to them), sniffing, referrers, caching and anything not from the
// kiosk itself.
func TestUISecurityHeaders(t *testing.T) {
	u := newUI(t)
	b := browser(t)
	u.launch(t, b)
	for what, c := range map[string]*http.Client{"screen": b, "refusal": {}} {
		resp, err := c.Get(u.ts.URL + "/")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		for h, want := range map[string]string{
			"Content-Security-Policy": "default-src 'self'; frame-ancestors 'self'",
			"X-Content-Type-Options":  "nosniff",
			"Referrer-Policy":         "no-referrer",
			"Cache-Control":           "no-store",
			"X-Frame-Options":         "SAMEORIGIN",
		} {
			if got := resp.Header.Get(h); !strings.Contains(got, want) {
				t.Errorf("%s: %s = %q, want %q", what, h, got, want)
			}
		}
	}
}

// TestStaticHasNoDirectoryListing: the embedded assets are served by name
// only.
func TestStaticHasNoDirectoryListing(t *testing.T) {
	u := newUI(t)
	b := browser(t)
	u.launch(t, b)
	for path, want := range map[string]int{
		"/static/":                               http.StatusNotFound,
		"/static/fonts/":                         http.StatusNotFound,
		"/static/kiosk.css":                      http.StatusOK,
		"/static/kiosk.js":                       http.StatusOK,
		"/static/fonts/NotoSansThai-Regular.ttf": http.StatusOK,
	} {
		if code, body := get(t, b, u.ts.URL+path); code != want {
			t.Errorf("GET %s: %d, want %d\n%.200s", path, code, want, body)
		}
	}
}

// TestLoginCallbackWithoutCookie: a provider on another site sends the
// browser back to /auth/callback, a cross-site navigation that carries no
// SameSite=Strict cookie. The UI answers with a page that loads the same
// URL again from its own origin (which does carry the cookie), and does not
// act on the callback itself; a second time without the cookie is refused.
func TestLoginCallbackWithoutCookie(t *testing.T) {
	u := newUI(t)
	code, body := get(t, &http.Client{}, u.ts.URL+"/auth/callback?code=abc&state=xyz")
	if code != http.StatusOK {
		t.Fatalf("cross-site callback: %d, want 200 and a same-site reload", code)
	}
	m := regexp.MustCompile(`<meta http-equiv="refresh" content="0;url=([^"]+)">`).FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no reload in the callback page:\n%s", body)
	}
	again, err := url.Parse(strings.ReplaceAll(m[1], "&amp;", "&"))
	if err != nil || again.Path != "/auth/callback" || again.Query().Get("code") != "abc" || again.Query().Get("state") != "xyz" {
		t.Fatalf("the callback page reloads %q", m[1])
	}
	if strings.Contains(body, office) {
		t.Fatal("the callback page shows the kiosk's screen")
	}
	code, body = get(t, &http.Client{}, u.ts.URL+again.String())
	wantRefused(t, "the reloaded callback without the cookie", code, body)
}

// TestScreensNeedNoInlineCode: the CSP allows only the kiosk's own files,
// so no screen may carry inline scripts, styles or event handlers.
func TestScreensNeedNoInlineCode(t *testing.T) {
	s, err := New(nil, Options{Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	inline := regexp.MustCompile(`<script>|<script [^>]*>\s*[^<\s]|<style|\sstyle=|\son[a-z]+=`)
	for _, step := range kiosk.Steps {
		w := httptest.NewRecorder()
		s.render(w, kiosk.View{Step: step, Lang: "en", Languages: []string{"en"}, Procedure: &proc, Docs: []kiosk.ScannedDocument{{Pages: 1, Thumbs: [][]byte{{1}}}},
			Receipt: &kiosk.Receipt{}, CodeSent: true})
		if m := inline.FindString(w.Body.String()); m != "" {
			t.Errorf("%s: inline code %q is blocked by the CSP", step, m)
		}
	}
}
