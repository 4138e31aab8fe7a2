package provisioning

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"filippo.io/age"

	"govkiosk/kiosk/atomicfile"
)

// PortalAgeFile holds the portal's age X25519 recipient ("age1…"), to which
// the kiosk encrypts application packets at rest and on the wire. The
// kiosk has no matching identity: it cannot decrypt what it stored.
const PortalAgeFile = "portal-age.txt"

// ErrNoPortalAgeRecipient means the data directory has no portal age
// recipient: the kiosk was provisioned before the portal handed one out and
// must be provisioned again.
var ErrNoPortalAgeRecipient = errors.New("no portal age recipient stored (provision the kiosk again)")

// SavePortalAgeRecipient checks recipient and stores it in
// dataDir/portal-age.txt atomically.
func SavePortalAgeRecipient(dataDir, recipient string) error {
	recipient = strings.TrimSpace(recipient)
	if _, err := age.ParseX25519Recipient(recipient); err != nil {
		return fmt.Errorf("portal age recipient: %w", err)
	}
	if err := atomicfile.Write(filepath.Join(dataDir, PortalAgeFile), []byte(recipient+"\n"), 0o644); err != nil {
		return fmt.Errorf("store portal age recipient: %w", err)
	}
	return nil
}

// LoadPortalAgeRecipient returns the portal's age recipient stored at
// enrollment, checked; ErrNoPortalAgeRecipient if there is none.
func LoadPortalAgeRecipient(dataDir string) (string, error) {
	path := filepath.Join(dataDir, PortalAgeFile)
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return "", ErrNoPortalAgeRecipient
	}
	if err != nil {
		return "", fmt.Errorf("read portal age recipient: %w", err)
	}
	r := strings.TrimSpace(string(b))
	if _, err := age.ParseX25519Recipient(r); err != nil {
		return "", fmt.Errorf("portal age recipient %s: %w", path, err)
	}
	return r, nil
}
