package packaging

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"govkiosk/kiosk"
	"govkiosk/packaging/chromium"
	"govkiosk/ui"
)

// TestShippedPolicy: the policy file is valid JSON and locks what the
// kiosk needs locked; ChromiumPolicy only changes the allowlist.
func TestShippedPolicy(t *testing.T) {
	t.Parallel()
	var p map[string]any
	if err := json.Unmarshal(chromium.ShippedPolicy(), &p); err != nil {
		t.Fatalf("chromium/govkiosk.json: %v", err)
	}
	want := map[string]any{
		"URLBlocklist": []any{"*", "chrome://*", "chrome-untrusted://*", "devtools://*", "chrome-extension://*", "file://*", "view-source:*", "javascript:*"}, "URLAllowlist": []any{"http://127.0.0.1:8080"},
		"DeveloperToolsAvailability": 2.0, "DownloadRestrictions": 3.0, "PrintingEnabled": false,
		"PasswordManagerEnabled": false, "AutofillAddressEnabled": false, "AutofillCreditCardEnabled": false,
		"TranslateEnabled": false, "ExtensionInstallBlocklist": []any{"*"}, "IncognitoModeAvailability": 1.0,
		"BrowserGuestModeEnabled": false, "SavingBrowserHistoryDisabled": true,
	}
	for k, v := range want {
		if got, _ := json.Marshal(p[k]); string(got) != mustJSON(v) {
			t.Errorf("%s = %s, want %s", k, got, mustJSON(v))
		}
	}
	b, err := chromium.Policy("http://127.0.0.1:8080/", "https://id.example.gov.vn/authorize?x=1")
	if err != nil {
		t.Fatal(err)
	}
	var q map[string]any
	if err := json.Unmarshal(b, &q); err != nil {
		t.Fatal(err)
	}
	if got := mustJSON(q["URLAllowlist"]); got != `["http://127.0.0.1:8080","https://id.example.gov.vn"]` {
		t.Errorf("allowlist %s", got)
	}
	delete(p, "URLAllowlist")
	delete(q, "URLAllowlist")
	if mustJSON(p) != mustJSON(q) {
		t.Errorf("chromium.Policy changed more than the allowlist")
	}
	for _, bad := range []string{"file:///etc", "127.0.0.1:8080", "javascript:alert(1)", "https://user@id.example"} {
		if _, err := chromium.Policy(bad); err == nil {
			t.Errorf("chromium.Policy(%q) accepted", bad)
		}
	}
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// lockedChromium starts Debian's Chromium with policy as its managed
// policy. Chromium reads policies only from /etc/chromium/policies/managed,
// so it runs in a private mount namespace where /etc/chromium is a
// temporary directory: the machine's Chromium (and any other test's) never
// sees the policy.
// It returns the browser and the error of attaching to its first tab
// through the DevTools protocol.
func lockedChromium(t *testing.T, policy []byte) (context.Context, error) {
	t.Helper()
	needRoot(t, "Chromium reads its policy from /etc/chromium, mounted privately for the test")
	chromiumBin := need(t, "chromium", "chromium")
	unshare := need(t, "unshare", "util-linux")
	etc := t.TempDir()
	if err := os.MkdirAll(filepath.Join(etc, "policies", "managed"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(etc, "policies", "managed", "govkiosk.json"), policy, 0o644); err != nil {
		t.Fatal(err)
	}
	out := &logWriter{t: t}
	wrapper := filepath.Join(t.TempDir(), "chromium")
	script := fmt.Sprintf("#!/bin/sh\nexec %s --mount --propagation private sh -c 'mount --bind \"$0\" /etc/chromium && exec %s \"$@\"' %s \"$@\"\n",
		unshare, chromiumBin, etc)
	if err := os.WriteFile(wrapper, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:len(chromedp.DefaultExecAllocatorOptions):len(chromedp.DefaultExecAllocatorOptions)],
		chromedp.ExecPath(wrapper),
		chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("no-first-run", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.CombinedOutput(out),
	)
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelB := chromedp.NewContext(actx)
	t.Cleanup(func() { cancelB(); cancelA() })
	// The first action starts the browser, bound to the context it is
	// given for good: the start is bounded by a timer, not a child context.
	slow := time.AfterFunc(60*time.Second, cancelB)
	err := chromedp.Do(ctx)
	if !slow.Stop() {
		t.Fatal("Chromium did not start within 60 s")
	}
	return ctx, err
}

// within runs steps, bounded by d, failing the test with what it waited for.
func within(t *testing.T, ctx context.Context, what string, d time.Duration, steps ...chromedp.Action[chromedp.Void]) error {
	t.Helper()
	c, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	err := chromedp.Do(c, steps...)
	if errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("%s: no answer within %v", what, d)
	}
	return err
}

func eval[T any](t *testing.T, ctx context.Context, expr string) T {
	t.Helper()
	c, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	v, err := chromedp.Run(c, chromedp.Evaluate[T](expr))
	if err != nil {
		t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// TestChromiumLockdown runs Debian's Chromium under the shipped policy
// (its allowlist set to this test's UI and login origins, as `kioskctl
// chromium-policy` sets it on a kiosk): the kiosk UI and the provider's
// login page load; any other site, file://, chrome:// and DevTools do
// not; and what a citizen's session stored in the browser is gone once
// the session ends.
func TestChromiumLockdown(t *testing.T) {
	t.Parallel()
	// The kiosk UI, with a real controller.
	cfg := kiosk.Config{KioskID: "K-POLICY"}
	cfg.SetDefaults()
	ctrl := kiosk.NewController(kiosk.Deps{Config: cfg})
	uiTS := httptest.NewUnstartedServer(nil)
	srv, err := ui.New(ctrl, ui.Options{Log: slog.New(slog.DiscardHandler), Listen: uiTS.Listener.Addr().String()})
	if err != nil {
		t.Fatal(err)
	}
	uiTS.Config.Handler = srv
	uiTS.Start()
	t.Cleanup(uiTS.Close)

	// The identity provider's login page, and a site nobody allowed.
	login := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `<!DOCTYPE html><title>login</title><p id="idp">national ID login</p>`)
	}))
	t.Cleanup(login.Close)
	var otherHits atomic.Int32
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		otherHits.Add(1)
		fmt.Fprint(w, `<!DOCTYPE html><p id="other">not the kiosk</p>`)
	}))
	t.Cleanup(other.Close)

	policy, err := chromium.Policy(uiTS.URL, login.URL)
	if err != nil {
		t.Fatal(err)
	}
	// DevTools cannot open: under the policy as shipped, Chromium refuses
	// the DevTools protocol access to its pages.
	if _, err := lockedChromium(t, policy); err == nil || !strings.Contains(err.Error(), "Not allowed") {
		t.Fatalf("attaching DevTools to a tab under the shipped policy: %v, want it refused (Not allowed)", err)
	}

	// The rest drives Chromium through that protocol, so DevTools is let
	// through (DeveloperToolsAvailability 1); so is chrome://policy, to
	// read what Chromium applied. Every other policy is as shipped.
	var p map[string]any
	if err := json.Unmarshal(policy, &p); err != nil {
		t.Fatal(err)
	}
	p["DeveloperToolsAvailability"] = 1
	p["URLAllowlist"] = append(p["URLAllowlist"].([]any), "chrome://policy")
	driven, _ := json.Marshal(p)
	ctx, err := lockedChromium(t, driven)
	if err != nil {
		t.Fatalf("start Chromium: %v", err)
	}

	// Chromium applied the shipped policies, without errors.
	if err := within(t, ctx, "open chrome://policy", 20*time.Second, chromedp.Navigate("chrome://policy")); err != nil {
		t.Fatalf("chrome://policy: %v", err)
	}
	var applied string
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		applied = eval[string](t, ctx, `(function walk(n){let s='';if(n.shadowRoot)s+=walk(n.shadowRoot);for(const c of n.childNodes)s+=c.nodeType===3?c.textContent+' ':walk(c);return s})(document.body)`)
		if strings.Contains(applied, "DeveloperToolsAvailability") {
			break
		}
	}
	for _, name := range []string{"URLBlocklist", "URLAllowlist", "DeveloperToolsAvailability", "DownloadRestrictions", "IncognitoModeAvailability", "ExtensionInstallBlocklist", "PasswordManagerEnabled"} {
		if !strings.Contains(applied, name) {
			t.Errorf("chrome://policy does not list %s", name)
		}
	}
	for _, bad := range []string{"Unknown policy", "Error, Ignored", "Unbekannt"} {
		if strings.Contains(applied, bad) {
			t.Errorf("chrome://policy reports %q for a shipped policy", bad)
		}
	}

	// The allowlisted UI works: the launch URL opens the attract screen.
	launch, err := srv.LaunchURL()
	if err != nil {
		t.Fatal(err)
	}
	if err := within(t, ctx, "open the kiosk UI", 20*time.Second,
		chromedp.Navigate(launch), chromedp.WaitVisible(chromedp.CSS(`[data-testid="start"]`))); err != nil {
		t.Fatalf("the allowlisted kiosk UI did not load: %v", err)
	}
	// So does the provider's login page.
	if err := within(t, ctx, "open the login page", 20*time.Second,
		chromedp.Navigate(login.URL+"/authorize"), chromedp.WaitVisible(chromedp.CSS("#idp"))); err != nil {
		t.Fatalf("the allowlisted login origin did not load: %v", err)
	}

	// Nothing else loads.
	for _, u := range []string{
		other.URL + "/",      // another site (loopback, another port)
		"file:///etc/passwd", // local files
		"chrome://settings",  // browser pages
		"chrome://version",   //
		"devtools://devtools/bundled/devtools_app.html",              // DevTools
		"chrome-extension://abcdefghijklmnopabcdefghijklmnop/x.html", // extensions
	} {
		err := within(t, ctx, "open "+u, 20*time.Second, chromedp.Navigate(u))
		var le *chromedp.LoadError
		if !errors.As(err, &le) || !strings.Contains(le.ErrorText, "BLOCKED") {
			t.Errorf("%s: want it blocked by the policy, got %v", u, err)
		}
		// Back to an allowed page first: Chromium 156 can crash going
		// from one blocked page straight to a blocked chrome:// page.
		if err := within(t, ctx, "back to the login page", 20*time.Second,
			chromedp.Navigate(login.URL+"/"), chromedp.WaitVisible(chromedp.CSS("#idp"))); err != nil {
			t.Fatalf("back to the login page after %s: %v", u, err)
		}
	}
	if n := otherHits.Load(); n != 0 {
		t.Errorf("the blocked site was asked %d times", n)
	}

	// Between citizens: what a session stored in the browser is gone once
	// it ends (the UI's Clear-Site-Data on the wipe).
	if err := within(t, ctx, "begin a session", 20*time.Second,
		chromedp.Navigate(uiTS.URL+"/"), chromedp.WaitVisible(chromedp.CSS(`[data-testid="start"]`)),
		chromedp.Click(chromedp.CSS(`[data-testid="start"]`)), chromedp.WaitVisible(chromedp.CSS(`[data-testid="cancel"]`))); err != nil {
		t.Fatalf("start a session: %v", err)
	}
	eval[any](t, ctx, `localStorage.setItem('citizen', 'Hồng Nhung'); sessionStorage.setItem('citizen', 'x')`)
	if got := eval[string](t, ctx, `localStorage.getItem('citizen') || ''`); got == "" {
		t.Fatal("localStorage did not keep the value (nothing to clear)")
	}
	if err := within(t, ctx, "cancel the session", 20*time.Second,
		chromedp.Click(chromedp.CSS(`[data-testid="cancel"]`)), chromedp.WaitVisible(chromedp.CSS(`[data-testid="start"]`))); err != nil {
		t.Fatalf("cancel: %v", err)
	}
	if got := eval[string](t, ctx, `(localStorage.getItem('citizen') || '') + (sessionStorage.getItem('citizen') || '')`); got != "" {
		t.Errorf("the citizen's data survived the wipe: %q", got)
	}
	if step := ctrl.Step(); step != kiosk.StepAttract {
		t.Errorf("the kiosk is at %s after cancel, want attract", step)
	}
}

// logWriter puts Chromium's own output in the test log.
type logWriter struct{ t *testing.T }

func (w *logWriter) Write(p []byte) (int, error) {
	w.t.Logf("chromium: %s", strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
