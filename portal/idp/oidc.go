package idp

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"govkiosk/kiosk/lang"
)

func (p *Provider) serveDiscovery(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{
		"issuer":                                                p.issuer,
		"authorization_endpoint":                                p.issuer + "/authorize",
		"token_endpoint":                                        p.issuer + "/token",
		"jwks_uri":                                              p.issuer + "/jwks",
		"userinfo_endpoint":                                     p.issuer + "/userinfo",
		"pushed_authorization_request_endpoint":                 p.issuer + "/par",
		"device_authorization_endpoint":                         p.issuer + "/device_authorization",
		"revocation_endpoint":                                   p.issuer + "/revoke",
		"scopes_supported":                                      []string{"openid", "profile", "address", "phone"},
		"response_types_supported":                              []string{"code"},
		"response_modes_supported":                              []string{"query"},
		"grant_types_supported":                                 []string{"authorization_code", deviceGrant},
		"subject_types_supported":                               []string{"public"},
		"id_token_signing_alg_values_supported":                 []string{string(signingAlg)},
		"code_challenge_methods_supported":                      []string{"S256"},
		"token_endpoint_auth_methods_supported":                 []string{"none", "private_key_jwt"},
		"token_endpoint_auth_signing_alg_values_supported":      assertionAlgs,
		"revocation_endpoint_auth_methods_supported":            []string{"none", "private_key_jwt"},
		"revocation_endpoint_auth_signing_alg_values_supported": assertionAlgs,
		"require_pushed_authorization_requests":                 p.allRequirePAR(),
		"acr_values_supported":                                  []string{ACRSubstantial},
		"ui_locales_supported":                                  lang.Codes(),
		"claims_supported": []string{"iss", "sub", "aud", "azp", "exp", "iat", "auth_time", "acr", "nonce",
			"name", "given_name", "family_name", "birthdate", "address", "phone_number", "pid", "id_profile"},
		"authorization_response_iss_parameter_supported": true,
	})
}

// allRequirePAR reports whether every registered client must use PAR, so
// that discovery can say so (RFC 9126 §5).
func (p *Provider) allRequirePAR() bool {
	for _, c := range p.clients {
		if !c.RequirePAR {
			return false
		}
	}
	return len(p.clients) > 0
}

func (p *Provider) serveJWKS(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-cache")
	writeJSON(w, http.StatusOK, p.jwks())
}

// authzError is an authorization request error. When redirect is false the
// redirect URI could not be trusted and the error is shown as a page.
type authzError struct {
	code, desc string
	redirect   bool
}

