package provisioning

import (
	"cmp"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"filippo.io/age"

	"govkiosk/backend-client/api"
	"govkiosk/kiosk/config"
)

var testNow = time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)

// testCA is a real, tiny certificate authority.
type testCA struct {
	key  *ecdsa.PrivateKey
	cert *x509.Certificate
	pem  string
}

func newTestCA(t *testing.T, isCA bool) *testCA {
	t.Helper()
	key := mustKey(t)
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "Test Portal CA"},
		NotBefore:             testNow.Add(-time.Hour),
		NotAfter:              testNow.Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  isCA,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &testCA{key: key, cert: cert, pem: string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))}
}

func (ca *testCA) issue(t *testing.T, pub *ecdsa.PublicKey, cn string) string {
	t.Helper()
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    testNow.Add(-time.Hour),
		NotAfter:     testNow.Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, pub, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}

func mustKey(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// fakeEnroller plays the portal: it checks the token and issues a
// certificate for the requested key, unless tamper changes the answer.
type fakeEnroller struct {
	t         *testing.T
	ca        *testCA
	portalKey *ecdsa.PrivateKey
	tamper    func(*api.EnrollResponse)
	got       []api.EnrollRequest
	issuer    string // the OIDC issuer it answers; "": http://127.0.0.1:9000/idp
}

func (f *fakeEnroller) Enroll(ctx context.Context, req api.EnrollRequest) (api.EnrollResponse, error) {
	f.got = append(f.got, req)
	if req.Token != "tok-1" {
		return api.EnrollResponse{}, errors.New("403 bad token")
	}
	pub, err := ParsePublicKeyPEM(req.PublicKeyPEM)
	if err != nil {
		return api.EnrollResponse{}, err
	}
	pk, err := PublicKeyPEM(&f.portalKey.PublicKey)
	if err != nil {
		return api.EnrollResponse{}, err
	}
	resp := api.EnrollResponse{
		KioskID:        "KSK-0042",
		CertificatePEM: f.ca.issue(f.t, pub, "KSK-0042"),
		PortalCAPEM:    f.ca.pem,
		PortalKeyPEM:   pk,
		OfficeCode:     "HOI-AN-01",
		OfficeName:     api.Text{"en": "Hoi An Service Centre", "vi": "Trung tâm Hội An"},
		OIDCIssuer:     cmp.Or(f.issuer, "http://127.0.0.1:9000/idp"),
		OIDCClientID:   "kiosk",
		OIDCACRValues:  []string{"http://eidas.europa.eu/LoA/high", "http://eidas.europa.eu/LoA/substantial"},
	}
	resp.PortalAgeRecipient = testAgeRecipient
	resp.Signature = f.ca.sign(f.t, resp)
	if f.tamper != nil {
		f.tamper(&resp)
	}
	return resp, nil
}

// sign is the enrollment CA's signature of an answer, as the portal makes it.
func (ca *testCA) sign(t *testing.T, r api.EnrollResponse) string {
	t.Helper()
	sum := sha256.Sum256(r.SignedBytes())
	sig, err := ecdsa.SignASN1(rand.Reader, ca.key, sum[:])
	if err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(sig)
}

func (ca *testCA) fingerprint() string { return api.CAFingerprint(ca.cert.Raw) }

func newFake(t *testing.T) *fakeEnroller {
	return &fakeEnroller{t: t, ca: newTestCA(t, true), portalKey: mustKey(t)}
}

func baseConfig() config.Config {
	var b config.Config
	b.Printer.Port = "/dev/ttyUSB0"
	b.Scanner.Device = "test:0"
	b.QRReader.Port = "/dev/ttyACM0"
	b.Sensors.DoorPin = "GPIO17"
	return b
}

func TestProvisionGoodPath(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	f := newFake(t)
	cfg, err := Provision(context.Background(), f, ProvisionOptions{
		DataDir: dir, PortalURL: "http://127.0.0.1:9000/", AllowInsecureLoopback: true, Token: "tok-1",
		Listen: "127.0.0.1:8181", Base: baseConfig(), Hostname: "kiosk-7",
		Now: func() time.Time { return testNow },
	})
	if err != nil {
		t.Fatalf("Provision: %v", err)
	}
	if len(f.got) != 1 || f.got[0].Hostname != "kiosk-7" || f.got[0].Token != "tok-1" {
		t.Fatalf("enroll requests = %+v", f.got)
	}
	key, err := LoadOrCreateKey(dir)
	if err != nil {
		t.Fatal(err)
	}
	wantPub, _ := PublicKeyPEM(&key.PublicKey)
	if f.got[0].PublicKeyPEM != wantPub {
		t.Errorf("enrolled public key is not the stored device key")
	}

	for name, perm := range map[string]os.FileMode{
		KeyFile: 0o600, CertFile: 0o644, PortalCAFile: 0o644, PortalKeyFile: 0o644, ConfigFile: 0o644,
	} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if fi.Mode().Perm() != perm {
			t.Errorf("%s mode = %v, want %v", name, fi.Mode().Perm(), perm)
		}
	}
	if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("data dir mode: %v %v", fi.Mode(), err)
	}

	loaded, err := config.Load(filepath.Join(dir, ConfigFile))
	if err != nil {
		t.Fatalf("config.Load: %v", err)
	}
	checks := []struct{ name, got, want string }{
		{"kioskId", loaded.KioskID, "KSK-0042"},
		{"officeCode", loaded.OfficeCode, "HOI-AN-01"},
		{"officeName.vi", loaded.OfficeName["vi"], "Trung tâm Hội An"},
		{"portalUrl", loaded.PortalURL, "http://127.0.0.1:9000"},
		{"dataDir", loaded.DataDir, dir},
		{"listen", loaded.Listen, "127.0.0.1:8181"},
		{"opsListen", loaded.OpsListen, "127.0.0.1:9100"},
		{"issuer", loaded.OIDC.Issuer, "http://127.0.0.1:9000/idp"},
		{"clientId", loaded.OIDC.ClientID, "kiosk"},
		{"acrValues", strings.Join(loaded.OIDC.ACRValues, " "), "http://eidas.europa.eu/LoA/high http://eidas.europa.eu/LoA/substantial"},
		{"redirect", loaded.OIDC.RedirectURL, "http://127.0.0.1:8181/auth/callback"},
		{"printer", loaded.Printer.Port, "/dev/ttyUSB0"},
		{"scanner", loaded.Scanner.Device, "test:0"},
		{"qr", loaded.QRReader.Port, "/dev/ttyACM0"},
		{"door", loaded.Sensors.DoorPin, "GPIO17"},
		{"returned id", cfg.KioskID, "KSK-0042"},
		{"allowInsecureLoopback", fmt.Sprint(loaded.AllowInsecureLoopback), "true"},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %q, want %q", c.name, c.got, c.want)
		}
	}

	pk, err := LoadPortalKey(dir)
	if err != nil {
		t.Fatalf("LoadPortalKey: %v", err)
	}
	if !pk.Equal(&f.portalKey.PublicKey) {
		t.Error("stored portal key differs from the portal's")
	}
	b, _ := os.ReadFile(filepath.Join(dir, CertFile))
	if err := VerifyCertificate(string(b), f.ca.pem, &key.PublicKey, testNow); err != nil {
		t.Errorf("stored certificate: %v", err)
	}

	// Re-provisioning keeps the same device key.
	if _, err := Provision(context.Background(), f, ProvisionOptions{
		DataDir: dir, PortalURL: "http://127.0.0.1:9000", AllowInsecureLoopback: true, Token: "tok-1", Base: baseConfig(),
		Now: func() time.Time { return testNow },
	}); err != nil {
		t.Fatal(err)
	}
	if f.got[1].PublicKeyPEM != f.got[0].PublicKeyPEM {
		t.Error("second provisioning used a different key")
	}
}

