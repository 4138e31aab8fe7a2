package main

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"image"
	"image/color"
	"image/png"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/makiuchi-d/gozxing"
	"github.com/makiuchi-d/gozxing/qrcode"

	"govkiosk/backend-client/api"
	"govkiosk/backend-client/fleetwire"
	"govkiosk/kiosk/config"
	"govkiosk/portal"
	"govkiosk/provisioning"
)

// startPortal is the reference portal over HTTPS (its certificate from its
// enrollment CA) on a free loopback port, stopped at the end of the test.
func startPortal(t *testing.T) (*portal.Server, string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	srv, url, err := portal.Start(ctx, portal.Options{Listen: "127.0.0.1:0", DataDir: t.TempDir(),
		Log: slog.New(slog.DiscardHandler), KioskRedirectURIs: []string{"http://127.0.0.1:8080/auth/callback"}})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); <-srv.Done() })
	return srv, url
}

// writeQR writes text as a QR code PNG, as a phone photographs it off the
// fleet console.
func writeQR(t *testing.T, text string) string {
	t.Helper()
	m, err := qrcode.NewQRCodeWriter().Encode(text, gozxing.BarcodeFormat_QR_CODE, 600, 600,
		map[gozxing.EncodeHintType]any{gozxing.EncodeHintType_MARGIN: 4})
	if err != nil {
		t.Fatal(err)
	}
	img := image.NewGray(image.Rect(0, 0, m.GetWidth(), m.GetHeight()))
	for y := range m.GetHeight() {
		for x := range m.GetWidth() {
			if !m.Get(x, y) {
				img.SetGray(x, y, color.Gray{Y: 255})
			}
		}
	}
	name := filepath.Join(t.TempDir(), "code.png")
	f, err := os.Create(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := png.Encode(f, img); err != nil {
		t.Fatal(err)
	}
	return name
}

func enrollCode(t *testing.T, srv *portal.Server, url string) api.EnrollCode {
	t.Helper()
	tok, err := srv.IssueEnrollToken()
	if err != nil {
		t.Fatal(err)
	}
	return api.EnrollCode{PortalURL: url, Token: tok, CAFingerprint: srv.CAFingerprint(), Office: "QN-TK"}
}

// provision --qr-file enrolls a fresh data directory with the real portal
// from a photo of the enrollment QR.
func TestProvisionFromQRImage(t *testing.T) {
	srv, url := startPortal(t)
	code := enrollCode(t, srv, url)
	data := filepath.Join(t.TempDir(), "kiosk") // does not exist yet
	out, _, err := runArgs(t, "provision", "--qr-file", writeQR(t, code.String()), "--data-dir", data)
	if err != nil {
		t.Fatalf("provision --qr-file: %v", err)
	}
	cfg, err := config.Load(filepath.Join(data, provisioning.ConfigFile))
	if err != nil {
		t.Fatalf("kiosk.json after provisioning: %v", err)
	}
	if cfg.PortalURL != url || cfg.OfficeCode != "QN-TK" || cfg.KioskID == "" {
		t.Errorf("kiosk.json: portal %q office %q id %q; want %q, QN-TK, an id", cfg.PortalURL, cfg.OfficeCode, cfg.KioskID, url)
	}
	if !strings.Contains(out, cfg.KioskID) {
		t.Errorf("output %q does not name the kiosk id %s", out, cfg.KioskID)
	}
	key, err := provisioning.LoadOrCreateKey(data)
	if err != nil {
		t.Fatal(err)
	}
	certPEM, err := os.ReadFile(filepath.Join(data, provisioning.CertFile))
	if err != nil {
		t.Fatal(err)
	}
	if err := provisioning.VerifyCertificate(string(certPEM), srv.CAPEM(), &key.PublicKey, time.Now()); err != nil {
		t.Errorf("stored certificate: %v", err)
	}
	// The token is single use: the same code again is refused.
	if _, _, err := runArgs(t, "provision", "--qr-file", writeQR(t, code.String()), "--data-dir", t.TempDir()); err == nil || !strings.Contains(err.Error(), "used") {
		t.Errorf("second use of the code: %v; want the token refused as used", err)
	}
}

// The same code as text: --code TEXT and --code - (stdin), and a text
// file given to --qr-file.
func TestProvisionFromCodeText(t *testing.T) {
	srv, url := startPortal(t)

	code := enrollCode(t, srv, url)
	if _, _, err := runArgs(t, "provision", "--code", code.String(), "--data-dir", t.TempDir()); err != nil {
		t.Errorf("provision --code TEXT: %v", err)
	}

	code = enrollCode(t, srv, url)
	old := stdin
	stdin = strings.NewReader(code.String() + "\n")
	_, _, err := runArgs(t, "provision", "--code", "-", "--data-dir", t.TempDir())
	stdin = old
	if err != nil {
		t.Errorf("provision --code -: %v", err)
	}

	code = enrollCode(t, srv, url)
	txt := filepath.Join(t.TempDir(), "code.txt")
	os.WriteFile(txt, []byte(code.String()+"\n"), 0o600)
	if _, _, err := runArgs(t, "provision", "--qr-file", txt, "--data-dir", t.TempDir()); err != nil {
		t.Errorf("provision --qr-file TEXTFILE: %v", err)
	}
}

// A code that is wrong is refused and leaves the fresh data directory
// without any kiosk.json or certificate.
func TestProvisionCodeRefusals(t *testing.T) {
	srv, url := startPortal(t)
	other, _ := startPortal(t) // another portal's CA
	noFiles := func(t *testing.T, data string) {
		t.Helper()
		for _, f := range []string{provisioning.ConfigFile, provisioning.CertFile, provisioning.PortalCAFile, provisioning.PortalKeyFile} {
			if _, err := os.Stat(filepath.Join(data, f)); err == nil {
				t.Errorf("%s written after a refused code", f)
			}
		}
	}
	cases := []struct {
		name string
		code func() string
		want string
	}{
		{"wrong CA fingerprint", func() string {
			c := enrollCode(t, srv, url)
			c.CAFingerprint = other.CAFingerprint()
			return c.String()
		}, "fingerprint"},
		{"wrong office", func() string {
			c := enrollCode(t, srv, url)
			c.Office = "BKK-BR"
			return c.String()
		}, "the code was for office BKK-BR but the portal enrolled this kiosk for QN-TK"},
		{"not an enrollment code", func() string { return "https://example.org/not-a-code" }, "not an enrollment code"},
		{"incomplete", func() string { return "govkiosk-enroll:?v=1&portal=https%3A%2F%2Fp.example" }, "incomplete"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			data := t.TempDir()
			_, _, err := runArgs(t, "provision", "--qr-file", writeQR(t, c.code()), "--data-dir", data)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("provision: %v; want an error saying %q", err, c.want)
			}
			noFiles(t, data)
		})
	}

	// The code and the scripted flags together are refused before anything.
	c := enrollCode(t, srv, url)
	_, _, err := runArgs(t, "provision", "--code", c.String(), "--portal", url, "--data-dir", t.TempDir())
	if err == nil || !strings.Contains(err.Error(), "not both") {
		t.Errorf("--code with --portal: %v; want refused", err)
	}
	// An image without a QR code says so.
	blank := filepath.Join(t.TempDir(), "blank.png")
	f, _ := os.Create(blank)
	png.Encode(f, image.NewGray(image.Rect(0, 0, 64, 64)))
	f.Close()
	if _, _, err := runArgs(t, "provision", "--qr-file", blank, "--data-dir", t.TempDir()); err == nil || !strings.Contains(err.Error(), "no QR code") {
		t.Errorf("blank image: %v; want no QR code found", err)
	}
}