// checkAuthorize validates an authorization request (RFC 6749 §4.1.1,
// RFC 7636, OIDC Core §3.1.2.1); pushed says it came through PAR, which a
// client with RequirePAR must use (RFC 9126 §5).
func (p *Provider) checkAuthorize(q url.Values, pushed bool) (*txn, *authzError) {
	for _, k := range []string{"client_id", "redirect_uri"} {
		if len(q[k]) > 1 {
			return nil, &authzError{code: "invalid_request", desc: k + " repeated"}
		}
	}
	cl, ok := p.clients[q.Get("client_id")]
	if !ok {
		return nil, &authzError{code: "invalid_client", desc: "unknown client_id"}
	}
	ru := q.Get("redirect_uri")
	if ru == "" || !slices.Contains(cl.RedirectURIs, ru) {
		return nil, &authzError{code: "invalid_request", desc: "redirect_uri is not registered for this client"}
	}
	bad := func(code, desc string) (*txn, *authzError) {
		return nil, &authzError{code: code, desc: desc, redirect: true}
	}
	for k, v := range q {
		if len(v) > 1 {
			return bad("invalid_request", k+" repeated")
		}
	}
	if cl.RequirePAR && !pushed {
		return bad("invalid_request", "this client must push its authorization requests (PAR)")
	}
	if q.Get("request") != "" || q.Get("request_uri") != "" {
		return bad("request_not_supported", "request objects are not supported")
	}
	if q.Get("response_type") != "code" {
		return bad("unsupported_response_type", "only response_type=code is supported")
	}
	if !slices.Contains(strings.Fields(q.Get("scope")), "openid") {
		return bad("invalid_scope", "scope must include openid")
	}
	if rm := q.Get("response_mode"); rm != "" && rm != "query" {
		return bad("invalid_request", "only response_mode=query is supported")
	}
	ch := q.Get("code_challenge")
	if ch == "" {
		return bad("invalid_request", "code_challenge is required (PKCE)")
	}
	if q.Get("code_challenge_method") != "S256" {
		return bad("invalid_request", "code_challenge_method must be S256")
	}
	if len(ch) != 43 || !isB64URL(ch) {
		return bad("invalid_request", "code_challenge is malformed")
	}
	state, nonce := q.Get("state"), q.Get("nonce")
	if state == "" || len(state) > 512 {
		return bad("invalid_request", "state is required (at most 512 bytes)")
	}
	if nonce == "" || len(nonce) > 512 {
		return bad("invalid_request", "nonce is required (at most 512 bytes)")
	}
	if slices.Contains(strings.Fields(q.Get("prompt")), "none") {
		return bad("login_required", "this provider always needs the citizen's approval on their phone")
	}
	bind, err := parseBinding(q)
	if err != nil {
		return bad("invalid_request", err.Error())
	}
	return &txn{
		bind:        bind,
		clientID:    cl.ID,
		redirectURI: ru,
		state:       state,
		nonce:       nonce,
		challenge:   ch,
		scope:       q.Get("scope"),
		lang:        pickLang(q.Get("ui_locales")),
	}, nil
}

func (p *Provider) serveAuthorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	viaPAR := q.Has("request_uri")
	requestURI := q.Get("request_uri")
	if viaPAR {
		pushed, again, err := p.takePAR(q)
		if err != nil {
			p.log.Info("idp authorize rejected", "error", "invalid_request_uri")
			p.renderError(w, http.StatusBadRequest, pickLang(q.Get("ui_locales")), "invalid_request_uri", err.Error())
			return
		}
		if again != nil {
			p.renderLogin(w, r, again)
			return
		}
		q = pushed
	}
	t, aerr := p.checkAuthorize(q, viaPAR)
	if aerr != nil {
		p.log.Info("idp authorize rejected", "error", aerr.code, "redirected", aerr.redirect)
		if aerr.redirect {
			v := url.Values{"error": {aerr.code}, "error_description": {aerr.desc}, "iss": {p.issuer}}
			if s := q.Get("state"); s != "" {
				v.Set("state", s)
			}
			http.Redirect(w, r, appendQuery(q.Get("redirect_uri"), v), http.StatusSeeOther)
			return
		}
		p.renderError(w, http.StatusBadRequest, pickLang(q.Get("ui_locales")), aerr.code, aerr.desc)
		return
	}
	if err := p.startLogin(t); err != nil {
		p.log.Error("idp start login", "err", err)
		p.renderError(w, http.StatusServiceUnavailable, t.lang, "temporarily_unavailable", "please try again")
		return
	}
	if viaPAR {
		p.usedPAR(requestURI, t.id)
	}
	p.log.Info("idp login started", "client", t.clientID, "lang", t.lang)
	p.renderLogin(w, r, t)
}

// startLogin gives t its identifiers and registers it.
func (p *Provider) startLogin(t *txn) error {
	id, err := p.randToken(16)
	if err != nil {
		return err
	}
	now := p.now()
	t.id = id
	t.created = now
	t.expires = now.Add(qrTTL)
	if t.device {
		t.expires = now.Add(loginTTL)
	}
	t.status = statusPending
	t.changed = make(chan struct{})
	if !t.device {
		if err := t.bind.matchNumbers(p.rand); err != nil {
			return err
		}
	}

	p.mu.Lock()
	defer p.mu.Unlock()
	p.sweepLocked(now)
	if len(p.txns) >= maxLive {
		return fmt.Errorf("too many live logins")
	}
	if err := p.newLinkCodeLocked(t); err != nil {
		return err
	}
	p.txns[t.id] = t
	if t.device {
		p.devices[t.deviceCode] = t
	}
	return nil
}

