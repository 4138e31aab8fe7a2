package main

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/creack/pty"

	"govkiosk/backend-client/api"
	"govkiosk/kiosk/config"
	"govkiosk/provisioning"
)

func runArgs(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var o, e bytes.Buffer
	err = run(context.Background(), args, &o, &e)
	return o.String(), e.String(), err
}

func TestRunHelpAndUnknown(t *testing.T) {
	tests := []struct {
		args    []string
		wantErr string
		wantOut string
	}{
		{[]string{"help"}, "", "kioskctl provision --portal URL"},
		{[]string{"--help"}, "", "kioskctl selftest --config"},
		{[]string{"frobnicate"}, `unknown subcommand "frobnicate"`, ""},
		{nil, "no subcommand", ""},
		{[]string{"provision", "--portal", "http://x"}, "are required", ""},
		{[]string{"provision", "--bogus"}, "flag provided but not defined", ""},
		{[]string{"selftest"}, "--config is required", ""},
		{[]string{"selftest", "--config", "/nonexistent/kiosk.json"}, "read config", ""},
		{[]string{"phone"}, "want an action", ""},
		{[]string{"phone", "dance", "--portal", "http://x"}, `unknown action "dance"`, ""},
		{[]string{"phone", "pending"}, "--portal is required", ""},
		{[]string{"phone", "approve", "--portal", "http://x"}, "--citizen is required", ""},
		{[]string{"phone", "approve", "--portal", "http://x", "--citizen", "1", "--link", "L", "--latest"}, "not both", ""},
		{[]string{"phone", "approve", "--portal", "http://x", "--citizen", "1"}, "--number is required", ""},
		{[]string{"phone", "inbox", "--portal", "http://x"}, "--citizen is required", ""},
	}
	for _, tc := range tests {
		out, _, err := runArgs(t, tc.args...)
		if tc.wantErr == "" && err != nil {
			t.Errorf("%q: %v", tc.args, err)
		}
		if tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
			t.Errorf("%q: err = %v, want %q", tc.args, err, tc.wantErr)
		}
		if !strings.Contains(out, tc.wantOut) {
			t.Errorf("%q: stdout lacks %q:\n%s", tc.args, tc.wantOut, out)
		}
	}
}

// fakePhone fakes the portal's simulated phone API.
type fakePhone struct {
	mu       sync.Mutex
	pending  []pendingLogin
	approved []map[string]string
}

const phoneAdminToken = "phone-admin-token-0123456789abcdefghij"

func (f *fakePhone) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if r.Header.Get("Authorization") != "Bearer "+phoneAdminToken {
		w.WriteHeader(http.StatusUnauthorized)
		w.Write([]byte(`{"code":"unauthorized","message":"the admin token is required"}`))
		return
	}
	switch {
	case r.Method == http.MethodGet && r.URL.Path == "/phone/api/pending":
		json.NewEncoder(w).Encode(f.pending)
	case r.Method == http.MethodPost && r.URL.Path == "/phone/api/approve":
		var body map[string]string
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		for i, p := range f.pending {
			if p.LinkCode == body["linkCode"] {
				f.pending = append(f.pending[:i], f.pending[i+1:]...)
				f.approved = append(f.approved, body)
				w.WriteHeader(http.StatusNoContent)
				return
			}
		}
		w.WriteHeader(http.StatusNotFound) // the IdP answers OAuth-style
		w.Write([]byte(`{"error":"Not Found","error_description":"no such login"}`))
	case r.Method == http.MethodGet && r.URL.Path == "/phone/api/inbox" && r.URL.Query().Get("citizen") == "":
		http.Error(w, "citizen is required", http.StatusBadRequest)
	case r.Method == http.MethodGet && r.URL.Path == "/phone/api/inbox":
		if r.URL.Query().Get("citizen") != "1234567890123" {
			w.Write([]byte(`[]`))
			return
		}
		w.Write([]byte(`[{"at":"2026-03-01T10:05:00Z","text":"Your code is 482913"},{"at":"2026-03-01T10:00:00Z","text":"Welcome"}]`))
	default:
		http.NotFound(w, r)
	}
}