func TestProvisionRejects(t *testing.T) {
	other := mustKey(t)
	otherCA := newTestCA(t, true)
	notCA := newTestCA(t, false)
	tests := []struct {
		name    string
		token   string
		now     time.Time
		tamper  func(t *testing.T, f *fakeEnroller, r *api.EnrollResponse)
		wantErr string
	}{
		{"bad token", "nope", testNow, nil, "bad token"},
		{"certificate for another key", "tok-1", testNow, func(t *testing.T, f *fakeEnroller, r *api.EnrollResponse) {
			r.CertificatePEM = f.ca.issue(t, &other.PublicKey, "KSK-0042")
		}, "not for this device's key"},
		{"certificate from another CA", "tok-1", testNow, func(t *testing.T, f *fakeEnroller, r *api.EnrollResponse) {
			r.PortalCAPEM = otherCA.pem
		}, "does not chain"},
		{"CA is not a CA", "tok-1", testNow, func(t *testing.T, f *fakeEnroller, r *api.EnrollResponse) {
			r.PortalCAPEM = notCA.pem
		}, "not a CA"},
		{"CA garbage", "tok-1", testNow, func(t *testing.T, f *fakeEnroller, r *api.EnrollResponse) {
			r.PortalCAPEM = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"
		}, "portal CA"},
		{"CA missing", "tok-1", testNow, func(t *testing.T, f *fakeEnroller, r *api.EnrollResponse) {
			r.PortalCAPEM = ""
		}, "portal CA"},
		{"certificate expired", "tok-1", testNow.Add(48 * time.Hour), nil, "does not chain"},
		{"no kiosk id", "tok-1", testNow, func(t *testing.T, f *fakeEnroller, r *api.EnrollResponse) {
			r.KioskID = ""
		}, "no kiosk ID"},
		{"bad portal key", "tok-1", testNow, func(t *testing.T, f *fakeEnroller, r *api.EnrollResponse) {
			r.PortalKeyPEM = "junk"
		}, "portal key"},
		{"no oidc client", "tok-1", testNow, func(t *testing.T, f *fakeEnroller, r *api.EnrollResponse) {
			r.OIDCClientID = ""
		}, "oidc"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			f := newFake(t)
			if tc.tamper != nil {
				f.tamper = func(r *api.EnrollResponse) { tc.tamper(t, f, r) }
			}
			_, err := Provision(context.Background(), f, ProvisionOptions{
				DataDir: dir, PortalURL: "http://127.0.0.1:9000", AllowInsecureLoopback: true, Token: tc.token, Base: baseConfig(),
				Now: func() time.Time { return tc.now },
			})
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("err = %v, want one containing %q", err, tc.wantErr)
			}
			for _, name := range []string{ConfigFile, CertFile, PortalCAFile, PortalKeyFile} {
				if _, err := os.Stat(filepath.Join(dir, name)); !errors.Is(err, os.ErrNotExist) {
					t.Errorf("%s written despite failure (stat err %v)", name, err)
				}
			}
		})
	}
}

