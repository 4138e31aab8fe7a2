//go:build demo

package main

import (
	"bytes"
	"encoding/json"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The reference provider's test citizen.
const (
	demoCitizenID   = "049190012345"
	demoCitizenName = "Nguyễn Thị Hồng Nhung"
)

// demoKiosk is a demo kiosk in a child process, enrolled with a portal the
// test runs (the provider and the citizen's phone), so that everything in
// the child is the kiosk's own.
type demoKiosk struct {
	proc      *kioskProc
	ui        string // http://host:port
	portal    string
	admin     string // the portal's admin token, for its phone simulator
	dataDir   string // --data
	launchURL string // from the ready line
}

func startDemoKiosk(t *testing.T, env ...string) *demoKiosk {
	t.Helper()
	if _, err := os.Stat("/usr/bin/scanimage"); err != nil {
		t.Skip("sane-utils is not installed (make deps installs it)")
	}
	listen := freePort(t)
	srv, portalURL := startPortalFor(t, "http://"+listen+"/auth/callback")
	token, err := srv.IssueEnrollToken()
	if err != nil {
		t.Fatal(err)
	}
	k := &demoKiosk{ui: "http://" + listen, portal: portalURL, admin: srv.AdminToken(), dataDir: t.TempDir()}
	k.proc = startKioskProcEnv(t, env, "--demo", "--data", k.dataDir, "--listen", listen, "--ops-listen", freePort(t),
		"--portal", portalURL, "--enroll-token", token, "--submit-wait", "5s")
	ready := regexp.MustCompile(`kiosk ready: open (\S+)`)
	deadline := time.Now().Add(60 * time.Second)
	for {
		if m := ready.FindStringSubmatch(k.proc.stdout.String()); m != nil {
			k.launchURL = m[1]
			return k
		}
		select {
		case <-k.proc.done:
			t.Fatalf("the demo kiosk exited before it was ready:\n%s", k.proc.stderr)
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("no \"kiosk ready\" within 60s; stderr:\n%s", k.proc.stderr)
		}
	}
}

// citizen is a browser without JavaScript at the kiosk: every touch is a
// form post, every screen a page load.
type citizen struct {
	t *testing.T
	k *demoKiosk
	c *http.Client
}

func (k *demoKiosk) citizen(t *testing.T) *citizen {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &citizen{t: t, k: k, c: &http.Client{Jar: jar, Timeout: 2 * time.Minute}}
}

// load reads the answer to a page load: the page, and where the browser
// ended up after any redirects.
func (c *citizen) load(resp *http.Response, err error) (string, *url.URL) {
	c.t.Helper()
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		c.t.Fatalf("%s: HTTP %d\n%.500s\nkiosk stderr:\n%s", resp.Request.URL, resp.StatusCode, b, tail(c.k.proc.stderr.String(), 3000))
	}
	return string(b), resp.Request.URL
}

func (c *citizen) get(u string) string {
	c.t.Helper()
	page, _ := c.load(c.c.Get(u))
	return page
}

// touch posts a form on the kiosk and returns the screen it leads to.
func (c *citizen) touch(path string, kv ...string) string {
	c.t.Helper()
	form := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		form.Set(kv[i], kv[i+1])
	}
	page, _ := c.load(c.c.PostForm(c.k.ui+path, form))
	return page
}

var stepAttr = regexp.MustCompile(`data-step="([^"]+)"`)

// at fails the test unless page is the screen of step.
func (c *citizen) at(page, step string) string {
	c.t.Helper()
	m := stepAttr.FindStringSubmatch(page)
	if m == nil || m[1] != step {
		c.t.Fatalf("at %v, want %s:\n%.1500s", m, step, page)
	}
	return page
}

// portalJSON calls the test portal's phone API.
func (c *citizen) portalJSON(method, path string, in, out any) {
	c.t.Helper()
	var body io.Reader
	if in != nil {
		b, _ := json.Marshal(in)
		body = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, c.k.portal+path, body)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+c.k.admin)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		b, _ := io.ReadAll(resp.Body)
		c.t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, b)
	}
	if out != nil {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			c.t.Fatal(err)
		}
	}
}