// newLinkCodeLocked gives t a fresh link code not in use.
func (p *Provider) newLinkCodeLocked(t *txn) error {
	for range 8 {
		lc, err := p.linkCode()
		if err != nil {
			return err
		}
		if _, taken := p.links[lc]; !taken {
			delete(p.links, t.linkCode)
			t.linkCode = lc
			p.links[lc] = t
			return nil
		}
	}
	return fmt.Errorf("no free link code")
}

// sweepLocked forgets records that expired long enough ago.
func (p *Provider) sweepLocked(now time.Time) {
	for id, t := range p.txns {
		if now.After(t.expires.Add(keepExpired)) && (t.status != statusApproved || now.After(t.authTime.Add(codeTTL+keepExpired))) {
			delete(p.txns, id)
			delete(p.links, t.linkCode)
			delete(p.devices, t.deviceCode)
		}
	}
	for u, pr := range p.pars {
		if !now.Before(pr.expires) {
			delete(p.pars, u)
		}
	}
	for j, exp := range p.jtis {
		if now.After(exp) {
			delete(p.jtis, j)
		}
	}
	for c, ac := range p.codes {
		if now.After(ac.expires.Add(keepExpired)) {
			delete(p.codes, c)
		}
	}
	for tok, at := range p.tokens {
		if !now.Before(at.expires) {
			delete(p.tokens, tok)
		}
	}
}

// statusLocked is the status of t as of now.
func statusLocked(t *txn, now time.Time) string {
	if t.status == statusPending && !now.Before(t.expires) {
		return statusExpired
	}
	return t.status
}

type waitResponse struct {
	Status   string `json:"status"`
	Redirect string `json:"redirect,omitempty"`
}

// serveWait long-polls a login transaction's status for the login page.
func (p *Provider) serveWait(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	id := r.PathValue("txn")
	p.mu.Lock()
	t, ok := p.txns[id]
	p.mu.Unlock()
	if !ok {
		writeJSON(w, http.StatusNotFound, waitResponse{Status: statusExpired})
		return
	}
	for waited := false; ; waited = true {
		p.mu.Lock()
		now := p.now()
		st, redirect, left := statusLocked(t, now), t.redirect, t.expires.Sub(now)
		p.mu.Unlock()
		if st == statusExpired {
			wr := waitResponse{Status: st}
			if !t.device {
				// The QR was not used in time: send the kiosk browser back
				// to its client, which may ask for a fresh one.
				wr.Redirect = appendQuery(t.redirectURI, url.Values{"error": {"login_required"},
					"error_description": {"the login QR expired"}, "state": {t.state}, "iss": {p.issuer}})
			}
			writeJSON(w, http.StatusOK, wr)
			return
		}
		if st != statusPending || waited {
			writeJSON(w, http.StatusOK, waitResponse{Status: st, Redirect: redirect})
			return
		}
		if !p.park(r.Context(), t, min(p.longPoll, left)) {
			return
		}
	}
}

// park waits until t changes or d passes; false if the request is gone.
func (p *Provider) park(ctx context.Context, t *txn, d time.Duration) bool {
	timer := time.NewTimer(d)
	defer timer.Stop()
	p.mu.Lock()
	p.parked++
	p.mu.Unlock()
	defer func() {
		p.mu.Lock()
		p.parked--
		p.mu.Unlock()
	}()
	select {
	case <-t.changed:
	case <-timer.C:
	case <-ctx.Done():
		return false
	}
	return true
}

