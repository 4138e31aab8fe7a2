package idp

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestLoginPageInChromium runs the login page's script in a real browser
// (under its CSP): approval on the phone must navigate the kiosk browser to
// the callback with the code and state.
func TestLoginPageInChromium(t *testing.T) {
	chromium, err := exec.LookPath("chromium")
	if err != nil {
		t.Skip("chromium not installed")
	}
	kiosk := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		fmt.Fprintf(w, `<!doctype html><p id="done">state=%s code=%t</p>`, url.QueryEscape(q.Get("state")), q.Get("code") != "")
	}))
	defer kiosk.Close()
	idpSrv := httptest.NewServer(nil)
	defer idpSrv.Close()
	p, err := New(Config{
		Issuer: idpSrv.URL + "/idp", PhoneURL: idpSrv.URL + "/phone",
		Clients: []Client{{ID: testClient, RedirectURIs: []string{kiosk.URL + "/callback"}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	idpSrv.Config.Handler = p.Handler()

	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium), chromedp.NoSandbox, chromedp.Flag("disable-gpu", true))...)
	defer cancelAlloc()
	bctx, cancelB := chromedp.NewContext(alloc)
	defer cancelB()

	q := goodQuery()
	q.Set("redirect_uri", kiosk.URL+"/callback")
	q.Set("ui_locales", "vi")
	if err := chromedp.Do(bctx, chromedp.Navigate(idpSrv.URL+"/idp/authorize?"+q.Encode())); err != nil {
		t.Fatal(err)
	}
	step, cancelStep := context.WithTimeout(bctx, 30*time.Second)
	defer cancelStep()
	if err := chromedp.Do(step, chromedp.WaitVisible(chromedp.CSS("#st-pending"))); err != nil {
		t.Fatal(err)
	}
	lc, err := chromedp.Run(step, chromedp.AttributeValue(chromedp.CSS("#login"), "data-link-code"))
	if err != nil || !lc.Exists {
		t.Fatalf("link code: %v %v", lc, err)
	}
	// The script's long poll is parked once the page has loaded.
	waitFor(t, func() bool { p.mu.Lock(); defer p.mu.Unlock(); return p.parked == 1 })
	// The citizen picks the number the kiosk screen shows.
	number, err := chromedp.Run(step, chromedp.Text(chromedp.CSS("#match-number")))
	if err != nil || number != p.numberOf(lc.Value) {
		t.Fatalf("number on the page %q (%v), want %q", number, err, p.numberOf(lc.Value))
	}
	if st, err := p.approve(lc.Value, TestCitizens()[1].ID, number, false); err != nil {
		t.Fatalf("approve: %d %v", st, err)
	}
	if err := chromedp.Do(step, chromedp.WaitVisible(chromedp.CSS("#done"))); err != nil {
		t.Fatal(err)
	}
	done, err := chromedp.Run(step, chromedp.Text(chromedp.CSS("#done")))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(done, "state=st-123 code=true") {
		t.Errorf("callback saw %q", done)
	}
}

// TestLoginPageExpiresInChromium: when the QR's 60 s are up, the page's
// script sends the kiosk browser back to the client with login_required
// (the kiosk then asks for a fresh login), and the old QR is refused.
func TestLoginPageExpiresInChromium(t *testing.T) {
	chromium, err := exec.LookPath("chromium")
	if err != nil {
		t.Skip("chromium not installed")
	}
	kiosk := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		fmt.Fprintf(w, `<!doctype html><p id="done">error=%s state=%s</p>`, url.QueryEscape(q.Get("error")), url.QueryEscape(q.Get("state")))
	}))
	defer kiosk.Close()
	idpSrv := httptest.NewServer(nil)
	defer idpSrv.Close()
	clk := &fakeClock{t: time.Now()}
	p, err := New(Config{
		Issuer: idpSrv.URL + "/idp", PhoneURL: idpSrv.URL + "/phone", Now: clk.Now,
		Clients: []Client{{ID: testClient, RedirectURIs: []string{kiosk.URL + "/callback"}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	p.longPoll = 50 * time.Millisecond // the page's polls cycle quickly on the fake clock
	idpSrv.Config.Handler = p.Handler()

	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium), chromedp.NoSandbox, chromedp.Flag("disable-gpu", true),
		chromedp.UserDataDir(t.TempDir()))...)
	defer cancelAlloc()
	bctx, cancelB := chromedp.NewContext(alloc)
	defer cancelB()
	step, cancelStep := context.WithTimeout(bctx, 30*time.Second)
	defer cancelStep()

	q := goodQuery()
	q.Set("redirect_uri", kiosk.URL+"/callback")
	if err := chromedp.Do(step, chromedp.Navigate(idpSrv.URL+"/idp/authorize?"+q.Encode()), chromedp.WaitVisible(chromedp.CSS("#st-pending"))); err != nil {
		t.Fatal(err)
	}
	lc, err := chromedp.Run(step, chromedp.AttributeValue(chromedp.CSS("#login"), "data-link-code"))
	if err != nil || !lc.Exists {
		t.Fatalf("link code: %v %v", lc, err)
	}
	clk.Advance(qrTTL)
	if err := chromedp.Do(step, chromedp.WaitVisible(chromedp.CSS("#done"))); err != nil {
		t.Fatal(err)
	}
	done, err := chromedp.Run(step, chromedp.Text(chromedp.CSS("#done")))
	if err != nil || done != "error=login_required state=st-123" {
		t.Errorf("callback saw %q (%v)", done, err)
	}
	if st, err := p.approve(lc.Value, TestCitizens()[0].ID, p.numberOf(lc.Value), false); err == nil {
		t.Fatalf("the expired QR was accepted: %d", st)
	}
}
