package identity

import (
	"govkiosk/backend-client/api"

	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/cryptosigner"
	"github.com/go-jose/go-jose/v4/jwt"
)

func s256(verifier string) string {
	s := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(s[:])
}

// oauthErr is an OAuth error response body (RFC 6749 §5.2).
type oauthErr struct {
	Code        string `json:"error"`
	Description string `json:"error_description"`
}

// post sends form (plus client authentication) to endpoint and decodes a
// 2xx JSON answer into out. A non-2xx answer is returned as its status and
// OAuth error, not as err; err (wrapping ErrProviderDown) is for transport
// failures, timeouts and unreadable answers.
func (c *Client) post(ctx context.Context, prov *provider, endpoint string, form url.Values, out any) (int, oauthErr, error) {
	form = cloneValues(form)
	if err := c.authenticate(prov, form); err != nil {
		return 0, oauthErr{}, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return 0, oauthErr{}, fmt.Errorf("%w: %v", ErrProviderDown, err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	resp, err := c.hc.Do(req)
	if err != nil {
		return 0, oauthErr{}, fmt.Errorf("%w: %s: %v", ErrProviderDown, endpointName(endpoint), err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse+1))
	if err != nil {
		return 0, oauthErr{}, fmt.Errorf("%w: %s: %v", ErrProviderDown, endpointName(endpoint), err)
	}
	if len(body) > maxResponse {
		return 0, oauthErr{}, fmt.Errorf("%w: %s: response too large", ErrProviderDown, endpointName(endpoint))
	}
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		if out == nil {
			return resp.StatusCode, oauthErr{}, nil
		}
		if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); mt != "application/json" {
			return 0, oauthErr{}, fmt.Errorf("%w: %s: answer is %q, not JSON", ErrProviderDown, endpointName(endpoint), mt)
		}
		if err := json.Unmarshal(body, out); err != nil {
			return 0, oauthErr{}, fmt.Errorf("%w: %s: %v", ErrInvalidToken, endpointName(endpoint), err)
		}
		return resp.StatusCode, oauthErr{}, nil
	}
	var e oauthErr
	_ = json.Unmarshal(body, &e) // an error without a JSON body keeps an empty code
	return resp.StatusCode, e, nil
}

// endpointName is the path of an endpoint URL, for errors (never a query).
func endpointName(endpoint string) string {
	if u, err := url.Parse(endpoint); err == nil {
		return u.Path
	}
	return "endpoint"
}

func cloneValues(v url.Values) url.Values {
	out := make(url.Values, len(v)+2)
	for k, vs := range v {
		out[k] = slices.Clone(vs)
	}
	return out
}

// oauthError maps a refused request to a sentinel.
func oauthError(what string, status int, e oauthErr) error {
	switch {
	case status >= 500 || e.Code == "server_error" || e.Code == "temporarily_unavailable":
		return fmt.Errorf("%w: %s: %d %s", ErrProviderDown, what, status, e.Code)
	case e.Code == "access_denied":
		return fmt.Errorf("%w: %s: %s", ErrDenied, what, e.Code)
	case e.Code == "expired_token":
		return fmt.Errorf("%w: %s: %s", ErrExpired, what, e.Code)
	case e.Code == "invalid_client" || e.Code == "unauthorized_client" || status == http.StatusUnauthorized:
		// The kiosk's own registration or key is wrong: nothing the
		// citizen can fix, the service is unavailable to them.
		return fmt.Errorf("%w: %s: client authentication refused (%s)", ErrProviderDown, what, e.Code)
	default:
		return fmt.Errorf("%w: %s refused: %d %s", ErrInvalidToken, what, status, e.Code)
	}
}

// authenticate adds client authentication to form: client_id alone for a
// public client, or a private_key_jwt assertion (RFC 7523 §2.2).
func (c *Client) authenticate(prov *provider, form url.Values) error {
	form.Set("client_id", c.cfg.ClientID)
	if c.cfg.Signer == nil {
		return nil
	}
	a, err := c.clientAssertion(prov.md.Issuer)
	if err != nil {
		return err
	}
	form.Set("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
	form.Set("client_assertion", a)
	return nil
}

// clientAssertion is a one-minute JWT signed by the kiosk's key, with the
// issuer as audience (accepted by every endpoint, as the FAPI 2.0 and
// RFC 7523bis guidance asks).
func (c *Client) clientAssertion(aud string) (string, error) {
	alg, err := signingAlg(c.cfg.Signer.Public())
	if err != nil {
		return "", err
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: keyedOpaque{cryptosigner.Opaque(c.cfg.Signer), c.cfg.KeyID}},
		(&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		return "", fmt.Errorf("identity: client assertion signer: %w", err)
	}
	jti, err := c.random(1)
	if err != nil {
		return "", err
	}
	now := c.now()
	tok, err := jwt.Signed(signer).Claims(jwt.Claims{
		Issuer: c.cfg.ClientID, Subject: c.cfg.ClientID, Audience: jwt.Audience{aud}, ID: jti[0],
		IssuedAt: jwt.NewNumericDate(now), NotBefore: jwt.NewNumericDate(now), Expiry: jwt.NewNumericDate(now.Add(time.Minute)),
	}).Serialize()
	if err != nil {
		return "", fmt.Errorf("identity: client assertion: %w", err)
	}
	return tok, nil
}

// keyedOpaque gives an opaque signer's public key the configured kid, so
// that it lands in the JWS header.
type keyedOpaque struct {
	jose.OpaqueSigner
	kid string
}

func (k keyedOpaque) Public() *jose.JSONWebKey {
	pk := *k.OpaqueSigner.Public()
	pk.KeyID = k.kid
	return &pk
}

func signingAlg(pub crypto.PublicKey) (jose.SignatureAlgorithm, error) {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		switch k.Curve {
		case elliptic.P256():
			return jose.ES256, nil
		case elliptic.P384():
			return jose.ES384, nil
		case elliptic.P521():
			return jose.ES512, nil
		}
	case ed25519.PublicKey:
		return jose.EdDSA, nil
	case *rsa.PublicKey:
		return jose.PS256, nil
	}
	return "", fmt.Errorf("identity: unsupported client key type %T", pub)
}

