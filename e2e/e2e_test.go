// Package e2e runs the real kiosk and portal binaries with the simulated
// devices (ESC/POS and QR imager on pseudo-terminals, SANE's test scanner)
// and drives the whole citizen flow in headless Chromium.
package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

// The test citizen of the reference provider used here.
const (
	citizenID   = "049190012345"
	citizenName = "Nguyễn Thị Hồng Nhung"
)

var binDir string

// A short idle timer so the privacy wipe can be watched; every step of the
// flow takes far less.
const (
	idleTimeout   = 15 * time.Second
	idleCountdown = 4 * time.Second
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "govkiosk-e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binDir = dir
	// The kiosk with its demo (simulated devices): the production build has none.
	ctx, cancel := context.WithTimeout(context.Background(), buildBound)
	build := exec.CommandContext(ctx, "go", "build", "-tags", "demo", "-o", dir+"/", "../cmd/kiosk", "../cmd/portal")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	build.WaitDelay = exitBound
	err = build.Run()
	if ctx.Err() != nil {
		err = fmt.Errorf("not done within %v: %w", buildBound, err)
	}
	cancel()
	if err != nil {
		fmt.Fprintln(os.Stderr, "build the kiosk and portal binaries:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func need(t *testing.T, bins ...string) {
	t.Helper()
	for _, b := range bins {
		if _, err := exec.LookPath(b); err != nil {
			if os.Getenv("CI") != "" {
				t.Fatalf("%s is not installed (make deps installs it)", b)
			}
			t.Skipf("%s is not installed (make deps installs it)", b)
		}
	}
}

func freeAddr(t *testing.T) string {
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

// start runs a binary until the test ends; its output goes to a log file
// that is printed if the test fails.
func start(t *testing.T, name string, args ...string) *exec.Cmd {
	t.Helper()
	logPath := filepath.Join(t.TempDir(), name+".log")
	f, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(filepath.Join(binDir, name), args...)
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		if err := stopProcess(cmd, done); err != nil {
			t.Errorf("stopping %s: %v", name, err)
		}
		f.Close()
		if t.Failed() {
			b, _ := os.ReadFile(logPath)
			t.Logf("---- %s log ----\n%s", name, tail(b, 6000))
		}
	})
	return cmd
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}

// waitHTTP waits for u to answer below 500, for at most a minute.
func waitHTTP(t *testing.T, u string) {
	t.Helper()
	const bound = 60 * time.Second
	deadline := time.Now().Add(bound)
	var last error
	for time.Now().Before(deadline) {
		resp, err := httpClient.Get(u)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode < 500 {
				return
			}
			err = fmt.Errorf("HTTP %d", resp.StatusCode)
		}
		last = err
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("%s did not come up within %v (last: %v)", u, bound, last)
}

// faultProxy stands between the kiosk (and its browser) and the portal. When
// intakeDown is set it cuts every upload and finalise call, the way a dead
// rural link does, while logins and codes still get through.
type faultProxy struct {
	intakeDown atomic.Bool
	dropped    atomic.Int64
	// refuseIntake answers intake with a permanent refusal (service_test.go).
	refuseIntake atomic.Bool
	refused      atomic.Int64
}

func (p *faultProxy) handler(target *url.URL) http.Handler {
	rp := httputil.NewSingleHostReverseProxy(target)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p.intakeDown.Load() && isIntake(r.URL.Path) {
			p.dropped.Add(1)
			panic(http.ErrAbortHandler) // the connection just dies
		}
		if p.refuseIntake.Load() && isIntake(r.URL.Path) {
			p.refuse(w, r)
			return
		}
		rp.ServeHTTP(w, r)
	})
}

// isIntake tells the requests that carry an application: tus uploads and
// the finalise call (and the first, multipart intake).
func isIntake(path string) bool {
	return strings.HasPrefix(path, "/api/v1/uploads") || strings.HasPrefix(path, "/api/v1/packets/") || path == "/api/v1/applications"
}

type world struct {
	portalURL string // as kiosks and phones see it (through the proxy)
	kioskURL  string
	opsURL    string
	dataDir   string
	proxy     *faultProxy
}

func setup(t *testing.T) *world {
	t.Helper()
	need(t, "chromium", "zbarimg", "scanimage")
	root := t.TempDir()
	portalAddr, proxyAddr, kioskAddr, opsAddr := freeAddr(t), freeAddr(t), freeAddr(t), freeAddr(t)
	w := &world{
		portalURL: "http://" + proxyAddr, kioskURL: "http://" + kioskAddr, opsURL: "http://" + opsAddr,
		dataDir: filepath.Join(root, "kiosk"), proxy: &faultProxy{},
	}
	const token = "e2e-enroll-token-1"
	tokenFile := filepath.Join(root, "admin-token")
	if err := os.WriteFile(tokenFile, []byte(adminToken), 0o600); err != nil {
		t.Fatal(err)
	}
	// The phone simulator is the citizen's phone here; codes a second apart,
	// and more of them than a citizen may ask for, let the walks (all the
	// same test citizen) follow each other quickly.
	// Plain http on loopback: the fault proxy must see which requests carry
	// an application, which it cannot through the kiosk's mutual TLS.
	start(t, "portal", "--plain-http", "--listen", portalAddr, "--public-url", w.portalURL, "--data", filepath.Join(root, "portal"),
		"--kiosk-redirect", w.kioskURL+"/auth/callback", "--enroll-token", token,
		"--phone-simulator", "--admin-token-file", tokenFile, "--code-gap", "1s", "--codes-per-citizen", "20")
	target, _ := url.Parse("http://" + portalAddr)
	ln, err := net.Listen("tcp", proxyAddr)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: w.proxy.handler(target), ReadHeaderTimeout: httpBound}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	waitHTTP(t, w.portalURL+"/api/v1/catalogue")

	start(t, "kiosk", "--demo", "--data", w.dataDir, "--portal", w.portalURL, "--enroll-token", token,
		"--listen", kioskAddr, "--ops-listen", opsAddr, "--submit-wait", submitWait.String(),
		"--idle-timeout", idleTimeout.String(), "--idle-countdown", idleCountdown.String())
	waitHTTP(t, w.opsURL+"/healthz")
	waitHTTP(t, w.kioskURL+"/")
	return w
}

