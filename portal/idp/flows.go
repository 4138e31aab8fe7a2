package idp

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

const (
	deviceGrant   = "urn:ietf:params:oauth:grant-type:device_code"
	assertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
	requestURIPre = "urn:ietf:params:oauth:request_uri:"
)

// assertionAlgs are the client assertion algorithms accepted.
var assertionAlgs = []jose.SignatureAlgorithm{jose.ES256, jose.ES384, jose.ES512, jose.EdDSA, jose.PS256, jose.RS256}

// formError is a refused back-channel request.
type formError struct {
	status     int
	code, desc string
}

// readForm reads a bounded form body whose parameters appear once each.
func (p *Provider) readForm(w http.ResponseWriter, r *http.Request) (url.Values, *formError) {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		return nil, &formError{http.StatusBadRequest, "invalid_request", "malformed form"}
	}
	for k, v := range r.PostForm {
		if len(v) > 1 {
			return nil, &formError{http.StatusBadRequest, "invalid_request", k + " repeated"}
		}
	}
	return r.PostForm, nil
}

// authenticateClient identifies the client of a back-channel request to
// the endpoint at path (under the issuer): a public client by client_id
// (or HTTP Basic user name), a client with a JWKS by a private_key_jwt
// assertion (RFC 7523 §3: iss = sub = client_id, aud the issuer or the
// endpoint, unexpired, short-lived, jti never seen before).
func (p *Provider) authenticateClient(r *http.Request, f url.Values, path string) (Client, *formError) {
	bad := func(desc string) (Client, *formError) {
		return Client{}, &formError{http.StatusUnauthorized, "invalid_client", desc}
	}
	clientID := f.Get("client_id")
	if u, _, ok := r.BasicAuth(); ok {
		if cid, err := url.QueryUnescape(u); err == nil && (clientID == "" || clientID == cid) {
			clientID = cid
		}
	}
	assertion := f.Get("client_assertion")
	if assertion == "" {
		if f.Get("client_assertion_type") != "" {
			return bad("client_assertion missing")
		}
		cl, ok := p.clients[clientID]
		if !ok {
			return bad("unknown client")
		}
		if cl.confidential() {
			return bad("this client must authenticate with private_key_jwt")
		}
		return cl, nil
	}
	if f.Get("client_assertion_type") != assertionType {
		return bad("client_assertion_type must be jwt-bearer")
	}
	tok, err := jwt.ParseSigned(assertion, assertionAlgs)
	if err != nil || len(tok.Headers) != 1 {
		return bad("client_assertion is not a signed JWT")
	}
	var unverified jwt.Claims
	if err := tok.UnsafeClaimsWithoutVerification(&unverified); err != nil {
		return bad("client_assertion claims unreadable")
	}
	if clientID == "" {
		clientID = unverified.Issuer
	}
	cl, ok := p.clients[clientID]
	if !ok || !cl.confidential() {
		return bad("unknown client or client without keys")
	}
	kid := tok.Headers[0].KeyID
	keys := cl.JWKS.Keys
	if kid != "" {
		keys = cl.JWKS.Key(kid)
	}
	if cl.Keys != nil && kid != "" {
		if k, ok := cl.Keys(kid); ok {
			keys = append(keys, k)
		}
	}
	var claims jwt.Claims
	verified := false
	for _, k := range keys {
		if err := tok.Claims(k, &claims); err == nil {
			verified = true
			break
		}
	}
	if !verified {
		return bad("client_assertion signature does not verify with the client's keys")
	}
	now := p.now()
	if err := claims.ValidateWithLeeway(jwt.Expected{
		Issuer: clientID, Subject: clientID, AnyAudience: jwt.Audience{p.issuer, p.issuer + path}, Time: now,
	}, 30*time.Second); err != nil {
		return bad("client_assertion: " + err.Error())
	}
	if claims.Expiry == nil || claims.Expiry.Time().Sub(now) > maxAssertion || claims.ID == "" {
		return bad("client_assertion needs exp (at most 5 min ahead) and jti")
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, seen := p.jtis[clientID+"|"+claims.ID]; seen {
		return bad("client_assertion replayed")
	}
	p.jtis[clientID+"|"+claims.ID] = claims.Expiry.Time().Add(30 * time.Second)
	return cl, nil
}

// parRequest is a pushed authorization request (RFC 9126).
type parRequest struct {
	q        url.Values
	clientID string
	expires  time.Time
	txnID    string // the login its first use started: a reload shows it again
}

// rejecter answers a back-channel request with an OAuth error.
func (p *Provider) rejecter(w http.ResponseWriter, what string) func(*formError) {
	w.Header().Set("Cache-Control", "no-store")
	return func(fe *formError) {
		p.log.Info("idp "+what+" rejected", "error", fe.code, "reason", fe.desc)
		writeJSON(w, fe.status, tokenError{Error: fe.code, Description: fe.desc})
	}
}

// clientForm reads a back-channel form and authenticates its client; on
// failure it has answered through fail.
func (p *Provider) clientForm(w http.ResponseWriter, r *http.Request, path string, fail func(*formError)) (url.Values, Client, bool) {
	f, fe := p.readForm(w, r)
	if fe == nil {
		var cl Client
		if cl, fe = p.authenticateClient(r, f, path); fe == nil {
			return f, cl, true
		}
	}
	fail(fe)
	return nil, Client{}, false
}

// servePAR is the pushed authorization request endpoint.
func (p *Provider) servePAR(w http.ResponseWriter, r *http.Request) {
	fail := p.rejecter(w, "PAR")
	f, cl, ok := p.clientForm(w, r, "/par", fail)
	if !ok {
		return
	}
	q := url.Values{}
	for k, v := range f {
		if k != "client_assertion" && k != "client_assertion_type" {
			q[k] = slices.Clone(v)
		}
	}
	if q.Has("request_uri") {
		fail(&formError{http.StatusBadRequest, "invalid_request", "request_uri must not be pushed"})
		return
	}
	q.Set("client_id", cl.ID)
	if _, aerr := p.checkAuthorize(q, true); aerr != nil {
		fail(&formError{http.StatusBadRequest, aerr.code, aerr.desc})
		return
	}
	ref, err := p.randToken(24)
	if err != nil {
		fail(&formError{http.StatusInternalServerError, "server_error", "randomness"})
		return
	}
	uri := requestURIPre + ref
	p.mu.Lock()
	p.sweepLocked(p.now())
	if len(p.pars) >= maxLive {
		p.mu.Unlock()
		fail(&formError{http.StatusServiceUnavailable, "temporarily_unavailable", "too many pushed requests"})
		return
	}
	p.pars[uri] = &parRequest{q: q, clientID: cl.ID, expires: p.now().Add(parTTL)}
	p.mu.Unlock()
	p.log.Info("idp authorization request pushed", "client", cl.ID)
	writeJSON(w, http.StatusCreated, map[string]any{"request_uri": uri, "expires_in": int(parTTL / time.Second)})
}

// takePAR resolves the request_uri of an authorization request, which
// must name the same client. The first use starts a login; a later one
// (the browser reloading the page, as RFC 9126 §4 allows for) gets that
// same login back while it is still pending, never a second one.
func (p *Provider) takePAR(q url.Values) (url.Values, *txn, error) {
	uri := q.Get("request_uri")
	p.mu.Lock()
	defer p.mu.Unlock()
	pr, ok := p.pars[uri]
	if !ok || len(q["request_uri"]) != 1 {
		return nil, nil, errString("request_uri is unknown or already used")
	}
	if !p.now().Before(pr.expires) {
		delete(p.pars, uri)
		return nil, nil, errString("request_uri expired")
	}
	if q.Get("client_id") != pr.clientID {
		return nil, nil, errString("client_id does not match the pushed request")
	}
	if pr.txnID != "" {
		t := p.txns[pr.txnID]
		if t == nil || t.status != statusPending || !p.now().Before(t.expires) {
			return nil, nil, errString("request_uri is unknown or already used")
		}
		return pr.q, t, nil
	}
	return pr.q, nil, nil
}

// usedPAR records the login the request_uri started.
func (p *Provider) usedPAR(uri, txnID string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if pr, ok := p.pars[uri]; ok {
		pr.txnID = txnID
	}
}

type errString string

func (e errString) Error() string { return string(e) }

// serveDeviceAuthorization is the device authorization endpoint (RFC 8628
// §3.1–3.2). The user code is a link code: the phone approves it like a
// QR login, at verification_uri_complete.
func (p *Provider) serveDeviceAuthorization(w http.ResponseWriter, r *http.Request) {
	fail := p.rejecter(w, "device authorization")
	f, cl, ok := p.clientForm(w, r, "/device_authorization", fail)
	if !ok {
		return
	}
	if !slices.Contains(strings.Fields(f.Get("scope")), "openid") {
		fail(&formError{http.StatusBadRequest, "invalid_scope", "scope must include openid"})
		return
	}
	if len(f.Get("nonce")) > 512 {
		fail(&formError{http.StatusBadRequest, "invalid_request", "nonce too long"})
		return
	}
	dc, err := p.randToken(32)
	if err != nil {
		fail(&formError{http.StatusInternalServerError, "server_error", "randomness"})
		return
	}
	t := &txn{clientID: cl.ID, nonce: f.Get("nonce"), scope: f.Get("scope"), lang: pickLang(f.Get("ui_locales")),
		device: true, deviceCode: dc, interval: deviceInterval}
	if err := p.startLogin(t); err != nil {
		p.log.Error("idp start device login", "err", err)
		fail(&formError{http.StatusServiceUnavailable, "temporarily_unavailable", "please try again"})
		return
	}
	p.mu.Lock()
	t.lastPoll = t.created // the first poll must also wait an interval
	p.mu.Unlock()
	p.log.Info("idp device login started", "client", cl.ID)
	writeJSON(w, http.StatusOK, map[string]any{
		"device_code":               dc,
		"user_code":                 displayLinkCode(t.linkCode),
		"verification_uri":          p.phoneURL,
		"verification_uri_complete": p.phoneURL + "/link/" + t.linkCode,
		"expires_in":                int(loginTTL / time.Second),
		"interval":                  int(deviceInterval / time.Second),
	})
}

// redeemDevice answers a device_code grant (RFC 8628 §3.5): slow_down when
// polled before the interval (which then grows by 5 s), then pending,
// denied, expired or, once, the tokens.
func (p *Provider) redeemDevice(deviceCode, clientID, accessTok string) (t *txn, code, reason string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.now()
	t, ok := p.devices[deviceCode]
	switch {
	case !ok || t.clientID != clientID:
		return nil, "invalid_grant", "unknown device code"
	case t.redeemed:
		return nil, "invalid_grant", "device code already used"
	case now.Sub(t.lastPoll) < t.interval:
		t.interval += 5 * time.Second
		t.lastPoll = now
		return nil, "slow_down", "polled too often"
	}
	t.lastPoll = now
	switch statusLocked(t, now) {
	case statusExpired:
		return nil, "expired_token", "the device code expired"
	case statusDenied:
		return nil, "access_denied", "the citizen declined"
	case statusPending:
		return nil, "authorization_pending", "waiting for the citizen"
	}
	t.redeemed = true
	p.tokens[accessTok] = &accessToken{citizenID: t.citizenID, clientID: clientID, expires: now.Add(accessTokenTTL)}
	return t, "", ""
}

// serveRevoke is the revocation endpoint (RFC 7009): the access token is
// forgotten if it belongs to the authenticated client; the answer is 200
// either way.
func (p *Provider) serveRevoke(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	f, fe := p.readForm(w, r)
	var cl Client
	if fe == nil {
		cl, fe = p.authenticateClient(r, f, "/revoke")
	}
	if fe != nil {
		p.log.Info("idp revocation rejected", "error", fe.code, "reason", fe.desc)
		writeJSON(w, fe.status, tokenError{Error: fe.code, Description: fe.desc})
		return
	}
	tok := f.Get("token")
	if tok == "" {
		writeJSON(w, http.StatusBadRequest, tokenError{Error: "invalid_request", Description: "token is required"})
		return
	}
	if h := f.Get("token_type_hint"); h != "" && h != "access_token" && h != "refresh_token" {
		writeJSON(w, http.StatusBadRequest, tokenError{Error: "unsupported_token_type"})
		return
	}
	p.mu.Lock()
	at, ok := p.tokens[tok]
	revoked := ok && at.clientID == cl.ID
	if revoked {
		delete(p.tokens, tok)
	}
	p.mu.Unlock()
	p.log.Info("idp revocation", "revoked", revoked)
	w.WriteHeader(http.StatusOK)
}

// RevokeAccessToken forgets an access token (as the revocation endpoint
// does); for the portal and tests.
func (p *Provider) RevokeAccessToken(token string) {
	p.mu.Lock()
	delete(p.tokens, token)
	p.mu.Unlock()
}