// tokenResponse is a token endpoint answer. A refresh_token is read only to
// be dropped: the kiosk never keeps one.
type tokenResponse struct {
	AccessToken  string          `json:"access_token"`
	TokenType    string          `json:"token_type"`
	ExpiresIn    json.Number     `json:"expires_in"`
	IDToken      string          `json:"id_token"`
	RefreshToken json.RawMessage `json:"refresh_token"`
}

// token posts a grant to the token endpoint and returns its answer, or an
// error wrapping a sentinel; refused requests come back as *grantError
// too so that the device flow can read the OAuth error code.
func (c *Client) token(ctx context.Context, prov *provider, form url.Values) (*tokenResponse, error) {
	var tr tokenResponse
	status, e, err := c.post(ctx, prov, prov.md.TokenURL, form, &tr)
	if err != nil {
		return nil, err
	}
	if status != http.StatusOK {
		return nil, &grantError{code: e.Code, err: oauthError("token endpoint", status, e)}
	}
	if tr.RefreshToken != nil {
		tr.RefreshToken = nil
		c.log.Warn("identity provider sent a refresh token; dropped")
	}
	if !strings.EqualFold(tr.TokenType, "bearer") && !strings.EqualFold(tr.TokenType, "dpop") {
		return nil, fmt.Errorf("%w: token_type %q", ErrInvalidToken, tr.TokenType)
	}
	return &tr, nil
}

// grantError is a token endpoint refusal with its OAuth error code.
type grantError struct {
	code string
	err  error
}

func (g *grantError) Error() string { return g.err.Error() }
func (g *grantError) Unwrap() error { return g.err }

type claims struct {
	Name       string           `json:"name"`
	GivenName  string           `json:"given_name"`
	FamilyName string           `json:"family_name"`
	BirthDate  string           `json:"birthdate"`
	Address    json.RawMessage  `json:"address"` // a string, or OIDC's address object
	Phone      string           `json:"phone_number"`
	PID        string           `json:"pid"`
	Profile    string           `json:"id_profile"`
	AZP        string           `json:"azp"`
	IAT        *jwt.NumericDate `json:"iat"`
	AuthTime   *jwt.NumericDate `json:"auth_time"`
	ACR        json.RawMessage  `json:"acr"`
}

// tokenCheck is what an ID token must match beyond the provider's keys.
type tokenCheck struct {
	nonce string
	// nonceOptional: the device grant, where OpenID Connect defines no
	// nonce and providers may drop it (oidc-provider does); a nonce that
	// is present must still match, and the token must be issued after
	// issuedAfter (the device login's start), so an older one cannot be
	// replayed.
	nonceOptional bool
	issuedAfter   time.Time
	// authAfter is when this login began: an auth_time before it (less
	// the clock skew) is an older authentication, e.g. a provider session
	// the previous citizen left. needAuthTime: the login asked for a fresh
	// authentication (prompt=login, max_age=0), so auth_time must be there;
	// otherwise one that is there is still checked.
	authAfter    time.Time
	needAuthTime bool
}