func browser(t *testing.T) context.Context {
	t.Helper()
	var out syncBuffer
	opts := append(chromedp.DefaultExecAllocatorOptions[:len(chromedp.DefaultExecAllocatorOptions):len(chromedp.DefaultExecAllocatorOptions)],
		chromedp.ExecPath(mustLook(t, "chromium")),
		chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("no-first-run", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1080, 1920), // the kiosk's portrait touchscreen
		chromedp.CombinedOutput(&out),
	)
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancel)
	ctx, cancel2 := chromedp.NewContext(actx)
	t.Cleanup(cancel2)
	// The first Run starts Chromium and ties the browser's life to its
	// context, so that context takes no timeout (it would stop the browser
	// mid-test); the start itself is bounded here instead. Each step then
	// has its own bound (runStep).
	if err := within("start chromium and open a tab", browserStart, func() error { return chromedp.Do(ctx) }, cancel2); err != nil {
		t.Fatalf("%v; chromium printed:\n%s", err, tail(out.Bytes(), 4000))
	}
	return ctx
}

func mustLook(t *testing.T, name string) string {
	p, err := exec.LookPath(name)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// adminToken opens the portal's admin API and phone simulator.
const adminToken = "e2e-admin-token-0123456789abcdefghijkl"

// adminGet GETs u with the portal's admin token (harmless elsewhere).
func adminGet(u string) (*http.Response, error) {
	req, err := http.NewRequest("GET", u, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+adminToken)
	return httpClient.Do(req)
}

func getJSON(t *testing.T, u string, out any) {
	t.Helper()
	resp, err := adminGet(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("GET %s: %d %s", u, resp.StatusCode, b)
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		t.Fatal(err)
	}
}

func postJSON(t *testing.T, u string, in any) {
	t.Helper()
	b, _ := json.Marshal(in)
	req, _ := http.NewRequest("POST", u, bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+adminToken)
	resp, err := httpClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		body, _ := io.ReadAll(resp.Body)
		t.Fatalf("POST %s: %d %s", u, resp.StatusCode, body)
	}
}

// phoneApproveLatest plays the citizen's phone: it "scans" the newest login QR
// and approves it, picking among the numbers the phone offers the one the
// kiosk screen shows.
func (w *world) phoneApproveLatest(t *testing.T, number string) {
	t.Helper()
	var pending []struct {
		LinkCode string   `json:"linkCode"`
		KioskID  string   `json:"kioskId"`
		Choices  []string `json:"choices"`
	}
	const bound = 30 * time.Second
	deadline := time.Now().Add(bound)
	for len(pending) == 0 && time.Now().Before(deadline) {
		getJSON(t, w.portalURL+"/phone/api/pending", &pending)
		if len(pending) == 0 {
			time.Sleep(200 * time.Millisecond)
		}
	}
	if len(pending) == 0 {
		t.Fatalf("waited %v for a login waiting on the provider (/phone/api/pending); none came", bound)
	}
	if !slices.Contains(pending[0].Choices, number) || pending[0].KioskID == "" {
		t.Fatalf("the phone offers %v for kiosk %q; the kiosk screen shows %s", pending[0].Choices, pending[0].KioskID, number)
	}
	postJSON(t, w.portalURL+"/phone/api/approve", map[string]string{"linkCode": pending[0].LinkCode, "citizenId": citizenID, "number": number})
}

// The code message, not the receipt message that also carries digits.
// It is in the session's language: "code … is", "mã … là", "รหัส … คือ".
var codeMessage = regexp.MustCompile(`(?:confirmation code .*is|mã xác nhận .*là|รหัสยืนยัน.*คือ) ([0-9]{6})`)

