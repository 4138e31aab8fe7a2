package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	backendclient "govkiosk/backend-client"
	"govkiosk/backend-client/api"
	"govkiosk/kiosk/config"
	"govkiosk/kiosk/outbox"
	"govkiosk/provisioning"
)

// provisionedByCode is a data directory enrolled with srv by
// kioskctl provision --code, with a QR reader in its device settings.
func provisionedByCode(t *testing.T) (dir string, cfg config.Config) {
	t.Helper()
	srv, url := startPortal(t)
	dir = t.TempDir()
	if _, _, err := runArgs(t, "provision", "--code", enrollCode(t, srv, url).String(), "--data-dir", dir, "--qr-port", "/dev/govkiosk-qr"); err != nil {
		t.Fatalf("provision: %v", err)
	}
	cfg, err := config.Load(filepath.Join(dir, provisioning.ConfigFile))
	if err != nil {
		t.Fatal(err)
	}
	return dir, cfg
}

// enqueue puts one application in the kiosk's outbox, as a citizen's
// submission while the portal is away does.
func enqueue(t *testing.T, cfg config.Config) {
	t.Helper()
	rcpt, err := provisioning.LoadPortalAgeRecipient(cfg.DataDir)
	if err != nil {
		t.Fatal(err)
	}
	r, _ := outbox.ParseRecipient(rcpt)
	ob, err := outbox.Open(outbox.Options{Dir: filepath.Join(cfg.DataDir, "outbox"), Recipient: r, Log: slog.New(slog.DiscardHandler), Limits: outbox.DefaultLimits})
	if err != nil {
		t.Fatal(err)
	}
	defer ob.Close()
	doc := []byte("%PDF-1.7 a document")
	sum := sha256.Sum256(doc)
	id := "6f1c6f0e-4a55-4f7e-9c55-2d1f9b7c0a01"
	m := api.Manifest{PacketID: id, ProvisionalNumber: "K-000001", ProcedureID: "building-permit", KioskID: cfg.KioskID,
		CreatedAt: time.Now(), Language: "vi", Documents: []api.DocumentRef{{Type: "x", File: "doc-0.pdf", Pages: 1, SHA256: hex.EncodeToString(sum[:]), Size: int64(len(doc))}}}
	mj, _ := json.Marshal(m)
	if err := ob.Enqueue(context.Background(), outbox.Packet{ID: id, ProvisionalNumber: "K-000001", ManifestJSON: mj, Signature: []byte("sig"),
		Docs: []outbox.Doc{{Name: "doc-0.pdf", Data: doc}}}); err != nil {
		t.Fatal(err)
	}
}

// TestDecommissionRetiresAndWipes: kioskctl decommission on a kiosk
// enrolled with the real portal retires it there (its certificate is
// refused from then on) and wipes its identity and data, leaving a
// kiosk.json with the device settings alone, which is setup mode.
func TestDecommissionRetiresAndWipes(t *testing.T) {
	dir, cfg := provisionedByCode(t)
	os.WriteFile(filepath.Join(dir, "heartbeat.seq"), []byte("7\n"), 0o600)
	os.MkdirAll(filepath.Join(dir, "releases", "1.0"), 0o755)
	key, _ := provisioning.LoadOrCreateKey(dir)
	hc, err := provisioning.PortalClient(dir, key, false, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	pc := backendclient.New(cfg.PortalURL, hc, cfg.KioskID, key)

	// Without --yes, a wrong answer changes nothing.
	stdin = strings.NewReader("no\n")
	_, _, err = runArgs(t, "decommission", "--config", filepath.Join(dir, provisioning.ConfigFile))
	stdin = os.Stdin
	if err == nil || !strings.Contains(err.Error(), "not confirmed") {
		t.Fatalf("unconfirmed decommission: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, provisioning.KeyFile)); err != nil {
		t.Fatalf("an unconfirmed decommission removed the key: %v", err)
	}

	stdin = strings.NewReader(cfg.KioskID + "\n")
	out, _, err := runArgs(t, "decommission", "--config", filepath.Join(dir, provisioning.ConfigFile))
	stdin = os.Stdin
	if err != nil {
		t.Fatalf("decommission: %v", err)
	}
	if !strings.Contains(out, "decommissioned") {
		t.Errorf("output %q", out)
	}
	for _, f := range []string{provisioning.KeyFile, provisioning.CertFile, provisioning.PortalCAFile, provisioning.PortalKeyFile, provisioning.PortalAgeFile, "outbox", "heartbeat.seq"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err == nil {
			t.Errorf("%s left after decommission", f)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "releases", "1.0")); err != nil {
		t.Errorf("the installed releases were wiped: %v", err)
	}
	setup, err := config.LoadSetup(filepath.Join(dir, provisioning.ConfigFile))
	if !errors.Is(err, config.ErrNotProvisioned) || setup.QRReader.Port != "/dev/govkiosk-qr" {
		t.Errorf("kiosk.json after decommission: %v, qrReader %q; want setup mode with the QR reader kept", err, setup.QRReader.Port)
	}
	// The portal retired it: the old certificate is refused.
	if _, err := pc.Renew(context.Background(), time.Now()); !errors.Is(err, backendclient.ErrKioskRevoked) {
		t.Errorf("renewal after decommission: %v; want refused as revoked", err)
	}
}

// TestDecommissionRefusals: undelivered applications refuse it and keep
// everything; so does an unreachable portal, unless --offline.
func TestDecommissionRefusals(t *testing.T) {
	dir, cfg := provisionedByCode(t)
	cfgPath := filepath.Join(dir, provisioning.ConfigFile)
	enqueue(t, cfg)
	_, _, err := runArgs(t, "decommission", "--config", cfgPath, "--yes")
	if err == nil || !strings.Contains(err.Error(), "1 application is not yet delivered; wait for it or call support") {
		t.Fatalf("decommission with an undelivered application: %v", err)
	}
	if _, err := config.Load(cfgPath); err != nil {
		t.Fatalf("a refused decommission changed kiosk.json: %v", err)
	}

	dir, cfg = provisionedByCode(t)
	cfgPath = filepath.Join(dir, provisioning.ConfigFile)
	// The portal is away: point kiosk.json at a port nobody listens on.
	var m map[string]any
	b, _ := os.ReadFile(cfgPath)
	json.Unmarshal(b, &m)
	m["portalUrl"] = "https://127.0.0.1:9"
	b, _ = json.Marshal(m)
	os.WriteFile(cfgPath, b, 0o600)
	_, _, err = runArgs(t, "decommission", "--config", cfgPath, "--yes", "--timeout", "5s")
	if err == nil || !strings.Contains(err.Error(), "could not be reached") || !strings.Contains(err.Error(), "--offline") {
		t.Fatalf("decommission with the portal away: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, provisioning.KeyFile)); err != nil {
		t.Fatalf("the key was wiped although the portal was not reached: %v", err)
	}
	out, _, err := runArgs(t, "decommission", "--config", cfgPath, "--yes", "--offline", "--timeout", "5s")
	if err != nil {
		t.Fatalf("decommission --offline: %v", err)
	}
	if !strings.Contains(out, "The fleet must retire kiosk "+cfg.KioskID) {
		t.Errorf("--offline output %q does not say the fleet must retire the kiosk", out)
	}
	if _, err := os.Stat(filepath.Join(dir, provisioning.KeyFile)); err == nil {
		t.Error("--offline left the key")
	}
}
