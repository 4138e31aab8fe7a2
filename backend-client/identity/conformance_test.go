package identity

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"errors"
	"html"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"govkiosk/portal/idp"
)

// A conformance peer is an OpenID provider the identity package must work
// with: our reference provider, and panva/node-oidc-provider (OpenID
// certified) started from e2e/peers/oidc-provider.mjs.
type peer struct {
	name     string
	issuer   string
	clientID string // the public client; clientID+"-pkjwt" uses private_key_jwt
	// login completes the provider's interaction for authURL as the citizen
	// and returns the query of the callback to the kiosk.
	login func(t *testing.T, authURL, citizenID string) url.Values
	// decline makes the citizen cancel the login.
	decline func(t *testing.T, authURL string) url.Values
	// approveDevice completes the device verification on the "phone".
	approveDevice func(t *testing.T, d *DeviceLogin, citizenID string)
	// hasEndSession: the provider offers RP-initiated logout.
	hasEndSession bool
}

const confKeyID = "kiosk-key-1"

func TestConformance(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	peers := []*peer{referencePeer(t, key), nodePeer(t, key)}
	const thai = "1103700123458"
	for _, pr := range peers {
		t.Run(pr.name, func(t *testing.T) {
			t.Parallel()
			for _, pkjwt := range []bool{false, true} {
				name := "public"
				if pkjwt {
					name = "private_key_jwt"
				}
				t.Run("code+PKCE+PAR/"+name, func(t *testing.T) {
					c, logs, rec := pr.client(t, key, pkjwt)
					authURL, p, err := c.Begin(context.Background(), "th")
					if err != nil {
						t.Fatal(err)
					}
					// PAR: only client_id and request_uri travel in the browser.
					q := mustQuery(t, authURL)
					if len(q) != 2 || q.Get("client_id") == "" || !strings.HasPrefix(q.Get("request_uri"), "urn:") {
						t.Errorf("auth URL is not a PAR reference: %v", q)
					}
					pushed := rec.pushed()
					for k, want := range map[string]string{"code_challenge_method": "S256", "prompt": "login", "ui_locales": "th", "response_type": "code"} {
						if pushed.Get(k) != want {
							t.Errorf("pushed %s = %q, want %q", k, pushed.Get(k), want)
						}
					}
					if pkjwt != (pushed.Get("client_assertion") != "") {
						t.Errorf("pushed client_assertion present = %v, want %v", !pkjwt, pkjwt)
					}
					cb := pr.login(t, authURL, thai)
					id, err := c.Complete(context.Background(), p, cb)
					if err != nil {
						t.Fatal(err)
					}
					checkThai(t, id)
					if !tokenActive(t, pr, id.AccessToken) {
						t.Fatal("fresh access token refused at userinfo")
					}
					if u, ok := c.LogoutURL(context.Background(), id); ok != pr.hasEndSession || (ok && !strings.Contains(u, "id_token_hint=")) {
						t.Errorf("LogoutURL = %q, %v", u, ok)
					}
					// Revocation (RFC 7009) at the end of the session.
					tok := id.AccessToken
					if err := c.EndSession(context.Background(), id); err != nil {
						t.Fatal(err)
					}
					if id.AccessToken != "" || id.idToken != "" {
						t.Errorf("tokens kept after EndSession")
					}
					if tokenActive(t, pr, tok) {
						t.Errorf("access token still works after EndSession")
					}
					// The callback cannot be used twice.
					if _, err := c.Complete(context.Background(), p, cb); !errors.Is(err, ErrStateMismatch) {
						t.Errorf("replayed callback: %v", err)
					}
					rec.noOfflineAccess(t)
					noSecretsLogged(t, logs.String(), tok)
				})
			}
			t.Run("device grant", func(t *testing.T) {
				c, logs, rec := pr.client(t, key, false)
				d, err := c.StartDevice(context.Background(), "vi")
				if err != nil {
					t.Fatal(err)
				}
				if d.UserCode == "" || !strings.HasPrefix(d.VerificationURIComplete, "http") || d.Interval < time.Second || d.ExpiresIn <= 0 {
					t.Fatalf("device login %+v", d)
				}
				pr.approveDevice(t, d, thai)
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				defer cancel()
				id, err := c.PollDevice(ctx, d)
				if err != nil {
					t.Fatal(err)
				}
				checkThai(t, id)
				tok := id.AccessToken
				if err := c.EndSession(context.Background(), id); err != nil {
					t.Fatal(err)
				}
				if tokenActive(t, pr, tok) {
					t.Errorf("device access token still works after EndSession")
				}
				rec.noOfflineAccess(t)
				noSecretsLogged(t, logs.String(), tok, d.UserCode)
			})
			t.Run("declined", func(t *testing.T) {
				c, _, _ := pr.client(t, key, false)
				authURL, p, err := c.Begin(context.Background(), "en")
				if err != nil {
					t.Fatal(err)
				}
				if _, err := c.Complete(context.Background(), p, pr.decline(t, authURL)); !errors.Is(err, ErrDenied) {
					t.Errorf("declined login: %v", err)
				}
			})
		})
	}
}

