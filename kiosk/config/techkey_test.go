package config

import (
	"crypto/ed25519"
	"crypto/rand"
	"strings"
	"testing"

	"govkiosk/backend-client/fleetwire"
)

// TestTechKeyPinned: kiosk.json's fleet.techKey is read as the fleet's
// technician-token key; anything else stops start-up with its name.
func TestTechKeyPinned(t *testing.T) {
	pub, _, _ := ed25519.GenerateKey(rand.Reader)
	key := fleetwire.TechKeyText(pub)
	c, err := Load(write(t, strings.Replace(good, `"idleTimeout"`, `"fleet":{"techKey":"`+key+`"},"idleTimeout"`, 1)))
	if err != nil {
		t.Fatal(err)
	}
	if got, err := fleetwire.ParseTechKey(c.Fleet.TechKey); err != nil || !got.Equal(pub) {
		t.Fatalf("techKey read as %x, %v", got, err)
	}
	for name, bad := range map[string]string{
		"no prefix": "AAAA",
		"short":     "ed25519:AAAA",
		"not b64":   "ed25519:!!!",
	} {
		_, err := Load(write(t, strings.Replace(good, `"idleTimeout"`, `"fleet":{"techKey":"`+bad+`"},"idleTimeout"`, 1)))
		if err == nil || !strings.Contains(err.Error(), "techKey") {
			t.Errorf("%s: %v, want a techKey error", name, err)
		}
	}
}
