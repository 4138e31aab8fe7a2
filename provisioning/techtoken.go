package provisioning

import (
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sync"
	"time"

	"govkiosk/backend-client/fleetwire"
	"govkiosk/kiosk/atomicfile"
)

// ErrTechReplayed is a technician token this kiosk has already accepted.
var ErrTechReplayed = errors.New("technician token already used at this kiosk")

// TechClockSkew is how far the kiosk's clock may be from the fleet's.
const TechClockSkew = time.Minute

// TechVerifier checks technician tokens at the kiosk against the fleet's
// pinned public key and the kiosk's office, and remembers the ids of the
// tokens it accepted (in a file, until they expire) so each is used once.
type TechVerifier struct {
	pub    ed25519.PublicKey
	office string
	now    func() time.Time
	path   string // the used token ids; "" keeps them in memory only

	mu   sync.Mutex
	used map[string]int64 // token id → its expiry (Unix seconds)
}

// NewTechVerifier returns a verifier for office trusting pub. usedPath
// keeps the accepted token ids across restarts.
func NewTechVerifier(pub ed25519.PublicKey, office, usedPath string, now func() time.Time) (*TechVerifier, error) {
	if len(pub) != ed25519.PublicKeySize {
		return nil, errors.New("technician tokens: no fleet key pinned")
	}
	if now == nil {
		now = time.Now
	}
	v := &TechVerifier{pub: pub, office: office, now: now, path: usedPath, used: map[string]int64{}}
	if usedPath != "" {
		b, err := os.ReadFile(usedPath)
		switch {
		case errors.Is(err, fs.ErrNotExist):
		case err != nil:
			return nil, fmt.Errorf("technician tokens: %w", err)
		default:
			if err := json.Unmarshal(b, &v.used); err != nil {
				return nil, fmt.Errorf("technician tokens: %s: %w", usedPath, err)
			}
		}
	}
	return v, nil
}

// Verify checks data and, when it admits a technician, uses it up. Its
// errors wrap fleetwire.ErrTech* or ErrTechReplayed.
func (v *TechVerifier) Verify(data []byte) (fleetwire.TechClaims, error) {
	c, err := fleetwire.ParseTechToken(v.pub, data)
	if err != nil {
		return fleetwire.TechClaims{}, err
	}
	now := v.now()
	if err := c.Check(v.office, now, TechClockSkew); err != nil {
		return fleetwire.TechClaims{}, err
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if _, seen := v.used[c.ID]; seen {
		return fleetwire.TechClaims{}, ErrTechReplayed
	}
	for id, exp := range v.used {
		if now.Add(-TechClockSkew).Unix() >= exp {
			delete(v.used, id) // expired: refused by Check anyway
		}
	}
	v.used[c.ID] = c.Expires
	if v.path != "" {
		b, _ := json.Marshal(v.used)
		if err := atomicfile.Write(v.path, b, 0o600); err != nil {
			delete(v.used, c.ID)
			return fleetwire.TechClaims{}, fmt.Errorf("technician tokens: remembering the token: %w", err)
		}
	}
	return c, nil
}
