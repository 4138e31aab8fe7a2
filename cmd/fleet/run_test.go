package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	kioskfleet "govkiosk/backend-client/fleet"
	"govkiosk/fleet/fleettest"
	"govkiosk/fleet/pki"
)

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

func freeAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// The fleet service with its embedded broker takes a kiosk with a device
// certificate of the kiosk CA and shows it online.
func TestRunEmbeddedBroker(t *testing.T) {
	dir := t.TempDir()
	ca, err := pki.NewCA("kiosk CA", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	caPath, _ := ca.WritePEM(dir, "kiosk-ca.pem")
	server, _ := ca.Server("127.0.0.1")
	certPath, keyPath, err := pki.WriteKeyPair(server, dir, "broker")
	if err != nil {
		t.Fatal(err)
	}
	mqttAddr, httpAddr := freeAddr(t), freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	var stdout, stderr syncBuffer
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"--mqtt-listen", mqttAddr, "--listen", httpAddr, "--tls-cert", certPath, "--tls-key", keyPath, "--kiosk-ca", caPath}, &stdout, &stderr)
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
	})
	fleettest.WaitFor(t, 15*time.Second, "the fleet service ready", func() bool { return strings.Contains(stdout.String(), "fleet service ready") })

	kc, _ := ca.Client("k-run-1", nil)
	u, _ := url.Parse("tls://" + mqttAddr)
	c, err := kioskfleet.Open(kioskfleet.Options{KioskID: "k-run-1", Broker: u, Dir: t.TempDir(),
		TLS: &tls.Config{Certificates: []tls.Certificate{kc}, RootCAs: ca.Pool()}})
	if err != nil {
		t.Fatal(err)
	}
	kctx, kcancel := context.WithCancel(ctx)
	kdone := make(chan struct{})
	go func() { c.Run(kctx); close(kdone) }()
	defer func() { kcancel(); <-kdone }()

	fleettest.WaitFor(t, 15*time.Second, "/healthz counting the kiosk online", func() bool {
		resp, err := http.Get("http://" + httpAddr + "/healthz")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		var got map[string]int
		return json.NewDecoder(resp.Body).Decode(&got) == nil && got["online"] == 1 && got["kiosks"] == 1
	})
}

func TestRunRefusesIncompleteFlags(t *testing.T) {
	var stderr bytes.Buffer
	err := run(context.Background(), []string{"--broker", "tls://mqtt.example:8883", "--store", "nosuch"}, &bytes.Buffer{}, &stderr)
	if err == nil || !strings.Contains(err.Error(), "--client-cert") || !strings.Contains(err.Error(), "--store") {
		t.Errorf("run = %v, want every problem named at once", err)
	}
}
