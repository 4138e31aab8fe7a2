package idp

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/go-jose/go-jose/v4"
)

const signingAlg = jose.ES256

// ACRSubstantial is the authentication context class (OIDC Core §2 acr) of
// every login here, as the eIDAS level of assurance: the citizen approved
// it in the ID app on their own phone, an enrolled device they unlock
// (possession and knowledge or biometrics). A relying party that needs it
// asks for it with acr_values and checks the acr of the ID token.
const ACRSubstantial = "http://eidas.europa.eu/LoA/substantial"

type signingKey struct {
	kid    string
	pub    *ecdsa.PublicKey
	signer jose.Signer
}

func newSigningKey(r io.Reader) (*signingKey, error) {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), r)
	if err != nil {
		return nil, err
	}
	pub := jose.JSONWebKey{Key: &priv.PublicKey}
	tp, err := pub.Thumbprint(crypto.SHA256)
	if err != nil {
		return nil, err
	}
	kid := base64.RawURLEncoding.EncodeToString(tp)
	signer, err := jose.NewSigner(
		jose.SigningKey{Algorithm: signingAlg, Key: jose.JSONWebKey{Key: priv, KeyID: kid, Algorithm: string(signingAlg), Use: "sig"}},
		(&jose.SignerOptions{}).WithType("JWT"),
	)
	if err != nil {
		return nil, err
	}
	return &signingKey{kid: kid, pub: &priv.PublicKey, signer: signer}, nil
}

// jwks returns the public keys, current last.
func (p *Provider) jwks() jose.JSONWebKeySet {
	p.mu.Lock()
	defer p.mu.Unlock()
	var set jose.JSONWebKeySet
	for _, k := range p.keys {
		set.Keys = append(set.Keys, jose.JSONWebKey{Key: k.pub, KeyID: k.kid, Algorithm: string(signingAlg), Use: "sig"})
	}
	return set
}

// sign signs claims with the current key as a compact JWS.
func (p *Provider) sign(claims map[string]any) (string, error) {
	p.mu.Lock()
	k := p.keys[len(p.keys)-1]
	p.mu.Unlock()
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	jws, err := k.signer.Sign(payload)
	if err != nil {
		return "", fmt.Errorf("sign: %w", err)
	}
	return jws.CompactSerialize()
}

// subject is the stable pseudonymous subject of a citizen at this issuer:
// it never reveals the ID number directly. (A test provider; a real one
// would key this with a secret, since ID numbers have little entropy.)
func (p *Provider) subject(citizenID string) string {
	m := hmac.New(sha256.New, []byte("govkiosk test idp subject v1|"+p.issuer))
	m.Write([]byte(citizenID))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil)[:18])
}

// idTokenClaims are the claims of the ID token for an approved login.
func (p *Provider) idTokenClaims(t *txn, c Citizen, accessToken string, now time.Time) map[string]any {
	return map[string]any{
		"iss":          p.issuer,
		"sub":          p.subjectFn(c.ID),
		"aud":          t.clientID,
		"azp":          t.clientID,
		"exp":          now.Add(idTokenTTL).Unix(),
		"iat":          now.Unix(),
		"auth_time":    t.authTime.Unix(),
		"acr":          ACRSubstantial,
		"nonce":        t.nonce,
		"at_hash":      atHash(accessToken),
		"name":         c.Name,
		"given_name":   c.GivenName,
		"family_name":  c.FamilyName,
		"birthdate":    c.BirthDate,
		"address":      c.Address,
		"phone_number": c.Phone,
		"pid":          c.ID,
		"id_profile":   c.Profile,
	}
}

func (p *Provider) userinfoClaims(c Citizen) map[string]any {
	return map[string]any{
		"sub":          p.subjectFn(c.ID),
		"name":         c.Name,
		"given_name":   c.GivenName,
		"family_name":  c.FamilyName,
		"birthdate":    c.BirthDate,
		"address":      c.Address,
		"phone_number": c.Phone,
		"pid":          c.ID,
		"id_profile":   c.Profile,
	}
}

// atHash is OIDC Core §3.1.3.6's at_hash for ES256: the left half of the
// SHA-256 of the access token, base64url.
func atHash(accessToken string) string {
	s := sha256.Sum256([]byte(accessToken))
	return base64.RawURLEncoding.EncodeToString(s[:16])
}