// A portal at a plain-http address is not enrolled with, unless it is on
// loopback and the demo's or test's insecure switch is set.
func TestProvisionRefusesPlainHTTP(t *testing.T) {
	for _, tc := range []struct {
		url      string
		insecure bool
	}{
		{"http://portal.gov.example", false},
		{"http://portal.gov.example", true},
		{"http://10.0.0.5:8090", true},
		{"http://127.0.0.1:9000", false},
	} {
		f := newFake(t)
		_, err := Provision(context.Background(), f, ProvisionOptions{
			DataDir: t.TempDir(), PortalURL: tc.url, AllowInsecureLoopback: tc.insecure, Token: "tok-1", Base: baseConfig(),
			Now: func() time.Time { return testNow },
		})
		if err == nil || !strings.Contains(err.Error(), "https") || len(f.got) != 0 {
			t.Errorf("%s (insecure switch %v): err %v, %d enrollment requests", tc.url, tc.insecure, err, len(f.got))
		}
	}
}

func TestProvisionNeedsOptions(t *testing.T) {
	f := newFake(t)
	for _, o := range []ProvisionOptions{
		{PortalURL: "http://p", Token: "tok-1"},
		{DataDir: t.TempDir(), Token: "tok-1"},
		{DataDir: t.TempDir(), PortalURL: "http://p"},
	} {
		if _, err := Provision(context.Background(), f, o); err == nil {
			t.Errorf("Provision(%+v) succeeded", o)
		}
	}
	if len(f.got) != 0 {
		t.Errorf("enrolled despite missing options")
	}
	if _, err := Provision(context.Background(), nil, ProvisionOptions{DataDir: t.TempDir(), PortalURL: "http://p", Token: "x"}); err == nil {
		t.Error("nil enroller accepted")
	}
}

