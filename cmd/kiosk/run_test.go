package main

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"periph.io/x/conn/v3/gpio"

	"govkiosk/backend-client/api"
	"govkiosk/drivers/sensors"
	"govkiosk/drivers/sensors/sensorstest"
	"govkiosk/kiosk"
	"govkiosk/kiosk/config"
	"govkiosk/kiosk/health"
)

// envAsMain makes the test binary run main() with its arguments, so a test
// can watch the real process: its exit status and everything on stderr.
const envAsMain = "GOVKIOSK_TEST_AS_KIOSK"

func TestMain(m *testing.M) {
	if os.Getenv(envAsMain) == "1" {
		os.Args = append([]string{"kiosk"}, os.Args[1:]...)
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// kioskProc is the kiosk running as a child process.
type kioskProc struct {
	cmd    *exec.Cmd
	stdout *syncBuffer
	stderr *syncBuffer
	done   chan struct{}
	err    error // cmd.Wait's, once done is closed
}

func startKioskProc(t *testing.T, args ...string) *kioskProc {
	t.Helper()
	return startKioskProcEnv(t, nil, args...)
}

// startKioskProcEnv is startKioskProc with env added to the environment.
func startKioskProcEnv(t *testing.T, env []string, args ...string) *kioskProc {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(append(os.Environ(), env...), envAsMain+"=1")
	k := &kioskProc{cmd: cmd, stdout: &syncBuffer{}, stderr: &syncBuffer{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = k.stdout, k.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { k.err = cmd.Wait(); close(k.done) }()
	t.Cleanup(func() {
		select {
		case <-k.done:
		default:
			cmd.Process.Kill()
			<-k.done
		}
	})
	return k
}

// wait waits up to d for the process to exit and returns its exit code.
func (k *kioskProc) wait(t *testing.T, d time.Duration, what string) int {
	t.Helper()
	select {
	case <-k.done:
	case <-time.After(d):
		k.cmd.Process.Kill()
		<-k.done
		t.Fatalf("kiosk did not exit within %v while %s; stderr:\n%s", d, what, k.stderr)
	}
	var ee *exec.ExitError
	switch {
	case k.err == nil:
		return 0
	case errors.As(k.err, &ee):
		return ee.ExitCode()
	default:
		t.Fatalf("waiting for the kiosk: %v", k.err)
		return -1
	}
}

// runKiosk runs the kiosk with args until it exits (at most within d).
func runKiosk(t *testing.T, d time.Duration, args ...string) (code int, stderr string, took time.Duration) {
	t.Helper()
	begin := time.Now()
	k := startKioskProc(t, args...)
	code = k.wait(t, d, "expecting a start-up failure")
	return code, k.stderr.String(), time.Since(begin)
}

// wantStartFailure checks the shape every start-up failure must have: exit
// status 1, no panic, and exactly one "kiosk: ..." line, the last one, that
// contains each of want.
func wantStartFailure(t *testing.T, code int, stderr string, want ...string) {
	t.Helper()
	if strings.Contains(stderr, "panic:") || strings.Contains(stderr, "goroutine ") {
		t.Fatalf("the kiosk panicked:\n%s", stderr)
	}
	if code != 1 {
		t.Errorf("exit status %d, want 1; stderr:\n%s", code, stderr)
	}
	lines := strings.Split(strings.TrimRight(stderr, "\n"), "\n")
	last := lines[len(lines)-1]
	if !strings.HasPrefix(last, "kiosk: ") {
		t.Fatalf("last stderr line %q is not the one-line error; stderr:\n%s", last, stderr)
	}
	n := 0
	for _, l := range lines {
		if strings.HasPrefix(l, "kiosk: ") {
			n++
		}
	}
	if n != 1 {
		t.Errorf("%d error lines, want 1; stderr:\n%s", n, stderr)
	}
	for _, w := range want {
		if !strings.Contains(last, w) {
			t.Errorf("error line %q does not say %q", last, w)
		}
	}
}

// syncBuffer is a bytes.Buffer safe for a writer and a reader at once.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// writeConfig writes a kiosk.json that config.Load accepts, changed by edit.
func writeConfig(t *testing.T, edit func(map[string]any)) string {
	t.Helper()
	dir := t.TempDir()
	c := map[string]any{
		"kioskId": "K-TEST", "portalUrl": "http://127.0.0.1:1", "dataDir": dir, "allowInsecureLoopback": true,
		"oidc": map[string]any{"issuer": "http://127.0.0.1:1", "clientId": "govkiosk", "redirectUrl": "http://127.0.0.1:8080/auth/callback"},
	}
	if edit != nil {
		edit(c)
	}
	b, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "kiosk.json")
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestRunRefusesBadArguments(t *testing.T) {
	for name, args := range map[string][]string{
		"nothing":        {},
		"bad log level":  {"--demo", "--log-level", "loud"},
		"missing config": {"--config", filepath.Join(t.TempDir(), "none.json")},
		"unknown flag":   {"--colour"},
	} {
		var out, errOut bytes.Buffer
		if err := run(context.Background(), args, &out, &errOut); err == nil {
			t.Errorf("%s: run accepted %v", name, args)
		}
	}
}

func TestStartFailsOnBadConfig(t *testing.T) {
	t.Run("missing file", func(t *testing.T) {
		code, stderr, _ := runKiosk(t, 20*time.Second, "--config", filepath.Join(t.TempDir(), "none.json"))
		wantStartFailure(t, code, stderr, "none.json", "no such file")
	})
	t.Run("not JSON", func(t *testing.T) {
		p := filepath.Join(t.TempDir(), "kiosk.json")
		os.WriteFile(p, []byte("{kioskId: K-1"), 0o600)
		code, stderr, _ := runKiosk(t, 20*time.Second, "--config", p)
		wantStartFailure(t, code, stderr, "decode config")
	})
	t.Run("invalid values", func(t *testing.T) {
		// Several problems at once: all are named, on one line.
		p := writeConfig(t, func(c map[string]any) {
			c["kioskId"] = ""
			c["listen"] = "0.0.0.0:8080"
			c["languages"] = []string{"fr"}
		})
		code, stderr, _ := runKiosk(t, 20*time.Second, "--config", p)
		wantStartFailure(t, code, stderr, "kioskId is empty", "must be a loopback address", `language "fr"`)
	})
	t.Run("not provisioned", func(t *testing.T) {
		code, stderr, _ := runKiosk(t, 20*time.Second, "--config", writeConfig(t, nil))
		wantStartFailure(t, code, stderr, "portal key")
	})
}

func TestListenFlagsOverrideConfig(t *testing.T) {
	p := writeConfig(t, func(c map[string]any) { c["listen"] = "127.0.0.1:18081"; c["opsListen"] = "127.0.0.1:19101" })
	parse := func(args ...string) *flag.FlagSet {
		fs := flag.NewFlagSet("kiosk", flag.ContinueOnError)
		fs.String("listen", "127.0.0.1:8080", "")
		fs.String("ops-listen", "127.0.0.1:9100", "")
		if err := fs.Parse(args); err != nil {
			t.Fatal(err)
		}
		return fs
	}
	for _, tc := range []struct {
		args           []string
		listen, opsLis string
	}{
		{nil, "127.0.0.1:18081", "127.0.0.1:19101"}, // the file's, not the flags' defaults
		{[]string{"--listen", "127.0.0.1:7070"}, "127.0.0.1:7070", "127.0.0.1:19101"},
		{[]string{"--ops-listen", "localhost:7171"}, "127.0.0.1:18081", "localhost:7171"},
		{[]string{"--listen", "127.0.0.1:7070", "--ops-listen", "127.0.0.1:7171"}, "127.0.0.1:7070", "127.0.0.1:7171"},
	} {
		cfg, err := loadConfig(p, parse(tc.args...))
		if err != nil {
			t.Fatalf("%v: %v", tc.args, err)
		}
		if cfg.Listen != tc.listen || cfg.OpsListen != tc.opsLis {
			t.Errorf("%v: listen %q, ops %q; want %q, %q", tc.args, cfg.Listen, cfg.OpsListen, tc.listen, tc.opsLis)
		}
	}
	// A flag given is validated like the file: no public address.
	if _, err := loadConfig(p, parse("--listen", "0.0.0.0:8080")); err == nil || !strings.Contains(err.Error(), "loopback") {
		t.Errorf("--listen 0.0.0.0:8080 with --config: %v", err)
	}
	// Demo-only settings are refused, not ignored.
	code, stderr, _ := runKiosk(t, 20*time.Second, "--config", p, "--portal", "http://127.0.0.1:1", "--idle-timeout", "1m")
	wantStartFailure(t, code, stderr, "[--idle-timeout --portal] apply only to --demo")
	// And through the real process: the flag, not the file, is what is refused.
	code, stderr, _ = runKiosk(t, 20*time.Second, "--config", p, "--ops-listen", "192.0.2.1:9100")
	wantStartFailure(t, code, stderr, `opsListen "192.0.2.1:9100" must be a loopback address`)
}

// waitGroup is g.wait with a deadline, so a group that never ends fails the
// test instead of hanging it.
func waitGroup(t *testing.T, g *group, d time.Duration) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- g.wait() }()
	select {
	case err := <-done:
		return err
	case <-time.After(d):
		t.Fatalf("the subsystems were not joined within %v", d)
		return nil
	}
}

func TestGroupStopsOnASubsystemError(t *testing.T) {
	g := newGroup(context.Background())
	stopped := make(chan struct{})
	g.goRun("health", func(ctx context.Context) error {
		<-ctx.Done()
		close(stopped)
		return ctx.Err()
	})
	g.goRun("outbox", func(context.Context) error { return errors.New("disk gone") })
	err := waitGroup(t, g, 5*time.Second)
	if err == nil || err.Error() != "outbox: disk gone" {
		t.Fatalf("group error %v, want the outbox's, named", err)
	}
	select {
	case <-stopped:
	default:
		t.Fatal("the other subsystem was not stopped")
	}
}

func TestGroupCancellationIsACleanStop(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	g := newGroup(ctx)
	g.goRun("qr reader", func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() })
	g.goRun("printer", func(ctx context.Context) error { <-ctx.Done(); return fmt.Errorf("poll: %w", ctx.Err()) })
	g.goRun("idle timer", func(ctx context.Context) error { <-ctx.Done(); return nil })
	cancel()
	if err := waitGroup(t, g, 5*time.Second); err != nil {
		t.Fatalf("stopped by its context, the group reported %v", err)
	}
	// A deadline or cancellation that did not come from the group's context
	// is a real failure.
	g = newGroup(context.Background())
	g.goRun("catalogue", func(context.Context) error { return context.DeadlineExceeded })
	if err := waitGroup(t, g, 5*time.Second); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("a subsystem's own timeout was dropped: %v", err)
	}
}

