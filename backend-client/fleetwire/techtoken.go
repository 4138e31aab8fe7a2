package fleetwire

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/fxamacker/cbor/v2"
)

// TechTokenPrefix starts a technician token's QR payload:
//
//	GKTECH1:<base64url(CBOR claims)>.<base64url(Ed25519 signature)>
//
// The signature covers everything before the dot, prefix included, so a
// token cannot be moved to another format version.
const TechTokenPrefix = "GKTECH1:"

// MaxTechTokenLife is the longest a technician token may be valid for; a
// verifier refuses a longer one even when it is correctly signed.
const MaxTechTokenLife = 15 * time.Minute

// TechClaims is what a technician token says: which technician may open
// service mode on the kiosks of which office, until when. ID is random and
// unique per token, so a kiosk can refuse a token it has already seen.
type TechClaims struct {
	ID         string `cbor:"1,keyasint"`
	Office     string `cbor:"2,keyasint"`
	Technician string `cbor:"3,keyasint"` // the technician's staff id, not their name
	IssuedAt   int64  `cbor:"4,keyasint"` // Unix seconds
	Expires    int64  `cbor:"5,keyasint"` // Unix seconds
}

// Errors of ParseTechToken and TechClaims.Check.
var (
	ErrTechMalformed = errors.New("not a technician token")
	ErrTechSignature = errors.New("technician token signature does not verify")
	ErrTechExpired   = errors.New("technician token expired")
	ErrTechNotYet    = errors.New("technician token not valid yet")
	ErrTechOffice    = errors.New("technician token is for another office")
	ErrTechTooLong   = errors.New("technician token lives longer than allowed")
)

// IsTechToken says whether data looks like a technician token (without
// verifying it).
func IsTechToken(data []byte) bool { return bytes.HasPrefix(data, []byte(TechTokenPrefix)) }

// EncodeTechToken signs c with key and returns the QR payload.
func EncodeTechToken(key ed25519.PrivateKey, c TechClaims) (string, error) {
	if c.ID == "" || c.Office == "" || c.Technician == "" || c.Expires <= c.IssuedAt {
		return "", fmt.Errorf("technician token: id, office, technician and a positive lifetime are required")
	}
	body, err := cbor.Marshal(c)
	if err != nil {
		return "", err
	}
	signed := TechTokenPrefix + base64.RawURLEncoding.EncodeToString(body)
	sig := ed25519.Sign(key, []byte(signed))
	return signed + "." + base64.RawURLEncoding.EncodeToString(sig), nil
}

// ParseTechToken checks data's signature against pub and returns its
// claims. It does not check time or office: see TechClaims.Check.
func ParseTechToken(pub ed25519.PublicKey, data []byte) (TechClaims, error) {
	var c TechClaims
	s := string(data)
	if !strings.HasPrefix(s, TechTokenPrefix) || len(s) > 1024 {
		return c, ErrTechMalformed
	}
	signed, sigText, ok := strings.Cut(s, ".")
	if !ok {
		return c, ErrTechMalformed
	}
	sig, err := base64.RawURLEncoding.DecodeString(sigText)
	if err != nil || len(sig) != ed25519.SignatureSize {
		return c, ErrTechMalformed
	}
	if len(pub) != ed25519.PublicKeySize || !ed25519.Verify(pub, []byte(signed), sig) {
		return c, ErrTechSignature
	}
	body, err := base64.RawURLEncoding.DecodeString(strings.TrimPrefix(signed, TechTokenPrefix))
	if err != nil {
		return c, ErrTechMalformed
	}
	if err := cbor.Unmarshal(body, &c); err != nil || c.ID == "" || c.Office == "" || c.Technician == "" {
		return TechClaims{}, ErrTechMalformed
	}
	return c, nil
}

// Check says whether c admits a technician at office now, allowing skew
// of clock difference between the fleet and the kiosk.
func (c TechClaims) Check(office string, now time.Time, skew time.Duration) error {
	switch {
	case c.Expires-c.IssuedAt > int64(MaxTechTokenLife/time.Second):
		return ErrTechTooLong
	case now.Add(-skew).Unix() >= c.Expires:
		return ErrTechExpired
	case now.Add(skew).Unix() < c.IssuedAt:
		return ErrTechNotYet
	case c.Office != office:
		return ErrTechOffice
	}
	return nil
}

// TechKeyPrefix starts the text form of the fleet's technician-token
// public key, as kiosk.json's fleet.techKey pins it.
const TechKeyPrefix = "ed25519:"

// TechKeyText is pub in its text form.
func TechKeyText(pub ed25519.PublicKey) string {
	return TechKeyPrefix + base64.StdEncoding.EncodeToString(pub)
}

// ParseTechKey reads TechKeyText's form.
func ParseTechKey(s string) (ed25519.PublicKey, error) {
	b64, ok := strings.CutPrefix(strings.TrimSpace(s), TechKeyPrefix)
	if !ok {
		return nil, fmt.Errorf("technician key: must start with %s", TechKeyPrefix)
	}
	b, err := base64.StdEncoding.DecodeString(b64)
	if err != nil || len(b) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("technician key: not a base64 Ed25519 public key")
	}
	return ed25519.PublicKey(b), nil
}