// approve records the citizen's approval (or denial) of a login and makes
// the authorization code the login page will hand to the kiosk. number is
// the one the citizen picked on the phone: a QR login is approved only with
// the number on the kiosk screen, and any other denies it.
func (p *Provider) approve(linkCode, citizenID, number string, deny bool) (int, error) {
	lc := normLinkCode(linkCode)
	if !deny {
		if _, ok := p.citizen(citizenID); !ok {
			return http.StatusBadRequest, fmt.Errorf("unknown citizen")
		}
	}
	code, err := p.randToken(32)
	if err != nil {
		return http.StatusInternalServerError, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.now()
	t, ok := p.links[lc]
	switch {
	case !ok:
		return http.StatusNotFound, fmt.Errorf("unknown link code")
	case statusLocked(t, now) == statusExpired:
		return http.StatusGone, fmt.Errorf("login expired")
	case t.status != statusPending:
		return http.StatusConflict, fmt.Errorf("login already %s", t.status)
	case !deny && !t.device && number == "":
		return http.StatusBadRequest, fmt.Errorf("pick the number shown on the kiosk screen")
	}
	if t.device {
		t.status = statusApproved
		if deny {
			t.status = statusDenied
		} else {
			t.citizenID, t.authTime = citizenID, now
		}
		close(t.changed)
		p.log.Info("idp device login decided", "status", t.status, "client", t.clientID)
		return http.StatusNoContent, nil
	}
	v := url.Values{"state": {t.state}, "iss": {p.issuer}}
	mismatch := !deny && subtle.ConstantTimeCompare([]byte(number), []byte(t.bind.number)) != 1
	switch {
	case mismatch:
		t.status = statusDenied
		v.Set("error", "access_denied")
		v.Set("error_description", "the number picked on the phone is not the one on the kiosk screen")
		v.Set("denial_reason", reasonNumberMismatch)
	case deny:
		t.status = statusDenied
		v.Set("error", "access_denied")
		v.Set("error_description", "the citizen declined the login")
	default:
		t.status = statusApproved
		t.citizenID = citizenID
		t.authTime = now
		p.codes[code] = &authCode{t: t, expires: now.Add(codeTTL)}
		v.Set("code", code)
	}
	t.redirect = appendQuery(t.redirectURI, v)
	close(t.changed)
	p.log.Info("idp login decided", "status", t.status, "client", t.clientID, "numberMismatch", mismatch)
	if mismatch {
		return http.StatusForbidden, errNumberMismatch
	}
	return http.StatusNoContent, nil
}

type tokenError struct {
	Error       string `json:"error"`
	Description string `json:"error_description,omitempty"`
}

// serveToken is the token endpoint: the authorization_code and device_code
// grants, for public clients (client_id) and private_key_jwt clients.
func (p *Provider) serveToken(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")
	fail := func(status int, code, desc string) {
		p.log.Info("idp token rejected", "error", code, "reason", desc)
		writeJSON(w, status, tokenError{Error: code, Description: desc})
	}
	f, ferr := p.readForm(w, r)
	if ferr != nil {
		fail(ferr.status, ferr.code, ferr.desc)
		return
	}
	cl, ferr := p.authenticateClient(r, f, "/token")
	if ferr != nil {
		fail(ferr.status, ferr.code, ferr.desc)
		return
	}
	accessTok, err := p.randToken(32)
	if err != nil {
		fail(http.StatusInternalServerError, "server_error", "randomness")
		return
	}
	var t *txn
	var code, reason string
	switch f.Get("grant_type") {
	case "authorization_code":
		t, reason = p.redeemCode(f, cl.ID, accessTok)
		code = "invalid_grant"
	case deviceGrant:
		t, code, reason = p.redeemDevice(f.Get("device_code"), cl.ID, accessTok)
	default:
		fail(http.StatusBadRequest, "unsupported_grant_type", "only authorization_code and device_code are supported")
		return
	}
	if t == nil {
		fail(http.StatusBadRequest, code, reason)
		return
	}
	c, ok := p.citizen(t.citizenID)
	if !ok {
		fail(http.StatusInternalServerError, "server_error", "citizen vanished")
		return
	}
	idt, err := p.sign(p.idTokenClaims(t, c, accessTok, p.now()))
	if err != nil {
		p.log.Error("idp sign id token", "err", err)
		fail(http.StatusInternalServerError, "server_error", "signing failed")
		return
	}
	p.log.Info("idp tokens issued", "client", cl.ID, "device", t.device)
	writeJSON(w, http.StatusOK, map[string]any{
		"access_token": accessTok,
		"token_type":   "Bearer",
		"expires_in":   int(accessTokenTTL / time.Second),
		"id_token":     idt,
		"scope":        t.scope,
	})
}

// redeemCode checks an authorization code grant and, when it is good,
// registers accessTok for it. reason says why it is not.
func (p *Provider) redeemCode(f url.Values, clientID, accessTok string) (*txn, string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.now()
	ac, ok := p.codes[f.Get("code")]
	var t *txn
	var reason string
	switch {
	case !ok:
		reason = "unknown code"
	case ac.used:
		reason = "code already used"
		if ac.accessToken != "" { // RFC 6749 §4.1.2: revoke what the code gave
			delete(p.tokens, ac.accessToken)
		}
	case !now.Before(ac.expires):
		reason = "code expired"
	case ac.t.clientID != clientID:
		reason = "code was issued to another client"
	case ac.t.redirectURI != f.Get("redirect_uri"):
		reason = "redirect_uri does not match"
	case !verifierOK(f.Get("code_verifier"), ac.t.challenge):
		reason = "code_verifier does not match code_challenge"
	default:
		t = ac.t
		ac.accessToken = accessTok
		p.tokens[accessTok] = &accessToken{citizenID: t.citizenID, clientID: clientID, expires: now.Add(accessTokenTTL)}
	}
	if ok {
		ac.used = true // a code is burnt by its first presentation, good or bad
	}
	return t, reason
}

// verifierOK checks a PKCE S256 verifier (RFC 7636 §4.6) in constant time.
func verifierOK(verifier, challenge string) bool {
	if len(verifier) < 43 || len(verifier) > 128 {
		return false
	}
	for _, c := range []byte(verifier) {
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || strings.IndexByte("-._~", c) >= 0) {
			return false
		}
	}
	sum := sha256.Sum256([]byte(verifier))
	got := base64.RawURLEncoding.EncodeToString(sum[:])
	return subtle.ConstantTimeCompare([]byte(got), []byte(challenge)) == 1
}

