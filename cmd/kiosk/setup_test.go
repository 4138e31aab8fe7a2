package main

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"periph.io/x/conn/v3/gpio"

	backendclient "govkiosk/backend-client"
	"govkiosk/backend-client/api"
	"govkiosk/backend-client/fleetwire"
	"govkiosk/drivers/qrreader/imageremu"
	"govkiosk/drivers/sensors/sensorstest"
	"govkiosk/kiosk/config"
	"govkiosk/portal"
	"govkiosk/provisioning"
)

// setupKiosk is the kiosk run in-process in setup mode.
type setupKiosk struct {
	t      *testing.T
	stdout *syncBuffer
	stderr *syncBuffer
	hc     *http.Client
	ui     string
	done   chan error
}

// waitFor polls until cond holds, failing with what after d.
func (k *setupKiosk) waitFor(d time.Duration, what string, cond func() bool) {
	k.t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		select {
		case err := <-k.done:
			k.t.Fatalf("the kiosk exited (%v) while waiting for %s:\n%s", err, what, k.stderr)
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			k.t.Fatalf("no %s within %v:\nstdout:\n%s\nstderr:\n%s", what, d, k.stdout, k.stderr)
		}
	}
}

// launch waits for the first stdout line with a launch URL after prefix
// and opens it, as the kiosk's browser does.
func (k *setupKiosk) launch(prefix string) string { k.t.Helper(); return k.launchNth(prefix, 1) }

// launchNth is launch of the nth such line.
func (k *setupKiosk) launchNth(prefix string, nth int) string {
	k.t.Helper()
	re := regexp.MustCompile(regexp.QuoteMeta(prefix) + ` open (\S+) once`)
	var u string
	k.waitFor(30*time.Second, fmt.Sprintf("line %d %q", nth, prefix), func() bool {
		m := re.FindAllStringSubmatch(k.stdout.String(), -1)
		if len(m) >= nth {
			u = m[nth-1][1]
		}
		return len(m) >= nth
	})
	return k.get(u)
}

