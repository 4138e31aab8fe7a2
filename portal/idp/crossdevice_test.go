package idp

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// Defences against QR phishing (IETF "Cross-Device Flows: Security Best
// Current Practice"): the attacker photographs the login QR shown on a
// kiosk, or starts a login themselves, and relays the QR to a victim.

// TestLoginQRLivesAtMost60s: a QR relayed to a victim is dead 60 s after it
// was shown: the phone cannot approve it, and the kiosk browser is sent back
// to the kiosk (login_required), which asks for a fresh one.
func TestLoginQRLivesAtMost60s(t *testing.T) {
	e := newEnv(t)
	lc, wp, _ := e.startLogin(t, goodQuery())
	e.clk.Advance(60 * time.Second)
	if r, body := e.postJSON(t, "/phone/api/approve", map[string]string{"linkCode": lc, "citizenId": TestCitizens()[0].ID}); r.StatusCode != http.StatusGone {
		t.Errorf("a 60 s old QR: %s %s; want 410 Gone", r.Status, body)
	}
	wr := e.wait(t, wp)
	u, err := url.Parse(wr.Redirect)
	if wr.Status != statusExpired || err != nil || !strings.HasPrefix(wr.Redirect, testRedirect+"?") ||
		u.Query().Get("error") != "login_required" || u.Query().Get("state") != "st-123" {
		t.Errorf("the login page at 60 s: %+v; want sent back to the kiosk with login_required", wr)
	}
}
