package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"

	"govkiosk/fleet/fleettest"
)

// The fleet service fetches the revocation list of --crl-url, keeps it in
// --data for mosquitto and restarts, exports its state, and its embedded
// broker refuses the kiosk the list names.
func TestRunFetchesCRLAndRefusesRevoked(t *testing.T) {
	var serve atomic.Pointer[[]byte]
	portal := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		der := serve.Load()
		if der == nil {
			http.Error(w, "not yet", http.StatusServiceUnavailable)
			return
		}
		w.Write(*der)
	}))
	defer portal.Close()
	data := t.TempDir()
	f := startFleet(t, "--data", data, "--crl-url", portal.URL+"/api/v1/crl", "--crl-interval", "50ms")
	t.Cleanup(func() { f.stop(t) })
	stolen, err := f.ca.Client("k-stolen", nil)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.CreateRevocationList(rand.Reader, &x509.RevocationList{Number: big.NewInt(7), ThisUpdate: time.Now(), NextUpdate: time.Now().Add(time.Hour),
		RevokedCertificateEntries: []x509.RevocationListEntry{{SerialNumber: stolen.Leaf.SerialNumber, RevocationTime: time.Now()}}}, f.ca.Cert, f.ca.Key)
	if err != nil {
		t.Fatal(err)
	}
	serve.Store(&der)
	fleettest.WaitFor(t, 15*time.Second, "the fleet service ready", func() bool { return strings.Contains(f.stdout.String(), "fleet service ready") })
	crlFile := filepath.Join(data, "crl.pem")
	fleettest.WaitFor(t, 15*time.Second, "the revocation list written to --data/crl.pem", func() bool {
		b, err := os.ReadFile(crlFile)
		return err == nil && bytes.Contains(b, []byte("BEGIN X509 CRL"))
	})
	code, metrics, err := get(http.DefaultClient, "http://"+f.httpAddr+"/metrics")
	if err != nil || code != 200 || !strings.Contains(metrics, "govkiosk_fleet_crl_number 7\n") || !strings.Contains(metrics, "govkiosk_fleet_crl_fetch_failures_total ") {
		t.Errorf("/metrics: %d %v, want the list's number 7 and its failures:\n%s", code, err, metrics)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := (&tls.Dialer{Config: &tls.Config{Certificates: []tls.Certificate{stolen}, RootCAs: f.ca.Pool()}}).DialContext(ctx, "tcp", f.mqttAddr)
	if err != nil {
		t.Fatal(err)
	}
	c := paho.NewClient(paho.ClientConfig{Conn: conn, OnClientError: func(error) {}})
	defer c.Disconnect(&paho.Disconnect{})
	if ack, _ := c.Connect(ctx, &paho.Connect{ClientID: "k-stolen", KeepAlive: 30, CleanStart: true}); ack == nil || ack.ReasonCode != 0x8A {
		t.Errorf("the revoked kiosk at the fleet's broker: CONNACK %+v, want 0x8A banned", ack)
	}
}

// The identity flags are checked with the rest.
func TestRunRefusesIncompleteIdentityFlags(t *testing.T) {
	var stderr bytes.Buffer
	err := run(context.Background(), []string{"--broker", "tls://mqtt.example:8883", "--client-cert", "c", "--client-key", "k",
		"--crl-url", "https://portal.example/api/v1/crl", "--portal-admin", "https://portal.example", "--operators", "lan"}, &bytes.Buffer{}, &stderr)
	for _, want := range []string{"--kiosk-ca", "--portal-admin-token-file", "--operators needs --users"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("run = %v, want it to name %s", err, want)
		}
	}
}