func (k *setupKiosk) get(u string) string {
	k.t.Helper()
	resp, err := k.hc.Get(u)
	if err != nil {
		k.t.Fatalf("GET %s: %v", u, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		k.t.Fatalf("GET %s: %s\n%s", u, resp.Status, b)
	}
	return string(b)
}

// post touches a button; the redirect it answers is not followed (after
// Start the setup screen's server is gone).
func (k *setupKiosk) post(path string) string {
	k.t.Helper()
	hc := *k.hc
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := hc.PostForm(k.ui+path, url.Values{})
	if err != nil {
		k.t.Fatalf("POST %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// screenShows polls the setup screen until it holds want.
func (k *setupKiosk) screenShows(want string) string {
	k.t.Helper()
	var page string
	k.waitFor(30*time.Second, "setup screen with "+want, func() bool {
		page = k.get(k.ui + "/")
		return strings.Contains(page, want)
	})
	return page
}

// TestSetupModeEnrollsByQR: a fresh kiosk (kiosk.json with its QR reader
// only) starts in setup mode and says so in Thai, Vietnamese and English;
// a QR that is no enrollment code is named as such; a code with the CA
// fingerprint of another portal is refused with the reason and writes no
// identity; after "Try again" the right code enrolls it with the real
// portal, the screen shows its kiosk id, office and self-test, and Start
// takes it to the citizens' attract screen in the same process.
func TestSetupModeEnrollsByQR(t *testing.T) {
	pctx, pcancel := context.WithCancel(context.Background())
	listen := freePort(t)
	srv, purl, err := portal.Start(pctx, portal.Options{Listen: "127.0.0.1:0", DataDir: t.TempDir(),
		Log: slog.New(slog.DiscardHandler), KioskRedirectURIs: []string{"http://" + listen + "/auth/callback"}})
	if err != nil {
		pcancel()
		t.Fatal(err)
	}
	defer func() { pcancel(); <-srv.Done() }()
	other, err := portal.New(portal.Options{Listen: "127.0.0.1:1", DataDir: t.TempDir(), KioskRedirectURIs: []string{"http://127.0.0.1:1/auth/callback"}})
	if err != nil {
		t.Fatal(err)
	}
	other.Close()
	tok, err := srv.IssueEnrollToken()
	if err != nil {
		t.Fatal(err)
	}
	code := api.EnrollCode{PortalURL: purl, Token: tok, CAFingerprint: srv.CAFingerprint(), Office: "QN-TK"}
	wrongCA := code
	wrongCA.CAFingerprint = other.CAFingerprint()

	emu, err := imageremu.Start(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer emu.Close()
	data := t.TempDir()
	cfgPath := filepath.Join(data, provisioning.ConfigFile)
	devicesOnly, _ := json.Marshal(map[string]any{
		"listen": listen, "opsListen": freePort(t), "qrReader": map[string]any{"port": emu.PortPath()},
	})
	if err := os.WriteFile(cfgPath, devicesOnly, 0o600); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	jar, _ := cookiejar.New(nil)
	k := &setupKiosk{t: t, stdout: &syncBuffer{}, stderr: &syncBuffer{}, ui: "http://" + listen, done: make(chan error, 1),
		hc: &http.Client{Jar: jar, Timeout: 10 * time.Second}}
	go func() {
		k.done <- run(ctx, []string{"--config", cfgPath, "--setup", "--log-level", "debug"}, k.stdout, k.stderr)
	}()
	defer func() {
		cancel()
		select {
		case err := <-k.done:
			if err != nil {
				t.Errorf("the kiosk's run: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Error("the kiosk did not stop within 30s of its context's end")
		}
	}()

	page := k.launch("kiosk setup mode:")
	for _, want := range []string{`data-testid="setup-waiting"`, "This kiosk is not set up yet.", "Technician: hold the enrollment code to the reader.",
		"ตู้นี้ยังไม่ได้ตั้งค่า", "Ki-ốt này chưa được cài đặt."} {
		if !strings.Contains(page, want) {
			t.Errorf("setup screen lacks %q:\n%s", want, page)
		}
	}
	if strings.Contains(page, "attract") {
		t.Error("setup mode shows the citizens' attract screen")
	}

	emu.Scan([]byte("https://example.org/not-an-enrollment-code"))
	k.screenShows("This is not an enrollment code.")

	emu.Scan([]byte(wrongCA.String()))
	page = k.screenShows(`data-testid="setup-failed"`)
	if !strings.Contains(page, `data-reason="wrong-ca"`) || !strings.Contains(page, "wrong CA fingerprint") {
		t.Errorf("a code with another CA's fingerprint: screen does not give the reason:\n%s", page)
	}
	if _, err := config.Load(cfgPath); err == nil {
		t.Error("a refused code left a provisioned kiosk.json")
	}
	if _, err := os.Stat(filepath.Join(data, provisioning.CertFile)); err == nil {
		t.Error("a refused code left a device certificate")
	}
	if strings.Contains(k.stderr.String(), tok) {
		t.Error("the enrollment token is in the log")
	}
	k.post("/setup/retry")
	k.screenShows(`data-testid="setup-waiting"`)

	emu.Scan([]byte(code.String()))
	page = k.screenShows(`data-testid="setup-start"`)
	cfg, err := config.Load(cfgPath)
	if err != nil {
		t.Fatalf("kiosk.json after enrollment: %v", err)
	}
	if cfg.QRReader.Port != emu.PortPath() || cfg.OfficeCode != "QN-TK" {
		t.Errorf("kiosk.json kept qrReader %q office %q; want %q, QN-TK", cfg.QRReader.Port, cfg.OfficeCode, emu.PortPath())
	}
	for _, want := range []string{`data-testid="setup-kiosk-id">` + cfg.KioskID + "<", `data-testid="setup-office">QN-TK<`,
		`data-testid="setup-check-qrreader" data-ok="true"`, `data-testid="setup-check-portal" data-ok="true"`} {
		if !strings.Contains(page, want) {
			t.Errorf("enrolled screen lacks %q:\n%s", want, page)
		}
	}
	if strings.Contains(k.stderr.String(), tok) {
		t.Error("the enrollment token is in the log")
	}

	k.post("/setup/start")
	page = k.launch("kiosk ready:")
	if !strings.Contains(page, `data-step="attract"`) {
		t.Errorf("after setup the kiosk does not show the attract screen:\n%s", page)
	}
}

// TestServiceModeDecommissionToSetup: a kiosk set up by its QR reader,
// serving citizens, is decommissioned from service mode (door open,
// technician code, confirm): the portal retires it (its certificate is
// refused from then on), the kiosk wipes its identity and, in the same
// process, shows setup mode again with its device settings kept.
func TestServiceModeDecommissionToSetup(t *testing.T) {
	pctx, pcancel := context.WithCancel(context.Background())
	listen := freePort(t)
	srv, purl, err := portal.Start(pctx, portal.Options{Listen: "127.0.0.1:0", DataDir: t.TempDir(),
		Log: slog.New(slog.DiscardHandler), KioskRedirectURIs: []string{"http://" + listen + "/auth/callback"}})
	if err != nil {
		pcancel()
		t.Fatal(err)
	}
	defer func() { pcancel(); <-srv.Done() }()
	tok, err := srv.IssueEnrollToken()
	if err != nil {
		t.Fatal(err)
	}
	code := api.EnrollCode{PortalURL: purl, Token: tok, CAFingerprint: srv.CAFingerprint(), Office: "QN-TK"}
	techPub, techKey, _ := ed25519.GenerateKey(rand.Reader)

	emu, err := imageremu.Start(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer emu.Close()
	door, led := sensorstest.Pins("DOOR_"+t.Name(), "LED_"+t.Name())
	data := t.TempDir()
	cfgPath := filepath.Join(data, provisioning.ConfigFile)
	devicesOnly, _ := json.Marshal(map[string]any{
		"listen": listen, "opsListen": freePort(t), "qrReader": map[string]any{"port": emu.PortPath()},
		"fleet": map[string]any{"techKey": fleetwire.TechKeyText(techPub)},
	})
	if err := os.WriteFile(cfgPath, devicesOnly, 0o600); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	jar, _ := cookiejar.New(nil)
	k := &setupKiosk{t: t, stdout: &syncBuffer{}, stderr: &syncBuffer{}, ui: "http://" + listen, done: make(chan error, 1),
		hc: &http.Client{Jar: jar, Timeout: 10 * time.Second}}
	log := slog.New(slog.NewTextHandler(k.stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	go func() {
		k.done <- runConfigured(ctx, cfgPath, flag.NewFlagSet("kiosk", flag.ContinueOnError), true,
			serveOptions{log: log, stdout: k.stdout, pins: demoPins{door: door, led: led}, startTimeout: 20 * time.Second})
	}()
	defer func() {
		cancel()
		select {
		case err := <-k.done:
			if err != nil {
				t.Errorf("the kiosk's run: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Error("the kiosk did not stop within 30s of its context's end")
		}
	}()

	k.launch("kiosk setup mode:")
	emu.Scan([]byte(code.String()))
	k.screenShows(`data-testid="setup-start"`)
	cfg, err := config.Load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	key, _ := provisioning.LoadOrCreateKey(data)
	hc, err := provisioning.PortalClient(data, key, false, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	oldIdentity := backendclient.New(purl, hc, cfg.KioskID, key)
	k.post("/setup/start")
	if page := k.launch("kiosk ready:"); !strings.Contains(page, `data-step="attract"`) {
		t.Fatalf("not serving after setup:\n%s", page)
	}

	door.Out(gpio.High)
	k.screenShows(`data-testid="svc-offer"`)
	tech, err := fleetwire.EncodeTechToken(techKey, fleetwire.TechClaims{ID: "tok-7", Office: "QN-TK", Technician: "T-1",
		IssuedAt: time.Now().Unix(), Expires: time.Now().Add(10 * time.Minute).Unix()})
	if err != nil {
		t.Fatal(err)
	}
	emu.Scan([]byte(tech))
	k.screenShows(`data-testid="svc-decom-ask"`)
	k.post("/service/lang?lang=en")
	k.post("/service/decommission/ask")
	k.screenShows("It will not serve citizens again until it is set up anew.")
	k.post("/service/decommission")

	page := k.launchNth("kiosk setup mode:", 2)
	if !strings.Contains(page, `data-testid="setup-waiting"`) {
		t.Errorf("after decommission the kiosk does not show setup mode:\n%s", page)
	}
	setup, err := config.LoadSetup(cfgPath)
	if !errors.Is(err, config.ErrNotProvisioned) || setup.QRReader.Port != emu.PortPath() {
		t.Errorf("kiosk.json after decommission: %v, qrReader %q; want setup mode with the QR reader kept", err, setup.QRReader.Port)
	}
	for _, f := range []string{provisioning.KeyFile, provisioning.CertFile, "outbox"} {
		if _, err := os.Stat(filepath.Join(data, f)); err == nil {
			t.Errorf("%s left after decommission", f)
		}
	}
	if _, err := oldIdentity.Renew(context.Background(), time.Now()); !errors.Is(err, backendclient.ErrKioskRevoked) {
		t.Errorf("the old identity after decommission: %v; want refused as revoked", err)
	}
}
