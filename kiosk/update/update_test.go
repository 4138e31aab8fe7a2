package update_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/theupdateframework/go-tuf/v2/metadata"

	"govkiosk/fleet/updates"
	"govkiosk/kiosk/update"
)

const kioskID = "TH-10-1001-K01"

// server is a TUF repository on loopback: the publisher's directory behind
// http.FileServer, with a log of the bundle requests and a hook that can cut
// a response short.
type server struct {
	repo *updates.Repo
	keys updates.Keys
	srv  *httptest.Server

	mu     sync.Mutex
	ranges []string // Range header of each bundle request ("" for none)
	cutAt  int64    // >0: the next bundle response stops after this many bytes
}

func newServer(t testing.TB, opts updates.Options) *server {
	t.Helper()
	keys, err := updates.GenerateKeys()
	if err != nil {
		t.Fatal(err)
	}
	repo, err := updates.Create(filepath.Join(t.TempDir(), "repo"), keys, opts)
	if err != nil {
		t.Fatal(err)
	}
	s := &server{repo: repo, keys: keys}
	files := repo.Handler()
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/targets/") {
			s.mu.Lock()
			s.ranges = append(s.ranges, r.Header.Get("Range"))
			cut := s.cutAt
			s.cutAt = 0
			s.mu.Unlock()
			if cut > 0 {
				w = &cutWriter{ResponseWriter: w, left: cut}
			}
		}
		files.ServeHTTP(w, r)
	}))
	t.Cleanup(s.srv.Close)
	return s
}

// cutWriter writes left bytes of the body, then drops the connection.
type cutWriter struct {
	http.ResponseWriter
	left int64
}

func (c *cutWriter) Write(p []byte) (int, error) {
	if int64(len(p)) > c.left {
		p = p[:c.left]
	}
	n, _ := c.ResponseWriter.Write(p)
	c.left -= int64(n)
	if c.left <= 0 {
		http.NewResponseController(c.ResponseWriter).Flush()
		panic(http.ErrAbortHandler)
	}
	return n, nil
}

func (s *server) bundleRequests() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.ranges...)
}

