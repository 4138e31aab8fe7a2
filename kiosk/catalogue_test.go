package kiosk

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	backendclient "govkiosk/backend-client"
	"govkiosk/backend-client/api"
)

// signedCatalogue is a catalogue signed with key the portal's way, with
// the given version and expiry and one procedure named after the version.
func signedCatalogue(t *testing.T, key *ecdsa.PrivateKey, version string, expires time.Time) api.SignedCatalogue {
	t.Helper()
	p := testProcedure
	p.ID = "proc-" + version
	payload, err := json.Marshal(map[string]any{"version": version, "issuedAt": expires.Add(-48 * time.Hour), "expiresAt": expires, "procedures": []api.Procedure{p}})
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(payload)
	sig, err := ecdsa.SignASN1(rand.Reader, key, sum[:])
	if err != nil {
		t.Fatal(err)
	}
	return api.SignedCatalogue{Payload: payload, Signature: sig}
}

func procedureIDs(c *Catalogue) []string {
	var ids []string
	for _, p := range c.Procedures() {
		ids = append(ids, p.ID)
	}
	return ids
}

// TestOlderCatalogueNotInstalled: an attacker on the kiosk's link (or a
// stale cache in between) serves an older catalogue the portal really
// signed, to bring back a withdrawn procedure or a retired ID QR key. The
// kiosk keeps the newer one it has, on screen and on disk, and says so.
func TestOlderCatalogueNotInstalled(t *testing.T) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	dir := t.TempDir()
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	clock := &fakeClock{t: time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)}
	future := clock.t.Add(7 * 24 * time.Hour)
	c := NewCatalogue(dir, &key.PublicKey, backendclient.VerifyCatalogue, log, clock.Now)
	if err := c.Refresh(context.Background(), catSource{signedCatalogue(t, key, "2026.10", future)}); err != nil {
		t.Fatal(err)
	}
	cached, _ := os.ReadFile(filepath.Join(dir, "catalogue.json"))
	for _, old := range []string{"2026.9", "2025.12", "2026.1"} {
		if err := c.Refresh(context.Background(), catSource{signedCatalogue(t, key, old, future)}); err == nil {
			t.Errorf("catalogue %s installed over 2026.10", old)
		}
	}
	if ids := procedureIDs(c); len(ids) != 1 || ids[0] != "proc-2026.10" {
		t.Errorf("offered %v; want the cached 2026.10", ids)
	}
	if now, _ := os.ReadFile(filepath.Join(dir, "catalogue.json")); !bytes.Equal(now, cached) {
		t.Error("the cached catalogue on disk was replaced")
	}
	if !strings.Contains(logs.String(), "level=ERROR") || !strings.Contains(logs.String(), "older") {
		t.Errorf("no loud log line:\n%s", logs.String())
	}
	// After a restart the cached version is still the floor.
	c = NewCatalogue(dir, &key.PublicKey, backendclient.VerifyCatalogue, log, clock.Now)
	if err := c.Refresh(context.Background(), catSource{signedCatalogue(t, key, "2026.9", future)}); err == nil {
		t.Error("older catalogue installed after a restart")
	}
	// The same version signed again (a later expiry) and a newer one are taken.
	for _, v := range []string{"2026.10", "2026.11", "2027.1"} {
		if err := c.Refresh(context.Background(), catSource{signedCatalogue(t, key, v, future)}); err != nil {
			t.Errorf("catalogue %s refused: %v", v, err)
		}
	}
}

// TestExpiredCatalogueNotInstalled: an old signed catalogue replayed after
// its expiry is refused, even on a kiosk that has none cached yet.
func TestExpiredCatalogueNotInstalled(t *testing.T) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	dir := t.TempDir()
	log := slog.New(slog.DiscardHandler)
	clock := &fakeClock{t: time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)}
	c := NewCatalogue(dir, &key.PublicKey, backendclient.VerifyCatalogue, log, clock.Now)
	if err := c.Refresh(context.Background(), catSource{signedCatalogue(t, key, "2026.1", clock.t.Add(-time.Second))}); err == nil {
		t.Error("an expired catalogue was installed")
	}
	if ids := procedureIDs(c); len(ids) != 0 {
		t.Errorf("offered %v from an expired catalogue", ids)
	}
	if _, err := os.Stat(filepath.Join(dir, "catalogue.json")); !os.IsNotExist(err) {
		t.Errorf("the expired catalogue was cached (%v)", err)
	}
}

// A catalogue that expires while the portal is out of reach is kept (the
// kiosk still serves citizens) and health warns; also after a restart. A
// fresh one clears the warning; one without any expiry is not taken.
func TestExpiringCachedCatalogueKeptWithWarning(t *testing.T) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	dir := t.TempDir()
	log := slog.New(slog.DiscardHandler)
	clock := &fakeClock{t: time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)}
	c := NewCatalogue(dir, &key.PublicKey, backendclient.VerifyCatalogue, log, clock.Now)
	if err := c.Refresh(context.Background(), catSource{signedCatalogue(t, key, "2026.1", clock.t.Add(time.Hour))}); err != nil {
		t.Fatal(err)
	}
	if w := c.Warnings(); len(w) != 0 {
		t.Errorf("fresh catalogue warns %v", w)
	}
	clock.Add(2 * time.Hour)
	if w := c.Warnings(); len(w) != 1 || w[0] != "catalogue-expired" {
		t.Errorf("expired catalogue warns %v", w)
	}
	if ids := procedureIDs(c); len(ids) != 1 {
		t.Errorf("the expired catalogue is no longer offered: %v", ids)
	}
	c = NewCatalogue(dir, &key.PublicKey, backendclient.VerifyCatalogue, log, clock.Now)
	if ids, w := procedureIDs(c), c.Warnings(); len(ids) != 1 || len(w) != 1 {
		t.Errorf("after a restart: offered %v, warnings %v", ids, w)
	}
	if err := c.Refresh(context.Background(), catSource{signedCatalogue(t, key, "2026.1", clock.t.Add(7*24*time.Hour))}); err != nil {
		t.Fatal(err)
	}
	if w := c.Warnings(); len(w) != 0 {
		t.Errorf("re-signed catalogue still warns %v", w)
	}
	if err := c.Refresh(context.Background(), catSource{signedCatalogue(t, key, "2026.2", time.Time{})}); err == nil {
		t.Error("a catalogue without expiry was taken")
	}
}