// client makes an identity client for the peer, recording the forms it
// posts (to check what was asked) and its logs.
func (pr *peer) client(t *testing.T, key *ecdsa.PrivateKey, pkjwt bool) (*Client, *bytes.Buffer, *formRecorder) {
	t.Helper()
	rec := &formRecorder{}
	logs := &bytes.Buffer{}
	cfg := Config{
		Issuer: pr.issuer, ClientID: pr.clientID, RedirectURL: redirectURL,
		HTTPClient: &http.Client{Timeout: 30 * time.Second, Transport: rec},
		Log:        slog.New(slog.NewJSONHandler(&lockedWriter{w: logs}, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	if pkjwt {
		cfg.ClientID += "-pkjwt"
		cfg.Signer, cfg.KeyID = key, confKeyID
	}
	return New(cfg), logs, rec
}

// formRecorder is a transport that keeps the forms posted through it.
type formRecorder struct {
	all []url.Values
}

func (r *formRecorder) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Method == http.MethodPost && req.Body != nil {
		b, err := io.ReadAll(req.Body)
		if err != nil {
			return nil, err
		}
		req.Body = io.NopCloser(bytes.NewReader(b))
		f, _ := url.ParseQuery(string(b))
		r.all = append(r.all, f)
	}
	return http.DefaultTransport.RoundTrip(req)
}

// pushed is the last authorization request posted (to the PAR endpoint).
func (r *formRecorder) pushed() url.Values {
	for i := len(r.all) - 1; i >= 0; i-- {
		if r.all[i].Has("code_challenge") {
			return r.all[i]
		}
	}
	return url.Values{}
}

// noOfflineAccess asserts that nothing the client posted asked for a
// refresh token.
func (r *formRecorder) noOfflineAccess(t *testing.T) {
	t.Helper()
	if len(r.all) == 0 {
		t.Fatal("no requests recorded")
	}
	for _, f := range r.all {
		if strings.Contains(f.Get("scope"), "offline_access") || f.Get("grant_type") == "refresh_token" {
			t.Errorf("client asked for a refresh token: %v", f)
		}
	}
}

func checkThai(t *testing.T, id *Identity) {
	t.Helper()
	if id.CitizenID != "1103700123458" || id.Profile != "th" || id.BirthYear() != "1985" || id.MaskedName() != "สม*** ใจ***" ||
		!strings.Contains(id.Address, "กรุงเทพมหานคร") || id.Phone != "+66812345678" || id.AccessToken == "" {
		t.Errorf("identity %+v", id)
	}
}

func noSecretsLogged(t *testing.T, logs string, secrets ...string) {
	t.Helper()
	for _, s := range append(secrets, "1103700123458", "สมชาย", "1985-03-14", "+66812345678") {
		if s != "" && strings.Contains(logs, s) {
			t.Errorf("log holds %q", s)
		}
	}
}

// tokenActive reports whether the provider's userinfo endpoint accepts tok.
func tokenActive(t *testing.T, pr *peer, tok string) bool {
	t.Helper()
	resp, err := http.Get(pr.issuer + "/.well-known/openid-configuration")
	if err != nil {
		t.Fatal(err)
	}
	var md struct {
		Userinfo string `json:"userinfo_endpoint"`
	}
	err = json.NewDecoder(resp.Body).Decode(&md)
	resp.Body.Close()
	if err != nil || md.Userinfo == "" {
		t.Fatalf("discovery: %v %q", err, md.Userinfo)
	}
	req, _ := http.NewRequest(http.MethodGet, md.Userinfo, nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

func mustQuery(t *testing.T, u string) url.Values {
	t.Helper()
	pu, err := url.Parse(u)
	if err != nil {
		t.Fatal(err)
	}
	return pu.Query()
}

// referencePeer is our provider in process, approved from its phone API.
func referencePeer(t *testing.T, key *ecdsa.PrivateKey) *peer {
	var h atomic.Value
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.Load().(http.Handler).ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	jwk := jose.JSONWebKey{Key: &key.PublicKey, KeyID: confKeyID, Algorithm: "ES256", Use: "sig"}
	p, err := idp.New(idp.Config{
		Issuer: srv.URL + "/idp", PhoneURL: srv.URL + "/phone",
		Clients: []idp.Client{
			{ID: clientID, RedirectURIs: []string{redirectURL}},
			{ID: clientID + "-pkjwt", RedirectURIs: []string{redirectURL}, JWKS: jose.JSONWebKeySet{Keys: []jose.JSONWebKey{jwk}}},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	h.Store(p.Handler())
	e := &env{srv: srv, p: p, hc: &http.Client{Timeout: 30 * time.Second}}
	return &peer{
		name: "reference", issuer: srv.URL + "/idp", clientID: clientID,
		login: func(t *testing.T, authURL, citizenID string) url.Values {
			lc, w := e.openLogin(t, authURL)
			e.phone(t, "approve", lc, citizenID)
			return e.waitRedirect(t, w)
		},
		decline: func(t *testing.T, authURL string) url.Values {
			lc, w := e.openLogin(t, authURL)
			e.phone(t, "deny", lc, "")
			return e.waitRedirect(t, w)
		},
		approveDevice: func(t *testing.T, d *DeviceLogin, citizenID string) {
			// The phone opens verification_uri_complete (the QR) and approves.
			resp, err := e.hc.Get(d.VerificationURIComplete)
			if err != nil {
				t.Fatal(err)
			}
			page, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK || !strings.Contains(string(page), "Approve login?") {
				t.Fatalf("verification page %s", resp.Status)
			}
			f := parseForm(t, string(page), resp.Request.URL)
			f.values.Set("citizenId", citizenID)
			f.values.Set("action", "approve")
			resp, err = e.hc.PostForm(f.action, f.values)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("approve on phone: %s", resp.Status)
			}
		},
	}
}

// nodePeer starts e2e/peers/oidc-provider.mjs. Without node or the
// installed peers it skips, except in CI (env CI set), where it fails.
func nodePeer(t *testing.T, key *ecdsa.PrivateKey) *peer {
	t.Helper()
	peers, err := filepath.Abs(filepath.Join("..", "..", "e2e", "peers"))
	if err != nil {
		t.Fatal(err)
	}
	node, err := exec.LookPath("node")
	if err == nil {
		_, err = os.Stat(filepath.Join(peers, "node_modules", "oidc-provider", "package.json"))
	}
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("conformance peer unavailable in CI (run make deps): %v", err)
		}
		t.Skipf("node or e2e/peers/node_modules missing (run make deps): %v", err)
	}
	jwk, err := json.Marshal(jose.JSONWebKey{Key: &key.PublicKey, KeyID: confKeyID, Algorithm: "ES256", Use: "sig"})
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(node, "oidc-provider.mjs")
	cmd.Dir = peers
	cmd.Env = append(os.Environ(), "KIOSK_REDIRECT="+redirectURL, "KIOSK_CLIENT="+clientID, "KIOSK_JWK="+string(jwk), "PORT=0")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &lockedWriter{w: &stderr}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		stdin.Close() // the script exits when its stdin closes
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			t.Logf("oidc-provider stderr:\n%s", stderr.String())
		}
	})
	line := make(chan string, 1)
	go func() {
		s := bufio.NewScanner(stdout)
		if s.Scan() {
			line <- s.Text()
		}
		close(line)
		_, _ = io.Copy(io.Discard, stdout)
	}()
	var hello struct{ Issuer string }
	select {
	case l := <-line:
		if err := json.Unmarshal([]byte(l), &hello); err != nil || hello.Issuer == "" {
			t.Fatalf("oidc-provider said %q (%v); stderr:\n%s", l, err, stderr.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("oidc-provider did not start; stderr:\n%s", stderr.String())
	}
	return &peer{
		name: "oidc-provider", issuer: hello.Issuer, clientID: clientID, hasEndSession: true,
		login: func(t *testing.T, authURL, citizenID string) url.Values {
			cb, last := driveForms(t, authURL, citizenID, false)
			if cb == nil {
				t.Fatalf("interaction did not return to the kiosk; last page:\n%s", last)
			}
			return cb
		},
		decline: func(t *testing.T, authURL string) url.Values {
			cb, last := driveForms(t, authURL, "", true)
			if cb == nil {
				t.Fatalf("cancel did not return to the kiosk; last page:\n%s", last)
			}
			return cb
		},
		approveDevice: func(t *testing.T, d *DeviceLogin, citizenID string) {
			if _, last := driveForms(t, d.VerificationURIComplete, citizenID, false); !strings.Contains(last, "Sign-in Success") {
				t.Fatalf("device verification did not succeed; last page:\n%s", last)
			}
		},
	}
}

// driveForms plays a browser without JavaScript through a provider's
// interaction pages: it follows redirects with a fresh cookie jar and
// submits every page's first form (filling login and password) until the
// provider redirects to the kiosk's callback (whose query it returns) or a
// page has no form (whose body it returns). With cancel, it follows the
// page's "[ Cancel ]" link instead of submitting.
func driveForms(t *testing.T, start, login string, cancel bool) (url.Values, string) {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	var callback url.Values
	hc := &http.Client{Jar: jar, Timeout: 30 * time.Second, CheckRedirect: func(req *http.Request, via []*http.Request) error {
		if strings.HasPrefix(req.URL.String(), redirectURL) {
			callback = req.URL.Query()
			return http.ErrUseLastResponse
		}
		if len(via) > 10 {
			return errors.New("too many redirects")
		}
		return nil
	}}
	resp, err := hc.Get(start)
	for step := 0; ; step++ {
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if callback != nil {
			return callback, ""
		}
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("interaction step %d: %s %s:\n%s", step, resp.Request.URL, resp.Status, body)
		}
		if step > 8 || !reForm.Match(body) {
			return nil, string(body)
		}
		if m := reCancel.FindSubmatch(body); cancel && m != nil {
			u, perr := resp.Request.URL.Parse(html.UnescapeString(string(m[1])))
			if perr != nil {
				t.Fatal(perr)
			}
			resp, err = hc.Get(u.String())
			continue
		}
		f := parseForm(t, string(body), resp.Request.URL)
		if f.values.Has("login") {
			f.values.Set("login", login)
			f.values.Set("password", "any")
		}
		resp, err = hc.PostForm(f.action, f.values)
	}
}

var (
	reForm   = regexp.MustCompile(`(?s)<form\b([^>]*)>(.*?)</form>`)
	reInput  = regexp.MustCompile(`(?s)<input\b([^>]*)>`)
	reAttr   = regexp.MustCompile(`([a-zA-Z_-]+)="([^"]*)"`)
	reCancel = regexp.MustCompile(`<a href="([^"]+)">\[ Cancel \]</a>`)
)

type htmlForm struct {
	action string
	values url.Values
}

// parseForm reads the first form of page: its absolute action and the
// names and values of its inputs.
func parseForm(t *testing.T, page string, base *url.URL) htmlForm {
	t.Helper()
	m := reForm.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no form in page:\n%s", page)
	}
	attrs := func(s string) map[string]string {
		out := map[string]string{}
		for _, a := range reAttr.FindAllStringSubmatch(s, -1) {
			out[strings.ToLower(a[1])] = html.UnescapeString(a[2])
		}
		return out
	}
	action, err := base.Parse(attrs(m[1])["action"])
	if err != nil {
		t.Fatal(err)
	}
	f := htmlForm{action: action.String(), values: url.Values{}}
	for _, in := range reInput.FindAllStringSubmatch(m[2], -1) {
		a := attrs(in[1])
		if a["name"] != "" {
			f.values.Set(a["name"], a["value"])
		}
	}
	return f
}