func TestGroupHTTPShutdownIsBounded(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	g := newGroup(ctx)
	g.shutdown = 300 * time.Millisecond
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	entered := make(chan struct{})
	release := make(chan struct{})
	defer close(release)
	// A handler that ignores its context: shutdown must not wait for it.
	g.serveHTTP("touch UI", ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(entered)
		<-release
	}), slog.New(slog.DiscardHandler))
	go http.Get("http://" + ln.Addr().String() + "/")
	select {
	case <-entered:
	case <-time.After(5 * time.Second):
		t.Fatal("the request never reached the handler")
	}
	cancel()
	begin := time.Now()
	if err := waitGroup(t, g, 5*time.Second); err != nil {
		t.Fatalf("a bounded shutdown reported %v", err)
	}
	if took := time.Since(begin); took > 2*time.Second {
		t.Fatalf("shutdown took %v with a 300ms bound", took)
	}
}

func TestGroupReportsAServerThatFails(t *testing.T) {
	g := newGroup(context.Background())
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln.Close() // Serve fails at once
	g.serveHTTP("ops", ln, http.NotFoundHandler(), slog.New(slog.DiscardHandler))
	if err := waitGroup(t, g, 5*time.Second); err == nil || !strings.HasPrefix(err.Error(), "ops server: ") {
		t.Fatalf("a failed server gave %v", err)
	}
}

