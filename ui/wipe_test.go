package ui

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// TestSessionEndClearsSiteData: the touch that ends a citizen's session,
// and the attract screen after any wipe, tell the browser to drop its cache
// and storage; a screen inside a session does not (it would wipe the
// session's own page state), and the cookie the UI knows its browser by is
// kept.
func TestSessionEndClearsSiteData(t *testing.T) {
	u := newUI(t)
	b := browser(t)
	u.launch(t, b)
	noFollow := *b
	noFollow.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	touch := func(path string) *http.Response {
		t.Helper()
		resp, err := noFollow.PostForm("http://"+u.addr+path, url.Values{})
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("POST %s: %d, want 303", path, resp.StatusCode)
		}
		return resp
	}
	screen := func() *http.Response {
		t.Helper()
		resp, err := noFollow.Get("http://" + u.addr + "/")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	const want = `"cache", "storage"`

	if got := screen().Header.Get("Clear-Site-Data"); got != want {
		t.Errorf("attract screen: Clear-Site-Data %q, want %q", got, want)
	}
	if got := touch("/start").Header.Get("Clear-Site-Data"); got != "" {
		t.Errorf("starting a session sent Clear-Site-Data %q", got)
	}
	if got := screen().Header.Get("Clear-Site-Data"); got != "" {
		t.Errorf("a screen inside the session sent Clear-Site-Data %q", got)
	}
	resp := touch("/cancel")
	if got := resp.Header.Get("Clear-Site-Data"); got != want {
		t.Errorf("the cancel that wiped the session: Clear-Site-Data %q, want %q", got, want)
	}
	for _, c := range resp.Cookies() {
		if c.Name == cookieName {
			t.Errorf("the wipe touched the UI's own cookie: %v", c)
		}
	}
	// Still the kiosk's browser after the wipe.
	if code, body := get(t, b, "http://"+u.addr+"/"); code != http.StatusOK || !strings.Contains(body, office) {
		t.Errorf("after the wipe the kiosk's browser is refused: %d", code)
	}
}
