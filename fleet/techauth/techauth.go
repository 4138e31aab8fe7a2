// Package techauth issues technician tokens: short-lived credentials,
// signed by the fleet service with its own Ed25519 key, that a field
// technician shows to a kiosk's QR reader to enter service mode. A token
// names one office and one technician (by staff id), lives minutes
// (fleetwire.MaxTechTokenLife at most) and is single-use at each kiosk,
// which remembers the token ids it has accepted until they expire.
//
// The kiosk pins the fleet's public key (PublicKeyText, the value of
// kiosk.json's fleet.techKey) and verifies offline.
package techauth

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strings"
	"time"

	"govkiosk/backend-client/fleetwire"
	"govkiosk/fleet/keyfile"
)

// DefaultLife is how long a token works unless the issuer is told otherwise.
const DefaultLife = 10 * time.Minute

// Issuer signs technician tokens.
type Issuer struct {
	key  ed25519.PrivateKey
	now  func() time.Time
	rand io.Reader
}

// New returns an issuer signing with key; now and rnd default to the wall
// clock and crypto/rand.
func New(key ed25519.PrivateKey, now func() time.Time, rnd io.Reader) *Issuer {
	if now == nil {
		now = time.Now
	}
	if rnd == nil {
		rnd = rand.Reader
	}
	return &Issuer{key: key, now: now, rand: rnd}
}

// Open returns an issuer whose key is in path (PKCS #8 PEM), creating the
// key on first use.
func Open(path string, now func() time.Time, rnd io.Reader) (*Issuer, error) {
	key, err := LoadOrCreateKey(path, rnd)
	if err != nil {
		return nil, err
	}
	return New(key, now, rnd), nil
}

// Issue returns the QR payload of a token for technician at office,
// valid for life (DefaultLife when zero), and the token's claims.
func (i *Issuer) Issue(office, technician string, life time.Duration) (string, fleetwire.TechClaims, error) {
	if life == 0 {
		life = DefaultLife
	}
	if life < 0 || life > fleetwire.MaxTechTokenLife {
		return "", fleetwire.TechClaims{}, fmt.Errorf("technician token life %s: must be at most %s", life, fleetwire.MaxTechTokenLife)
	}
	office, technician = strings.TrimSpace(office), strings.TrimSpace(technician)
	if office == "" || technician == "" {
		return "", fleetwire.TechClaims{}, errors.New("technician token: office and technician id are required")
	}
	id := make([]byte, 16)
	if _, err := io.ReadFull(i.rand, id); err != nil {
		return "", fleetwire.TechClaims{}, err
	}
	now := i.now()
	c := fleetwire.TechClaims{
		ID: hex.EncodeToString(id), Office: office, Technician: technician,
		IssuedAt: now.Unix(), Expires: now.Add(life).Unix(),
	}
	p, err := fleetwire.EncodeTechToken(i.key, c)
	return p, c, err
}

// PublicKeyText is the issuer's public key as kiosks pin it
// (fleetwire.TechKeyText).
func (i *Issuer) PublicKeyText() string {
	return fleetwire.TechKeyText(i.key.Public().(ed25519.PublicKey))
}

// ParsePublicKey reads PublicKeyText's form.
func ParsePublicKey(s string) (ed25519.PublicKey, error) { return fleetwire.ParseTechKey(s) }

// LoadOrCreateKey reads the Ed25519 key in path, or creates it (mode 0600)
// when the file does not exist.
func LoadOrCreateKey(path string, rnd io.Reader) (ed25519.PrivateKey, error) {
	key, err := keyfile.Read(path)
	if errors.Is(err, fs.ErrNotExist) {
		if rnd == nil {
			rnd = rand.Reader
		}
		if _, key, err = ed25519.GenerateKey(rnd); err != nil {
			return nil, err
		}
		err = keyfile.Create(path, key)
	}
	if err != nil {
		return nil, fmt.Errorf("technician key: %w", err)
	}
	return key, nil
}
