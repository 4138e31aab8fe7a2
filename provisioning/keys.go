package provisioning

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"govkiosk/kiosk/atomicfile"
)

// Files in the data directory.
const (
	KeyFile       = "device-key.pem" // the kiosk's private key, PKCS#8 PEM, 0600
	CertFile      = "kiosk-cert.pem" // the kiosk's certificate, signed by the portal CA
	PortalCAFile  = "portal-ca.pem"  // the portal CA certificate
	PortalKeyFile = "portal-key.pem" // the portal's public key (catalogues, config)
	ConfigFile    = "kiosk.json"     // the kiosk.Config
)

// LoadOrCreateKey loads the device key from dir/device-key.pem, creating a
// new P-256 key there (mode 0600, written atomically) on first use.
func LoadOrCreateKey(dir string) (*ecdsa.PrivateKey, error) {
	path := filepath.Join(dir, KeyFile)
	b, err := os.ReadFile(path)
	switch {
	case err == nil:
		return parsePrivateKeyPEM(b, path)
	case !errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("read device key: %w", err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate device key: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("encode device key: %w", err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create data dir: %w", err)
	}
	data := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	if err := atomicfile.Write(path, data, 0o600); err != nil {
		return nil, fmt.Errorf("store device key: %w", err)
	}
	return key, nil
}

func parsePrivateKeyPEM(b []byte, path string) (*ecdsa.PrivateKey, error) {
	blk, _ := pem.Decode(b)
	if blk == nil || blk.Type != "PRIVATE KEY" {
		return nil, fmt.Errorf("device key %s: no PKCS#8 PRIVATE KEY PEM block", path)
	}
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		return nil, fmt.Errorf("device key %s: %w", path, err)
	}
	key, ok := k.(*ecdsa.PrivateKey)
	if !ok || key.Curve != elliptic.P256() {
		return nil, fmt.Errorf("device key %s: not an ECDSA P-256 key", path)
	}
	return key, nil
}

// PublicKeyPEM encodes pub as a PKIX "PUBLIC KEY" PEM block.
func PublicKeyPEM(pub *ecdsa.PublicKey) (string, error) {
	if pub == nil {
		return "", errors.New("encode public key: nil key")
	}
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return "", fmt.Errorf("encode public key: %w", err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})), nil
}

// ParsePublicKeyPEM decodes a PKIX "PUBLIC KEY" PEM block holding an ECDSA
// P-256 key.
func ParsePublicKeyPEM(s string) (*ecdsa.PublicKey, error) {
	blk, _ := pem.Decode([]byte(s))
	if blk == nil || blk.Type != "PUBLIC KEY" {
		return nil, errors.New("parse public key: no PUBLIC KEY PEM block")
	}
	k, err := x509.ParsePKIXPublicKey(blk.Bytes)
	if err != nil {
		return nil, fmt.Errorf("parse public key: %w", err)
	}
	pub, ok := k.(*ecdsa.PublicKey)
	if !ok || pub.Curve != elliptic.P256() {
		return nil, errors.New("parse public key: not an ECDSA P-256 key")
	}
	return pub, nil
}

// Sign signs SHA-256(data) with key; for ECDSA keys the signature is ASN.1.
func Sign(key crypto.Signer, data []byte) ([]byte, error) {
	sum := sha256.Sum256(data)
	sig, err := key.Sign(rand.Reader, sum[:], crypto.SHA256)
	if err != nil {
		return nil, fmt.Errorf("sign: %w", err)
	}
	return sig, nil
}

// Verify reports whether sig is a valid ASN.1 ECDSA signature by pub over
// SHA-256(data).
func Verify(pub *ecdsa.PublicKey, data, sig []byte) bool {
	if pub == nil {
		return false
	}
	sum := sha256.Sum256(data)
	return ecdsa.VerifyASN1(pub, sum[:], sig)
}

// LoadPortalKey reads the portal's public key stored at enrollment.
func LoadPortalKey(dataDir string) (*ecdsa.PublicKey, error) {
	path := filepath.Join(dataDir, PortalKeyFile)
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read portal key: %w", err)
	}
	pub, err := ParsePublicKeyPEM(string(b))
	if err != nil {
		return nil, fmt.Errorf("portal key %s: %w", path, err)
	}
	return pub, nil
}
