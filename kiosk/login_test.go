package kiosk

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"govkiosk/backend-client/identity"
)

// The provider sends the browser back when the login QR expired unused
// (60 s). The kiosk begins a fresh login (new request, QR and number) a
// bounded number of times, keeping the session alive meanwhile, then ends
// the session with a message on the start screen.
func TestExpiredLoginQRIsRefreshedThenGivenUp(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	r.c.Start()
	r.c.SetLanguage("vi")
	r.c.ChooseProcedure(ctx, "marital-status")
	if _, err := r.c.BeginLogin(ctx); err != nil {
		t.Fatal(err)
	}
	r.login.err = fmt.Errorf("%w: login_required", identity.ErrExpired)
	expired := url.Values{"error": {"login_required"}, "state": {fakeState}}
	for i := 1; i <= maxLoginRefreshes; i++ {
		r.clock.Add(60 * time.Second)
		r.c.Tick()
		next, err := r.c.CompleteLogin(ctx, expired)
		if err != nil || !strings.HasPrefix(next, "http://idp.test/authorize") {
			t.Fatalf("refresh %d: next %q, err %v; want a fresh login page", i, next, err)
		}
		if r.login.begun != 1+i {
			t.Fatalf("refresh %d: %d logins begun", i, r.login.begun)
		}
		if v := r.c.View(ctx); v.Step != StepLogin || v.Notice != "" || v.Procedure == nil {
			t.Fatalf("refresh %d: at %s with notice %q", i, v.Step, v.Notice)
		}
	}
	r.clock.Add(60 * time.Second)
	r.c.Tick()
	next, err := r.c.CompleteLogin(ctx, expired)
	var ue *UserError
	if next != "" || !errors.As(err, &ue) || ue.Key != MsgLoginTimedOut {
		t.Fatalf("after %d refreshes: next %q, err %v; want back to the start", maxLoginRefreshes, next, err)
	}
	if v := r.c.View(ctx); v.Step != StepAttract || v.Notice != MsgLoginTimedOut || v.Procedure != nil {
		t.Fatalf("gave up at %s with notice %q", v.Step, v.Notice)
	}
	if r.login.begun != 1+maxLoginRefreshes {
		t.Errorf("%d logins begun", r.login.begun)
	}
	// The message goes with the next touch.
	r.c.Start()
	if v := r.c.View(ctx); v.Notice != "" {
		t.Errorf("notice %q after a new start", v.Notice)
	}

	// Pressing the login button again starts the count afresh.
	r.c.SetLanguage("vi")
	r.c.ChooseProcedure(ctx, "marital-status")
	r.c.BeginLogin(ctx)
	if next, err := r.c.CompleteLogin(ctx, expired); next == "" || err != nil {
		t.Errorf("first expiry of a new login: %q %v", next, err)
	}
}

// A token that failed its checks is not a QR to refresh: the citizen is
// told the login failed.
func TestInvalidTokenIsNotRefreshed(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	r.c.Start()
	r.c.SetLanguage("en")
	r.c.ChooseProcedure(ctx, "marital-status")
	r.c.BeginLogin(ctx)
	r.login.err = fmt.Errorf("%w: %w: id token expired", identity.ErrInvalidToken, identity.ErrExpired)
	next, err := r.c.CompleteLogin(ctx, url.Values{"code": {"x"}, "state": {fakeState}})
	if next != "" || err == nil || r.login.begun != 1 {
		t.Fatalf("next %q err %v begun %d", next, err, r.login.begun)
	}
}

// The login names the office, the kiosk and the procedure, in the
// citizen's language, for the phone's approval page.
func TestLoginIsBoundToKioskOfficeProcedure(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	r.c.Start()
	r.c.SetLanguage("en")
	r.c.ChooseProcedure(ctx, "marital-status")
	if _, err := r.c.BeginLogin(ctx); err != nil {
		t.Fatal(err)
	}
	want := identity.Binding{Office: "Hoi An", Kiosk: "KIOSK-0001", Procedure: testProcedure.Name.Get("en")}
	if r.login.binding != want || want.Procedure == "" {
		t.Errorf("login bound to %+v, want %+v", r.login.binding, want)
	}
}

// A wrong number picked on the phone: the kiosk says plainly that the login
// was refused and why, and the citizen can try again.
func TestWrongNumberIsExplained(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	r.c.Start()
	r.c.SetLanguage("en")
	r.c.ChooseProcedure(ctx, "marital-status")
	r.c.BeginLogin(ctx)
	r.login.err = fmt.Errorf("%w: %w", identity.ErrDenied, identity.ErrNumberMismatch)
	next, err := r.c.CompleteLogin(ctx, url.Values{"error": {"access_denied"}, "state": {fakeState}})
	var ue *UserError
	if next != "" || !errors.As(err, &ue) || ue.Key != MsgLoginNumberWrong {
		t.Fatalf("next %q err %v", next, err)
	}
	if v := r.c.View(ctx); v.Step != StepLogin || v.Notice != MsgLoginNumberWrong || v.MaskedName != "" {
		t.Fatalf("at %s, notice %q, name %q", v.Step, v.Notice, v.MaskedName)
	}
	r.login.err = nil
	if _, err := r.c.BeginLogin(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := r.c.CompleteLogin(ctx, url.Values{"code": {"x"}, "state": {fakeState}}); err != nil {
		t.Fatal(err)
	}
	if v := r.c.View(ctx); v.Step != StepIdentity {
		t.Fatalf("second try at %s", v.Step)
	}
}
