package ui

import (
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"html/template"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
)

// The UI answers only the browser the kiosk launched. The kiosk opens its
// browser at a launch URL that carries a one-time secret (LaunchURL); the
// browser trades it at /launch for a session cookie (HttpOnly,
// SameSite=Strict) and is sent on to /. Every other request must carry that
// cookie: without it, a second tab or any local process gets a plain 403
// page and nothing of the screen. Only the newest launch URL works, once;
// trading it replaces the cookie, so a restarted browser shuts the old one
// out. Requests must also name the UI by a Host it listens as, which stops
// DNS rebinding.

const (
	cookieName  = "govkiosk_browser"
	launchPath  = "/launch"
	bounceParam = "kiosk_reload" // marks the callback reloaded from the kiosk's own origin
)

// csp allows only the kiosk's own files: the screens carry no inline
// scripts or styles (TestScreensNeedNoInlineCode). Only the kiosk's own
// pages may frame its pages: the login screen's frame comes back to the
// kiosk's callback when the provider answers. The login screen adds the
// provider's origin as its one frame-src.
const csp = "default-src 'self'; frame-ancestors 'self'; base-uri 'none'"

// binding is which browser the UI answers: the launch secret not yet traded
// and the cookie of the browser that traded the last one.
type binding struct {
	rand io.Reader

	mu      sync.Mutex
	pending string // "" when none
	cookie  string // "" before the first launch
}

// random is n random bytes, URL-safe.
func (b *binding) random(n int) (string, error) {
	buf := make([]byte, n)
	if _, err := io.ReadFull(b.rand, buf); err != nil {
		return "", fmt.Errorf("ui: launch secret: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(buf), nil
}

// newSecret mints the launch secret, voiding any earlier one not yet traded.
func (b *binding) newSecret() (string, error) {
	s, err := b.random(32)
	if err != nil {
		return "", err
	}
	b.mu.Lock()
	b.pending = s
	b.mu.Unlock()
	return s, nil
}

// trade exchanges the pending secret, once, for a new cookie value, which
// replaces the old browser's.
func (b *binding) trade(secret string) (string, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.pending == "" || !equal(secret, b.pending) {
		return "", false
	}
	cookie, err := b.random(32)
	if err != nil {
		return "", false
	}
	b.pending, b.cookie = "", cookie
	return cookie, true
}

// admits reports whether r comes from the launched browser.
func (b *binding) admits(r *http.Request) bool {
	c, err := r.Cookie(cookieName)
	if err != nil {
		return false
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.cookie != "" && equal(c.Value, b.cookie)
}

func equal(a, b string) bool { return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1 }

// hostsFor is every Host header that names the UI listening on listen: the
// address as configured, and 127.0.0.1 and localhost on its port.
func hostsFor(listen string) map[string]bool {
	hosts := map[string]bool{}
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return hosts
	}
	for _, h := range []string{host, "127.0.0.1", "localhost"} {
		hosts[strings.ToLower(net.JoinHostPort(h, port))] = true
		if port == "80" {
			hosts[strings.ToLower(h)] = true
		}
	}
	return hosts
}

// LaunchURL mints the one-time URL to open the kiosk's browser at. It voids
// every earlier launch URL not yet used; once used, the browser that used it
// is the only one the UI answers.
func (s *Server) LaunchURL() (string, error) {
	secret, err := s.bind.newSecret()
	if err != nil {
		return "", err
	}
	return "http://" + s.listen + launchPath + "?secret=" + secret, nil
}

// launch trades the secret for the session cookie and sends the browser to
// the screen. The launched browser reloading a used launch URL is just sent
// to the screen.
func (s *Server) launch(w http.ResponseWriter, r *http.Request) {
	cookie, ok := s.bind.trade(r.URL.Query().Get("secret"))
	switch {
	case ok:
		http.SetCookie(w, &http.Cookie{Name: cookieName, Value: cookie, Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode})
		s.log.Info("browser launched: the UI answers it alone")
	case s.bind.admits(r):
	default:
		s.log.Warn("launch refused: the secret is wrong or was used")
		s.refuse(w)
		return
	}
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

// refusalPage is what any other browser or process gets: no screen, no
// personal data, only whose screen this is.
var refusalPage = template.Must(template.New("refused").Parse(`<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>govkiosk</title></head><body>
{{range .}}<p lang="{{.Lang}}">{{.Text}}</p>
{{end}}</body></html>
`))

func (s *Server) refuse(w http.ResponseWriter) {
	type line struct{ Lang, Text string }
	var lines []line
	for _, l := range []string{"th", "vi", "en"} {
		lines = append(lines, line{l, T(l, "browser.only_kiosk")})
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(http.StatusForbidden)
	refusalPage.Execute(w, lines)
}

// callbackReload is the login callback answered to a request without the
// cookie: a provider on another site sent the browser back here, and that
// cross-site navigation carries no SameSite=Strict cookie. Reloading the
// same URL from the kiosk's own origin does; the marker stops a browser
// without the cookie from reloading for ever.
var callbackReload = template.Must(template.New("reload").Parse(`<!DOCTYPE html>
<html><head><meta charset="utf-8"><meta http-equiv="refresh" content="0;url={{.}}"><title>govkiosk</title></head><body></body></html>
`))

func (s *Server) reloadCallback(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	q.Set(bounceParam, "1")
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	callbackReload.Execute(w, template.URL("/auth/callback?"+q.Encode()))
}
