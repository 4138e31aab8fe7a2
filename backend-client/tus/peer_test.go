package tus

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// peersDir finds e2e/peers (with node_modules) and node. Without them the
// test is skipped, except in CI (env CI set), where it fails.
func peersDir(t *testing.T) (node, dir string) {
	t.Helper()
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for d := wd; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			dir = filepath.Join(d, "e2e", "peers")
			break
		}
		if filepath.Dir(d) == d {
			t.Fatal("no go.mod above the test")
		}
	}
	node, err = exec.LookPath("node")
	_, modErr := os.Stat(filepath.Join(dir, "node_modules", "@tus", "server"))
	if err != nil || modErr != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("CI: node (%v) or e2e/peers/node_modules (%v) missing; run make deps", err, modErr)
		}
		t.Skipf("node (%v) or e2e/peers/node_modules (%v) missing; run make deps", err, modErr)
	}
	return node, dir
}

// startTusServer runs @tus/server with @tus/file-store on loopback.
func startTusServer(t *testing.T, store string) string {
	t.Helper()
	node, dir := peersDir(t)
	cmd := exec.Command(node, "tus-server.mjs", store)
	cmd.Dir = dir
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		stdin.Close() // the script exits when stdin closes
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	})
	line := make(chan string, 1)
	go func() {
		s := bufio.NewScanner(stdout)
		if s.Scan() {
			line <- s.Text()
		}
		close(line)
		io.Copy(io.Discard, stdout)
	}()
	select {
	case l, ok := <-line:
		var v struct{ Endpoint string }
		if !ok || json.Unmarshal([]byte(l), &v) != nil || v.Endpoint == "" {
			t.Fatalf("tus-server.mjs said %q", l)
		}
		return v.Endpoint
	case <-time.After(30 * time.Second):
		t.Fatal("tus-server.mjs did not start")
	}
	return ""
}

// flakyReaderAt fails once, after limit bytes, like a link that drops.
type flakyReaderAt struct {
	r     io.ReaderAt
	limit int64
	fired atomic.Bool
}

func (f *flakyReaderAt) ReadAt(p []byte, off int64) (int, error) {
	if !f.fired.Load() && off+int64(len(p)) > f.limit {
		f.fired.Store(true)
		n, _ := f.r.ReadAt(p[:max(0, f.limit-off)], off)
		return n, errors.New("link dropped")
	}
	return f.r.ReadAt(p, off)
}

// Our client against the reference tus server nobody here wrote.
func TestAgainstTusNodeServer(t *testing.T) {
	store := t.TempDir()
	endpoint := startTusServer(t, store)
	ctx := context.Background()
	c := New(Config{FirstChunk: 64 << 10, MinChunk: 16 << 10, MaxChunk: 128 << 10, StallTimeout: 10 * time.Second,
		Backoff: Backoff{Min: 10 * time.Millisecond, Max: 100 * time.Millisecond}})

	caps, err := c.Options(ctx, endpoint)
	if err != nil {
		t.Fatal(err)
	}
	if !caps.Has("creation") || !caps.Has("termination") || caps.SHA256() {
		t.Errorf("capabilities %+v", caps)
	}

	data := randomBytes(t, 700<<10+3)
	meta := Metadata{"packetId": "0b9c2f6e-4a51", "file": "doc-1.pdf"}.Encode()
	u, err := c.Create(ctx, endpoint, int64(len(data)), meta, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(u, endpoint) {
		t.Fatalf("upload URL %q", u)
	}
	// The body breaks once at 300 KiB; the server keeps what it got and
	// the client resumes from the offset it reports.
	flaky := &flakyReaderAt{r: bytes.NewReader(data), limit: 300 << 10}
	if err := c.Upload(ctx, u, flaky, int64(len(data))); err != nil {
		t.Fatal(err)
	}
	if !flaky.fired.Load() {
		t.Fatal("the link never dropped")
	}
	off, length, err := c.Offset(ctx, u)
	if err != nil || off != int64(len(data)) || length != int64(len(data)) {
		t.Fatalf("HEAD: %d/%d %v", off, length, err)
	}
	id := u[strings.LastIndex(u, "/")+1:]
	got, err := os.ReadFile(filepath.Join(store, id))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, data) {
		t.Fatalf("server file differs: %d bytes, want %d", len(got), len(data))
	}
	st := c.Stats()
	if st.Sent < int64(len(data)) || st.Sent-st.Resent != int64(len(data)) {
		t.Errorf("stats %+v for %d bytes", st, len(data))
	}
	if err := c.Terminate(ctx, u); err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.Offset(ctx, u); !IsGone(err) {
		t.Errorf("HEAD after termination: %v", err)
	}
}
