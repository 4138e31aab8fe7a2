//go:build demo

package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"image/png"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"periph.io/x/conn/v3/gpio"

	backendclient "govkiosk/backend-client"
	"govkiosk/drivers/device"
	"govkiosk/drivers/display"
	"govkiosk/drivers/sensors"
	"govkiosk/kiosk/receipt"
	"govkiosk/portal"
	"govkiosk/provisioning"
)

// busyPort holds a loopback port for the test's duration.
func busyPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln.Addr().String()
}

// demoArgs are the arguments of a demo kiosk on free ports in its own folder.
func demoArgs(t *testing.T, extra ...string) []string {
	args := []string{"--demo", "--data", t.TempDir(), "--listen", freePort(t), "--ops-listen", freePort(t), "--portal-listen", "127.0.0.1:0"}
	return append(args, extra...)
}

// startPortal runs a reference portal for the test.
func startPortal(t *testing.T) (*portal.Server, string) {
	t.Helper()
	return startPortalFor(t, "http://127.0.0.1:8080/auth/callback")
}

// startPortalFor is startPortal for a kiosk whose login callback is redirect.
func startPortalFor(t *testing.T, redirect string) (*portal.Server, string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	srv, url, err := portal.Start(ctx, portal.Options{
		Listen: "127.0.0.1:0", PlainHTTP: true, DataDir: t.TempDir(), Log: slog.New(slog.DiscardHandler),
		KioskRedirectURIs: []string{redirect}, PhoneSimulator: true, // the tests' citizens approve on the simulated phone
	})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		select {
		case <-srv.Done():
		case <-time.After(10 * time.Second):
			t.Error("test portal did not shut down within 10s")
		}
	})
	return srv, url
}

func TestDemoStartFailures(t *testing.T) {
	const bound = 40 * time.Second
	t.Run("busy UI port", func(t *testing.T) {
		busy := busyPort(t)
		code, stderr, _ := runKiosk(t, bound, append(demoArgs(t), "--listen", busy)...)
		wantStartFailure(t, code, stderr, "touch UI", busy, "address already in use")
	})
	t.Run("busy ops port", func(t *testing.T) {
		busy := busyPort(t)
		code, stderr, _ := runKiosk(t, bound, append(demoArgs(t), "--ops-listen", busy)...)
		wantStartFailure(t, code, stderr, "ops", busy, "address already in use")
	})
	t.Run("busy portal port", func(t *testing.T) {
		busy := busyPort(t)
		code, stderr, _ := runKiosk(t, bound, append(demoArgs(t), "--portal-listen", busy)...)
		wantStartFailure(t, code, stderr, "embedded portal", busy, "address already in use")
	})
	t.Run("bad token", func(t *testing.T) {
		_, url := startPortal(t)
		code, stderr, _ := runKiosk(t, bound, demoArgs(t, "--portal", url, "--enroll-token", "ENR-BAD")...)
		wantStartFailure(t, code, stderr, "enroll", url)
	})
	t.Run("used token", func(t *testing.T) {
		srv, url := startPortal(t)
		tok, err := srv.IssueEnrollToken()
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if _, err := provisioning.Provision(ctx, backendclient.New(url, nil, "", nil), provisioning.ProvisionOptions{
			DataDir: t.TempDir(), PortalURL: url, Token: tok, Hostname: "first-kiosk", AllowInsecureLoopback: true,
		}); err != nil {
			t.Fatal(err)
		}
		code, stderr, _ := runKiosk(t, bound, demoArgs(t, "--portal", url, "--enroll-token", tok)...)
		wantStartFailure(t, code, stderr, "enroll", url)
	})
	t.Run("no token", func(t *testing.T) {
		_, url := startPortal(t)
		code, stderr, _ := runKiosk(t, bound, demoArgs(t, "--portal", url)...)
		wantStartFailure(t, code, stderr, "--enroll-token")
	})
	t.Run("portal port closed", func(t *testing.T) {
		url := "http://" + freePort(t)
		code, stderr, _ := runKiosk(t, bound, demoArgs(t, "--portal", url, "--enroll-token", "ENR-X")...)
		wantStartFailure(t, code, stderr, "enroll", url, "connection refused")
	})
	t.Run("portal never answers", func(t *testing.T) {
		// A peer that accepts the connection and then says nothing: only a
		// deadline ends the wait.
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				defer c.Close()
			}
		}()
		url := "http://" + ln.Addr().String()
		code, stderr, took := runKiosk(t, bound, demoArgs(t, "--portal", url, "--enroll-token", "ENR-X", "--start-timeout", "2s")...)
		wantStartFailure(t, code, stderr, "enroll", url, "within 2s")
		if took > 15*time.Second {
			t.Errorf("the kiosk took %v to give up on a silent portal with --start-timeout 2s", took)
		}
	})
}