func TestRunPhone(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	fp := &fakePhone{pending: []pendingLogin{{LinkCode: "NEW-2", CreatedAt: t0.Add(time.Minute)}, {LinkCode: "OLD-1", CreatedAt: t0}}}
	srv := httptest.NewServer(fp)
	defer srv.Close()
	portal := srv.URL + "/" // a trailing slash is tolerated
	tokenFile := filepath.Join(t.TempDir(), "admin-token")
	os.WriteFile(tokenFile, []byte(phoneAdminToken+"\n"), 0o600)
	if _, _, err := runArgs(t, "phone", "pending", "--portal", portal); err == nil || !strings.Contains(err.Error(), "admin token") {
		t.Errorf("phone without the admin token: %v", err)
	}
	if _, _, err := runArgs(t, "phone", "inbox", "--portal", portal, "--citizen", "555", "--admin-token-file", tokenFile); err != nil {
		t.Errorf("phone with --admin-token-file: %v", err)
	}
	t.Setenv("GOVKIOSK_ADMIN_TOKEN", phoneAdminToken) // the steps below take it from there

	steps := []struct {
		args    []string
		want    []string
		wantErr string
	}{
		{[]string{"phone", "pending", "--portal", portal}, []string{"NEW-2  2026-03-01T10:01:00Z\nOLD-1  2026-03-01T10:00:00Z\n"}, ""},
		{[]string{"phone", "approve", "--portal", portal, "--citizen", "1234567890123", "--number", "47"}, []string{"approved login NEW-2\n"}, ""},
		{[]string{"phone", "approve", "--portal", portal, "--citizen", "1234567890123", "--link", "NOPE", "--number", "47"}, nil, "404 Not Found: no such login"},
		{[]string{"phone", "approve", "--portal", portal, "--citizen", "999", "--link", "OLD-1", "--number", "47"}, []string{"approved login OLD-1\n"}, ""},
		{[]string{"phone", "pending", "--portal", portal}, []string{"no pending logins\n"}, ""},
		{[]string{"phone", "approve", "--portal", portal, "--citizen", "1", "--latest", "--number", "47"}, nil, "no pending login to approve"},
		{[]string{"phone", "inbox", "--portal", portal, "--citizen", "1234567890123"}, []string{"2026-03-01T10:05:00Z  Your code is 482913\n2026-03-01T10:00:00Z  Welcome\n"}, ""},
		{[]string{"phone", "inbox", "--portal", portal, "--citizen", "555"}, []string{"inbox empty\n"}, ""},
		{[]string{"phone", "pending", "--portal", "http://127.0.0.1:1"}, nil, "phone:"},
	}
	for _, s := range steps {
		out, _, err := runArgs(t, s.args...)
		if s.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), s.wantErr) {
				t.Errorf("%q: err = %v, want %q", s.args, err, s.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", s.args, err)
			continue
		}
		for _, w := range s.want {
			if out != w {
				t.Errorf("%q: stdout = %q, want %q", s.args, out, w)
			}
		}
	}
	want := []map[string]string{
		{"linkCode": "NEW-2", "citizenId": "1234567890123"},
		{"linkCode": "OLD-1", "citizenId": "999"},
	}
	if len(fp.approved) != len(want) {
		t.Fatalf("approved = %v, want %v", fp.approved, want)
	}
	for i := range want {
		if fp.approved[i]["linkCode"] != want[i]["linkCode"] || fp.approved[i]["citizenId"] != want[i]["citizenId"] || fp.approved[i]["number"] != "47" {
			t.Errorf("approval %d = %v, want %v", i, fp.approved[i], want[i])
		}
	}
}

// TestProvisionTokenSources: the enrollment token comes from a file or
// stdin, not the command line, where the process list and the shell's
// history would keep it; --token VALUE still works, with a warning.
func TestProvisionTokenSources(t *testing.T) {
	old := newEnroller
	newEnroller = func(string, *http.Client, crypto.Signer) provisioning.Enroller {
		return caEnroller{t: t, token: "good"}
	}
	defer func() { newEnroller = old }()
	oldStdin := stdin
	defer func() { stdin = oldStdin }()
	tokenFile := filepath.Join(t.TempDir(), "token")
	os.WriteFile(tokenFile, []byte("  good\n"), 0o600)
	for _, tc := range []struct {
		name, stdin string
		args        []string
		wantErr     string
		warn        bool
	}{
		{"file", "", []string{"--token-file", tokenFile}, "", false},
		{"stdin", "good\n", []string{"--token", "-"}, "", false},
		{"command line", "", []string{"--token", "good"}, "", true},
		{"both", "", []string{"--token", "good", "--token-file", tokenFile}, "not both", false},
		{"missing file", "", []string{"--token-file", filepath.Join(t.TempDir(), "nope")}, "enrollment token", false},
		{"empty stdin", "", []string{"--token", "-"}, "enrollment token", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stdin = strings.NewReader(tc.stdin)
			_, errOut, err := runArgs(t, append([]string{"provision", "--portal", "http://127.0.0.1:9", "--allow-insecure-loopback", "--data-dir", t.TempDir()}, tc.args...)...)
			if tc.wantErr == "" && err != nil {
				t.Fatalf("provision: %v", err)
			}
			if tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Fatalf("err = %v, want %q", err, tc.wantErr)
			}
			if warned := strings.Contains(errOut, "--token-file"); warned != tc.warn {
				t.Errorf("warning %v, want %v: %q", warned, tc.warn, errOut)
			}
		})
	}
}

// caEnroller is a fake portal with a real tiny CA.
type caEnroller struct {
	t     *testing.T
	token string
}

