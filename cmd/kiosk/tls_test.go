package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"io"
	"log"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	backendclient "govkiosk/backend-client"
	"govkiosk/portal"
	"govkiosk/provisioning"
)

// provisioned enrolls a kiosk data directory with a real reference portal
// (plain http on loopback, just for the enrollment) and returns it.
func provisioned(t *testing.T) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	srv, url, err := portal.Start(ctx, portal.Options{Listen: "127.0.0.1:0", PlainHTTP: true, DataDir: t.TempDir(),
		Log: slog.New(slog.DiscardHandler), KioskRedirectURIs: []string{"http://127.0.0.1:8080/auth/callback"}})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	defer func() { cancel(); <-srv.Done() }()
	tok, err := srv.IssueEnrollToken()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if _, err := provisioning.Provision(ctx, backendclient.New(url, nil, "", nil), provisioning.ProvisionOptions{
		DataDir: dir, PortalURL: url, Token: tok, CAFingerprint: srv.CAFingerprint(), AllowInsecureLoopback: true,
		Listen: freePort(t), OpsListen: freePort(t),
	}); err != nil {
		t.Fatal(err)
	}
	return dir
}

// rogueServer is an HTTPS server with a certificate for 127.0.0.1 from a
// CA of its own, whose PEM it returns; it counts the requests it gets.
func rogueServer(t *testing.T) (srv *httptest.Server, caPEM []byte, hits *atomic.Int64) {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	now := time.Now()
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Trusted-looking Root CA"}, IsCA: true,
		BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign, NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour)}
	caDER, _ := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	ca, _ := x509.ParseCertificate(caDER)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	leaf := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "127.0.0.1"},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		KeyUsage: x509.KeyUsageDigitalSignature, NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour)}
	der, _ := x509.CreateCertificate(rand.Reader, leaf, ca, &key.PublicKey, caKey)
	hits = &atomic.Int64{}
	srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		http.Error(w, "impostor", http.StatusServiceUnavailable)
	}))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshakes
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), hits
}

// TestKioskPinsThePortalCA: the kiosk talks to its portal only if the
// portal's certificate chains to the portal CA stored at enrollment, not
// to whatever the operating system trusts. An impostor at the portal's
// address with a certificate from a CA the system trusts (a mis-issued or
// a locally installed one; here SSL_CERT_FILE) gets no request from it.
func TestKioskPinsThePortalCA(t *testing.T) {
	dir := provisioned(t)
	rogue, rogueCA, hits := rogueServer(t)
	caFile := filepath.Join(t.TempDir(), "system-roots.pem")
	if err := os.WriteFile(caFile, rogueCA, 0o644); err != nil {
		t.Fatal(err)
	}
	// The impostor is where kiosk.json says the portal is.
	cfgPath := filepath.Join(dir, provisioning.ConfigFile)
	b, err := os.ReadFile(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	var cfg map[string]any
	if err := json.Unmarshal(b, &cfg); err != nil {
		t.Fatal(err)
	}
	cfg["portalUrl"] = rogue.URL
	cfg["oidc"].(map[string]any)["issuer"] = rogue.URL + "/idp"
	delete(cfg, "allowInsecureLoopback")
	if b, err = json.Marshal(cfg); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cfgPath, b, 0o600); err != nil {
		t.Fatal(err)
	}

	k := startKioskProcEnv(t, []string{"SSL_CERT_FILE=" + caFile, "SSL_CERT_DIR=" + t.TempDir()}, "--config", cfgPath)
	deadline := time.Now().Add(60 * time.Second)
	for !strings.Contains(k.stderr.String(), "catalogue refresh failed") && hits.Load() == 0 {
		select {
		case <-k.done:
			t.Fatalf("the kiosk exited:\n%s", k.stderr)
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("the kiosk never tried its portal within 60s:\n%s", k.stderr)
		}
	}
	if n := hits.Load(); n > 0 {
		t.Fatalf("the kiosk sent %d requests to a portal whose certificate is not from its portal CA", n)
	}
	if s := k.stderr.String(); !strings.Contains(s, "certificate") {
		t.Errorf("the refusal does not name the certificate:\n%s", s)
	}
}