func (p *Provider) serveUserinfo(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	tok, ok := bearer(r)
	c, found := p.CitizenForAccessToken(tok)
	if !ok || !found {
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
		writeJSON(w, http.StatusUnauthorized, tokenError{Error: "invalid_token"})
		return
	}
	writeJSON(w, http.StatusOK, p.userinfoClaims(c))
}

func bearer(r *http.Request) (string, bool) {
	h := r.Header.Get("Authorization")
	if len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		return strings.TrimSpace(h[7:]), true
	}
	return "", false
}

// randToken returns n random bytes, base64url.
func (p *Provider) randToken(n int) (string, error) {
	b := make([]byte, n)
	if _, err := io.ReadFull(p.rand, b); err != nil {
		return "", fmt.Errorf("%w: %v", errRand, err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// Link codes are 8 Crockford base32 characters (40 bits), shown as
// "ABCD-EFGH"; the phone accepts them with or without the dash, any case.
const crockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

func (p *Provider) linkCode() (string, error) {
	b := make([]byte, 8)
	if _, err := io.ReadFull(p.rand, b); err != nil {
		return "", fmt.Errorf("%w: %v", errRand, err)
	}
	for i := range b {
		b[i] = crockford[b[i]&31]
	}
	return string(b), nil
}

func normLinkCode(s string) string {
	s = strings.ToUpper(strings.NewReplacer("-", "", " ", "").Replace(s))
	return strings.NewReplacer("O", "0", "I", "1", "L", "1").Replace(s)
}

func displayLinkCode(s string) string {
	if len(s) == 8 {
		return s[:4] + "-" + s[4:]
	}
	return s
}

func isB64URL(s string) bool {
	for _, c := range []byte(s) {
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// appendQuery adds v to the query of the URL u (which already validated).
func appendQuery(u string, v url.Values) string {
	pu, err := url.Parse(u)
	if err != nil {
		return u
	}
	q := pu.Query()
	for k, vs := range v {
		q[k] = vs
	}
	pu.RawQuery = q.Encode()
	return pu.String()
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
