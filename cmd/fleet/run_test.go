package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	kioskfleet "govkiosk/backend-client/fleet"
	"govkiosk/fleet/fleettest"
	"govkiosk/fleet/pki"

	"golang.org/x/crypto/bcrypt"
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
		done <- run(ctx, []string{"--mqtt-listen", mqttAddr, "--listen", httpAddr, "--tls-cert", certPath, "--tls-key", keyPath, "--kiosk-ca", caPath,
			"--store", "memory"}, &stdout, &stderr)
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
	users := filepath.Join(t.TempDir(), "users")
	os.WriteFile(users, []byte("staff:not-a-hash\n"), 0o600)
	err := run(context.Background(), []string{"--broker", "tls://mqtt.example:8883", "--users", users, "--retention", "0s"}, &bytes.Buffer{}, &stderr)
	if err == nil || !strings.Contains(err.Error(), "--client-cert") || !strings.Contains(err.Error(), "--users") || !strings.Contains(err.Error(), "--retention") {
		t.Errorf("run = %v, want every problem named at once", err)
	}
	if strings.Contains(fmt.Sprint(err), "not-a-hash") {
		t.Errorf("run = %v: the users file's hash is shown", err)
	}
}

// A bad --store names the problem (and no password of the DSN).
func TestRunRefusesBadStore(t *testing.T) {
	f := startFleet(t, "--store", "mysql://admin:s3cret@db/fleet")
	err := f.wait(t)
	if err == nil || !strings.Contains(err.Error(), "--store") || strings.Contains(err.Error(), "s3cret") {
		t.Errorf("run = %v, want a --store error without the password", err)
	}
}

type fleetRun struct {
	mqttAddr, httpAddr string
	ca                 *pki.CA
	stdout, stderr     *syncBuffer
	cancel             context.CancelFunc
	done               chan error
}

// startFleet runs the fleet service with an embedded broker and the
// given extra flags.
func startFleet(t *testing.T, extra ...string) *fleetRun {
	t.Helper()
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
	f := &fleetRun{mqttAddr: freeAddr(t), httpAddr: freeAddr(t), ca: ca, stdout: &syncBuffer{}, stderr: &syncBuffer{}, done: make(chan error, 1)}
	ctx, cancel := context.WithCancel(context.Background())
	f.cancel = cancel
	args := append([]string{"--mqtt-listen", f.mqttAddr, "--listen", f.httpAddr, "--tls-cert", certPath, "--tls-key", keyPath, "--kiosk-ca", caPath}, extra...)
	go func() { f.done <- run(ctx, args, f.stdout, f.stderr) }()
	return f
}

func (f *fleetRun) wait(t *testing.T) error {
	t.Helper()
	select {
	case err := <-f.done:
		f.done <- err
		return err
	case <-time.After(30 * time.Second):
		t.Fatalf("the fleet service did not return within 30s; stderr:\n%s", f.stderr.String())
		return nil
	}
}

func (f *fleetRun) stop(t *testing.T) {
	f.cancel()
	if err := f.wait(t); err != nil {
		t.Errorf("run: %v\nstderr:\n%s", err, f.stderr.String())
	}
}

// joinKiosk connects a kiosk with a device certificate of the fleet's CA
// and runs its client until the test ends.
func (f *fleetRun) joinKiosk(t *testing.T, id string) {
	t.Helper()
	kc, _ := f.ca.Client(id, nil)
	u, _ := url.Parse("tls://" + f.mqttAddr)
	c, err := kioskfleet.Open(kioskfleet.Options{KioskID: id, Broker: u, Dir: t.TempDir(),
		TLS: &tls.Config{Certificates: []tls.Certificate{kc}, RootCAs: f.ca.Pool()}})
	if err != nil {
		t.Fatal(err)
	}
	kctx, kcancel := context.WithCancel(context.Background())
	kdone := make(chan struct{})
	go func() { c.Run(kctx); close(kdone) }()
	t.Cleanup(func() { kcancel(); <-kdone })
}

func get(client *http.Client, u string) (int, string, error) {
	resp, err := client.Get(u)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

// The fleet service on its default SQLite store in --data serves
// /metrics with a kiosk's series once it joins, and the console only to
// a logged-in staff member of the --users file.
func TestRunSQLiteMetricsAndConsole(t *testing.T) {
	data := t.TempDir()
	hash, err := bcrypt.GenerateFromPassword([]byte("correct horse"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	users := filepath.Join(t.TempDir(), "users")
	if err := os.WriteFile(users, []byte("# staff\nmonitor:"+string(hash)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	f := startFleet(t, "--data", data, "--users", users, "--retention", "720h")
	t.Cleanup(func() { f.stop(t) })
	fleettest.WaitFor(t, 15*time.Second, "the fleet service ready", func() bool { return strings.Contains(f.stdout.String(), "fleet service ready") })
	if _, err := os.Stat(filepath.Join(data, "fleet.db")); err != nil {
		t.Errorf("the default store is not a SQLite file in --data: %v", err)
	}
	base := "http://" + f.httpAddr
	if !strings.Contains(f.stdout.String(), "console "+base+"/") {
		t.Errorf("the ready line does not give the console's address: %q", f.stdout.String())
	}
	f.joinKiosk(t, "k-run-2")

	var metrics string
	fleettest.WaitFor(t, 15*time.Second, "/metrics with govkiosk_fleet_kiosk_online{kiosk=\"k-run-2\"} 1", func() bool {
		code, body, err := get(http.DefaultClient, base+"/metrics")
		metrics = body
		return err == nil && code == 200 && strings.Contains(body, `govkiosk_fleet_kiosk_online{kiosk="k-run-2"`) &&
			strings.Contains(body, "govkiosk_fleet_offline_after_seconds")
	})
	if !strings.Contains(metrics, "govkiosk_fleet_store_up 1") {
		t.Errorf("/metrics lacks govkiosk_fleet_store_up 1:\n%s", metrics)
	}

	// Anonymous: the console sends to its login page and shows no kiosk.
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }, Timeout: 10 * time.Second}
	resp, err := noRedirect.Get(base + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/login") {
		t.Errorf("anonymous GET / = %d to %q, want 303 to /login", resp.StatusCode, resp.Header.Get("Location"))
	}
	jar, _ := cookiejar.New(nil)
	staff := &http.Client{Jar: jar, Timeout: 10 * time.Second}
	resp, err = staff.PostForm(base+"/login", url.Values{"user": {"monitor"}, "password": {"wrong"}, "next": {"/"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("login with a wrong password = %d, want 401", resp.StatusCode)
	}
	resp, err = staff.PostForm(base+"/login", url.Values{"user": {"monitor"}, "password": {"correct horse"}, "next": {"/"}})
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), "k-run-2") {
		t.Errorf("the console after login = %d, want the kiosk k-run-2 listed:\n%s", resp.StatusCode, body)
	}
}
