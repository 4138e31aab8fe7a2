package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"govkiosk/backend-client/api"
	"govkiosk/provisioning"
)

func TestRunServesAndStops(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"--listen", "127.0.0.1:0", "--data", t.TempDir(), "--enroll-token", "field-token-000a,field-token-000b", "--enroll-token", "field-token-000c"}, pw, io.Discard)
		pw.Close()
	}()
	// Reading stdout until the lines appear is bounded: if they do not come,
	// the pipe is closed under the scanner and the test says what it missed.
	const bound = 30 * time.Second
	timer := time.AfterFunc(bound, func() {
		pr.CloseWithError(fmt.Errorf("no portal URL and three enrollment tokens on stdout within %v", bound))
	})
	sc := bufio.NewScanner(pr)
	var url, fingerprint string
	var toks []string
	for sc.Scan() {
		line := sc.Text()
		if u, ok := strings.CutPrefix(line, "portal: "); ok {
			url = u
		}
		if f, ok := strings.CutPrefix(line, "enrollment CA fingerprint: "); ok {
			fingerprint, _, _ = strings.Cut(f, " ")
		}
		if tk, ok := strings.CutPrefix(line, "enrollment token: "); ok {
			toks = append(toks, tk)
		}
		if len(toks) == 3 {
			break
		}
	}
	timer.Stop()
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(url, "https://") || strings.Join(toks, " ") != "field-token-000a field-token-000b field-token-000c" {
		t.Fatalf("url %q tokens %q", url, toks)
	}
	go io.Copy(io.Discard, pr)
	// The technician's tool, given the fingerprint printed with the
	// tokens, trusts the portal's certificate.
	hc := provisioning.EnrollmentClient(fingerprint, false, bound)
	resp, err := hc.Get(url + api.PathCatalogue)
	if err != nil {
		t.Fatal(err)
	}
	var sc2 api.SignedCatalogue
	err = json.NewDecoder(resp.Body).Decode(&sc2)
	resp.Body.Close()
	if err != nil || len(sc2.Payload) == 0 {
		t.Fatalf("catalogue: %v", err)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("run: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("run did not return after cancel")
	}
}

func TestRunBadFlags(t *testing.T) {
	if err := run(context.Background(), []string{"--nope"}, io.Discard, io.Discard); err == nil {
		t.Error("unknown flag accepted")
	}
	if err := run(context.Background(), []string{"extra"}, io.Discard, io.Discard); err == nil {
		t.Error("stray argument accepted")
	}
	if err := run(context.Background(), []string{"--plain-http", "--listen", "0.0.0.0:0", "--data", t.TempDir()}, io.Discard, io.Discard); err == nil {
		t.Error("plain http on every interface accepted")
	}
	if err := run(context.Background(), []string{"--listen", "127.0.0.1:0", "--data", t.TempDir(), "--tls-cert", "/nonexistent.pem"}, io.Discard, io.Discard); err == nil {
		t.Error("a missing --tls-cert accepted")
	}
	if err := run(context.Background(), []string{"--listen", "127.0.0.1:0", "--data", t.TempDir(), "--device-cert-ttl", "1m"}, io.Discard, io.Discard); err == nil || !strings.Contains(err.Error(), "device-cert-ttl") {
		t.Errorf("device certificates of a minute: %v", err)
	}
}

// TestRunRefusesOpenListenWithoutTLS: beyond loopback only with TLS.
func TestRunRefusesOpenListenWithoutTLS(t *testing.T) {
	// Beyond loopback the portal serves only HTTPS: plain http is refused.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := run(ctx, []string{"--plain-http", "--listen", "0.0.0.0:0", "--data", t.TempDir()}, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "loopback") {
		t.Errorf("listen 0.0.0.0 with plain http: %v", err)
	}
}

// TestRunAdminToken: the console needs the admin token, printed once at
// start or read from --admin-token-file; the phone simulator is there
// only with --phone-simulator.
func TestRunAdminToken(t *testing.T) {
	tokenFile := filepath.Join(t.TempDir(), "admin-token")
	const fileToken = "file-admin-token-0123456789abcdefghijkl"
	os.WriteFile(tokenFile, []byte(fileToken+"\n"), 0o600)
	for _, tc := range []struct {
		name  string
		args  []string
		phone bool
	}{
		{"printed", nil, false},
		{"from a file, with the phone", []string{"--admin-token-file", tokenFile, "--phone-simulator"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			pr, pw := io.Pipe()
			done := make(chan error, 1)
			go func() {
				done <- run(ctx, append([]string{"--plain-http", "--listen", "127.0.0.1:0", "--data", t.TempDir()}, tc.args...), pw, io.Discard)
				pw.Close()
			}()
			sc := bufio.NewScanner(pr)
			var url, token string
			for sc.Scan() {
				line := sc.Text()
				if u, ok := strings.CutPrefix(line, "portal: "); ok {
					url = u
				}
				if tk, ok := strings.CutPrefix(line, "admin token: "); ok {
					token = tk
				}
				if strings.HasPrefix(line, "enrollment token: ") {
					break
				}
			}
			go io.Copy(io.Discard, pr)
			defer func() {
				cancel()
				select {
				case <-done:
				case <-time.After(30 * time.Second):
					t.Error("run did not return after cancel")
				}
			}()
			if tc.args != nil {
				if token != "" {
					t.Errorf("a token from a file was printed: %q", token)
				}
				token = fileToken
			}
			if url == "" || len(token) < 32 {
				t.Fatalf("url %q, admin token %q", url, token)
			}
			status := func(path, tok string) int {
				req, _ := http.NewRequest("GET", url+path, nil)
				if tok != "" {
					req.Header.Set("Authorization", "Bearer "+tok)
				}
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				return resp.StatusCode
			}
			if got := status("/api/v1/admin/kiosks", ""); got != 401 {
				t.Errorf("admin JSON without the token: %d", got)
			}
			if got := status("/api/v1/admin/kiosks", token); got != 200 {
				t.Errorf("admin JSON with the token: %d", got)
			}
			want := 404
			if tc.phone {
				want = 200
			}
			if got := status("/phone/api/pending", token); got != want {
				t.Errorf("phone simulator: %d, want %d", got, want)
			}
		})
	}
}