var (
	waitAttr    = regexp.MustCompile(`data-wait="([^"]+)"`)
	matchNum    = regexp.MustCompile(`id="match-number">([0-9]{2})<`)
	textInput   = regexp.MustCompile(`<input name="([^"]+)" data-testid="field-[^"]*" value="([^"]*)"`)
	firstOption = regexp.MustCompile(`<button class="option[^"]*" name="([^"]+)" value="([^"]*)" data-testid="option-[^"]*-0"`)
	question    = regexp.MustCompile(`<input type="hidden" name="q" value="([0-9]+)">`)
	loginFrame  = regexp.MustCompile(`<iframe class="idp" src="([^"]+)"`)
	codeText    = regexp.MustCompile(`(?:^|[^0-9])([0-9]{6})(?:[^0-9]|$)`) // the code, in any language's message
)

// toForm launches the kiosk's browser and walks from the attract screen to
// the form, logged in as the test citizen. It returns the form screen.
func (c *citizen) toForm() string {
	c.t.Helper()
	c.at(c.get(c.k.launchURL), "attract")
	c.at(c.touch("/start"), "catalogue")
	c.at(c.touch("/lang", "lang", "en"), "catalogue")
	login := c.at(c.touch("/procedure", "id", "marital-status"), "login")
	// The provider's login page, framed by the kiosk's login screen; the
	// phone approves; the page's own long poll then says where the browser
	// goes back to.
	f := loginFrame.FindStringSubmatch(login)
	if f == nil {
		c.t.Fatalf("the login screen frames no provider page:\n%.1500s", login)
	}
	idpPage, idpURL := c.load(c.c.Get(html.UnescapeString(f[1])))
	m := waitAttr.FindStringSubmatch(idpPage)
	if m == nil {
		c.t.Fatalf("no login wait URL on the provider's page:\n%.1000s", idpPage)
	}
	wait, err := idpURL.Parse(html.UnescapeString(m[1]))
	if err != nil {
		c.t.Fatal(err)
	}
	var pending []struct {
		LinkCode string `json:"linkCode"`
	}
	for deadline := time.Now().Add(30 * time.Second); len(pending) == 0 && time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		c.portalJSON(http.MethodGet, "/phone/api/pending", nil, &pending)
	}
	if len(pending) == 0 {
		c.t.Fatal("no login waits at the provider")
	}
	// The citizen picks on the phone the number the login page shows.
	n := matchNum.FindStringSubmatch(idpPage)
	if n == nil {
		c.t.Fatalf("no number to match on the provider's page:\n%.1000s", idpPage)
	}
	c.portalJSON(http.MethodPost, "/phone/api/approve", map[string]string{"linkCode": pending[0].LinkCode, "citizenId": demoCitizenID, "number": n[1]}, nil)
	var decided struct{ Status, Redirect string }
	for deadline := time.Now().Add(30 * time.Second); decided.Redirect == "" && time.Now().Before(deadline); {
		resp, err := http.Get(wait.String())
		if err != nil {
			c.t.Fatal(err)
		}
		json.NewDecoder(resp.Body).Decode(&decided)
		resp.Body.Close()
	}
	if decided.Status != "approved" {
		c.t.Fatalf("login %+v", decided)
	}
	c.at(c.get(decided.Redirect), "identity")
	return c.at(c.touch("/identity", "yes", "1"), "form")
}

// submitForm answers the form's questions, one a screen: the prefilled
// values as they are, and the first option of every choice but the marital
// history: divorced, so that the divorce decree is asked for.
func (c *citizen) submitForm(page string) string {
	c.t.Helper()
	for range 10 {
		if m := stepAttr.FindStringSubmatch(page); m == nil || m[1] != "form" {
			break
		}
		q := question.FindStringSubmatch(page)
		if q == nil {
			c.t.Fatalf("a form screen without its question:\n%.1500s", page)
		}
		kv := []string{"q", q[1]}
		for _, m := range textInput.FindAllStringSubmatch(page, -1) {
			kv = append(kv, m[1], html.UnescapeString(m[2]))
		}
		for _, m := range firstOption.FindAllStringSubmatch(page, -1) {
			if m[1] == "marital_history" {
				m[2] = "divorced"
			}
			kv = append(kv, m[1], html.UnescapeString(m[2]))
		}
		page = c.touch("/form", kv...)
	}
	return c.at(page, "documents")
}