// A demo kiosk that started stops cleanly (status 0) on SIGINT and on SIGTERM.
func TestDemoStopsCleanlyOnSignal(t *testing.T) {
	for _, sig := range []os.Signal{os.Interrupt, syscall.SIGTERM} {
		t.Run(sig.String(), func(t *testing.T) {
			k := startKioskProc(t, demoArgs(t)...)
			deadline := time.Now().Add(60 * time.Second)
			for !strings.Contains(k.stdout.String(), "kiosk ready") {
				select {
				case <-k.done:
					t.Fatalf("the demo kiosk exited before it was ready:\n%s", k.stderr)
				case <-time.After(50 * time.Millisecond):
				}
				if time.Now().After(deadline) {
					t.Fatalf("no \"kiosk ready\" within 60s; stderr:\n%s", k.stderr)
				}
			}
			k.cmd.Process.Signal(sig)
			if code := k.wait(t, 15*time.Second, "stopping on "+sig.String()); code != 0 {
				t.Fatalf("exit status %d after %v; stderr:\n%s", code, sig, k.stderr)
			}
			if s := k.stderr.String(); strings.Contains(s, "kiosk: ") || strings.Contains(s, "panic") {
				t.Errorf("a clean stop reported an error:\n%s", s)
			}
		})
	}
}