// TestProvisionRefusesAManInTheMiddle: whoever sits between the kiosk and
// the portal at enrollment (a rogue access point at the service point, a
// proxy) must not get the kiosk to store their CA, or their portal key and
// age recipient, which every application would then be encrypted to. The
// technician gives the CA fingerprint printed with the token; the answer
// must carry that CA and be signed by it.
func TestProvisionRefusesAManInTheMiddle(t *testing.T) {
	const portalURL = "https://portal.gov.example"
	mitmCA := newTestCA(t, true)
	mitmKey := mustKey(t)
	mitmAge, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name        string
		fingerprint func(f *fakeEnroller) string
		mitm        func(t *testing.T, f *fakeEnroller, r *api.EnrollResponse)
		wantErr     string // "": provisioned
	}{
		{name: "the genuine portal", fingerprint: func(f *fakeEnroller) string { return f.ca.fingerprint() }},
		{name: "fingerprint typed with colons in capitals", fingerprint: func(f *fakeEnroller) string {
			hex := strings.TrimPrefix(f.ca.fingerprint(), "sha256:")
			var pairs []string
			for i := 0; i < len(hex); i += 2 {
				pairs = append(pairs, strings.ToUpper(hex[i:i+2]))
			}
			return strings.Join(pairs, ":")
		}},
		{name: "its own CA, key and age recipient, consistently signed", fingerprint: func(f *fakeEnroller) string { return f.ca.fingerprint() },
			mitm: func(t *testing.T, f *fakeEnroller, r *api.EnrollResponse) {
				pub, _ := ParsePublicKeyPEM(f.got[len(f.got)-1].PublicKeyPEM)
				r.PortalCAPEM = mitmCA.pem
				r.CertificatePEM = mitmCA.issue(t, pub, r.KioskID)
				r.PortalKeyPEM, _ = PublicKeyPEM(&mitmKey.PublicKey)
				r.PortalAgeRecipient = mitmAge.Recipient().String()
				r.Signature = mitmCA.sign(t, *r)
			}, wantErr: "fingerprint"},
		{name: "the genuine CA, its own portal key and age recipient", fingerprint: func(f *fakeEnroller) string { return f.ca.fingerprint() },
			mitm: func(t *testing.T, f *fakeEnroller, r *api.EnrollResponse) {
				r.PortalKeyPEM, _ = PublicKeyPEM(&mitmKey.PublicKey)
				r.PortalAgeRecipient = mitmAge.Recipient().String()
			}, wantErr: "signature"},
		{name: "the genuine CA, its own fleet broker and technician key", fingerprint: func(f *fakeEnroller) string { return f.ca.fingerprint() },
			mitm: func(t *testing.T, f *fakeEnroller, r *api.EnrollResponse) {
				r.FleetBroker = "tls://fleet.attacker.example:8883"
				r.FleetTechKey = "ed25519:" + strings.Repeat("A", 43) + "="
			}, wantErr: "signature"},
		{name: "the genuine CA, its own age recipient, no signature", fingerprint: func(f *fakeEnroller) string { return f.ca.fingerprint() },
			mitm: func(t *testing.T, f *fakeEnroller, r *api.EnrollResponse) {
				r.PortalAgeRecipient = mitmAge.Recipient().String()
				r.Signature = ""
			}, wantErr: "signature"},
		{name: "another provider sneaked in", fingerprint: func(f *fakeEnroller) string { return f.ca.fingerprint() },
			mitm: func(t *testing.T, f *fakeEnroller, r *api.EnrollResponse) {
				r.OIDCIssuer = "https://idp.attacker.example"
			}, wantErr: "signature"},
		{name: "no fingerprint given", fingerprint: func(*fakeEnroller) string { return "" }, wantErr: "fingerprint"},
		{name: "not a fingerprint", fingerprint: func(*fakeEnroller) string { return "sha256:12ab" }, wantErr: "fingerprint"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			f := newFake(t)
			f.issuer = portalURL + "/idp"
			if tc.mitm != nil {
				f.tamper = func(r *api.EnrollResponse) { tc.mitm(t, f, r) }
			}
			_, err := Provision(context.Background(), f, ProvisionOptions{
				DataDir: dir, PortalURL: portalURL, Token: "tok-1", CAFingerprint: tc.fingerprint(f), Base: baseConfig(),
				Now: func() time.Time { return testNow },
			})
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("genuine portal refused: %v", err)
				}
				if got, _ := LoadPortalAgeRecipient(dir); got != testAgeRecipient {
					t.Errorf("stored age recipient %q", got)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("err = %v, want one about the %s", err, tc.wantErr)
			}
			for _, name := range []string{ConfigFile, CertFile, PortalCAFile, PortalKeyFile, PortalAgeFile} {
				if _, err := os.Stat(filepath.Join(dir, name)); !errors.Is(err, os.ErrNotExist) {
					t.Errorf("%s written for a man in the middle (stat err %v)", name, err)
				}
			}
		})
	}
}
