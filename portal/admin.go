package portal

import (
	"crypto/subtle"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"strings"
)

// The console, the admin JSON and (in demo mode) the phone simulator are
// for the portal's operators: each request needs the admin token, as
// "Authorization: Bearer TOKEN" (scripts, kioskctl phone) or as the cookie
// the login form at /login sets (a browser). The token is Options.AdminToken,
// or a random one made at start (AdminToken returns it, cmd/portal prints
// it once). State-changing requests must come from the portal's own pages
// (http.CrossOriginProtection); the cookie is HttpOnly and SameSite=Strict.

const (
	adminCookie   = "govkiosk_admin"
	minAdminToken = 32 // characters of a given admin token
)

// AdminToken is the token that opens the console, the admin JSON and the
// phone simulator.
func (s *Server) AdminToken() string { return s.adminToken }

func (s *Server) initAdminToken() error {
	if s.opts.AdminToken != "" {
		if len(s.opts.AdminToken) < minAdminToken {
			return fmt.Errorf("portal: the admin token must have at least %d characters", minAdminToken)
		}
		s.adminToken = s.opts.AdminToken
		return nil
	}
	t, err := randomToken(s.rand, 32)
	if err != nil {
		return fmt.Errorf("portal: admin token: %w", err)
	}
	s.adminToken = t
	return nil
}

func equalSecret(a, b string) bool { return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1 }

// adminSession is the cookie's value: derived from the token, so the token
// itself is not kept by the browser, and changing it ends every session.
func (s *Server) adminSession() string { return s.mac("admin-session", s.adminToken) }

func (s *Server) isAdmin(r *http.Request) bool {
	if r.Header.Get("Authorization") != "" {
		tok := bearer(r)
		return tok != "" && equalSecret(tok, s.adminToken)
	}
	c, err := r.Cookie(adminCookie)
	return err == nil && equalSecret(c.Value, s.adminSession())
}

// requireAdmin lets only the admin through: others get 401 (an API or a
// form post) or, a browser asking for a page, the login form.
func (s *Server) requireAdmin(next http.Handler) http.Handler {
	return http.NewCrossOriginProtection().Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.isAdmin(r) {
			w.Header().Set("Cache-Control", "no-store")
			next.ServeHTTP(w, r)
			return
		}
		if r.Method != http.MethodGet || strings.Contains(r.URL.Path, "/api/") || r.Header.Get("Authorization") != "" {
			writeError(w, http.StatusUnauthorized, CodeUnauthorized, "the admin token is required: Authorization: Bearer TOKEN, or log in at /login")
			return
		}
		http.Redirect(w, r, "/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
	}))
}

// localPath is next if it is a path on this portal, else "/".
func localPath(next string) string {
	if !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.HasPrefix(next, "/\\") {
		return "/"
	}
	return next
}

var loginTmpl = template.Must(template.New("login").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>govkiosk reference portal — log in</title>
<style>body{font-family:"Noto Sans",sans-serif;margin:2rem;max-width:32rem}input{font-size:1.1rem;width:100%;margin:.5rem 0}.err{color:#a40000}</style>
</head><body>
<h1>govkiosk reference portal</h1>
<p>The console, the admin API and the phone simulator need the admin token the portal printed when it started.</p>
{{if .Failed}}<p class="err">That is not the admin token.</p>{{end}}
<form method="post" action="/login">
<label>Admin token <input type="password" name="token" autocomplete="off" autofocus required></label>
<input type="hidden" name="next" value="{{.Next}}">
<button>Log in</button>
</form>
</body></html>`))

func (s *Server) renderLogin(w http.ResponseWriter, status int, next string, failed bool) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Frame-Options", "DENY")
	w.WriteHeader(status)
	if err := loginTmpl.Execute(w, struct {
		Next   string
		Failed bool
	}{localPath(next), failed}); err != nil {
		s.log.Warn("login template", "err", err)
	}
}

func (s *Server) handleLoginPage(w http.ResponseWriter, r *http.Request) {
	s.renderLogin(w, http.StatusOK, r.URL.Query().Get("next"), false)
}

func (s *Server) handleLogin(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 4<<10)
	if err := r.ParseForm(); err != nil {
		writeError(w, http.StatusBadRequest, CodeBadRequest, "bad form")
		return
	}
	next := r.PostForm.Get("next")
	if !equalSecret(r.PostForm.Get("token"), s.adminToken) {
		s.log.Warn("console login refused")
		s.renderLogin(w, http.StatusUnauthorized, next, true)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: adminCookie, Value: s.adminSession(), Path: "/",
		HttpOnly: true, Secure: r.TLS != nil, SameSite: http.SameSiteStrictMode})
	s.log.Info("console login")
	http.Redirect(w, r, localPath(next), http.StatusSeeOther)
}