// The kiosk logs citizens in as a confidential client: its device key signs
// the client assertions, under its kiosk ID, and the levels of assurance
// from enrollment are required.
func TestLoginConfigIsConfidential(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	var cfg config.Config
	cfg.KioskID = "KIOSK-0007"
	cfg.OIDC.Issuer, cfg.OIDC.ClientID, cfg.OIDC.RedirectURL = "https://portal.example/idp", "govkiosk", "http://127.0.0.1:8080/auth/callback"
	cfg.OIDC.ACRValues = []string{"http://eidas.europa.eu/LoA/substantial"}
	hc := &http.Client{}
	lc := loginConfig(cfg, key, hc, slog.New(slog.DiscardHandler))
	if lc.Signer != crypto.Signer(key) || lc.KeyID != "KIOSK-0007" || lc.HTTPClient != hc ||
		strings.Join(lc.ACRValues, " ") != "http://eidas.europa.eu/LoA/substantial" ||
		lc.Issuer != cfg.OIDC.Issuer || lc.ClientID != "govkiosk" || lc.RedirectURL != cfg.OIDC.RedirectURL {
		t.Fatalf("login config %+v", lc)
	}
}

func TestOneLine(t *testing.T) {
	err := errors.Join(errors.New("kioskId is empty"), errors.New(`language "fr" is not one of th, vi, en`))
	if got := oneLine(fmt.Errorf("config x: %w", err)); got != `config x: kioskId is empty; language "fr" is not one of th, vi, en` {
		t.Fatalf("oneLine: %q", got)
	}
}

