package provisioning

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"testing"

	"govkiosk/kiosk/atomicfile"
)

func TestLoadOrCreateKeyStable(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "new-dir")
	k1, err := LoadOrCreateKey(dir)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(dir, KeyFile))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("key mode = %v, want 0600", fi.Mode().Perm())
	}
	before, _ := os.ReadFile(filepath.Join(dir, KeyFile))
	k2, err := LoadOrCreateKey(dir)
	if err != nil {
		t.Fatal(err)
	}
	after, _ := os.ReadFile(filepath.Join(dir, KeyFile))
	if !k1.Equal(k2) || string(before) != string(after) {
		t.Fatal("second LoadOrCreateKey returned or wrote a different key")
	}
	if k1.Curve != elliptic.P256() {
		t.Errorf("curve = %v", k1.Curve.Params().Name)
	}
	blk, _ := pem.Decode(before)
	if blk == nil || blk.Type != "PRIVATE KEY" {
		t.Fatalf("key file is not PKCS#8 PEM: %q", before)
	}
}

func TestLoadOrCreateKeyRejectsBadFiles(t *testing.T) {
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKCS8PrivateKey(p384)
	tests := map[string][]byte{
		"garbage":   []byte("not a key"),
		"wrong pem": pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: []byte{1, 2}}),
		"bad der":   pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte{1, 2}}),
		"P-384":     pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}),
	}
	for name, data := range tests {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			if err := atomicfile.Write(filepath.Join(dir, KeyFile), data, 0o600); err != nil {
				t.Fatal(err)
			}
			if _, err := LoadOrCreateKey(dir); err == nil {
				t.Fatal("bad key file accepted")
			}
			// The bad file is left for a technician to look at, not replaced.
			got, _ := os.ReadFile(filepath.Join(dir, KeyFile))
			if string(got) != string(data) {
				t.Error("bad key file was overwritten")
			}
		})
	}
}

func TestPublicKeyPEMRoundTripAndSignatures(t *testing.T) {
	key, err := LoadOrCreateKey(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	s, err := PublicKeyPEM(&key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := ParsePublicKeyPEM(s)
	if err != nil {
		t.Fatal(err)
	}
	if !pub.Equal(&key.PublicKey) {
		t.Fatal("round trip changed the key")
	}
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)

	data := []byte(`{"kioskId":"KSK-1"}`)
	sig, err := Sign(key, data)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		pub  *ecdsa.PublicKey
		data []byte
		sig  []byte
		want bool
	}{
		{"good", pub, data, sig, true},
		{"other key", &other.PublicKey, data, sig, false},
		{"changed data", pub, []byte(`{"kioskId":"KSK-2"}`), sig, false},
		{"truncated sig", pub, data, sig[:len(sig)-1], false},
		{"nil key", nil, data, sig, false},
	}
	for _, tc := range tests {
		if got := Verify(tc.pub, tc.data, tc.sig); got != tc.want {
			t.Errorf("%s: Verify = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestParsePublicKeyPEMRejects(t *testing.T) {
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	der, _ := x509.MarshalPKIXPublicKey(&p384.PublicKey)
	for name, s := range map[string]string{
		"empty":   "",
		"garbage": "hello",
		"P-384":   string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})),
		"type":    string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})),
	} {
		if _, err := ParsePublicKeyPEM(s); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := LoadPortalKey(t.TempDir()); err == nil {
		t.Error("LoadPortalKey without a file succeeded")
	}
}