// finish goes from the documents screen (the divorce decree scanned)
// through review, the code from the phone and the receipt to the rating and
// back to attract.
func (c *citizen) finish() {
	c.t.Helper()
	c.at(c.touch("/next"), "review")
	var before []json.RawMessage
	c.portalJSON(http.MethodGet, "/phone/api/inbox?citizen="+demoCitizenID, nil, &before)
	c.at(c.touch("/code/request"), "confirm")
	code := ""
	for deadline := time.Now().Add(30 * time.Second); code == "" && time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		var inbox []struct{ Text string }
		c.portalJSON(http.MethodGet, "/phone/api/inbox?citizen="+demoCitizenID, nil, &inbox)
		for _, msg := range inbox[:max(0, len(inbox)-len(before))] {
			if m := codeText.FindStringSubmatch(msg.Text); m != nil {
				code = m[1]
				break
			}
		}
	}
	if code == "" {
		c.t.Fatal("no confirmation code reached the phone")
	}
	receipt := c.at(c.touch("/code/verify", "code", code), "receipt")
	if !strings.Contains(receipt, `data-testid="printed"`) {
		c.t.Fatalf("receipt not printed:\n%.1500s", receipt)
	}
	c.at(c.touch("/receipt/done"), "rating")
	c.at(c.touch("/rate", "n", "5"), "thanks")
	c.at(c.touch("/finish"), "attract")
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// TestDemoScreenIsOnlyForTheKiosksBrowser is a second tab or local process
// (curl) at a real kiosk while a citizen is at the form with their name
// and ID on screen, and then at their scanned pages: it gets nothing, cannot
// reuse the launch URL, cannot pose as another host name and cannot end the
// session.
func TestDemoScreenIsOnlyForTheKiosksBrowser(t *testing.T) {
	k := startDemoKiosk(t)
	victim := k.citizen(t)
	form := victim.toForm()
	if !strings.Contains(form, demoCitizenName) || !strings.Contains(form, demoCitizenID) {
		t.Fatalf("the form does not show the citizen's name and ID:\n%.2000s", form)
	}

	curl := &http.Client{Timeout: 10 * time.Second}
	fetch := func(method, u, host string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(method, u, nil)
		if host != "" {
			req.Host = host
		}
		resp, err := curl.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	leaks := func(body string) bool {
		return strings.Contains(body, demoCitizenName) || strings.Contains(body, demoCitizenID) || strings.Contains(body, "Hồng Nhung")
	}
	for what, u := range map[string]string{"GET /": k.ui + "/", "the used launch URL": k.launchURL} {
		if code, body := fetch(http.MethodGet, u, ""); code != http.StatusForbidden || leaks(body) {
			t.Errorf("%s without the cookie: %d, personal data shown: %v", what, code, leaks(body))
		}
	}
	if code, body := fetch(http.MethodGet, k.ui+"/", "evil.example"); code != http.StatusMisdirectedRequest || leaks(body) {
		t.Errorf("GET / as Host evil.example: %d, personal data shown: %v", code, leaks(body))
	}
	if code, _ := fetch(http.MethodPost, k.ui+"/cancel", ""); code != http.StatusForbidden {
		t.Errorf("POST /cancel without the cookie: %d", code)
	}

	victim.submitForm(victim.at(victim.get(k.ui+"/"), "form"))
	docs := victim.at(victim.touch("/scan"), "documents")
	thumb := regexp.MustCompile(`<img src="(/thumb/[^"]+)"`).FindStringSubmatch(docs)
	if thumb == nil {
		t.Fatalf("no thumbnail after the scan:\n%.2000s", docs)
	}
	thumbURL := k.ui + html.UnescapeString(thumb[1])
	if page := victim.get(thumbURL); !strings.HasPrefix(page, "\x89PNG") {
		t.Fatalf("the kiosk's browser does not get its thumbnail")
	}
	for _, u := range []string{thumbURL, k.ui + "/thumb/0/0"} {
		if code, body := fetch(http.MethodGet, u, ""); code != http.StatusForbidden || strings.HasPrefix(body, "\x89PNG") {
			t.Errorf("GET %s without the cookie: %d", u, code)
		}
	}
	victim.at(victim.get(k.ui+"/"), "documents") // the session went on untouched
}

// creations watches dir (not below it) with inotify; done returns the names
// of everything created or moved into it since, and stops watching.
func creations(t *testing.T, dir string) (done func() []string) {
	t.Helper()
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := unix.InotifyAddWatch(fd, dir, unix.IN_CREATE|unix.IN_MOVED_TO); err != nil {
		unix.Close(fd)
		t.Fatal(err)
	}
	return func() []string {
		defer unix.Close(fd)
		var names []string
		buf := make([]byte, 64<<10)
		for {
			n, err := unix.Read(fd, buf)
			if n <= 0 || err != nil {
				return names
			}
			for off := 0; off+unix.SizeofInotifyEvent <= n; {
				ev := (*unix.InotifyEvent)(unsafe.Pointer(&buf[off]))
				name := buf[off+unix.SizeofInotifyEvent : off+unix.SizeofInotifyEvent+int(ev.Len)]
				names = append(names, strings.TrimRight(string(name), "\x00"))
				off += unix.SizeofInotifyEvent + int(ev.Len)
			}
		}
	}
}

// TestDemoSessionLeavesNothingInTmp: a citizen's whole session, scanning a
// document and printing a receipt, puts nothing under $TMPDIR, where any
// local user could read it or a disk keep it after an unlink: scanned
// pages and the receipt (name, masked ID) pass through the kiosk's private
// directory only, and that is empty once the session is over.
func TestDemoSessionLeavesNothingInTmp(t *testing.T) {
	tmp := t.TempDir()
	inTmp := creations(t, tmp)
	k := startDemoKiosk(t, "TMPDIR="+tmp)
	private := filepath.Join(k.dataDir, "kiosk", "tmp")
	inPrivate := func() []string { return nil }
	if _, err := os.Stat(private); err != nil {
		t.Errorf("no private directory: %v", err)
	} else {
		inPrivate = creations(t, private)
	}

	c := k.citizen(t)
	c.submitForm(c.toForm())
	c.at(c.touch("/scan"), "documents")
	c.finish()

	if names := inTmp(); len(names) > 0 {
		t.Errorf("the session put %q under $TMPDIR", names)
	}
	filepath.WalkDir(tmp, func(p string, e os.DirEntry, err error) error {
		if err == nil && e.Type().IsRegular() {
			b, _ := os.ReadFile(p)
			if bytes.Contains(b, []byte(demoCitizenName)) || bytes.Contains(b, []byte("\x89PNG")) {
				t.Errorf("%s under $TMPDIR holds the citizen's name or a scanned page", p)
			}
		}
		return nil
	})
	used := inPrivate()
	if !slices.ContainsFunc(used, func(n string) bool { return strings.HasPrefix(n, "scan-") }) ||
		!slices.ContainsFunc(used, func(n string) bool { return strings.HasPrefix(n, "receipt-") }) {
		t.Errorf("scans and the receipt did not pass through the private directory %s: %q", private, used)
	}
	if left, err := os.ReadDir(private); err != nil || len(left) > 0 {
		t.Errorf("the private directory %s after the session: %v, %v", private, left, err)
	}
	if st, err := os.Stat(private); err != nil || st.Mode().Perm() != 0o700 {
		t.Errorf("the private directory %s: %v, %v; want mode 0700", private, st, err)
	}
}
