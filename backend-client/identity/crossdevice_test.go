package identity

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// A callback that is not the login's answer (a stray request, a forged
// one) neither matches nor uses the login up: the real answer still works.
func TestStrayCallbackKeepsPending(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, envOpt{})
	p, cb := e.login(t, "vi", citizen(t, "vn", 0).ID)
	for _, junk := range []url.Values{
		nil,
		{"state": {"forged"}, "code": {"forged"}},
		{"state": {cb.Get("state"), cb.Get("state")}, "code": {cb.Get("code")}},
	} {
		if e.c.CallbackMatches(p, junk) {
			t.Errorf("%v matches", junk)
		}
		if _, err := e.c.Complete(ctx, p, junk); !errors.Is(err, ErrStateMismatch) {
			t.Errorf("%v: %v", junk, err)
		}
	}
	if !e.c.CallbackMatches(p, cb) {
		t.Fatal("the real callback does not match")
	}
	if _, err := e.c.Complete(ctx, p, cb); err != nil {
		t.Fatalf("real callback after junk: %v", err)
	}
	if e.c.CallbackMatches(p, cb) {
		t.Error("a completed login still matches its callback")
	}
}

// BeginBound pushes the kiosk's binding and a fresh number with the
// request; the provider's page shows the number, the phone's approval page
// the binding, and a wrong pick comes back as ErrNumberMismatch.
func TestBoundLoginAndNumberMismatch(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, envOpt{})
	b := Binding{Office: "Trung tâm Hành chính công Tam Kỳ", Kiosk: "KIOSK-0042", Procedure: "Xác nhận tình trạng hôn nhân"}
	authURL, p, err := e.c.BeginBound(ctx, "vi", b)
	if err != nil {
		t.Fatal(err)
	}
	if n := p.Number(); len(n) != 2 || n < "10" || n > "99" {
		t.Fatalf("number %q", n)
	}
	if u, _ := url.Parse(authURL); u.Query().Get("request_uri") == "" || u.Query().Has("kiosk_id") || u.Query().Has("match_number") {
		t.Errorf("binding not pushed with PAR: %s", authURL)
	}
	lc, w := e.openLogin(t, authURL)
	if got, _ := e.numbers.Load(lc); got != p.Number() {
		t.Errorf("the provider's page shows %v, the kiosk drew %s", got, p.Number())
	}
	resp, err := e.hc.Get(e.srv.URL + "/phone/link/" + lc)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, s := range []string{b.Office, b.Kiosk, b.Procedure} {
		if !strings.Contains(string(page), s) {
			t.Errorf("approval page lacks %q", s)
		}
	}
	wrong := "10"
	if p.Number() == wrong {
		wrong = "11"
	}
	e.numbers.Store(lc, wrong)
	body, _ := json.Marshal(map[string]string{"linkCode": lc, "citizenId": citizen(t, "vn", 0).ID, "number": wrong})
	if resp, err := e.hc.Post(e.srv.URL+"/phone/api/approve", "application/json", bytes.NewReader(body)); err != nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("wrong number: %v %v", resp.Status, err)
	}
	_, err = e.c.Complete(ctx, p, e.waitRedirect(t, w))
	if !errors.Is(err, ErrNumberMismatch) || !errors.Is(err, ErrDenied) {
		t.Errorf("wrong number: %v", err)
	}
}

// Numbers are two digits and vary.
func TestMatchNumberRange(t *testing.T) {
	c := New(Config{})
	seen := map[string]bool{}
	for range 500 {
		n, err := c.matchNumber()
		if err != nil || len(n) != 2 || n < "10" || n > "99" {
			t.Fatalf("%q %v", n, err)
		}
		seen[n] = true
	}
	if len(seen) < 80 {
		t.Errorf("500 draws gave only %d of 90 numbers", len(seen))
	}
}