// release builds a bundle whose kiosk is a shell script printing its
// version, plus an incompressible payload of size bytes, and publishes it.
func (s *server) release(t testing.TB, version string, payload int, ro *update.Rollout) string {
	t.Helper()
	dir := t.TempDir()
	files := map[string]string{
		"kiosk":    writeScript(t, dir, "kiosk", version),
		"kioskctl": writeScript(t, dir, "kioskctl", version),
	}
	if payload > 0 {
		b := make([]byte, payload)
		rand.Read(b)
		files["payload"] = filepath.Join(dir, "payload")
		if err := os.WriteFile(files["payload"], b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	bundle := filepath.Join(dir, "bundle")
	f, err := os.Create(bundle)
	if err != nil {
		t.Fatal(err)
	}
	if err := updates.Pack(ctx(t), f, version, "amd64", files, update.Zstd, updates.PackOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	name, err := s.repo.AddRelease(bundle, update.Release{Version: version, MinVersion: "1.0.0", Arch: "amd64", Rollout: ro})
	if err != nil {
		t.Fatal(err)
	}
	return name
}

func writeScript(t testing.TB, dir, name, version string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte("#!/bin/sh\necho "+name+" "+version+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

// kioskRoot is a data root as the Debian package leaves it: the package's
// own version as the first release, current pointing at it, the trusted
// root pinned, and an outbox the updates must not touch.
func kioskRoot(t testing.TB, s *server, version string) string {
	t.Helper()
	root := t.TempDir()
	rel := filepath.Join(root, "releases", version)
	if err := os.MkdirAll(rel, 0o755); err != nil {
		t.Fatal(err)
	}
	writeScript(t, rel, "kiosk", version)
	if err := os.Symlink(filepath.Join("releases", version), filepath.Join(root, "current")); err != nil {
		t.Fatal(err)
	}
	rootJSON, err := s.repo.RootJSON()
	if err != nil {
		t.Fatal(err)
	}
	if err := update.Pin(root, rootJSON); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(root, "outbox"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "outbox", "outbox.db"), []byte("queued packets"), 0o600); err != nil {
		t.Fatal(err)
	}
	return root
}

// bootCurrent runs what systemd would start, current/kiosk, and returns
// the version it reports: the proof that the link names a bootable release.
func bootCurrent(t *testing.T, root string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, filepath.Join(root, "current", "kiosk")).Output()
	if err != nil {
		t.Fatalf("starting %s/current/kiosk: %v", root, err)
	}
	v, ok := strings.CutPrefix(strings.TrimSpace(string(out)), "kiosk ")
	if !ok {
		t.Fatalf("current/kiosk printed %q", out)
	}
	return v
}

func checkOutbox(t *testing.T, root string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, "outbox", "outbox.db"))
	if err != nil || string(b) != "queued packets" {
		t.Errorf("outbox after the switch: %q, %v; want it untouched", b, err)
	}
}

func state(t *testing.T, root string) update.State {
	t.Helper()
	st, ok, err := update.Layout{Root: root}.ReadState()
	if err != nil || !ok {
		t.Fatalf("state file: ok=%v err=%v", ok, err)
	}
	return st
}

type kiosk struct {
	u        *update.Updater
	restarts atomic.Int32
}

func newKiosk(t *testing.T, s *server, root, version string, mod func(*update.Options)) *kiosk {
	t.Helper()
	k := &kiosk{}
	opts := update.Options{
		Root: root, Version: version, Arch: "amd64", KioskID: kioskID,
		RepositoryURL: s.srv.URL, Client: s.srv.Client(),
		Restart:    func() error { k.restarts.Add(1); return nil },
		CheckBound: 2 * time.Second,
		Stall:      5 * time.Second,
	}
	if mod != nil {
		mod(&opts)
	}
	u, err := update.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	k.u = u
	return k
}

func ctx(t testing.TB) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

// install runs look, download and install on k and fails the test on any error.
func (k *kiosk) install(t *testing.T, want string) {
	t.Helper()
	o, err := k.u.Look(ctx(t))
	if err != nil {
		t.Fatalf("look: %v", err)
	}
	if o == nil || o.Release.Version != want {
		t.Fatalf("look offered %+v, want %s", o, want)
	}
	path, err := k.u.Download(ctx(t), o)
	if err != nil {
		t.Fatalf("download: %v", err)
	}
	if err := k.u.Install(o, path); err != nil {
		t.Fatalf("install: %v", err)
	}
}

func TestUpdateCommits(t *testing.T) {
	s := newServer(t, updates.Options{})
	root := kioskRoot(t, s, "1.0.0")
	v1 := newKiosk(t, s, root, "1.0.0", nil)
	if st, err := v1.u.Boot(ctx(t)); err != nil || st.Phase != update.Committed || st.Version != "1.0.0" {
		t.Fatalf("first boot: %+v, %v; want committed 1.0.0", st, err)
	}
	if o, err := v1.u.Look(ctx(t)); err != nil || o != nil {
		t.Fatalf("look at an empty repository: %+v, %v; want nothing", o, err)
	}

	s.release(t, "2.0.0", 0, nil)
	v1.install(t, "2.0.0")
	if v1.restarts.Load() != 1 {
		t.Errorf("install asked for %d restarts, want 1", v1.restarts.Load())
	}
	if got := bootCurrent(t, root); got != "2.0.0" {
		t.Fatalf("after install current runs %s, want 2.0.0", got)
	}
	if st := state(t, root); st.Phase != update.Pending || st.Trial != "2.0.0" || st.Version != "1.0.0" {
		t.Errorf("state after install: %+v", st)
	}

	var checked []string
	v2 := newKiosk(t, s, root, "2.0.0", func(o *update.Options) {
		o.Checks = []update.Check{
			{Name: "selftest", Run: func(context.Context) error { checked = append(checked, "selftest"); return nil }},
			{Name: "portal", Run: func(context.Context) error { checked = append(checked, "portal"); return nil }},
		}
	})
	st, err := v2.u.Boot(ctx(t))
	if err != nil || st.Phase != update.Committed || st.Version != "2.0.0" {
		t.Fatalf("trial boot: %+v, %v; want committed 2.0.0", st, err)
	}
	if fmt.Sprint(checked) != "[selftest portal]" {
		t.Errorf("checks run: %v", checked)
	}
	if got, _ := v2.u.UpdateState(); got != "committed" {
		t.Errorf("UpdateState = %q, want committed", got)
	}
	if v2.restarts.Load() != 0 {
		t.Errorf("a committed trial asked for a restart")
	}
	if got := state(t, root); got.Phase != update.Committed || got.Version != "2.0.0" {
		t.Errorf("state file: %+v", got)
	}
	if got := bootCurrent(t, root); got != "2.0.0" {
		t.Errorf("current runs %s, want 2.0.0", got)
	}
	checkOutbox(t, root)
	if o, err := v2.u.Look(ctx(t)); err != nil || o != nil {
		t.Errorf("v2 looks again: %+v, %v; want nothing newer", o, err)
	}
}

func TestFailedHealthCheckRollsBack(t *testing.T) {
	s := newServer(t, updates.Options{})
	root := kioskRoot(t, s, "1.0.0")
	s.release(t, "2.0.0", 0, nil)
	v1 := newKiosk(t, s, root, "1.0.0", nil)
	v1.install(t, "2.0.0")

	// The portal cannot be reached from the new version: a real connection
	// to a port nobody listens on.
	dead := httptest.NewServer(http.NotFoundHandler())
	deadURL := dead.URL
	dead.Close()
	v2 := newKiosk(t, s, root, "2.0.0", func(o *update.Options) {
		o.CheckBound = 500 * time.Millisecond
		o.Checks = []update.Check{{Name: "portal", Run: func(ctx context.Context) error {
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, deadURL, nil)
			resp, err := http.DefaultClient.Do(req)
			if err == nil {
				resp.Body.Close()
			}
			return err
		}}}
	})
	st, err := v2.u.Boot(ctx(t))
	if err != nil || st.Phase != update.RolledBack || st.Failed != "2.0.0" || st.Version != "1.0.0" {
		t.Fatalf("failed trial: %+v, %v; want rolledBack to 1.0.0", st, err)
	}
	if !strings.Contains(st.Reason, "portal") {
		t.Errorf("reason %q does not name the failed check", st.Reason)
	}
	if v2.restarts.Load() != 1 {
		t.Errorf("rollback asked for %d restarts, want 1", v2.restarts.Load())
	}
	if got := bootCurrent(t, root); got != "1.0.0" {
		t.Fatalf("after rollback current runs %s, want 1.0.0", got)
	}

	back := newKiosk(t, s, root, "1.0.0", nil)
	if st, err := back.u.Boot(ctx(t)); err != nil || st.Phase != update.RolledBack {
		t.Fatalf("boot after rollback: %+v, %v", st, err)
	}
	if got, failed := back.u.UpdateState(); got != "rolledBack" || failed != "2.0.0" {
		t.Errorf("UpdateState = %q, %q; want rolledBack, 2.0.0", got, failed)
	}
	if o, err := back.u.Look(ctx(t)); err != nil || o != nil {
		t.Errorf("the rolled-back version is offered again: %+v, %v", o, err)
	}
	checkOutbox(t, root)

	// A fixed release supersedes the failed one.
	s.release(t, "2.0.1", 0, nil)
	if o, err := back.u.Look(ctx(t)); err != nil || o == nil || o.Release.Version != "2.0.1" {
		t.Errorf("after 2.0.1 is published: %+v, %v", o, err)
	}
}