// verify checks the ID token of a token response (signature against the
// JWKS, iss, aud, azp, exp, iat, nonce, at_hash) and maps its claims.
func (c *Client) verify(ctx context.Context, prov *provider, tr *tokenResponse, want tokenCheck) (*Identity, error) {
	if tr.IDToken == "" {
		return nil, fmt.Errorf("%w: token response has no id_token", ErrInvalidToken)
	}
	idt, err := prov.verifier.Verify(ctx, tr.IDToken)
	if err != nil {
		c.log.Warn("identity id token rejected", "err", err)
		var te *oidc.TokenExpiredError
		if errors.As(err, &te) {
			return nil, fmt.Errorf("%w: %w: %v", ErrInvalidToken, ErrExpired, err)
		}
		return nil, fmt.Errorf("%w: %v", ErrInvalidToken, err)
	}
	if (idt.Nonce != "" || !want.nonceOptional) && subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(want.nonce)) != 1 {
		c.log.Warn("identity id token nonce mismatch")
		return nil, fmt.Errorf("%w: nonce", ErrInvalidToken)
	}
	if idt.AccessTokenHash != "" {
		if err := idt.VerifyAccessToken(tr.AccessToken); err != nil {
			return nil, fmt.Errorf("%w: at_hash: %v", ErrInvalidToken, err)
		}
	}
	var cl claims
	if err := idt.Claims(&cl); err != nil {
		return nil, fmt.Errorf("%w: claims: %v", ErrInvalidToken, err)
	}
	if cl.IAT == nil || cl.IAT.Time().After(c.now().Add(maxClockSkew)) {
		return nil, fmt.Errorf("%w: iat missing or in the future", ErrInvalidToken)
	}
	if !want.issuedAfter.IsZero() && cl.IAT.Time().Before(want.issuedAfter.Add(-maxClockSkew)) {
		return nil, fmt.Errorf("%w: ID token issued before this login began", ErrInvalidToken)
	}
	if err := c.checkAuthentication(cl, want); err != nil {
		c.log.Warn("identity id token authentication refused", "err", err)
		return nil, fmt.Errorf("%w: %v", ErrInvalidToken, err)
	}
	if (len(idt.Audience) > 1 || cl.AZP != "") && cl.AZP != c.cfg.ClientID {
		return nil, fmt.Errorf("%w: azp", ErrInvalidToken)
	}
	profile := cl.Profile
	if profile == "" {
		profile = inferProfile(cl.PID)
	}
	if err := checkCitizenID(profile, cl.PID); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidToken, err)
	}
	addr, err := address(cl.Address)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidToken, err)
	}
	id := &Identity{
		CitizenID: cl.PID, Name: cl.Name, GivenName: cl.GivenName, FamilyName: cl.FamilyName,
		BirthDate: cl.BirthDate, Address: addr, Phone: cl.Phone, Profile: profile,
		AccessToken: tr.AccessToken, idToken: tr.IDToken,
	}
	if n, err := tr.ExpiresIn.Int64(); err == nil && n > 0 {
		id.Expiry = c.now().Add(time.Duration(n) * time.Second)
	}
	return id, nil
}

// checkAuthentication checks when and how strongly the citizen was
// authenticated: auth_time within this login (not before it began, not in
// the future) and acr among Config.ACRValues when they are set.
func (c *Client) checkAuthentication(cl claims, want tokenCheck) error {
	switch {
	case cl.AuthTime == nil && want.needAuthTime:
		return errors.New("no auth_time although a fresh login was asked for")
	case cl.AuthTime == nil:
	case cl.AuthTime.Time().Before(want.authAfter.Add(-maxClockSkew)):
		return fmt.Errorf("auth_time %s is before this login began", cl.AuthTime.Time().UTC().Format(time.RFC3339))
	case cl.AuthTime.Time().After(c.now().Add(maxClockSkew)):
		return errors.New("auth_time in the future")
	}
	if len(c.cfg.ACRValues) == 0 {
		return nil
	}
	var acr string
	if len(cl.ACR) == 0 || json.Unmarshal(cl.ACR, &acr) != nil || !slices.Contains(c.cfg.ACRValues, acr) {
		return fmt.Errorf("acr %s is not one of the required %v", cl.ACR, c.cfg.ACRValues)
	}
	return nil
}

// address reads OIDC's address claim: a plain string (our provider) or the
// standard object, whose "formatted" member is used.
func address(raw json.RawMessage) (string, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return "", nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		return s, nil
	}
	var obj struct {
		Formatted string `json:"formatted"`
	}
	if err := json.Unmarshal(raw, &obj); err != nil {
		return "", errors.New("address claim is neither a string nor an address object")
	}
	return obj.Formatted, nil
}

// inferProfile picks the profile of a provider that does not name one (a
// generic provider): a 13-digit ID is Thai, a 12-digit one Vietnamese.
func inferProfile(pid string) string {
	switch {
	case allDigits(pid, 13):
		return "th"
	case allDigits(pid, 12):
		return "vn"
	}
	return ""
}

func checkCitizenID(profile, id string) error {
	switch profile {
	case "th":
		if !ValidThaiID(id) {
			return errors.New("citizen ID fails the Thai checksum")
		}
	case "vn":
		if !allDigits(id, 12) {
			return errors.New("citizen ID must be 12 digits for a Vietnamese profile")
		}
	default:
		return fmt.Errorf("unknown id_profile %q", profile)
	}
	return nil
}

// ValidThaiID reports whether id is a well-formed Thai citizen ID (13
// digits, mod-11 check digit).
func ValidThaiID(id string) bool { return api.ValidThaiID(id) }

func allDigits(s string, n int) bool { return api.AllDigits(s, n) }
