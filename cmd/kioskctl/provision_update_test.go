package main

import (
	"bytes"
	"crypto"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"govkiosk/fleet/updates"
	"govkiosk/kiosk/config"
	"govkiosk/provisioning"
)

// provision --update-url --tuf-root pins the repository's root and names the
// repository in kiosk.json; one without the other is refused.
func TestProvisionPinsUpdateRoot(t *testing.T) {
	old := newEnroller
	newEnroller = func(string, *http.Client, crypto.Signer) provisioning.Enroller {
		return caEnroller{t: t, token: "good"}
	}
	defer func() { newEnroller = old }()
	keys, err := updates.GenerateKeys()
	if err != nil {
		t.Fatal(err)
	}
	repo, err := updates.Create(filepath.Join(t.TempDir(), "repo"), keys, updates.Options{})
	if err != nil {
		t.Fatal(err)
	}
	rootJSON := filepath.Join(repo.Dir(), "root.json")
	tokenFile := filepath.Join(t.TempDir(), "token")
	os.WriteFile(tokenFile, []byte("good\n"), 0o600)
	base := []string{"provision", "--portal", "http://127.0.0.1:9", "--allow-insecure-loopback", "--token-file", tokenFile}

	data := t.TempDir()
	if _, _, err := runArgs(t, append(base, "--data-dir", data, "--update-url", "https://fleet.example/tuf", "--tuf-root", rootJSON)...); err != nil {
		t.Fatalf("provision: %v", err)
	}
	cfg, err := config.Load(filepath.Join(data, provisioning.ConfigFile))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Update.URL != "https://fleet.example/tuf" {
		t.Errorf("kiosk.json update url %q", cfg.Update.URL)
	}
	want, _ := os.ReadFile(rootJSON)
	got, err := os.ReadFile(filepath.Join(data, "update", "tuf", "root.json"))
	if err != nil || !bytes.Equal(got, want) {
		t.Errorf("pinned root: %v; want the repository's root.json", err)
	}

	for _, args := range [][]string{{"--update-url", "https://fleet.example/tuf"}, {"--tuf-root", rootJSON}} {
		if _, _, err := runArgs(t, append(append(base, "--data-dir", t.TempDir()), args...)...); err == nil || !strings.Contains(err.Error(), "go together") {
			t.Errorf("provision %v: %v; want refused", args, err)
		}
	}
	bad := filepath.Join(t.TempDir(), "root.json")
	os.WriteFile(bad, []byte(`{"signed": {}}`), 0o600)
	if _, _, err := runArgs(t, append(base, "--data-dir", t.TempDir(), "--update-url", "https://fleet.example/tuf", "--tuf-root", bad)...); err == nil {
		t.Error("provision pinned a root that is not TUF root metadata")
	}
}
