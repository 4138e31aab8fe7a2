package provisioning

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"filippo.io/age"

	"govkiosk/backend-client/api"
)

func TestPortalAgeRecipientRoundTrip(t *testing.T) {
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	want := id.Recipient().String()
	dir := t.TempDir()
	if _, err := LoadPortalAgeRecipient(dir); !errors.Is(err, ErrNoPortalAgeRecipient) {
		t.Errorf("load before save: %v, want ErrNoPortalAgeRecipient", err)
	}
	if err := SavePortalAgeRecipient(dir, " "+want+"\n"); err != nil {
		t.Fatal(err)
	}
	got, err := LoadPortalAgeRecipient(dir)
	if err != nil || got != want {
		t.Fatalf("load = %q, %v; want %q", got, err, want)
	}
	fi, err := os.Stat(filepath.Join(dir, PortalAgeFile))
	if err != nil || fi.Mode().Perm() != 0o644 {
		t.Errorf("file mode: %v %v", fi, err)
	}
	// It is a usable recipient: what is encrypted to it, the portal reads.
	r, err := age.ParseX25519Recipient(got)
	if err != nil {
		t.Fatal(err)
	}
	var sb strings.Builder
	w, err := age.Encrypt(&sb, r)
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte("hello"))
	w.Close()
	if _, err := age.Decrypt(strings.NewReader(sb.String()), id); err != nil {
		t.Errorf("portal cannot decrypt: %v", err)
	}
}

func TestPortalAgeRecipientRejectsJunk(t *testing.T) {
	tests := []struct{ name, value string }{
		{"empty", ""},
		{"garbage", "not a key"},
		{"identity instead of recipient", "AGE-SECRET-KEY-1QQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQ"},
		{"bad checksum", "age1qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqq"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := SavePortalAgeRecipient(dir, tt.value); err == nil {
				t.Error("saved")
			}
			if _, err := os.Stat(filepath.Join(dir, PortalAgeFile)); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("file written: %v", err)
			}
			// A corrupted file is refused on load too.
			os.WriteFile(filepath.Join(dir, PortalAgeFile), []byte(tt.value), 0o644)
			if _, err := LoadPortalAgeRecipient(dir); err == nil || errors.Is(err, ErrNoPortalAgeRecipient) {
				t.Errorf("load of junk: %v", err)
			}
		})
	}
}

// testAgeRecipient is a fixed portal recipient for the fake enroller.
const testAgeRecipient = "age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p"

// TestProvisionWithoutAgeRecipient: a portal that gives no age recipient
// cannot provision a kiosk, since it could not keep packets encrypted at
// rest; nothing is written.
func TestProvisionWithoutAgeRecipient(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	f := newFake(t)
	f.tamper = func(r *api.EnrollResponse) { r.PortalAgeRecipient = "" }
	if _, err := Provision(t.Context(), f, ProvisionOptions{
		DataDir: dir, PortalURL: "http://127.0.0.1:9000", AllowInsecureLoopback: true, Token: "tok-1", Base: baseConfig(),
		Now: func() time.Time { return testNow },
	}); err == nil {
		t.Fatal("provisioned without a portal age recipient")
	}
	if _, err := os.Stat(filepath.Join(dir, ConfigFile)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("kiosk.json written: %v", err)
	}
}
