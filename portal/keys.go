package portal

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"time"

	"filippo.io/age"
)

// keys are the portal's long-lived secrets, kept in DataDir with mode 0600.
type keys struct {
	portal      *ecdsa.PrivateKey // signs catalogues
	portalKeyID string
	caKey       *ecdsa.PrivateKey
	caCert      *x509.Certificate
	caPEM       string
	secret      []byte              // HMAC key for confirmation codes, tokens and citizen bindings
	age         *age.X25519Identity // decrypts manifests and documents kiosks encrypt to its recipient
	idCard      *ecdsa.PrivateKey   // signs the offline ID QR codes of the test citizens' cards
}

func loadKeys(dir string, rnd io.Reader, now time.Time) (*keys, error) {
	k := &keys{}
	var err error
	if k.portal, err = loadOrCreateECKey(filepath.Join(dir, "portal-signing.key"), rnd); err != nil {
		return nil, err
	}
	if k.portalKeyID, err = keyID(&k.portal.PublicKey); err != nil {
		return nil, err
	}
	if k.caKey, err = loadOrCreateECKey(filepath.Join(dir, "enroll-ca.key"), rnd); err != nil {
		return nil, err
	}
	if k.caCert, k.caPEM, err = loadOrCreateCA(filepath.Join(dir, "enroll-ca.crt"), k.caKey, rnd, now); err != nil {
		return nil, err
	}
	if k.secret, err = loadOrCreateSecret(filepath.Join(dir, "hmac.key"), rnd); err != nil {
		return nil, err
	}
	if k.age, err = loadOrCreateAgeIdentity(filepath.Join(dir, "portal-age.key")); err != nil {
		return nil, err
	}
	if k.idCard, err = loadOrCreateECKey(filepath.Join(dir, "idcard-issuer.key"), rnd); err != nil {
		return nil, err
	}
	return k, nil
}

func keyID(pub *ecdsa.PublicKey) (string, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(der)
	return hex.EncodeToString(sum[:8]), nil
}

func publicKeyPEM(pub *ecdsa.PublicKey) (string, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return "", err
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})), nil
}

// parsePublicKeyPEM parses a PKIX ECDSA P-256 public key.
func parsePublicKeyPEM(s string) (*ecdsa.PublicKey, error) {
	b, _ := pem.Decode([]byte(s))
	if b == nil || b.Type != "PUBLIC KEY" {
		return nil, errors.New("not a PEM PUBLIC KEY block")
	}
	k, err := x509.ParsePKIXPublicKey(b.Bytes)
	if err != nil {
		return nil, err
	}
	ec, ok := k.(*ecdsa.PublicKey)
	if !ok || ec.Curve != elliptic.P256() {
		return nil, errors.New("not an ECDSA P-256 key")
	}
	return ec, nil
}

func writeNew(path string, data []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

func loadOrCreateECKey(path string, rnd io.Reader) (*ecdsa.PrivateKey, error) {
	b, err := os.ReadFile(path)
	if err == nil {
		blk, _ := pem.Decode(b)
		if blk == nil {
			return nil, fmt.Errorf("%s: no PEM block", path)
		}
		k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		ec, ok := k.(*ecdsa.PrivateKey)
		if !ok {
			return nil, fmt.Errorf("%s: not an ECDSA key", path)
		}
		return ec, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	k, err := ecdsa.GenerateKey(elliptic.P256(), rnd)
	if err != nil {
		return nil, fmt.Errorf("generate key: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		return nil, err
	}
	if err := writeNew(path, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})); err != nil {
		return nil, fmt.Errorf("write %s: %w", path, err)
	}
	return k, nil
}

func randomSerial(rnd io.Reader) (*big.Int, error) {
	b := make([]byte, 16)
	if _, err := io.ReadFull(rnd, b); err != nil {
		return nil, err
	}
	b[0] &= 0x7f
	return new(big.Int).SetBytes(b), nil
}

func loadOrCreateCA(path string, key *ecdsa.PrivateKey, rnd io.Reader, now time.Time) (*x509.Certificate, string, error) {
	b, err := os.ReadFile(path)
	if err == nil {
		blk, _ := pem.Decode(b)
		if blk == nil {
			return nil, "", fmt.Errorf("%s: no PEM block", path)
		}
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			return nil, "", fmt.Errorf("%s: %w", path, err)
		}
		return c, string(b), nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, "", err
	}
	serial, err := randomSerial(rnd)
	if err != nil {
		return nil, "", err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "govkiosk reference portal enrollment CA", Organization: []string{"govkiosk"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.AddDate(10, 0, 0),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	der, err := x509.CreateCertificate(rnd, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, "", fmt.Errorf("create CA: %w", err)
	}
	p := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	if err := writeNew(path, p); err != nil {
		return nil, "", fmt.Errorf("write %s: %w", path, err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, "", err
	}
	return c, string(p), nil
}

func loadOrCreateSecret(path string, rnd io.Reader) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err == nil {
		if len(b) < 32 {
			return nil, fmt.Errorf("%s: too short", path)
		}
		return b, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	b = make([]byte, 32)
	if _, err := io.ReadFull(rnd, b); err != nil {
		return nil, err
	}
	if err := writeNew(path, b); err != nil {
		return nil, fmt.Errorf("write %s: %w", path, err)
	}
	return b, nil
}

// issuedCert is a device certificate as issued: its PEM, and what the
// kiosk_certs table keeps of it for the revocation list.
type issuedCert struct {
	PEM      string
	Serial   *big.Int
	NotAfter time.Time
}

// issueKioskCert signs a client certificate for an enrolled kiosk of the
// office officeCode (its OU), valid for ttl from now.
func (k *keys) issueKioskCert(kioskID, officeCode string, pub *ecdsa.PublicKey, rnd io.Reader, now time.Time, ttl time.Duration) (issuedCert, error) {
	serial, err := randomSerial(rnd)
	if err != nil {
		return issuedCert{}, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject: pkix.Name{
			CommonName:         kioskID,
			Organization:       []string{"govkiosk"},
			OrganizationalUnit: []string{officeCode},
		},
		NotBefore:   now.Add(-5 * time.Minute),
		NotAfter:    now.Add(ttl),
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rnd, tmpl, k.caCert, pub, k.caKey)
	if err != nil {
		return issuedCert{}, fmt.Errorf("sign kiosk certificate: %w", err)
	}
	return issuedCert{
		PEM:      string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})),
		Serial:   serial,
		NotAfter: tmpl.NotAfter.UTC().Truncate(time.Second), // as the certificate encodes it
	}, nil
}

// loadOrCreateAgeIdentity reads the portal's age X25519 identity, creating
// it (mode 0600) at first start. age draws its randomness from crypto/rand.
func loadOrCreateAgeIdentity(path string) (*age.X25519Identity, error) {
	b, err := os.ReadFile(path)
	if err == nil {
		id, err := age.ParseX25519Identity(strings.TrimSpace(string(b)))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		return id, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	id, err := age.GenerateX25519Identity()
	if err != nil {
		return nil, fmt.Errorf("generate age identity: %w", err)
	}
	if err := writeNew(path, []byte(id.String()+"\n")); err != nil {
		return nil, err
	}
	return id, nil
}
