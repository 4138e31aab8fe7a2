package crl_test

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"govkiosk/fleet/crl"
	"govkiosk/fleet/pki"
)

func newCA(t testing.TB, name string) *pki.CA {
	t.Helper()
	ca, err := pki.NewCA(name, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return ca
}

// list makes a DER CRL numbered n, signed by ca, naming serials.
func list(t *testing.T, ca *pki.CA, n int64, serials ...*big.Int) []byte {
	t.Helper()
	tmpl := &x509.RevocationList{Number: big.NewInt(n), ThisUpdate: time.Now().Add(-time.Minute), NextUpdate: time.Now().Add(time.Hour)}
	for _, s := range serials {
		tmpl.RevokedCertificateEntries = append(tmpl.RevokedCertificateEntries, x509.RevocationListEntry{SerialNumber: s, RevocationTime: time.Now()})
	}
	der, err := x509.CreateRevocationList(rand.Reader, tmpl, ca.Cert, ca.Key)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func client(t *testing.T, ca *pki.CA, cn string) *x509.Certificate {
	t.Helper()
	c, err := ca.Client(cn, nil)
	if err != nil {
		t.Fatal(err)
	}
	return c.Leaf
}

func TestAcceptRefusesForgedAndOlderLists(t *testing.T) {
	t.Parallel()
	ca, other := newCA(t, "kiosk CA"), newCA(t, "another CA")
	stolen, healthy := client(t, ca, "k-stolen"), client(t, ca, "k-ok")
	updates := 0
	l, err := crl.New(crl.Options{CA: ca.Cert, OnUpdate: func() { updates++ }})
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Accept(list(t, ca, 5, stolen.SerialNumber)); err != nil {
		t.Fatal(err)
	}
	if !l.Revoked(stolen) || l.Revoked(healthy) {
		t.Fatalf("after list 5: stolen revoked %v (want true), healthy revoked %v (want false)", l.Revoked(stolen), l.Revoked(healthy))
	}
	// A list of another CA, even newer and naming the healthy kiosk, is refused.
	if err := l.Accept(list(t, other, 9, healthy.SerialNumber)); !errors.Is(err, crl.ErrSignature) {
		t.Errorf("a list of another CA: %v, want ErrSignature", err)
	}
	// An older list (that no longer names the stolen kiosk) is refused.
	if err := l.Accept(list(t, ca, 4)); !errors.Is(err, crl.ErrOlder) {
		t.Errorf("an older list: %v, want ErrOlder", err)
	}
	// So is another list with the same number.
	if err := l.Accept(list(t, ca, 5)); !errors.Is(err, crl.ErrOlder) {
		t.Errorf("another list numbered 5: %v, want ErrOlder", err)
	}
	if err := l.Accept([]byte("not a CRL")); !errors.Is(err, crl.ErrMalformed) {
		t.Errorf("garbage: %v, want ErrMalformed", err)
	}
	if !l.Revoked(stolen) || l.Revoked(healthy) || l.Number().Int64() != 5 {
		t.Errorf("refused lists changed what is in force: number %v, stolen %v, healthy %v", l.Number(), l.Revoked(stolen), l.Revoked(healthy))
	}
	if updates != 1 {
		t.Errorf("OnUpdate ran %d times, want once (only list 5 took effect)", updates)
	}
	// A certificate of another issuer with a listed serial is not revoked.
	twin := *stolen
	twin.RawIssuer = other.Cert.RawSubject
	if l.Revoked(&twin) {
		t.Error("a certificate of another issuer counted as revoked by serial alone")
	}
}

func TestRefreshKeepsListOnFailureAndOnDisk(t *testing.T) {
	t.Parallel()
	ca := newCA(t, "kiosk CA")
	stolen, lost := client(t, ca, "k-stolen"), client(t, ca, "k-lost")
	var mu sync.Mutex
	serve := list(t, ca, 1, stolen.SerialNumber)
	status := http.StatusOK
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		if status != http.StatusOK {
			http.Error(w, "portal down", status)
			return
		}
		w.Header().Set("Content-Type", "application/pkix-crl")
		w.Write(serve)
	}))
	defer srv.Close()
	file := filepath.Join(t.TempDir(), "crl.pem")
	ctx := context.Background()
	l, err := crl.New(crl.Options{URL: srv.URL + "/api/v1/crl", CA: ca.Cert, File: file})
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if !l.Revoked(stolen) {
		t.Fatal("the fetched list does not revoke k-stolen")
	}
	b, err := os.ReadFile(file)
	if err != nil || !strings.HasPrefix(string(b), "-----BEGIN X509 CRL-----") {
		t.Fatalf("the list on disk: %q, %v; want a PEM X509 CRL", b, err)
	}
	// The portal fails: the list held stays.
	mu.Lock()
	status = http.StatusBadGateway
	mu.Unlock()
	if err := l.Refresh(ctx); err == nil || !strings.Contains(err.Error(), "502") {
		t.Errorf("refresh from a failing portal: %v, want its status", err)
	}
	if !l.Revoked(stolen) {
		t.Error("a failed fetch dropped the list held")
	}
	// A newer list takes effect and is kept.
	mu.Lock()
	status, serve = http.StatusOK, list(t, ca, 2, stolen.SerialNumber, lost.SerialNumber)
	mu.Unlock()
	if err := l.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if !l.Revoked(lost) {
		t.Error("list 2 does not revoke k-lost")
	}
	var m strings.Builder
	l.WriteMetrics(&m)
	for _, want := range []string{"govkiosk_fleet_crl_number 2\n", "govkiosk_fleet_crl_revoked 2\n", "govkiosk_fleet_crl_fetches_total 3\n", "govkiosk_fleet_crl_fetch_failures_total 1\n"} {
		if !strings.Contains(m.String(), want) {
			t.Errorf("metrics lack %q:\n%s", want, m.String())
		}
	}
	// A restart starts from the list on disk, before any fetch.
	again, err := crl.New(crl.Options{URL: "http://127.0.0.1:1/unreachable", CA: ca.Cert, File: file})
	if err != nil {
		t.Fatal(err)
	}
	if !again.Revoked(lost) || again.Number().Int64() != 2 {
		t.Errorf("after a restart: number %v, k-lost revoked %v; want list 2 from disk", again.Number(), again.Revoked(lost))
	}
	// A file that is not the CA's list is a clear error at start.
	if err := os.WriteFile(file, []byte("junk"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := crl.New(crl.Options{CA: ca.Cert, File: file}); err == nil || !strings.Contains(err.Error(), file) {
		t.Errorf("a damaged list on disk: %v, want an error naming the file", err)
	}
}

func TestRunFetchesEveryInterval(t *testing.T) {
	t.Parallel()
	ca := newCA(t, "kiosk CA")
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write(list(t, ca, n.Add(1)))
	}))
	defer srv.Close()
	l, err := crl.New(crl.Options{URL: srv.URL, CA: ca.Cert, Interval: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); l.Run(ctx) }()
	deadline := time.Now().Add(10 * time.Second)
	for l.Number() == nil || l.Number().Int64() < 3 {
		if time.Now().After(deadline) {
			t.Fatalf("waited 10s for Run to take list 3; holds %v", l.Number())
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return within 5s of its context's end")
	}
}
