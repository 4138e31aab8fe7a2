package portal_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"net/http"
	"strings"
	"testing"
	"time"

	backendclient "govkiosk/backend-client"
	"govkiosk/backend-client/api"
	"govkiosk/portal"
)

// tlsKiosk is an enrolled kiosk with its device certificate as TLS needs it.
type tlsKiosk struct {
	id   string
	key  *ecdsa.PrivateKey
	cert tls.Certificate
}

func tlsClient(roots *x509.CertPool, certs ...tls.Certificate) *http.Client {
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: roots, Certificates: certs, MinVersion: tls.VersionTLS12},
	}}
}

// TestKioskAPINeedsTheDeviceCertificate: the portal serves HTTPS, and its
// kiosk API answers only a kiosk that presents its device certificate
// (mutual TLS, chained to the enrollment CA, for the kiosk it speaks for).
// Enrollment, the signed catalogue and the browser pages need none.
func TestKioskAPINeedsTheDeviceCertificate(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s, base, err := portal.Start(ctx, portal.Options{Listen: "127.0.0.1:0", DataDir: t.TempDir(), Identity: newFakeIdentity()})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { cancel(); <-s.Done() }()
	if !strings.HasPrefix(base, "https://") {
		t.Errorf("the portal serves %s, want https", base)
	}

	var roots *x509.CertPool
	enroll := func() tlsKiosk {
		t.Helper()
		tok, err := s.IssueEnrollToken()
		if err != nil {
			t.Fatal(err)
		}
		key, pub := newKey(t)
		// The technician's tool trusts the CA it was told the fingerprint of.
		hc := tlsClient(nil)
		hc.Transport.(*http.Transport).TLSClientConfig = &tls.Config{InsecureSkipVerify: true, VerifyConnection: func(cs tls.ConnectionState) error {
			for _, c := range cs.PeerCertificates {
				if api.CAFingerprint(c.Raw) == s.CAFingerprint() {
					return nil
				}
			}
			return errors.New("not the portal CA")
		}}
		resp, err := backendclient.New(base, hc, "", nil).Enroll(ctx, api.EnrollRequest{Token: tok, PublicKeyPEM: pub})
		if err != nil {
			t.Fatal(err)
		}
		if roots == nil {
			roots = x509.NewCertPool()
			roots.AppendCertsFromPEM([]byte(resp.PortalCAPEM))
		}
		cert, err := tls.X509KeyPair([]byte(resp.CertificatePEM), pemOf(t, key))
		if err != nil {
			t.Fatal(err)
		}
		return tlsKiosk{id: resp.KioskID, key: key, cert: cert}
	}
	a, b := enroll(), enroll()

	// A certificate for a's key and name from a CA of the attacker's own.
	rogueKey, _ := newKey(t)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "rogue CA"}, IsCA: true,
		BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	rogueCA, _ := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &rogueKey.PublicKey, rogueKey)
	rogueCACert, _ := x509.ParseCertificate(rogueCA)
	leaf := &x509.Certificate{SerialNumber: big.NewInt(8), Subject: pkix.Name{CommonName: a.id},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, KeyUsage: x509.KeyUsageDigitalSignature,
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	rogueDER, _ := x509.CreateCertificate(rand.Reader, leaf, rogueCACert, &a.key.PublicKey, rogueKey)
	rogue := tls.Certificate{Certificate: [][]byte{rogueDER}, PrivateKey: a.key}

	heartbeatAs := func(hc *http.Client, k tlsKiosk) error {
		hb := heartbeat(k.id)
		hb.At, hb.Seq = time.Now(), uint64(time.Now().UnixNano()) // this portal runs on the real clock
		return backendclient.New(base, hc, k.id, k.key).Heartbeat(ctx, hb)
	}
	if err := heartbeatAs(tlsClient(roots, a.cert), a); err != nil {
		t.Fatalf("the kiosk with its device certificate: %v", err)
	}
	if _, err := backendclient.New(base, tlsClient(roots, a.cert), a.id, a.key).RequestConfirmation(ctx, "tok-an",
		api.ConfirmationRequest{ProcedureID: "marital-status"}); err != nil {
		t.Fatalf("confirmation request with the device certificate: %v", err)
	}
	for _, tc := range []struct {
		name string
		hc   *http.Client
	}{
		{"no device certificate", tlsClient(roots)},
		{"a certificate from another CA", tlsClient(roots, rogue)},
		{"another kiosk's certificate", tlsClient(roots, b.cert)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// a's own, validly signed heartbeat: only the certificate is wrong.
			err := heartbeatAs(tc.hc, a)
			if err == nil {
				t.Fatal("heartbeat accepted")
			}
			if st, _ := apiCode(err); st != 0 && st != http.StatusUnauthorized && st != http.StatusForbidden {
				t.Errorf("refused with %v, want 401/403 or a TLS failure", err)
			}
			_, err = backendclient.New(base, tc.hc, a.id, a.key).RequestConfirmation(ctx, "tok-an", api.ConfirmationRequest{ProcedureID: "marital-status"})
			if st, code := apiCode(err); st != 0 && code != portal.CodeDeviceCertRequired && code != portal.CodeKioskMismatch {
				t.Errorf("confirmation request: %v, want refused for the certificate", err)
			}
		})
	}

	// What needs no device certificate still works without one.
	if _, _, err := backendclient.New(base, tlsClient(roots), "", nil).Catalogue(ctx, s.PublicKey()); err != nil {
		t.Errorf("catalogue without a device certificate: %v", err)
	}
	resp, err := tlsClient(roots).Get(base + api.PathTrack + "QN-2026-0000000000") // a browser page
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound { // answered, over TLS, without a certificate
		t.Errorf("track page of an unknown reference: %s", resp.Status)
	}
}

func pemOf(t *testing.T, key *ecdsa.PrivateKey) []byte {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}