// A trial that dies before its checks finish, start after start, is rolled
// back by the boot counter.
func TestCrashingTrialRollsBack(t *testing.T) {
	s := newServer(t, updates.Options{})
	root := kioskRoot(t, s, "1.0.0")
	s.release(t, "2.0.0", 0, nil)
	newKiosk(t, s, root, "1.0.0", nil).install(t, "2.0.0")

	for boot := 1; boot <= 3; boot++ {
		c, crash := context.WithCancel(context.Background())
		v2 := newKiosk(t, s, root, "2.0.0", func(o *update.Options) {
			o.MaxBoots = 2
			o.Checks = []update.Check{{Name: "ui", Run: func(context.Context) error { crash(); return errors.New("ui not up yet") }}}
		})
		st, err := v2.u.Boot(c)
		crash()
		if boot <= 2 {
			if st.Phase != update.Trial || st.Boots != boot || !errors.Is(err, context.Canceled) {
				t.Fatalf("boot %d: %+v, %v; want trial, counted, no verdict", boot, st, err)
			}
			if got := bootCurrent(t, root); got != "2.0.0" {
				t.Fatalf("boot %d: current runs %s", boot, got)
			}
			continue
		}
		if err != nil || st.Phase != update.RolledBack || st.Failed != "2.0.0" {
			t.Fatalf("boot %d: %+v, %v; want rolled back", boot, st, err)
		}
	}
	if got := bootCurrent(t, root); got != "1.0.0" {
		t.Errorf("current runs %s, want 1.0.0", got)
	}
}