// phoneCode reads the newest confirmation code from the phone's inbox.
func (w *world) phoneCode(t *testing.T, notBefore int) string {
	t.Helper()
	const bound = 30 * time.Second
	deadline := time.Now().Add(bound)
	for time.Now().Before(deadline) {
		var inbox []struct {
			Text string `json:"text"`
		}
		getJSON(t, w.portalURL+"/phone/api/inbox?citizen="+citizenID, &inbox)
		for _, msg := range inbox[:max(0, len(inbox)-notBefore)] { // newest first
			if m := codeMessage.FindStringSubmatch(msg.Text); m != nil {
				return m[1]
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("waited %v for a confirmation code in the phone's inbox; none came", bound)
	return ""
}

func (w *world) inboxLen(t *testing.T) int {
	t.Helper()
	var inbox []json.RawMessage
	getJSON(t, w.portalURL+"/phone/api/inbox?citizen="+citizenID, &inbox)
	return len(inbox)
}

type flowResult struct {
	reference   string
	provisional bool
	printed     bool
	pages       int
	purpose     string
	appointment string
	taps        []string
}

func css(testid string) chromedp.CSS { return chromedp.CSS(`[data-testid="` + testid + `"]`) }

// click touches the element with the test id (waiting for it to be visible
// first); its error names the element.
// It is the test's own touch, not counted among the citizen's taps.
func click(testid string) chromedp.Action[chromedp.Void] {
	return named("touch "+string(css(testid)), chromedp.Click(css(testid)))
}

// waitFor waits for the element with the test id to be visible; its error
// names the element.
func waitFor(testid string) chromedp.Action[chromedp.Void] {
	return named("wait for "+string(css(testid))+" to be visible", chromedp.WaitVisible(css(testid)))
}

// tab runs browser steps, each within a bound, and fails the test with
// the step, what it waited for and the page's text. It counts the
// citizen's taps (tap), apart from the test's own touches (click).
type tab struct {
	t    *testing.T
	ctx  context.Context
	taps *[]string // what each counted tap touched, in order
}

func (b tab) fail(err error) {
	b.t.Helper()
	body, berr := runWithin(b.ctx, "read the screen", readBound, chromedp.Text(chromedp.CSS("body")))
	if berr != nil {
		body = "(" + berr.Error() + ")"
	}
	b.t.Fatalf("%v\nscreen: %s", err, tail([]byte(body), 2000))
}

// do runs one step of the flow within stepBound.
func (b tab) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	b.doWithin(what, stepBound, steps...)
}

func (b tab) doWithin(what string, d time.Duration, steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	if err := runStep(b.ctx, what, d, steps...); err != nil {
		b.fail(err)
	}
}

// tap is the citizen touching the element with the test id: it counts.
func (b tab) tap(testid string) chromedp.Action[chromedp.Void] {
	return b.tapCSS(testid, css(testid))
}

func (b tab) tapCSS(what string, sel chromedp.CSS) chromedp.Action[chromedp.Void] {
	return func(ctx context.Context, tg *chromedp.Target) (chromedp.Void, error) {
		v, err := named("touch "+string(sel), chromedp.Click(sel))(ctx, tg)
		if err == nil && b.taps != nil {
			*b.taps = append(*b.taps, what)
		}
		return v, err
	}
}

var shots atomic.Int64

// shot keeps pictures of the screen when E2E_SCREENSHOTS names a folder:
// as it is, and with larger text, toggled on and back off through the
// header's button. Put it right after a wait, never right after a click
// that navigates, and not where a redraw would lose something on screen
// only (digits typed on the keypad).
func (b tab) shot(name string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		dir := os.Getenv("E2E_SCREENSHOTS")
		if dir == "" {
			return nil
		}
		n := shots.Add(1)
		capture := func(suffix string) {
			// The Thai and Vietnamese fonts load after the page: a picture
			// taken before shows blank text.
			for deadline := time.Now().Add(3 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
				if ok, err := chromedp.Evaluate[bool](`document.fonts.status === "loaded"`)(ctx, tg); err != nil || ok {
					break
				}
			}
			png, err := chromedp.CaptureScreenshot()(ctx, tg)
			if err != nil {
				b.t.Logf("screenshot %s: %v", name, err)
				return
			}
			if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("%02d-%s%s.png", n, name, suffix)), png, 0o644); err != nil {
				b.t.Logf("screenshot %s: %v", name, err)
			}
		}
		capture("")
		if open, err := chromedp.Evaluate[bool](`document.querySelector("dialog[open]") !== null`)(ctx, tg); err != nil || open {
			return nil // a dialog over the screen (the idle countdown) takes the touches
		}
		for _, step := range []chromedp.Action[chromedp.Void]{
			chromedp.Click(css("larger")), chromedp.WaitVisible(chromedp.CSS("body.large header")), chromedp.Sleep(300 * time.Millisecond),
		} {
			if _, err := step(ctx, tg); err != nil {
				return fmt.Errorf("larger text for the screenshot of %s: %w", name, err)
			}
		}
		capture("-large")
		for _, step := range []chromedp.Action[chromedp.Void]{
			chromedp.Click(css("larger")), chromedp.WaitVisible(chromedp.CSS("body:not(.large) header")), chromedp.Sleep(300 * time.Millisecond),
		} {
			if _, err := step(ctx, tg); err != nil {
				return fmt.Errorf("normal text after the screenshot of %s: %w", name, err)
			}
		}
		return nil
	})
}

// get reads a value off the screen within readBound.
func get[T any](b tab, what string, a chromedp.Action[T]) T {
	b.t.Helper()
	v, err := runWithin(b.ctx, "read "+what, readBound, a)
	if err != nil {
		b.fail(err)
	}
	return v
}

