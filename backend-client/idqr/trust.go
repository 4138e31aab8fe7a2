package idqr

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/veraison/go-cose"
)

// TrustedKey is one issuer signing key.
type TrustedKey struct {
	// KID names the key; it is the COSE kid header, as bytes of this string.
	KID string
	// Issuer, if set, is the only iss a token under this key may carry.
	Issuer string
	// Key is a P-256 or P-384 *ecdsa.PublicKey (ES256, ES384) or an
	// ed25519.PublicKey (EdDSA).
	Key crypto.PublicKey
}

type trusted struct {
	TrustedKey
	alg      cose.Algorithm
	verifier cose.Verifier
}

// TrustList is the set of issuer keys the kiosk accepts, by key ID. It
// holds several keys at once so an issuer can rotate: ship the new key,
// start signing with it, drop the old one when its tokens have expired.
// A TrustList is immutable and safe for concurrent use.
type TrustList struct {
	keys map[string]trusted
}

// NewTrustList trusts each key under its key ID, for any issuer.
func NewTrustList(keys map[string]crypto.PublicKey) (*TrustList, error) {
	list := make([]TrustedKey, 0, len(keys))
	for kid, k := range keys {
		list = append(list, TrustedKey{KID: kid, Key: k})
	}
	return NewTrustListKeys(list...)
}

// NewTrustListKeys trusts the given keys; a key with an Issuer accepts only
// tokens with that iss. Key IDs must be unique and non-empty.
func NewTrustListKeys(keys ...TrustedKey) (*TrustList, error) {
	t := &TrustList{keys: make(map[string]trusted, len(keys))}
	for _, k := range keys {
		if k.KID == "" {
			return nil, errors.New("idqr: trust list: empty key ID")
		}
		if _, dup := t.keys[k.KID]; dup {
			return nil, fmt.Errorf("idqr: trust list: key ID %q twice", k.KID)
		}
		alg, err := algorithmFor(k.Key)
		if err != nil {
			return nil, fmt.Errorf("idqr: trust list: key %q: %w", k.KID, err)
		}
		v, err := cose.NewVerifier(alg, k.Key)
		if err != nil {
			return nil, fmt.Errorf("idqr: trust list: key %q: %w", k.KID, err)
		}
		t.keys[k.KID] = trusted{TrustedKey: k, alg: alg, verifier: v}
	}
	return t, nil
}

