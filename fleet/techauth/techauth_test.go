package techauth

import (
	"errors"
	"path/filepath"
	"testing"
	"time"

	"govkiosk/backend-client/fleetwire"
)

func TestIssueRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tech.key")
	now := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
	iss, err := Open(path, func() time.Time { return now }, nil)
	if err != nil {
		t.Fatal(err)
	}
	p, c, err := iss.Issue("QN-01", "T-0042", 0)
	if err != nil {
		t.Fatal(err)
	}
	if c.Expires-c.IssuedAt != int64(DefaultLife/time.Second) || len(c.ID) != 32 {
		t.Errorf("claims %+v", c)
	}
	// The key survives a restart: a kiosk pinning it keeps trusting tokens.
	again, err := Open(path, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if again.PublicKeyText() != iss.PublicKeyText() {
		t.Fatal("the key changed on reopening")
	}
	pub, err := ParsePublicKey(again.PublicKeyText())
	if err != nil {
		t.Fatal(err)
	}
	got, err := fleetwire.ParseTechToken(pub, []byte(p))
	if err != nil || got != c {
		t.Fatalf("parsed %+v, %v; issued %+v", got, err, c)
	}
	if err := got.Check("QN-01", now.Add(9*time.Minute), 0); err != nil {
		t.Errorf("within its life: %v", err)
	}
	if err := got.Check("QN-01", now.Add(11*time.Minute), 0); !errors.Is(err, fleetwire.ErrTechExpired) {
		t.Errorf("after its life: %v", err)
	}
	p2, c2, err := iss.Issue("QN-01", "T-0042", 0)
	if err != nil || p2 == p || c2.ID == c.ID {
		t.Error("two tokens share an id")
	}
}

func TestIssueRefuses(t *testing.T) {
	iss, err := Open(filepath.Join(t.TempDir(), "tech.key"), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := iss.Issue("QN-01", "T-1", time.Hour); err == nil {
		t.Error("an hour-long token was issued")
	}
	if _, _, err := iss.Issue("", "T-1", 0); err == nil {
		t.Error("a token without an office was issued")
	}
	if _, err := ParsePublicKey("ed25519:AAAA"); err == nil {
		t.Error("a short key was accepted")
	}
}
