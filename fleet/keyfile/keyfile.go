// Package keyfile keeps the fleet's Ed25519 signing keys (the TUF roles'
// keys, the technician-token key) as PKCS#8 PEM files readable by their
// owner only.
package keyfile

import (
	"crypto/ed25519"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"

	"govkiosk/kiosk/atomicfile"
)

func encode(k ed25519.PrivateKey) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// Write stores k in path (mode 0600), replacing what was there.
func Write(path string, k ed25519.PrivateKey) error {
	b, err := encode(k)
	if err != nil {
		return err
	}
	return atomicfile.Write(path, b, 0o600)
}

// Create stores k in a new file path (mode 0600); an existing file is an
// error, so a key is never overwritten by a second start.
func Create(path string, k ed25519.PrivateKey) error {
	b, err := encode(k)
	if err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// Read reads a key Write or Create stored.
func Read(path string) (ed25519.PrivateKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	blk, _ := pem.Decode(b)
	if blk == nil || blk.Type != "PRIVATE KEY" {
		return nil, fmt.Errorf("%s: no PRIVATE KEY PEM block", path)
	}
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	ek, ok := k.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("%s: not an Ed25519 key", path)
	}
	return ek, nil
}
