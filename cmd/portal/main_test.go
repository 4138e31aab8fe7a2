package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
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
		done <- run(ctx, []string{"--listen", "127.0.0.1:0", "--data", t.TempDir(), "--enroll-token", "tok-a,tok-b", "--enroll-token", "tok-c"}, pw, io.Discard)
		pw.Close()
	}()
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
	if !strings.HasPrefix(url, "https://") || strings.Join(toks, " ") != "tok-a tok-b tok-c" {
		t.Fatalf("url %q tokens %q", url, toks)
	}
	go io.Copy(io.Discard, pr)
	// The technician's tool, given the fingerprint printed with the
	// tokens, trusts the portal's certificate.
	hc := provisioning.EnrollmentClient(fingerprint, false, 10*time.Second)
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
}
