package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestChromiumPolicyForTheKiosk: the policy written for a provisioned
// kiosk allows its UI and its provider's login origins, nothing else, and
// keeps every other setting of the shipped lockdown.
func TestChromiumPolicyForTheKiosk(t *testing.T) {
	dir := t.TempDir()
	cfg := map[string]any{
		"kioskId": "K-POLICY", "portalUrl": "http://127.0.0.1:1", "dataDir": dir, "allowInsecureLoopback": true,
		"listen": "127.0.0.1:8088",
		"oidc":   map[string]any{"issuer": "http://127.0.0.1:1/idp", "clientId": "govkiosk", "redirectUrl": "http://127.0.0.1:8088/auth/callback"},
	}
	b, _ := json.Marshal(cfg)
	cfgPath := filepath.Join(dir, "kiosk.json")
	if err := os.WriteFile(cfgPath, b, 0o600); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "etc", "chromium", "policies", "managed", "govkiosk.json")
	if _, _, err := runArgs(t, "chromium-policy", "--config", cfgPath, "--login-origin", "https://login.example.gov/x", "--out", out); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(out)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o644 {
		t.Errorf("policy mode %v, want 0644 (Chromium runs as another user)", st.Mode())
	}
	var p map[string]any
	raw, _ := os.ReadFile(out)
	if err := json.Unmarshal(raw, &p); err != nil {
		t.Fatal(err)
	}
	allow, _ := json.Marshal(p["URLAllowlist"])
	if string(allow) != `["http://127.0.0.1:8088","http://127.0.0.1:1","https://login.example.gov"]` {
		t.Errorf("allowlist %s", allow)
	}
	if p["DeveloperToolsAvailability"] != 2.0 || p["URLBlocklist"] == nil {
		t.Errorf("the lockdown is not kept: %v", p)
	}

	stdout, _, err := runArgs(t, "chromium-policy", "--config", cfgPath)
	if err != nil || !strings.Contains(stdout, `"URLAllowlist"`) {
		t.Errorf("to stdout: %v %q", err, stdout)
	}
	if _, _, err := runArgs(t, "chromium-policy", "--config", cfgPath, "--login-origin", "file:///etc"); err == nil {
		t.Error("a file:// login origin was accepted")
	}
	if _, _, err := runArgs(t, "chromium-policy"); err == nil || !strings.Contains(err.Error(), "--config") {
		t.Errorf("no --config: %v", err)
	}
}