func TestDemoControls(t *testing.T) {
	if _, err := os.Stat("/usr/bin/scanimage"); err != nil {
		t.Skip("sane-utils is not installed (make deps installs it)")
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	d, err := startDemo(ctx, demoOptions{
		dataDir: t.TempDir(), listen: "127.0.0.1:18080", opsListen: "127.0.0.1:19100", portalListen: "127.0.0.1:0",
	}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if d.cfg.KioskID == "" || d.cfg.Printer.Port == "" || d.cfg.QRReader.Port == "" || d.cfg.Scanner.Device != "test" {
		t.Fatalf("demo config not provisioned with simulated devices: %+v", d.cfg)
	}
	disp, err := display.Open(&display.Opts{SysRoot: d.cfg.SysRoot}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if st := disp.Status(context.Background()); st.State != device.Online {
		t.Fatalf("demo backlight: %+v", st)
	}
	if c, err := sensors.Temperature(d.cfg.SysRoot); err != nil || c != 41.5 {
		t.Fatalf("demo temperature %v, %v", c, err)
	}
	h := d.Handler()
	post := func(path, ctype string, body []byte) int {
		w := httptest.NewRecorder()
		r := httptest.NewRequest(http.MethodPost, path, bytes.NewReader(body))
		r.Header.Set("Content-Type", ctype)
		h.ServeHTTP(w, r)
		return w.Code
	}
	// A camera frame with a QR code comes out of the camera reader.
	qr, err := receipt.QRCode("http://127.0.0.1:8090/t/QN-2026-000001", 300)
	if err != nil {
		t.Fatal(err)
	}
	var frame bytes.Buffer
	png.Encode(&frame, qr)
	if code := post("/demo/frame", "image/png", frame.Bytes()); code != http.StatusNoContent {
		t.Fatalf("frame with a QR: %d", code)
	}
	select {
	case s := <-d.camera.Scans():
		if string(s.Data) != "http://127.0.0.1:8090/t/QN-2026-000001" {
			t.Fatalf("camera read %q", s.Data)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no scan from the camera frame")
	}
	if code := post("/demo/frame", "image/png", []byte("not an image")); code != http.StatusBadRequest {
		t.Fatalf("garbage frame: %d", code)
	}
	if code := post("/demo/printer", "application/x-www-form-urlencoded", []byte("paper=jam")); code != http.StatusBadRequest {
		t.Fatalf("unknown paper state: %d", code)
	}
	if code := post("/demo/printer", "application/x-www-form-urlencoded", []byte("paper=out")); code != http.StatusNoContent {
		t.Fatalf("paper out: %d", code)
	}
	if code := post("/demo/qr", "text/plain", nil); code != http.StatusBadRequest {
		t.Fatalf("empty QR: %d", code)
	}
	if code := post("/demo/door", "application/x-www-form-urlencoded", []byte("door=open")); code != http.StatusNoContent || d.pins.door.Read() != gpio.High {
		t.Fatalf("door open: %d, pin %v", code, d.pins.door.Read())
	}
	if code := post("/demo/door", "application/x-www-form-urlencoded", []byte("door=ajar")); code != http.StatusBadRequest {
		t.Fatalf("door ajar: %d", code)
	}
	if !strings.HasPrefix(d.cfg.PortalURL, "http://127.0.0.1:") {
		t.Fatalf("portal URL %q", d.cfg.PortalURL)
	}
	// The embedded portal serves the citizen phone, to the admin only.
	phone := func(token string) int {
		req, _ := http.NewRequest("GET", d.cfg.PortalURL+"/phone/api/pending", nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := phone(""); code != http.StatusUnauthorized {
		t.Errorf("phone simulator without the admin token: %d", code)
	}
	if code := phone(d.portal.AdminToken()); code != http.StatusOK {
		t.Errorf("phone simulator with the admin token: %d", code)
	}
}

// TestDemoKioskOverMutualTLS: a demo kiosk enrolled with a portal that
// serves HTTPS (its own CA, as in production) finds the portal by the CA
// fingerprint given with the token, then pins that CA and shows its device
// certificate: its heartbeat reaches the portal's kiosk API, which answers
// only mutual TLS.
func TestDemoKioskOverMutualTLS(t *testing.T) {
	if _, err := os.Stat("/usr/bin/scanimage"); err != nil {
		t.Skip("sane-utils is not installed (make deps installs it)")
	}
	ctx, cancel := context.WithCancel(context.Background())
	srv, url, err := portal.Start(ctx, portal.Options{Listen: "127.0.0.1:0", DataDir: t.TempDir(), Log: slog.New(slog.DiscardHandler),
		KioskRedirectURIs: []string{"http://127.0.0.1:8080/auth/callback"}})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	defer func() { cancel(); <-srv.Done() }()
	if !strings.HasPrefix(url, "https://") {
		t.Fatalf("portal at %s", url)
	}
	tok, err := srv.IssueEnrollToken()
	if err != nil {
		t.Fatal(err)
	}
	// Without the fingerprint the kiosk does not enroll with an https portal.
	code, stderr, _ := runKiosk(t, 40*time.Second, demoArgs(t, "--portal", url, "--enroll-token", tok)...)
	wantStartFailure(t, code, stderr, "fingerprint")

	k := startKioskProc(t, demoArgs(t, "--portal", url, "--enroll-token", tok, "--ca-fingerprint", srv.CAFingerprint())...)
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM([]byte(srv.CAPEM()))
	admin := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}}
	deadline := time.Now().Add(60 * time.Second)
	for {
		var kiosks []portal.AdminKiosk
		req, _ := http.NewRequest(http.MethodGet, url+"/api/v1/admin/kiosks", nil)
		req.Header.Set("Authorization", "Bearer "+srv.AdminToken())
		if resp, err := admin.Do(req); err == nil {
			json.NewDecoder(resp.Body).Decode(&kiosks)
			resp.Body.Close()
		}
		if len(kiosks) == 1 && kiosks[0].Enrolled && kiosks[0].Heartbeat.KioskID == kiosks[0].KioskID && kiosks[0].Heartbeat.Version != "" {
			break
		}
		select {
		case <-k.done:
			t.Fatalf("the demo kiosk exited:\n%s", k.stderr)
		case <-time.After(200 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("no heartbeat over mutual TLS within 60s (kiosks %+v); stderr:\n%s", kiosks, k.stderr)
		}
	}
	if s := k.stderr.String(); strings.Contains(s, "catalogue refresh failed") {
		t.Errorf("the catalogue did not come over TLS:\n%s", s)
	}
}
