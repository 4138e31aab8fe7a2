package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"html"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"
	"golang.org/x/crypto/bcrypt"

	"govkiosk/backend-client/api"
	"govkiosk/fleet/fleettest"
	"govkiosk/portal"
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

// With --portal-admin (the real portal, over HTTPS with --portal-ca) the
// console's operators issue enrollment codes, and the revocation list
// comes from the same portal.
func TestRunPortalAdmin(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	dir := t.TempDir()
	const token = "fleet-cmd-test-admin-token-0123456789"
	ps, portalURL, err := portal.Start(ctx, portal.Options{Listen: "127.0.0.1:0", DataDir: filepath.Join(dir, "portal"), AdminToken: token,
		KioskRedirectURIs: []string{"http://127.0.0.1:8080/auth/callback"}, Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	caFile, tokFile, users := filepath.Join(dir, "portal-ca.pem"), filepath.Join(dir, "token"), filepath.Join(dir, "users")
	hash, _ := bcrypt.GenerateFromPassword([]byte("pw"), bcrypt.MinCost)
	for f, b := range map[string]string{caFile: ps.CAPEM(), tokFile: token + "\n", users: "lan:" + string(hash) + "\nbinh:" + string(hash) + "\n"} {
		if err := os.WriteFile(f, []byte(b), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	f := startFleet(t, "--data", filepath.Join(dir, "fleet"), "--kiosk-ca", caFile, "--portal-ca", caFile, "--portal-admin", portalURL,
		"--portal-admin-token-file", tokFile, "--users", users, "--operators", "lan", "--offices", "QN-TK")
	t.Cleanup(func() { f.stop(t) })
	fleettest.WaitFor(t, 15*time.Second, "the fleet service ready", func() bool { return strings.Contains(f.stdout.String(), "fleet service ready") })
	base := "http://" + f.httpAddr
	fleettest.WaitFor(t, 15*time.Second, "the portal's revocation list on /metrics", func() bool {
		_, body, err := get(http.DefaultClient, base+"/metrics")
		return err == nil && regexp.MustCompile(`(?m)^govkiosk_fleet_crl_number [1-9]`).MatchString(body)
	})
	jar, _ := cookiejar.New(nil)
	staff := &http.Client{Jar: jar, Timeout: 20 * time.Second}
	resp, err := staff.PostForm(base+"/login", url.Values{"user": {"lan"}, "password": {"pw"}, "next": {"/enroll?office=QN-TK"}})
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	m := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindSubmatch(page)
	if resp.StatusCode != 200 || m == nil || !bytes.Contains(page, []byte(`name="ttl"`)) {
		t.Fatalf("the enroll page for an operator: %s\n%s", resp.Status, page)
	}
	resp, err = staff.PostForm(base+"/enroll", url.Values{"csrf": {string(m[1])}, "office": {"QN-TK"}, "ttl": {"1"}})
	if err != nil {
		t.Fatal(err)
	}
	page, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	code := regexp.MustCompile(`<pre class="code">([^<]+)</pre>`).FindSubmatch(page)
	if resp.StatusCode != 200 || code == nil {
		t.Fatalf("issue a code: %s\n%s", resp.Status, page)
	}
	ec, err := api.ParseEnrollCode(html.UnescapeString(string(code[1])))
	if err != nil || ec.PortalURL != portalURL || ec.Office != "QN-TK" || ec.CAFingerprint != ps.CAFingerprint() {
		t.Errorf("the code %q: %+v, %v; want the portal's URL, office and CA", code[1], ec, err)
	}
}