// A portal that names the fleet hands its broker and technician key to the
// kiosk, signed into the answer: a kiosk set up by its code alone joins the
// fleet and pins the fleet's technician key.
func TestProvisionTakesTheFleetLink(t *testing.T) {
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	techKey := fleetwire.TechKeyText(pub)
	ctx, cancel := context.WithCancel(context.Background())
	srv, url, err := portal.Start(ctx, portal.Options{Listen: "127.0.0.1:0", DataDir: t.TempDir(),
		Log: slog.New(slog.DiscardHandler), KioskRedirectURIs: []string{"http://127.0.0.1:8080/auth/callback"},
		FleetBroker: "tls://fleet.example:8883", FleetTechKey: techKey})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); <-srv.Done() })

	data := filepath.Join(t.TempDir(), "kiosk")
	if _, _, err := runArgs(t, "provision", "--code", enrollCode(t, srv, url).String(), "--data-dir", data); err != nil {
		t.Fatalf("provision --code: %v", err)
	}
	cfg, err := config.Load(filepath.Join(data, provisioning.ConfigFile))
	if err != nil {
		t.Fatalf("kiosk.json after provisioning: %v", err)
	}
	if cfg.Fleet.Broker != "tls://fleet.example:8883" || cfg.Fleet.TechKey != techKey {
		t.Errorf("kiosk.json fleet section %+v; want the portal's broker and technician key", cfg.Fleet)
	}

	// A portal given a broker that is not tls://host:port does not start.
	if _, err := portal.New(portal.Options{Listen: "127.0.0.1:0", DataDir: t.TempDir(), FleetBroker: "mqtt://fleet.example"}); err == nil || !strings.Contains(err.Error(), "fleet broker") {
		t.Errorf("portal with broker mqtt://fleet.example: %v; want it refused", err)
	}
}