// moveOn runs steps that leave the page (a touch whose answer redraws)
// and waits for the next page to be loaded, so that what is read next is
// not the old page's.
func (b tab) moveOn(what string, steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	mark := chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := chromedp.Evaluate[bool](`window.e2eOldPage = true`)(ctx, tg)
		return err
	})
	b.do(what, append([]chromedp.Action[chromedp.Void]{mark}, steps...)...)
	deadline := time.Now().Add(stepBound)
	for !get(b, "whether the next page is loaded", chromedp.Evaluate[bool](`window.e2eOldPage !== true && document.readyState === "complete"`)) {
		if time.Now().After(deadline) {
			b.fail(fmt.Errorf("%s: waited %v for the next page", what, stepBound))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// has reports whether an element with the test id is on the screen now.
func has(b tab, testid string) bool {
	b.t.Helper()
	return get(b, testid+" present", chromedp.Evaluate[bool](`document.querySelector('[data-testid="`+testid+`"]') !== null`))
}

// inFrame reads the text of sel inside the login screen's frame (the
// provider's page, same site as the kiosk in the demo, so in its process).
func inFrame(b tab, what string, sel chromedp.CSS) string {
	b.t.Helper()
	deadline := time.Now().Add(stepBound)
	for {
		frames := get(b, "the login frame", chromedp.Nodes(css("login-frame")))
		if len(frames) > 0 {
			v, err := runWithin(b.ctx, "read "+what+" in the login frame", 2*time.Second, chromedp.Text(sel, chromedp.FromNode(frames[0])))
			if err == nil && v != "" {
				return v
			}
		}
		if time.Now().After(deadline) {
			b.fail(fmt.Errorf("waited %v for %s (%s) inside the login screen's frame", stepBound, what, sel))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// walkOpts are the checks a walk makes besides the happy path.
type walkOpts struct {
	notMe       bool // "No, this is not me" once, then log in again
	langSurvive bool // switch the language on the form, and back: the choice is kept
}

// walk drives one citizen through the kiosk in language code, applying for
// a certificate of marital status, counting the taps the citizen makes.
func (w *world) walk(t *testing.T, ctx context.Context, code string, o walkOpts) flowResult {
	t.Helper()
	var r flowResult
	var taps []string
	b := tab{t, ctx, &taps}
	htmlLang := func() string {
		return get(b, "page language", chromedp.AttributeValue(chromedp.CSS("html"), "lang")).Value
	}
	b.do("attract", chromedp.Navigate(w.kioskURL+"/"), waitFor("start"), b.shot("attract-"+code), b.tap("start"))
	b.do("catalogue", waitFor("proc-marital-status"))
	if htmlLang() != code {
		// The header's language buttons: there is no language screen.
		b.do("language", b.tap("lang-switch-"+code), waitFor("proc-marital-status"),
			named("wait for the page in "+code, chromedp.WaitVisible(chromedp.CSS(`html[lang="`+code+`"] body`))))
	}
	b.do("catalogue", b.shot("catalogue-"+code), b.tap("proc-marital-status"))

	// The login QR is on the kiosk's own screen at once, with its cancel
	// and help, and the step indicator.
	b.do("login", waitFor("login-frame"), waitFor("cancel"), waitFor("help"), waitFor("stage"))
	inFrame(b, "the provider's page", chromedp.CSS("#match-number")) // loaded, for the picture
	b.do("login shot", b.shot("login-"+code))
	number := inFrame(b, "number to pick", chromedp.CSS("#match-number")) // after the picture: larger text began a fresh login
	w.phoneApproveLatest(t, number)
	b.do("identity", waitFor("identity-yes"), b.shot("is-this-you-"+code))
	if masked := get(b, "masked name", chromedp.Text(css("masked-name"))); masked == "" || strings.Contains(masked, "Hồng Nhung") {
		t.Fatalf("'Is this you?' shows %q; want a masked name", masked)
	}
	if o.notMe {
		b.do("not me", click("identity-no"), waitFor("login-frame"), waitFor("notice"), b.shot("not-me-"+code))
		if key := get(b, "notice", chromedp.AttributeValue(css("notice"), "data-key")).Value; key != "login.not_me" {
			t.Errorf("after 'not me' the notice is %q, want login.not_me", key)
		}
		if got := htmlLang(); got != code {
			t.Errorf("after 'not me' the screen is in %q, want %q", got, code)
		}
		number = inFrame(b, "number to pick after 'not me'", chromedp.CSS("#match-number"))
		w.phoneApproveLatest(t, number)
		b.do("identity again", waitFor("identity-yes"))
	}
	b.do("identity yes", b.tap("identity-yes"), waitFor("appform"), waitFor("option-purpose-0"), b.shot("form-purpose-"+code))
	if got := get(b, "prefill", chromedp.Value(css("field-full_name"))); got != citizenName {
		t.Fatalf("form name prefilled with %q, want %q", got, citizenName)
	}
	// One question a screen: a choice is one touch.
	r.purpose = get(b, "purpose", chromedp.Value(css("option-purpose-0")))
	b.do("purpose", b.tap("option-purpose-0"), waitFor("option-marital_history-0"), b.shot("form-marital-"+code))
	// The citizen holds their ID card's signed QR under the imager: it is
	// verified against the trust list in the signed catalogue and matched to
	// the citizen who logged in. The screen redraws where it was, the
	// choice made kept (the review shows it).
	w.holdIDCard(t)
	b.do("ID card checked", waitFor("idqr-checked"), waitFor("option-marital_history-0"))
	if o.langSurvive {
		other := "en"
		if code == "en" {
			other = "vi"
		}
		b.do("switch language on the form", click("lang-switch-"+other), named("wait for the page in "+other, chromedp.WaitVisible(chromedp.CSS(`html[lang="`+other+`"] #appform`))),
			waitFor("option-marital_history-0"), click("back"), waitFor("option-purpose-0"))
		if cls := get(b, "purpose option", chromedp.AttributeValue(css("option-purpose-0"), "class")).Value; !strings.Contains(cls, "chosen") {
			t.Errorf("after a language switch the purpose chosen is lost (class %q)", cls)
		}
		b.do("switch back", click("lang-switch-"+code), named("wait for the page in "+code, chromedp.WaitVisible(chromedp.CSS(`html[lang="`+code+`"] #appform`))),
			click("option-purpose-0"), waitFor("option-marital_history-0"))
	}
	b.do("marital history", b.tap("option-marital_history-0"))
	r.pages = scanDocuments(b, code)
	b.do("review", waitFor("send-code"), b.shot("review-"+code))
	// The review shows what the citizen chose as they saw it, never a code.
	for _, f := range []string{"purpose", "marital_history"} {
		shown := get(b, "review of "+f, chromedp.Text(css("review-"+f))) // "" if a redraw lost it
		if shown == "" || regexp.MustCompile(`^[a-z_]+$`).MatchString(shown) || shown == r.purpose {
			t.Errorf("review shows %q for %s: an option code, not its label", shown, f)
		}
	}
	before := w.inboxLen(t)
	b.do("send code", b.tap("send-code"), waitFor("code"), b.shot("code-"+code))
	if !get(b, "send button", chromedp.Evaluate[bool](`document.querySelector('[data-testid="submit-code"]').disabled`)) {
		t.Error("the code's send button is enabled before 6 digits are typed")
	}
	got := w.phoneCode(t, before)
	if screen := get(b, "screen", chromedp.Text(chromedp.CSS("body"))); strings.Contains(screen, got) {
		t.Fatal("the confirmation code is shown on the kiosk screen")
	}
	var keys []chromedp.Action[chromedp.Void]
	for _, d := range got {
		keys = append(keys, b.tapCSS("key "+string(d), chromedp.CSS(`.key[data-key="`+string(d)+`"]`)))
	}
	b.do("type code", keys...)
	if get(b, "send button", chromedp.Evaluate[bool](`document.querySelector('[data-testid="submit-code"]').disabled`)) {
		t.Error("the code's send button stays disabled with 6 digits typed")
	}
	b.doWithin("submit and print the receipt", slowBound, b.tap("submit-code"), waitFor("reference"), waitFor("rate-5"), b.shot("receipt-"+code))
	r.reference = get(b, "reference", chromedp.Text(css("reference")))
	r.provisional = get(b, "provisional", chromedp.AttributeValue(css("reference"), "data-provisional")).Value == "true"
	r.printed = get(b, "printed", chromedp.Evaluate[int](`document.querySelectorAll('[data-testid="printed"]').length`)) == 1
	r.appointment = get(b, "appointment", chromedp.Text(css("appointment")))
	if code == "th" {
		// Dates on Thai screens are in the Buddhist era.
		if !regexp.MustCompile(`25[6-9][0-9]`).MatchString(r.appointment) || regexp.MustCompile(`20[2-9][0-9]`).MatchString(r.appointment) {
			t.Errorf("Thai receipt screen shows the appointment as %q, want a Buddhist-era year", r.appointment)
		}
	}
	if footer := get(b, "footer", chromedp.Text(css("cancel"))); footer == "" || strings.Contains(footer, "✕") {
		t.Errorf("after submission the footer says %q, want Finish", footer)
	}
	// The rating is on the receipt screen: a face is the last tap.
	b.do("rate", b.tap("rate-5"), waitFor("finish"), b.shot("thanks-"+code), click("finish"), waitFor("start"))
	r.taps = taps
	t.Logf("%s: %d taps for the marital-status happy path: %s", code, len(taps), strings.Join(taps, ", "))
	return r
}

// scanDocuments goes through the documents screens, as the catalogue asks
// for them: it scans what must be and skips what may be, and returns the
// pages the documents screens report kept.
func scanDocuments(b tab, code string) int {
	t := b.t
	total := 0
	for i := range 6 {
		n := fmt.Sprintf("%d-%s", i+1, code)
		b.do("documents or review", named("wait for a document or the review", chromedp.WaitVisible(chromedp.CSS(`[data-testid="scan"], [data-testid="doc-next"], [data-testid="send-code"]`))))
		if has(b, "send-code") {
			break
		}
		doc := get(b, "document", chromedp.Text(css("doc-name")))
		switch {
		case has(b, "skip"):
			b.do("skip shot", b.shot("document-optional-"+n))
			b.moveOn("skip "+doc, b.tap("skip"))
		case has(b, "scan"):
			b.do("scan shot", b.shot("document-"+n))
			b.doWithin("scan "+doc, slowBound, b.tap("scan"), waitFor("doc-next"), b.shot("scanned-"+n))
			var pages int
			fmt.Sscan(get(b, "pages", chromedp.AttributeValue(css("scanned-pages"), "data-pages")).Value, &pages)
			thumbs := get(b, "thumbs", chromedp.Evaluate[int](`document.querySelectorAll('[data-testid="thumb"]').length`))
			if pages < 1 || thumbs != pages {
				t.Fatalf("%d pages scanned, %d thumbnails shown", pages, thumbs)
			}
			total += pages
			b.moveOn("next document", b.tap("doc-next"))
		default:
			b.moveOn("next document", b.tap("doc-next"))
		}
	}
	return total
}

// permitWalk drives one citizen through the kiosk in language code,
// applying for a house-building permit: the building site is typed on the
// on-screen keyboard's keys, the floor area on its number pad, and both
// required documents are scanned. It returns the pages the documents
// screens kept and what was typed.
func (w *world) permitWalk(t *testing.T, ctx context.Context, code string, keys []string) (flowResult, string) {
	t.Helper()
	var r flowResult
	b := tab{t, ctx, nil}
	b.do("attract", chromedp.Navigate(w.kioskURL+"/"), waitFor("start"), click("start"), waitFor("proc-house-building-permit"))
	if get(b, "page language", chromedp.AttributeValue(chromedp.CSS("html"), "lang")).Value != code {
		b.do("language", click("lang-switch-"+code), named("wait for the page in "+code, chromedp.WaitVisible(chromedp.CSS(`html[lang="`+code+`"] [data-testid="proc-house-building-permit"]`))))
	}
	b.do("catalogue", click("proc-house-building-permit"), waitFor("login-frame"))
	number := inFrame(b, "number to pick", chromedp.CSS("#match-number"))
	w.phoneApproveLatest(t, number)
	b.do("identity yes", waitFor("identity-yes"), click("identity-yes"), waitFor("appform"), waitFor("keyboard"), b.shot("form-site-keyboard-"+code))
	var typing []chromedp.Action[chromedp.Void]
	for _, k := range keys {
		typing = append(typing, named("tap key "+k, chromedp.Click(chromedp.CSS(keySel(k)))))
	}
	b.do("type the building site", typing...)
	typed := get(b, "building site", chromedp.Value(css("field-site_address")))
	b.do("typed shot", b.shot("form-site-typed-"+code), click("form-next"), waitFor("field-land_parcel"))
	b.do("land parcel", chromedp.SetValue(css("field-land_parcel"), "125/18"), b.shot("form-parcel-"+code), click("form-next"),
		named("wait for the number pad", chromedp.WaitVisible(chromedp.CSS(`#kb .kb-number`))))
	b.do("floor area", named("tap key 9", chromedp.Click(chromedp.CSS(keySel("9")))), named("tap key 6", chromedp.Click(chromedp.CSS(keySel("6")))),
		b.shot("form-area-numpad-"+code), click("form-next"), waitFor("option-floors-1"))
	b.do("floors", b.shot("form-floors-"+code), click("option-floors-1"))
	r.pages = scanDocuments(b, code)
	b.do("review", waitFor("send-code"), b.shot("review-permit-"+code))
	if shown := get(b, "review of the building site", chromedp.Text(css("review-site_address"))); shown != typed {
		t.Errorf("review shows the building site as %q, want %q", shown, typed)
	}
	before := w.inboxLen(t)
	b.do("send code", click("send-code"), waitFor("code"))
	var digits []chromedp.Action[chromedp.Void]
	for _, d := range w.phoneCode(t, before) {
		digits = append(digits, named("key "+string(d), chromedp.Click(chromedp.CSS(`.key[data-key="`+string(d)+`"]`))))
	}
	b.do("type code", digits...)
	b.doWithin("submit", slowBound, click("submit-code"), waitFor("reference"), waitFor("rate-5"))
	r.reference = get(b, "reference", chromedp.Text(css("reference")))
	r.provisional = get(b, "provisional", chromedp.AttributeValue(css("reference"), "data-provisional")).Value == "true"
	b.do("rate", click("rate-5"), waitFor("finish"), click("finish"), waitFor("start"))
	return r, typed
}

// keySel selects the on-screen keyboard's key that types value (or a
// command such as "@space") on the layout and layer shown.
func keySel(value string) string {
	b, _ := json.Marshal(value)
	return `#kb .kb-layout:not([hidden]) .kb-layer:not([hidden]) button[value=` + string(b) + `], #kb .kb-cmd button[value=` + string(b) + `]`
}

// holdIDCard holds the test citizen's ID card QR under the imager.
func (w *world) holdIDCard(t *testing.T) {
	t.Helper()
	resp, err := adminGet(w.portalURL + "/phone/idcard?format=text&citizen=" + citizenID)
	if err != nil {
		t.Fatal(err)
	}
	card, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp, err = httpClient.Post(w.opsURL+"/demo/qr", "text/plain", bytes.NewReader(card)); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
}

// maxTaps is the budget for a first-time citizen's marital-status
// application on the kiosk.
const maxTaps = 15

type adminApp struct {
	TrackingNumber    string            `json:"trackingNumber"`
	ProvisionalNumber string            `json:"provisionalNumber"`
	ProcedureID       string            `json:"procedureId"`
	Form              map[string]string `json:"form"`
	Documents         []struct {
		Type  string `json:"type"`
		Pages int    `json:"pages"`
	} `json:"documents"`
}

// applications lists the portal's applications (without form answers).
func (w *world) applications(t *testing.T) []adminApp {
	t.Helper()
	var apps []adminApp
	getJSON(t, w.portalURL+"/api/v1/admin/applications", &apps)
	return apps
}

// application is one application with its form answers.
func (w *world) application(t *testing.T, ref string) adminApp {
	var app adminApp
	getJSON(t, w.portalURL+"/api/v1/admin/applications/"+ref, &app)
	return app
}

// receiptQR decodes the newest receipt the printer emulator produced, with zbar.
func (w *world) receiptQR(t *testing.T, n int) string {
	t.Helper()
	dir := filepath.Join(w.dataDir, "receipts")
	var jobs []string
	const bound = 20 * time.Second
	deadline := time.Now().Add(bound)
	for time.Now().Before(deadline) {
		jobs, _ = filepath.Glob(filepath.Join(dir, "job-*.png"))
		if len(jobs) >= n {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if len(jobs) < n {
		t.Fatalf("waited %v for receipt %d in %s: the printer emulator wrote %d", bound, n, dir, len(jobs))
	}
	ctx, cancel := context.WithTimeout(context.Background(), httpBound)
	defer cancel()
	zbar := exec.CommandContext(ctx, "zbarimg", "--raw", "-q", jobs[n-1])
	zbar.WaitDelay = exitBound
	out, err := zbar.Output()
	if ctx.Err() != nil {
		t.Fatalf("zbarimg %s: not done within %v", jobs[n-1], httpBound)
	}
	if err != nil {
		t.Fatalf("zbarimg %s: %v", jobs[n-1], err)
	}
	return strings.TrimSpace(string(out))
}

// personalDataLeft lists files in the kiosk's own data folder that still
// hold the citizen's ID, name or form answers.
func (w *world) personalDataLeft(t *testing.T, needles ...string) []string {
	t.Helper()
	var found []string
	root := filepath.Join(w.dataDir, "kiosk")
	filepath.Walk(root, func(p string, fi os.FileInfo, err error) error {
		if err != nil || fi.IsDir() {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return nil
		}
		for _, n := range needles {
			if n != "" && bytes.Contains(b, []byte(n)) {
				found = append(found, fmt.Sprintf("%s holds %q", p, n))
			}
		}
		return nil
	})
	return found
}

// launch opens the browser at a fresh one-time launch URL from the demo's
// ops port: the kiosk UI answers only the browser that used it.
func (w *world) launch(t *testing.T, ctx context.Context) {
	t.Helper()
	resp, err := httpClient.Post(w.opsURL+"/demo/launch", "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	u, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("POST /demo/launch: %d %s", resp.StatusCode, u)
	}
	// The kiosk's touchscreen: 1080×1920, portrait.
	tab{t, ctx, nil}.do("launch", chromedp.EmulateViewport(1080, 1920), chromedp.Navigate(strings.TrimSpace(string(u))), waitFor("start"))
}

// browserCookies are the kiosk browser's cookies for the UI: the UI
// answers only the browser it launched, so a request made beside it carries
// that browser's session.
func (w *world) browserCookies(t *testing.T, bctx context.Context) []*http.Cookie {
	t.Helper()
	var got []*http.Cookie
	tab{t, bctx, nil}.do("read the browser's cookies", chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		res, err := cdp.Call(ctx, tg, network.GetCookies, network.GetCookiesParams{URLs: []string{w.kioskURL + "/"}})
		for _, c := range res.Cookies {
			got = append(got, &http.Cookie{Name: c.Name, Value: c.Value})
		}
		return err
	}))
	return got
}

// firstEvent reads the kiosk's event stream as a page of the kiosk's
// browser (bctx) showing step would, and returns the first event's name, or
// "" when none comes within d.
func (w *world) firstEvent(t *testing.T, bctx context.Context, step string, d time.Duration) string {
	t.Helper()
	cookies := w.browserCookies(t, bctx)
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, w.kioskURL+"/events?step="+url.QueryEscape(step), nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cookies {
		req.AddCookie(c)
	}
	resp, err := http.DefaultTransport.RoundTrip(req) // the stream never ends: ctx bounds it, not a client timeout
	if err != nil {
		t.Fatalf("GET /events: %v", err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if ev, ok := strings.CutPrefix(sc.Text(), "event: "); ok {
			return ev
		}
	}
	return ""
}

func TestCitizenFlow(t *testing.T) {
	w := setup(t)
	ctx := browser(t)
	w.launch(t, ctx)

	// A page rendered before a change it has no event for (a QR read while
	// the browser was still connecting its event stream) is told to redraw
	// as soon as it connects; on a loaded machine the receipt-QR status
	// screen was lost that way, and the wait for it hung the run.
	t.Run("stale page redraws", func(t *testing.T) {
		if ev := w.firstEvent(t, ctx, "status", 10*time.Second); ev != "refresh" {
			t.Fatalf("a page showing the status screen while the kiosk is at attract got first event %q, want refresh", ev)
		}
		if ev := w.firstEvent(t, ctx, "attract", time.Second); ev != "" {
			t.Fatalf("a page showing the current step got event %q before any change", ev)
		}
	})

	t.Run("online", func(t *testing.T) {
		r := w.walk(t, ctx, "vi", walkOpts{langSurvive: true})
		if len(r.taps) > maxTaps {
			t.Errorf("vi: %d taps for the marital-status happy path, want at most %d", len(r.taps), maxTaps)
		}
		if r.provisional || !strings.HasPrefix(r.reference, "QN-") {
			t.Fatalf("reference %q provisional=%v; want a portal tracking number", r.reference, r.provisional)
		}
		if !r.printed {
			t.Fatal("receipt not printed")
		}
		var app *adminApp
		for _, a := range w.applications(t) {
			if a.TrackingNumber == r.reference {
				app = &a
			}
		}
		if app == nil {
			t.Fatalf("portal has no application %s", r.reference)
		}
		if app.Form != nil {
			t.Fatalf("the portal's list of applications carries form answers: %v", app.Form)
		}
		*app = w.application(t, r.reference)
		if app.ProcedureID != "marital-status" || app.Form["full_name"] != citizenName || app.Form["purpose"] != r.purpose || app.Form["citizen_id"] != citizenID {
			t.Fatalf("portal holds form %v for %s", app.Form, app.ProcedureID)
		}
		pages := 0
		for _, d := range app.Documents {
			pages += d.Pages
		}
		if pages != r.pages {
			t.Fatalf("portal holds documents %+v, want the %d pages scanned", app.Documents, r.pages)
		}
		if got, want := w.receiptQR(t, 1), w.portalURL+"/t/"+r.reference; got != want {
			t.Fatalf("receipt QR = %q, want %q", got, want)
		}
		// The citizen's own copy of the receipt reached their phone.
		var inbox []struct {
			Text string `json:"text"`
		}
		getJSON(t, w.portalURL+"/phone/api/inbox?citizen="+citizenID, &inbox)
		if len(inbox) == 0 || !strings.Contains(inbox[0].Text, r.reference) {
			t.Fatalf("newest phone message %+v does not carry %s", inbox, r.reference)
		}
		if left := w.personalDataLeft(t, citizenID, citizenName, "Hồng Nhung"); len(left) > 0 {
			t.Fatalf("personal data left on the kiosk:\n%s", strings.Join(left, "\n"))
		}
	})

	t.Run("portal down at submit", func(t *testing.T) {
		w.proxy.intakeDown.Store(true)
		r := w.walk(t, ctx, "th", walkOpts{notMe: true})
		if len(r.taps) > maxTaps { // "not me" and the second login are the test's touches, not counted
			t.Errorf("th: %d taps for the marital-status happy path, want at most %d", len(r.taps), maxTaps)
		}
		if !r.provisional || !strings.HasPrefix(r.reference, "P-") {
			t.Fatalf("reference %q provisional=%v; want a provisional number", r.reference, r.provisional)
		}
		if w.proxy.dropped.Load() == 0 {
			t.Fatal("the kiosk never tried the portal")
		}
		if got, want := w.receiptQR(t, 2), w.portalURL+"/t/"+r.reference; got != want {
			t.Fatalf("provisional receipt QR = %q, want %q", got, want)
		}
		for _, a := range w.applications(t) {
			if a.ProvisionalNumber == r.reference {
				t.Fatal("application reached the portal through a dead link")
			}
		}
		// The network returns: the queued application arrives, exactly once.
		w.proxy.intakeDown.Store(false)
		const deliveryBound = 90 * time.Second
		deadline := time.Now().Add(deliveryBound)
		var found []adminApp
		for time.Now().Before(deadline) && len(found) == 0 {
			for _, a := range w.applications(t) {
				if a.ProvisionalNumber == r.reference {
					found = append(found, a)
				}
			}
			if len(found) == 0 {
				time.Sleep(500 * time.Millisecond)
			}
		}
		if len(found) != 1 {
			t.Fatalf("waited %v after the network returned: the portal holds %d copies of %s", deliveryBound, len(found), r.reference)
		}
		if found[0] = w.application(t, found[0].TrackingNumber); found[0].Form["purpose"] != r.purpose || len(found[0].Documents) > 0 && found[0].Documents[0].Pages != r.pages {
			t.Fatalf("delivered application differs: %+v", found[0])
		}
		// The provisional number on the receipt finds the application.
		var st struct {
			TrackingNumber string `json:"trackingNumber"`
		}
		getJSON(t, w.portalURL+"/api/v1/status/"+r.reference, &st)
		if st.TrackingNumber != found[0].TrackingNumber {
			t.Fatalf("status by provisional number gives %q, want %q", st.TrackingNumber, found[0].TrackingNumber)
		}
		// Once delivered, nothing of the citizen stays on the kiosk.
		deadline = time.Now().Add(10 * time.Second)
		left := w.personalDataLeft(t, citizenID, citizenName)
		for len(left) > 0 && time.Now().Before(deadline) {
			time.Sleep(200 * time.Millisecond)
			left = w.personalDataLeft(t, citizenID, citizenName)
		}
		if len(left) > 0 {
			t.Fatalf("waited 10s: personal data left on the kiosk after delivery:\n%s", strings.Join(left, "\n"))
		}
	})

	t.Run("english", func(t *testing.T) {
		r := w.walk(t, ctx, "en", walkOpts{})
		if len(r.taps) > maxTaps {
			t.Errorf("en: %d taps for the marital-status happy path, want at most %d", len(r.taps), maxTaps)
		}
	})

	t.Run("abandoned session is wiped", func(t *testing.T) {
		b := tab{t, ctx, nil}
		b.do("start", chromedp.Navigate(w.kioskURL+"/"), waitFor("start"), click("start"), waitFor("proc-marital-status"), click("lang-switch-en"),
			named("wait for the page in en", chromedp.WaitVisible(chromedp.CSS(`html[lang="en"] [data-testid="proc-marital-status"]`))))
		b.do("catalogue", click("proc-marital-status"), waitFor("login-frame"))
		// Cancel asks first; "no" keeps the login screen.
		b.do("cancel asks", click("cancel"), waitFor("cancel-confirm"), b.shot("cancel-confirm"), click("cancel-no"), waitFor("login-frame"))
		// The citizen walks away: the countdown appears over the login
		// screen, then the session ends and the QR with it.
		b.doWithin("idle countdown", idleTimeout+stepBound, waitFor("idle-continue"), b.shot("idle-countdown"))
		b.doWithin("wipe after the countdown", idleCountdown+stepBound, waitFor("start"))
		if got := get(b, "step", chromedp.AttributeValue(chromedp.CSS("body"), "data-step")).Value; got != "attract" {
			t.Fatalf("after the idle timeout the kiosk is at %q", got)
		}
		if frames := get(b, "frames", chromedp.Evaluate[int](`document.querySelectorAll('iframe').length`)); frames != 0 {
			t.Fatalf("after the wipe the screen still frames %d login pages", frames)
		}
	})

	t.Run("receipt QR shows status", func(t *testing.T) {
		apps := w.applications(t)
		if len(apps) == 0 {
			t.Skip("no application from the earlier subtests")
		}
		ref := apps[0].TrackingNumber
		b := tab{t, ctx, nil}
		b.do("attract", chromedp.Navigate(w.kioskURL+"/"), waitFor("start"))
		// Hold the receipt under the imager: the payload travels the pseudo-terminal.
		resp, err := httpClient.Post(w.opsURL+"/demo/qr", "text/plain", strings.NewReader(w.portalURL+"/t/"+ref))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		b.do("status screen", waitFor("status-ref"), waitFor("status-procedure"), waitFor("status-next"), b.shot("status"))
		shown := get(b, "status ref", chromedp.Text(css("status-ref")))
		if shown != ref {
			t.Fatalf("status screen shows %q, want %q", shown, ref)
		}
		if next := get(b, "what happens next", chromedp.Text(css("status-next"))); next == "" || strings.HasPrefix(next, "status.") {
			t.Errorf("the status screen says %q for what happens next", next)
		}

		// A camera frame of the provisional receipt (the printer emulator's
		// PNG) goes through the gozxing pipeline and finds the application by
		// its provisional number.
		provURL := w.receiptQR(t, 2)
		var st struct {
			TrackingNumber string `json:"trackingNumber"`
		}
		getJSON(t, w.portalURL+"/api/v1/status/"+strings.TrimPrefix(provURL, w.portalURL+"/t/"), &st)
		frame, err := os.ReadFile(filepath.Join(w.dataDir, "receipts", "job-0002.png"))
		if err != nil {
			t.Fatal(err)
		}
		b.do("back to attract", click("status-done"), waitFor("start"))
		resp, err = httpClient.Post(w.opsURL+"/demo/frame", "image/png", bytes.NewReader(frame))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNoContent {
			t.Fatalf("camera frame of the receipt: HTTP %d", resp.StatusCode)
		}
		b.do("status from camera", waitFor("status-ref"))
		if shown := get(b, "status ref", chromedp.Text(css("status-ref"))); shown != st.TrackingNumber {
			t.Fatalf("status screen from the camera shows %q, want %q", shown, st.TrackingNumber)
		}
	})
	// Free text typed on the on-screen keyboard's keys reaches the review
	// exactly as typed; a number on its pad; two documents scanned.
	for _, c := range []struct {
		code, want string
		keys       []string
	}{
		{"vi", "Phở ngon", []string{"@shift", "P", "h", "ơ", "\u0309", "@space", "n", "g", "o", "n"}},
		{"th", "ร้านนาน", []string{"ร", "้", "า", "น", "น", "า", "น"}},
	} {
		t.Run("permit typed "+c.code, func(t *testing.T) {
			r, typed := w.permitWalk(t, ctx, c.code, c.keys)
			if typed != c.want {
				t.Fatalf("keyboard typed %q, want %q", typed, c.want)
			}
			if r.pages < 3 {
				t.Fatalf("documents screens kept %d pages, want at least 1 + 2 for the two documents", r.pages)
			}
			if r.provisional {
				t.Fatalf("provisional receipt %s with the portal up", r.reference)
			}
			// The portal holds exactly what was typed and the pages kept.
			app := w.application(t, r.reference)
			pages := 0
			for _, d := range app.Documents {
				pages += d.Pages
			}
			if app.Form["site_address"] != c.want || app.Form["floor_area"] != "96" || pages != r.pages {
				t.Fatalf("portal holds site %q, floor area %q, %d pages; want %q, 96, %d pages", app.Form["site_address"], app.Form["floor_area"], pages, c.want, r.pages)
			}
		})
	}
}
