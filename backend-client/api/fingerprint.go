package api

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
)

// CAFingerprint names a CA certificate (its DER bytes) the way the portal
// prints it beside an enrollment token and the technician gives it to
// kioskctl provision: "sha256:" and the lower-case hex SHA-256.
func CAFingerprint(der []byte) string {
	sum := sha256.Sum256(der)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// NormalizeFingerprint brings a fingerprint as typed (any case, colons or
// spaces between the bytes, the "sha256:" prefix optional) to the form
// CAFingerprint gives; ok is false if it is not a SHA-256 fingerprint.
func NormalizeFingerprint(s string) (string, bool) {
	s = strings.ToLower(strings.TrimSpace(s))
	s = strings.TrimPrefix(s, "sha256:")
	s = strings.NewReplacer(":", "", " ", "", "-", "").Replace(s)
	if b, err := hex.DecodeString(s); err != nil || len(b) != sha256.Size {
		return "", false
	}
	return "sha256:" + s, true
}