func (c caEnroller) Enroll(ctx context.Context, req api.EnrollRequest) (api.EnrollResponse, error) {
	if req.Token != c.token {
		return api.EnrollResponse{}, errors.New("enroll: 403 invalid token")
	}
	pub, err := provisioning.ParsePublicKeyPEM(req.PublicKeyPEM)
	if err != nil {
		return api.EnrollResponse{}, err
	}
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	now := time.Now()
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return api.EnrollResponse{}, err
	}
	ca, _ := x509.ParseCertificate(caDER)
	leaf := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "KSK-7"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, leaf, ca, pub, caKey)
	if err != nil {
		return api.EnrollResponse{}, err
	}
	portalKey, _ := provisioning.PublicKeyPEM(&caKey.PublicKey)
	enc := func(b []byte) string { return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: b})) }
	resp := api.EnrollResponse{KioskID: "KSK-7", CertificatePEM: enc(der), PortalCAPEM: enc(caDER),
		PortalKeyPEM: portalKey, OfficeCode: "OFF-1", OfficeName: api.Text{"en": "Office"},
		OIDCIssuer: "http://127.0.0.1:9/idp", OIDCClientID: "kiosk",
		PortalAgeRecipient: "age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p"}
	sig, err := provisioning.Sign(caKey, resp.SignedBytes())
	if err != nil {
		return api.EnrollResponse{}, err
	}
	resp.Signature = base64.StdEncoding.EncodeToString(sig)
	return resp, nil
}

func TestRunProvisionThenSelfTest(t *testing.T) {
	var gotPortal string
	old := newEnroller
	newEnroller = func(portalURL string, hc *http.Client, key crypto.Signer) provisioning.Enroller {
		gotPortal = portalURL
		return caEnroller{t: t, token: "good"}
	}
	defer func() { newEnroller = old }()

	portal := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == api.PathCatalogue {
			w.Write([]byte(`{}`))
			return
		}
		http.NotFound(w, r)
	}))
	defer portal.Close()
	ptmx, tty, err := pty.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer ptmx.Close()
	defer tty.Close()

	dir := t.TempDir()
	if _, _, err := runArgs(t, "provision", "--portal", portal.URL, "--allow-insecure-loopback", "--token", "bad", "--data-dir", dir); err == nil || !strings.Contains(err.Error(), "invalid token") {
		t.Fatalf("bad token: err = %v", err)
	}
	out, _, err := runArgs(t, "provision", "--portal", portal.URL, "--allow-insecure-loopback", "--token", "good", "--data-dir", dir,
		"--listen", "127.0.0.1:8088", "--qr-port", tty.Name())
	if err != nil {
		t.Fatalf("provision: %v", err)
	}
	cfgPath := filepath.Join(dir, "kiosk.json")
	if want := "kiosk ID: KSK-7\nconfig:   " + cfgPath + "\n"; out != want {
		t.Errorf("provision output = %q, want %q", out, want)
	}
	if gotPortal != portal.URL {
		t.Errorf("enroller built for %q", gotPortal)
	}
	cfg, err := config.Load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.QRReader.Port != tty.Name() || cfg.OIDC.RedirectURL != "http://127.0.0.1:8088/auth/callback" {
		t.Errorf("config = %+v", cfg)
	}

	// Self-test: the QR port (a pty) opens and the portal answers.
	out, _, err = runArgs(t, "selftest", "--config", cfgPath)
	if err != nil {
		t.Fatalf("selftest: %v\n%s", err, out)
	}
	if !strings.Contains(out, "PASS  qrreader") || !strings.Contains(out, "PASS  portal") ||
		!strings.Contains(out, "PASS: kiosk KSK-7, 2 of 2 checks passed") {
		t.Errorf("selftest output:\n%s", out)
	}

	// With the QR reader gone, the self-test fails (exit status 1) and says why.
	cfg.QRReader.Port = filepath.Join(dir, "ttyGONE")
	b, _ := json.Marshal(cfg)
	if err := os.WriteFile(cfgPath, b, 0o644); err != nil {
		t.Fatal(err)
	}
	out, _, err = runArgs(t, "selftest", "--config", cfgPath, "--json")
	if !errors.Is(err, errSelfTestFailed) {
		t.Fatalf("selftest err = %v, want errSelfTestFailed", err)
	}
	var rep provisioning.Report
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("JSON report: %v\n%s", err, out)
	}
	if rep.OK || len(rep.Results) != 2 || rep.Results[0].Name != "qrreader" || rep.Results[0].Status.State != "noDevice" || !rep.Results[1].OK {
		t.Errorf("report = %+v", rep)
	}
}

func TestErrorText(t *testing.T) {
	tests := []struct{ body, want string }{
		{`{"code":"bad_token","message":"token used"}`, "token used"},
		{`{"error":"invalid_request","error_description":"citizen is required"}`, "citizen is required"},
		{`{"error":"invalid_request"}`, "invalid_request"},
		{"plain text\n", "plain text"},
		{strings.Repeat("x", 300), strings.Repeat("x", 200) + "…"},
	}
	for _, tc := range tests {
		if got := errorText([]byte(tc.body)); got != tc.want {
			t.Errorf("errorText(%q) = %q, want %q", tc.body, got, tc.want)
		}
	}
}
