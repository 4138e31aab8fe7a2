package idp

import (
	"net/http"
	"net/url"
	"slices"
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
	if r, body := e.postJSON(t, "/phone/api/approve", map[string]string{"linkCode": lc, "citizenId": TestCitizens()[0].ID, "number": e.p.numberOf(lc)}); r.StatusCode != http.StatusGone {
		t.Errorf("a 60 s old QR: %s %s; want 410 Gone", r.Status, body)
	}
	wr := e.wait(t, wp)
	u, err := url.Parse(wr.Redirect)
	if wr.Status != statusExpired || err != nil || !strings.HasPrefix(wr.Redirect, testRedirect+"?") ||
		u.Query().Get("error") != "login_required" || u.Query().Get("state") != "st-123" {
		t.Errorf("the login page at 60 s: %+v; want sent back to the kiosk with login_required", wr)
	}
}

// numberOf is the number the kiosk screen shows for the login with link
// code lc ("" when there is none).
func (p *Provider) numberOf(lc string) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	if t, ok := p.links[normLinkCode(lc)]; ok {
		return t.bind.number
	}
	return ""
}

// boundQuery is an authorization request from a kiosk that names itself,
// its office and the procedure, and the number it shows (matchNumber).
func boundQuery(matchNumber string) url.Values {
	q := goodQuery()
	q.Set("kiosk_office", "Trung tâm Hành chính công Tam Kỳ")
	q.Set("kiosk_id", "KIOSK-0042")
	q.Set("kiosk_procedure", "Xác nhận tình trạng hôn nhân")
	q.Set("match_number", matchNumber)
	return q
}

// TestApprovalPageNamesKioskOfficeProcedure: a victim sent a relayed QR
// sees on their phone which office, kiosk and procedure the login is for,
// and can tell it is not theirs.
func TestApprovalPageNamesKioskOfficeProcedure(t *testing.T) {
	e := newEnv(t)
	lc, _, _ := e.startLogin(t, boundQuery("47"))
	r, page := e.get(t, "/phone/link/"+lc)
	if r.StatusCode != http.StatusOK {
		t.Fatalf("approval page: %s", r.Status)
	}
	for _, want := range []string{"Trung tâm Hành chính công Tam Kỳ", "KIOSK-0042", "Xác nhận tình trạng hôn nhân"} {
		if !strings.Contains(page, want) {
			t.Errorf("the approval page does not name %q:\n%s", want, page)
		}
	}
	// It offers three numbers, the kiosk's among them, and no plain
	// "approve" that would skip the choice.
	if n := strings.Count(page, `data-number="`); n != 3 || !strings.Contains(page, `data-number="47"`) {
		t.Errorf("the approval page offers %d numbers (47 among them: %v)", n, strings.Contains(page, `data-number="47"`))
	}
	if strings.Contains(page, `value="approve"`) {
		t.Errorf("the approval page can approve without a number")
	}
}

// A request's binding is checked: a number that is not two digits, or
// names with control characters, are refused.
func TestBindingParametersChecked(t *testing.T) {
	e := newEnv(t)
	for name, mod := range map[string]func(url.Values){
		"one digit":     func(q url.Values) { q.Set("match_number", "7") },
		"three digits":  func(q url.Values) { q.Set("match_number", "123") },
		"leading zero":  func(q url.Values) { q.Set("match_number", "07") },
		"not a number":  func(q url.Values) { q.Set("match_number", "4x") },
		"control char":  func(q url.Values) { q.Set("kiosk_office", "Tam Kỳ\nApprove now") },
		"too long name": func(q url.Values) { q.Set("kiosk_procedure", strings.Repeat("x", 201)) },
	} {
		q := boundQuery("47")
		mod(q)
		resp, _ := e.get(t, "/idp/authorize?"+q.Encode())
		u, _ := url.Parse(resp.Header.Get("Location"))
		if resp.StatusCode != http.StatusSeeOther || u == nil || u.Query().Get("error") != "invalid_request" {
			t.Errorf("%s: %s to %q", name, resp.Status, resp.Header.Get("Location"))
		}
	}
}

// Without a number from the client the provider draws one: every QR login
// has number matching.
func TestNumberDrawnWhenClientSendsNone(t *testing.T) {
	e := newEnv(t)
	seen := map[string]bool{}
	for range 40 {
		lc, _, page := e.startLogin(t, goodQuery())
		n := e.p.numberOf(lc)
		if len(n) != 2 || n < "10" || n > "99" || !strings.Contains(page, `id="match-number">`+n+`<`) {
			t.Fatalf("number %q (page shows it: %v)", n, strings.Contains(page, n))
		}
		e.p.mu.Lock()
		c := e.p.links[lc].bind.choices
		e.p.mu.Unlock()
		if len(c) != 3 || c[0] == c[1] || c[1] == c[2] || c[0] == c[2] || !slices.Contains(c, n) {
			t.Fatalf("choices %v for %s", c, n)
		}
		seen[n] = true
	}
	if len(seen) < 10 {
		t.Errorf("40 logins drew only %d different numbers", len(seen))
	}
}

// TestWrongNumberDeniesLogin: the citizen must pick, among three numbers on
// the phone, the one on the kiosk screen. A victim of a relayed QR does not
// see that screen: a wrong pick denies the login for good, and the kiosk
// is told why.
func TestWrongNumberDeniesLogin(t *testing.T) {
	e := newEnv(t)
	e.p.longPoll = 10 * time.Millisecond
	lc, wp, page := e.startLogin(t, boundQuery("47"))
	if !strings.Contains(page, `id="match-number">47<`) {
		t.Errorf("the kiosk's login page does not show the number 47:\n%s", page)
	}
	r, body := e.postJSON(t, "/phone/api/approve", map[string]string{"linkCode": lc, "citizenId": TestCitizens()[1].ID, "number": "12"})
	if r.StatusCode != http.StatusForbidden {
		t.Errorf("wrong number: %s %s; want 403", r.Status, body)
	}
	wr := e.wait(t, wp)
	u, _ := url.Parse(wr.Redirect)
	if wr.Status != statusDenied || u == nil || u.Query().Get("error") != "access_denied" || u.Query().Get("denial_reason") != "number_mismatch" || u.Query().Get("code") != "" {
		t.Errorf("after a wrong number the login is %+v; want denied (number_mismatch)", wr)
	}
	// The right number afterwards does not bring it back.
	if r, _ := e.postJSON(t, "/phone/api/approve", map[string]string{"linkCode": lc, "citizenId": TestCitizens()[1].ID, "number": "47"}); r.StatusCode == http.StatusNoContent {
		t.Errorf("approved with the right number after a wrong one")
	}
}
