package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"govkiosk/backend-client/api"
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
	// Reading stdout until the lines appear is bounded: if they do not come,
	// the pipe is closed under the scanner and the test says what it missed.
	const bound = 30 * time.Second
	timer := time.AfterFunc(bound, func() {
		pr.CloseWithError(fmt.Errorf("no portal URL and three enrollment tokens on stdout within %v", bound))
	})
	sc := bufio.NewScanner(pr)
	var url string
	var toks []string
	for sc.Scan() {
		line := sc.Text()
		if u, ok := strings.CutPrefix(line, "portal: "); ok {
			url = u
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
	if url == "" || strings.Join(toks, " ") != "tok-a tok-b tok-c" {
		t.Fatalf("url %q tokens %q", url, toks)
	}
	go io.Copy(io.Discard, pr)
	hc := &http.Client{Timeout: bound}
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
}