// KeyIDs lists the trusted key IDs, sorted (for diagnostics; key IDs are
// not personal data).
func (t *TrustList) KeyIDs() []string {
	if t == nil {
		return nil
	}
	ids := make([]string, 0, len(t.keys))
	for id := range t.keys {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// lookup finds the key for a kid header.
func (t *TrustList) lookup(kid []byte) (trusted, bool) {
	if t == nil {
		return trusted{}, false
	}
	k, ok := t.keys[string(kid)]
	return k, ok
}

// algorithmFor is the one COSE algorithm a key may verify: the key type
// decides, never the token.
func algorithmFor(k crypto.PublicKey) (cose.Algorithm, error) {
	switch k := k.(type) {
	case *ecdsa.PublicKey:
		if k == nil {
			return 0, errors.New("nil ECDSA key")
		}
		switch k.Curve {
		case elliptic.P256():
			return cose.AlgorithmES256, nil
		case elliptic.P384():
			return cose.AlgorithmES384, nil
		}
		return 0, fmt.Errorf("unsupported curve %s", k.Curve.Params().Name)
	case ed25519.PublicKey:
		if len(k) != ed25519.PublicKeySize {
			return 0, errors.New("bad Ed25519 key length")
		}
		return cose.AlgorithmEdDSA, nil
	}
	return 0, fmt.Errorf("unsupported key type %T (want ECDSA P-256/P-384 or Ed25519)", k)
}

// jwk is the subset of RFC 7517 that a trust list uses, plus "iss".
type jwk struct {
	Kty string `json:"kty"`
	Crv string `json:"crv"`
	Kid string `json:"kid"`
	X   string `json:"x"`
	Y   string `json:"y,omitempty"`
	D   string `json:"d,omitempty"`
	Alg string `json:"alg,omitempty"`
	Use string `json:"use,omitempty"`
	Iss string `json:"iss,omitempty"`
}

type jwks struct {
	Keys []jwk `json:"keys"`
}

// ParseTrustListJSON reads a trust list in JWKS form (RFC 7517), as the
// signed kiosk configuration carries it:
//
//	{"keys": [
//	  {"kty": "EC", "crv": "P-256", "kid": "th-2025", "x": "…", "y": "…",
//	   "alg": "ES256", "use": "sig", "iss": "TH-DOPA"},
//	  {"kty": "OKP", "crv": "Ed25519", "kid": "vn-1", "x": "…"}
//	]}
//
// x and y are unpadded base64url. "alg" and "use" are optional but must
// agree when present; "iss" (an extension) binds the key to one issuer.
// A private key member ("d") is refused, as is any unsupported key:
// better a clear error at configuration time than a silently shorter list.
func ParseTrustListJSON(b []byte) (*TrustList, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	var set jwks
	if err := dec.Decode(&set); err != nil {
		return nil, fmt.Errorf("idqr: trust list JSON: %w", err)
	}
	if dec.More() {
		return nil, errors.New("idqr: trust list JSON: trailing data")
	}
	keys := make([]TrustedKey, 0, len(set.Keys))
	for i, j := range set.Keys {
		k, err := j.publicKey()
		if err != nil {
			return nil, fmt.Errorf("idqr: trust list JSON: key %d (%q): %w", i, j.Kid, err)
		}
		keys = append(keys, TrustedKey{KID: j.Kid, Issuer: j.Iss, Key: k})
	}
	return NewTrustListKeys(keys...)
}

func (j jwk) publicKey() (crypto.PublicKey, error) {
	if j.D != "" {
		return nil, errors.New("private key material in a trust list")
	}
	if j.Use != "" && j.Use != "sig" {
		return nil, fmt.Errorf("use %q, want sig", j.Use)
	}
	b64 := base64.RawURLEncoding.Strict()
	x, err := b64.DecodeString(j.X)
	if err != nil {
		return nil, fmt.Errorf("x: %w", err)
	}
	var (
		key crypto.PublicKey
		alg string
	)
	switch {
	case j.Kty == "EC" && (j.Crv == "P-256" || j.Crv == "P-384"):
		curve, size := elliptic.P256(), 32
		alg = "ES256"
		if j.Crv == "P-384" {
			curve, size, alg = elliptic.P384(), 48, "ES384"
		}
		y, err := b64.DecodeString(j.Y)
		if err != nil {
			return nil, fmt.Errorf("y: %w", err)
		}
		if len(x) != size || len(y) != size {
			return nil, fmt.Errorf("%s coordinates must be %d bytes", j.Crv, size)
		}
		// ParseUncompressedPublicKey checks that the point is on the curve.
		pk, err := ecdsa.ParseUncompressedPublicKey(curve, append(append([]byte{4}, x...), y...))
		if err != nil {
			return nil, err
		}
		key = pk
	case j.Kty == "OKP" && j.Crv == "Ed25519":
		if len(x) != ed25519.PublicKeySize {
			return nil, fmt.Errorf("Ed25519 key must be %d bytes", ed25519.PublicKeySize)
		}
		if j.Y != "" {
			return nil, errors.New("y on an OKP key")
		}
		key, alg = ed25519.PublicKey(x), "EdDSA"
	default:
		return nil, fmt.Errorf("unsupported key kty %q crv %q", j.Kty, j.Crv)
	}
	if j.Alg != "" && j.Alg != alg {
		return nil, fmt.Errorf("alg %q does not fit a %s key (want %s)", j.Alg, j.Crv, alg)
	}
	return key, nil
}

// MarshalJSON writes the trust list in the form ParseTrustListJSON reads,
// keys sorted by ID.
func (t *TrustList) MarshalJSON() ([]byte, error) {
	set := jwks{Keys: []jwk{}}
	for _, id := range t.KeyIDs() {
		k := t.keys[id]
		j := jwk{Kid: id, Iss: k.Issuer, Use: "sig", Alg: k.alg.String()}
		switch pk := k.Key.(type) {
		case *ecdsa.PublicKey:
			b, err := pk.Bytes()
			if err != nil {
				return nil, fmt.Errorf("idqr: key %q: %w", id, err)
			}
			n := (len(b) - 1) / 2
			j.Kty, j.Crv = "EC", pk.Curve.Params().Name
			j.X = base64.RawURLEncoding.EncodeToString(b[1 : 1+n])
			j.Y = base64.RawURLEncoding.EncodeToString(b[1+n:])
		case ed25519.PublicKey:
			j.Kty, j.Crv = "OKP", "Ed25519"
			j.X = base64.RawURLEncoding.EncodeToString(pk)
		}
		set.Keys = append(set.Keys, j)
	}
	return json.Marshal(set)
}
