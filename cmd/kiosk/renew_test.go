package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	backendclient "govkiosk/backend-client"
	"govkiosk/backend-client/api"
	"govkiosk/kiosk/config"
	"govkiosk/portal"
	"govkiosk/provisioning"
)

// enrolledLongAgo is a kiosk data directory enrolled with a real portal
// (HTTPS) whose clock was set 21 days back for the enrollment: its
// certificate has 9 of its 30 days left, so the kiosk renews it at start.
func enrolledLongAgo(t *testing.T) (srv *portal.Server, cfgPath string, cfg config.Config) {
	t.Helper()
	return enrolledAgo(t, 21*24*time.Hour)
}

// enrolledAgo is a kiosk enrolled with a real portal whose clock was set
// ago back for the enrollment.
func enrolledAgo(t *testing.T, ago time.Duration) (srv *portal.Server, cfgPath string, cfg config.Config) {
	t.Helper()
	var shift atomic.Int64
	ctx, cancel := context.WithCancel(context.Background())
	listen := freePort(t)
	srv, url, err := portal.Start(ctx, portal.Options{Listen: "127.0.0.1:0", DataDir: t.TempDir(), RenewInterval: -1,
		Now: func() time.Time { return time.Now().Add(time.Duration(shift.Load())) },
		Log: slog.New(slog.DiscardHandler), KioskRedirectURIs: []string{"http://" + listen + "/auth/callback"}})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); <-srv.Done() })
	shift.Store(int64(-ago))
	defer shift.Store(0)
	tok, err := srv.IssueEnrollToken()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	key, _ := provisioning.LoadOrCreateKey(dir)
	cfg, err = provisioning.Provision(ctx, backendclient.New(url, provisioning.EnrollmentClient(srv.CAFingerprint(), false, 10*time.Second), "", key),
		provisioning.ProvisionOptions{DataDir: dir, PortalURL: url, Token: tok, CAFingerprint: srv.CAFingerprint(), Listen: listen, OpsListen: freePort(t)})
	if err != nil {
		t.Fatal(err)
	}
	return srv, filepath.Join(dir, provisioning.ConfigFile), cfg
}

// startServing runs the kiosk of cfgPath in-process until the test ends.
func startServing(t *testing.T, cfgPath string) *setupKiosk {
	t.Helper()
	cfg, err := config.Load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	jar, _ := cookiejar.New(nil)
	k := &setupKiosk{t: t, stdout: &syncBuffer{}, stderr: &syncBuffer{}, ui: "http://" + cfg.Listen, done: make(chan error, 1),
		hc: &http.Client{Jar: jar, Timeout: 10 * time.Second}}
	log := slog.New(slog.NewTextHandler(k.stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	go func() {
		k.done <- runConfigured(ctx, cfgPath, flag.NewFlagSet("kiosk", flag.ContinueOnError), false,
			serveOptions{log: log, stdout: k.stdout, startTimeout: 20 * time.Second})
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-k.done:
			if err != nil {
				t.Errorf("the kiosk's run: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Error("the kiosk did not stop within 30s of its context's end")
		}
	})
	return k
}

func certSerial(t *testing.T, dir string) string {
	t.Helper()
	key, _ := provisioning.LoadOrCreateKey(dir)
	dc, err := provisioning.LoadDeviceCert(dir, key)
	if err != nil {
		t.Fatal(err)
	}
	return dc.Leaf().SerialNumber.String() + " " + fmt.Sprint(dc.Leaf().NotAfter.Unix())
}

// TestKioskRenewsItsCertificate: a kiosk whose certificate has less than a
// third of its life left renews it at start from the real portal, stores
// it, and /metrics gives the new certificate's end.
func TestKioskRenewsItsCertificate(t *testing.T) {
	_, cfgPath, cfg := enrolledLongAgo(t)
	before := certSerial(t, cfg.DataDir)
	k := startServing(t, cfgPath)
	var after string
	k.waitFor(30*time.Second, "a renewed kiosk-cert.pem", func() bool {
		after = certSerial(t, cfg.DataDir)
		return after != before
	})
	var notAfter int64
	fmt.Sscanf(strings.Fields(after)[1], "%d", &notAfter)
	want := fmt.Sprintf("govkiosk_device_cert_expiry_seconds %g", float64(notAfter))
	k.waitFor(30*time.Second, "the renewed certificate's end on /metrics", func() bool {
		resp, err := http.Get("http://" + cfg.OpsListen + "/metrics")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return strings.Contains(string(b), want)
	})
	if !strings.Contains(k.stderr.String(), "device certificate renewed") {
		t.Error("the renewal is not in the log")
	}
}

// revoke revokes the kiosk at the portal through the admin API.
func revoke(t *testing.T, srv *portal.Server, cfg config.Config) {
	t.Helper()
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM([]byte(srv.CAPEM()))
	admin := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}}
	body, _ := json.Marshal(api.RevokeRequest{Reason: "stolen"})
	req, _ := http.NewRequest(http.MethodPost, cfg.PortalURL+api.PathAdminKiosks+cfg.KioskID+"/revoke", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+srv.AdminToken())
	req.Header.Set("Content-Type", "application/json")
	resp, err := admin.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("revoke: %s", resp.Status)
	}
}

// TestRevokedKioskGoesOutOfService: a kiosk the portal revoked learns it
// at its renewal and shows the out-of-service screen for good.
func TestRevokedKioskGoesOutOfService(t *testing.T) {
	srv, cfgPath, cfg := enrolledLongAgo(t)
	revoke(t, srv, cfg)
	before, _ := os.ReadFile(filepath.Join(cfg.DataDir, provisioning.CertFile))
	k := startServing(t, cfgPath)
	k.launch("kiosk ready:")
	k.screenShows(`data-testid="revoked"`)
	after, _ := os.ReadFile(filepath.Join(cfg.DataDir, provisioning.CertFile))
	if !bytes.Equal(before, after) {
		t.Error("a revoked kiosk's certificate changed")
	}
}

// TestKioskRevokedWhileServing: a kiosk serving citizens with a fresh
// certificate (nothing to renew) is revoked at the portal; its next
// heartbeat is refused and it goes out of service for good.
func TestKioskRevokedWhileServing(t *testing.T) {
	srv, cfgPath, cfg := enrolledAgo(t, 0)
	var m map[string]any
	b, _ := os.ReadFile(cfgPath)
	json.Unmarshal(b, &m)
	m["heartbeat"] = "1s"
	b, _ = json.Marshal(m)
	os.WriteFile(cfgPath, b, 0o600)
	k := startServing(t, cfgPath)
	if page := k.launch("kiosk ready:"); !strings.Contains(page, `data-step="attract"`) {
		t.Fatalf("not serving:\n%s", page)
	}
	revoke(t, srv, cfg)
	k.screenShows(`data-testid="revoked"`)
	if strings.Contains(k.stderr.String(), "device certificate renewed") {
		t.Error("a fresh certificate was renewed")
	}
}
