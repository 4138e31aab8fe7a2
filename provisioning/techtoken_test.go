package provisioning

import (
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"govkiosk/backend-client/fleetwire"
)

func techToken(t *testing.T, key ed25519.PrivateKey, id, office string, iat time.Time, life time.Duration) []byte {
	t.Helper()
	p, err := fleetwire.EncodeTechToken(key, fleetwire.TechClaims{ID: id, Office: office, Technician: "T-0042", IssuedAt: iat.Unix(), Expires: iat.Add(life).Unix()})
	if err != nil {
		t.Fatal(err)
	}
	return []byte(p)
}

func TestTechVerifierRefuses(t *testing.T) {
	pub, key, _ := ed25519.GenerateKey(rand.Reader)
	_, other, _ := ed25519.GenerateKey(rand.Reader)
	now := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
	good := techToken(t, key, "a1", "QN-01", now.Add(-time.Minute), 10*time.Minute)
	// A token whose claims were edited after signing.
	tampered := []byte(strings.Replace(string(techToken(t, key, "a2", "QN-02", now, 10*time.Minute)), ".", "A.", 1))
	cases := []struct {
		name  string
		token []byte
		want  error
	}{
		{"expired", techToken(t, key, "b1", "QN-01", now.Add(-20*time.Minute), 10*time.Minute), fleetwire.ErrTechExpired},
		{"not yet valid", techToken(t, key, "b2", "QN-01", now.Add(5*time.Minute), 10*time.Minute), fleetwire.ErrTechNotYet},
		{"wrong office", techToken(t, key, "b3", "QN-02", now, 10*time.Minute), fleetwire.ErrTechOffice},
		{"forged signature", techToken(t, other, "b4", "QN-01", now, 10*time.Minute), fleetwire.ErrTechSignature},
		{"edited claims", tampered, fleetwire.ErrTechSignature},
		{"too long-lived", techToken(t, key, "b5", "QN-01", now, 2*time.Hour), fleetwire.ErrTechTooLong},
		{"not a token", []byte("https://portal.example/track/X"), fleetwire.ErrTechMalformed},
		{"truncated", good[:len(good)-10], fleetwire.ErrTechMalformed},
	}
	v, err := NewTechVerifier(pub, "QN-01", "", func() time.Time { return now })
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range cases {
		if _, err := v.Verify(tc.token); !errors.Is(err, tc.want) {
			t.Errorf("%s: Verify = %v, want %v", tc.name, err, tc.want)
		}
	}
	c, err := v.Verify(good)
	if err != nil || c.Technician != "T-0042" || c.Office != "QN-01" {
		t.Fatalf("good token: %+v, %v", c, err)
	}
}

func TestTechVerifierSingleUseAcrossRestart(t *testing.T) {
	pub, key, _ := ed25519.GenerateKey(rand.Reader)
	now := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	used := filepath.Join(t.TempDir(), "tech-used.json")
	tok := techToken(t, key, "c1", "QN-01", now, 10*time.Minute)
	v, err := NewTechVerifier(pub, "QN-01", used, clock)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(tok); err != nil {
		t.Fatalf("first use: %v", err)
	}
	if _, err := v.Verify(tok); !errors.Is(err, ErrTechReplayed) {
		t.Fatalf("second use: %v, want ErrTechReplayed", err)
	}
	// The kiosk restarts: the used id is still remembered.
	v2, err := NewTechVerifier(pub, "QN-01", used, clock)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v2.Verify(tok); !errors.Is(err, ErrTechReplayed) {
		t.Fatalf("after restart: %v, want ErrTechReplayed", err)
	}
	// Another fresh token still works.
	if _, err := v2.Verify(techToken(t, key, "c2", "QN-01", now, 10*time.Minute)); err != nil {
		t.Fatalf("fresh token: %v", err)
	}
}

func TestTechVerifierNeedsPinnedKey(t *testing.T) {
	if _, err := NewTechVerifier(nil, "QN-01", "", nil); err == nil {
		t.Fatal("a verifier without a pinned key was made")
	}
}