func TestAttacksRefused(t *testing.T) {
	now := time.Now()
	s := newServer(t, updates.Options{Clock: func() time.Time { return now }})
	root := kioskRoot(t, s, "1.0.0")
	name := s.release(t, "2.0.0", 0, nil)
	dir := s.repo.Dir()
	k := newKiosk(t, s, root, "1.0.0", nil)
	if o, err := k.u.Look(ctx(t)); err != nil || o == nil {
		t.Fatalf("untampered look: %+v, %v", o, err)
	}
	oldTimestamp, err := os.ReadFile(filepath.Join(dir, "timestamp.json"))
	if err != nil {
		t.Fatal(err)
	}

	restore := func(path string) func() {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		return func() {
			if err := os.WriteFile(path, b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}

	t.Run("tampered targets", func(t *testing.T) {
		// The attacker widens the rollout and raises the version in the
		// signed targets without the targets key.
		if err := s.repo.SetRollout(name, &update.Rollout{Percent: 0, Salt: "x"}); err != nil {
			t.Fatal(err)
		}
		path := latest(t, dir, "targets")
		defer restore(path)()
		b, _ := os.ReadFile(path)
		forged := bytes.Replace(b, []byte(`"percent": 0`), []byte(`"percent": 100`), 1)
		if bytes.Equal(forged, b) {
			t.Fatalf("no rollout percent to forge in %s", b)
		}
		os.WriteFile(path, forged, 0o644)
		fresh := newKiosk(t, s, kioskRoot(t, s, "1.0.0"), "1.0.0", nil)
		o, err := fresh.u.Look(ctx(t))
		if o != nil || !errors.Is(err, &metadata.ErrUnsignedMetadata{}) {
			t.Fatalf("forged targets: %+v, %v; want refused as unsigned", o, err)
		}
		if err := s.repo.SetRollout(name, nil); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("tampered bundle", func(t *testing.T) {
		matches, _ := filepath.Glob(filepath.Join(dir, "targets", "*."+name))
		if len(matches) != 1 {
			t.Fatalf("bundle files: %v", matches)
		}
		defer restore(matches[0])()
		b, _ := os.ReadFile(matches[0])
		b[len(b)/2] ^= 0xff
		os.WriteFile(matches[0], b, 0o644)
		fresh := newKiosk(t, s, kioskRoot(t, s, "1.0.0"), "1.0.0", nil)
		o, err := fresh.u.Look(ctx(t))
		if err != nil || o == nil {
			t.Fatalf("look: %+v, %v", o, err)
		}
		if _, err := fresh.u.Download(ctx(t), o); !errors.Is(err, update.ErrVerify) {
			t.Fatalf("download of a tampered bundle: %v; want ErrVerify", err)
		}
		if m, _ := filepath.Glob(filepath.Join(fresh.root(), "releases", "2.0.0*")); len(m) != 0 {
			t.Errorf("a tampered bundle left %v", m)
		}
	})

	t.Run("rollback", func(t *testing.T) {
		// The kiosk has seen a newer timestamp; the attacker serves the old one.
		if _, err := k.u.Look(ctx(t)); err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, "timestamp.json")
		defer restore(path)()
		os.WriteFile(path, oldTimestamp, 0o644)
		o, err := k.u.Look(ctx(t))
		if o != nil || !errors.Is(err, &metadata.ErrBadVersionNumber{}) {
			t.Fatalf("old timestamp: %+v, %v; want refused as a rollback", o, err)
		}
	})

	t.Run("freeze", func(t *testing.T) {
		// Nothing new is signed for two days: the repository is frozen.
		frozen := newKiosk(t, s, root, "1.0.0", func(o *update.Options) {
			o.Clock = func() time.Time { return now.Add(48 * time.Hour) }
		})
		o, err := frozen.u.Look(ctx(t))
		if o != nil || !errors.Is(err, &metadata.ErrExpiredMetadata{}) {
			t.Fatalf("frozen repository: %+v, %v; want refused as expired", o, err)
		}
	})
}

// latest is the path of the newest N.role.json in dir.
func latest(t *testing.T, dir, role string) string {
	t.Helper()
	best, bestN := "", -1
	m, _ := filepath.Glob(filepath.Join(dir, "*."+role+".json"))
	for _, p := range m {
		var n int
		if _, err := fmt.Sscanf(filepath.Base(p), "%d.", &n); err == nil && n > bestN {
			best, bestN = p, n
		}
	}
	if best == "" {
		t.Fatalf("no %s metadata in %s", role, dir)
	}
	return best
}

func (k *kiosk) root() string { return k.u.Root() }

// After the fleet rotates its online keys with the offline root key, a
// kiosk follows the new root by itself, and metadata still signed with a
// revoked key is refused.
func TestKioskFollowsKeyRotation(t *testing.T) {
	s := newServer(t, updates.Options{})
	root := kioskRoot(t, s, "1.0.0")
	s.release(t, "2.0.0", 0, nil)
	k := newKiosk(t, s, root, "1.0.0", nil)
	if o, err := k.u.Look(ctx(t)); err != nil || o == nil {
		t.Fatalf("before rotation: %+v, %v", o, err)
	}
	next, err := updates.GenerateKeys()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.repo.RotateOnlineKeys(s.keys.Root, next); err != nil {
		t.Fatal(err)
	}
	if o, err := k.u.Look(ctx(t)); err != nil || o == nil || o.Release.Version != "2.0.0" {
		t.Fatalf("after rotation: %+v, %v", o, err)
	}
	b, err := os.ReadFile(filepath.Join(root, "update", "tuf", "root.json"))
	if err != nil || !bytes.Contains(b, []byte(`"version": 2`)) {
		t.Errorf("the kiosk did not keep root version 2: %v\n%s", err, b)
	}

	// The old, revoked online keys publish a "release" of their own.
	old, err := updates.Open(s.repo.Dir(), updates.Keys{Targets: s.keys.Targets, Snapshot: s.keys.Snapshot, Timestamp: s.keys.Timestamp}, updates.Options{})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	bin := writeScript(t, dir, "kiosk", "6.6.6")
	f, _ := os.Create(filepath.Join(dir, "evil"))
	updates.Pack(ctx(t), f, "6.6.6", "amd64", map[string]string{"kiosk": bin}, update.Zstd, updates.PackOptions{})
	f.Close()
	if _, err := old.AddRelease(filepath.Join(dir, "evil"), update.Release{Version: "6.6.6", Arch: "amd64"}); err != nil {
		t.Fatal(err)
	}
	o, err := k.u.Look(ctx(t))
	if o != nil || !errors.Is(err, &metadata.ErrUnsignedMetadata{}) {
		t.Fatalf("metadata signed by revoked keys: %+v, %v; want refused", o, err)
	}
}

// A kiosk takes only a signed release for its architecture that is newer
// than what it runs and allows an update from its version; the newest such.
func TestLookChoosesEligibleRelease(t *testing.T) {
	s := newServer(t, updates.Options{})
	root := kioskRoot(t, s, "1.0.0")
	k := newKiosk(t, s, root, "1.0.0", nil)
	add := func(version, minVersion, arch string) {
		dir := t.TempDir()
		f, _ := os.Create(filepath.Join(dir, "b"))
		if err := updates.Pack(ctx(t), f, version, arch, map[string]string{"kiosk": writeScript(t, dir, "kiosk", version)}, update.Zstd, updates.PackOptions{}); err != nil {
			t.Fatal(err)
		}
		f.Close()
		if _, err := s.repo.AddRelease(filepath.Join(dir, "b"), update.Release{Version: version, MinVersion: minVersion, Arch: arch}); err != nil {
			t.Fatal(err)
		}
	}
	add("0.9.0", "", "amd64")      // older
	add("5.0.0", "", "arm64")      // another architecture
	add("4.0.0", "2.0.0", "amd64") // needs 2.x first
	if o, err := k.u.Look(ctx(t)); err != nil || o != nil {
		t.Fatalf("nothing eligible: offered %+v, %v", o, err)
	}
	add("1.1.0", "", "amd64")
	add("2.0.0", "1.0.0", "amd64")
	if o, err := k.u.Look(ctx(t)); err != nil || o == nil || o.Release.Version != "2.0.0" || o.Name() != "govkiosk-2.0.0-amd64.tar.zst" {
		t.Fatalf("offered %+v, %v; want 2.0.0 for amd64", o, err)
	}
}