// TestDoorOpenWipesAndAlertsAtOnce: the cabinet door (a fake GPIO pin under
// the real sensors driver) opens mid-session. Within a bound far shorter
// than the heartbeat interval the session is wiped, the screen is out of
// service and the portal has a heartbeat with the door-open warning; when
// the door closes the kiosk is back in service.
func TestDoorOpenWipesAndAlertsAtOnce(t *testing.T) {
	door, led := sensorstest.Pins("DOOR_"+t.Name(), "LED_"+t.Name())
	sens, err := sensors.Open(sensorstest.Opts(door, led), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer sens.Close()
	var kcfg kiosk.Config
	kcfg.SetDefaults()
	ctrl := kiosk.NewController(kiosk.Deps{Config: kcfg})
	sent := make(chan api.Heartbeat, 16)
	const interval = time.Hour
	mon := health.New(health.Options{
		Checkers: map[string]health.Checker{"sensors": sens.Status},
		Send:     func(ctx context.Context, hb api.Heartbeat) error { sent <- hb; return nil },
		Interval: interval,
	})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go mon.Run(ctx)
	<-sent // the heartbeat at start
	go watchDoor(ctx, sens, ctrl, mon, slog.New(slog.DiscardHandler))

	if err := ctrl.Start(); err != nil {
		t.Fatal(err)
	}
	session := ctrl.View(ctx).SessionID
	door.Out(gpio.High) // the door opens
	const bound = 3 * time.Second
	deadline := time.Now().Add(bound)
	for ctrl.View(ctx).Step != kiosk.StepOutOfService && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if v := ctrl.View(ctx); v.Step != kiosk.StepOutOfService || v.SessionID == session {
		t.Fatalf("%v after the door opened the kiosk is at %s, session %s (was %s)", bound, v.Step, v.SessionID, session)
	}
	select {
	case hb := <-sent:
		if !slices.Contains(hb.Warnings, "door-open") {
			t.Fatalf("the alert lacks door-open: %v", hb.Warnings)
		}
	case <-time.After(time.Until(deadline)):
		t.Fatalf("no heartbeat within %v of the door opening (the interval is %v)", bound, interval)
	}

	door.Out(gpio.Low) // closed again
	deadline = time.Now().Add(bound)
	for ctrl.View(ctx).Step != kiosk.StepAttract && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if step := ctrl.View(ctx).Step; step != kiosk.StepAttract {
		t.Fatalf("%v after the door closed the kiosk is at %s", bound, step)
	}
}

// freePort is a loopback port nobody listens on (for a moment).
func freePort(t *testing.T) string {
	t.Helper()
	// A port the kernel would hand out for ":0" is also what it hands
	// out for every outgoing connection, and one of those can take it
	// between this check and the child's bind ("address already in use").
	// Below the ephemeral range (32768-60999 on Debian) only another
	// test's explicit bind can, and the random start makes that unlikely.
	for range 200 {
		addr := fmt.Sprintf("127.0.0.1:%d", 20000+mrand.IntN(12000))
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			continue
		}
		ln.Close()
		return addr
	}
	t.Fatal("no free loopback port in 20000-31999 after 200 tries")
	return ""
}
