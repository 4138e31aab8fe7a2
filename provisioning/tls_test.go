package provisioning

import (
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"govkiosk/kiosk/atomicfile"
)

// serverCert is a certificate for 127.0.0.1 from ca, sent with ca.
func (ca *testCA) serverCert(t *testing.T) tls.Certificate {
	t.Helper()
	key := mustKey(t)
	now := time.Now()
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(3), Subject: pkix.Name{CommonName: "127.0.0.1"},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		KeyUsage: x509.KeyUsageDigitalSignature, NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der, ca.cert.Raw}, PrivateKey: key}
}

// liveCA is a CA valid now (testCA's validity is around testNow).
func liveCA(t *testing.T) *testCA {
	t.Helper()
	key := mustKey(t)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Live Portal CA"}, IsCA: true,
		BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, _ := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	cert, _ := x509.ParseCertificate(der)
	return &testCA{key: key, cert: cert, pem: string(pemCert(der))}
}

// tlsServer serves over TLS with cert, asking for client certificates, and
// tells the common name of the client certificate it got.
func tlsServer(t *testing.T, cert tls.Certificate) *httptest.Server {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if len(r.TLS.PeerCertificates) > 0 {
			io.WriteString(w, r.TLS.PeerCertificates[0].Subject.CommonName)
		}
	}))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}, ClientAuth: tls.RequestClientCert}
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv
}

// kioskDir is a data directory holding a device key, its certificate from
// ca and ca as portal-ca.pem.
func kioskDir(t *testing.T, ca *testCA) (string, *ecdsa.PrivateKey) {
	t.Helper()
	dir := t.TempDir()
	key, err := LoadOrCreateKey(dir)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(4), Subject: pkix.Name{CommonName: "KSK-0042"},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, KeyUsage: x509.KeyUsageDigitalSignature,
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string][]byte{CertFile: pemCert(der), PortalCAFile: []byte(ca.pem)} {
		if err := atomicfile.Write(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir, key
}

func get(hc *http.Client, url string) (string, error) {
	resp, err := hc.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}

// TestPortalClient: the kiosk's client trusts only the portal CA, shows its
// device certificate, and speaks plain http only to loopback when allowed.
func TestPortalClient(t *testing.T) {
	ca := liveCA(t)
	dir, key := kioskDir(t, ca)
	hc, err := PortalClient(dir, key, false, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	genuine := tlsServer(t, ca.serverCert(t))
	if cn, err := get(hc, genuine.URL); err != nil || cn != "KSK-0042" {
		t.Fatalf("the portal saw client certificate %q (%v), want the kiosk's", cn, err)
	}
	impostor := tlsServer(t, liveCA(t).serverCert(t))
	if _, err := get(hc, impostor.URL); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("a server from another CA: %v", err)
	}
	plain := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer plain.Close()
	if _, err := get(hc, plain.URL); !errors.Is(err, ErrPlainHTTP) {
		t.Errorf("plain http on loopback without the switch: %v", err)
	}
	if _, err := get(hc, "http://portal.gov.example/api/v1/catalogue"); !errors.Is(err, ErrPlainHTTP) {
		t.Errorf("plain http off loopback: %v", err)
	}
	// An https portal that redirects to plain http is not followed there.
	redirector := tlsServer(t, ca.serverCert(t))
	redirector.Config.Handler = http.RedirectHandler(plain.URL, http.StatusFound)
	if _, err := get(hc, redirector.URL); !errors.Is(err, ErrPlainHTTP) {
		t.Errorf("redirect to plain http: %v", err)
	}
	insecure, err := PortalClient(dir, key, true, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := get(insecure, plain.URL); err != nil {
		t.Errorf("plain http on loopback with the switch: %v", err)
	}
	if _, err := get(insecure, "http://portal.gov.example/"); !errors.Is(err, ErrPlainHTTP) {
		t.Errorf("plain http off loopback with the switch: %v", err)
	}

	// A certificate for another key than the device's is not used.
	other, _ := kioskDir(t, ca)
	b, _ := os.ReadFile(filepath.Join(other, CertFile))
	os.WriteFile(filepath.Join(dir, CertFile), b, 0o644)
	if _, err := PortalClient(dir, key, false, time.Second); err == nil {
		t.Error("a device certificate for another key accepted")
	}
	if _, err := PortalClient(t.TempDir(), key, false, time.Second); err == nil {
		t.Error("a data directory without CA or certificate accepted")
	}
}

// TestEnrollmentClient: before it has a CA to pin, kioskctl trusts the
// portal whose chain holds the CA of the fingerprint it was given.
func TestEnrollmentClient(t *testing.T) {
	ca := liveCA(t)
	srv := tlsServer(t, ca.serverCert(t))
	fp := ca.fingerprint()
	if _, err := get(EnrollmentClient(fp, false, 10*time.Second), srv.URL); err != nil {
		t.Fatalf("the portal of the fingerprint: %v", err)
	}
	if _, err := get(EnrollmentClient(liveCA(t).fingerprint(), false, 10*time.Second), srv.URL); err == nil {
		t.Error("a portal whose CA has another fingerprint accepted")
	}
	if _, err := get(EnrollmentClient("", false, 10*time.Second), srv.URL); err == nil {
		t.Error("a private CA accepted without a fingerprint")
	}
	if _, err := get(EnrollmentClient(fp, false, 10*time.Second), "http://portal.gov.example/"); !errors.Is(err, ErrPlainHTTP) {
		t.Errorf("plain http: %v", err)
	}
}

func pemCert(der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}
