package kiosk

import (
	"context"
	"errors"
	"net/url"
	"sync"
	"testing"
	"time"

	backendclient "govkiosk/backend-client"
	"govkiosk/backend-client/api"
	"govkiosk/kiosk/outbox"
)

// within runs f and fails the test, naming what, unless f returns before
// d: a deadline for a call that must not wait on anything slow.
func within(t *testing.T, d time.Duration, what string, f func()) {
	t.Helper()
	done := make(chan struct{})
	go func() { defer close(done); f() }()
	select {
	case <-done:
	case <-time.After(d):
		t.Fatalf("%s did not return within %v: it waits on a hung device or service", what, d)
	}
}

// waitClosed waits for ch with a deadline that names what it waited for.
func waitClosed(t *testing.T, ch <-chan struct{}, d time.Duration, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(d):
		t.Fatalf("timed out after %v waiting for %s", d, what)
	}
}

// TestHungIONeverBlocksTheScreen: while the printer, the portal, the
// identity provider or the scanner hangs inside a citizen's action, View
// (every page render and SSE redraw), Touch and the QR reader's hand-off
// still answer at once. Before the fix each of these held the session lock
// across the call.
func TestHungIONeverBlocksTheScreen(t *testing.T) {
	for _, tc := range []struct {
		name  string
		setup func(r *rig) *gate                      // walks to the step, returns the gate that will hang
		act   func(r *rig, ctx context.Context) error // the action that hangs
		after Step                                    // where the session is once the gate opens
	}{
		{"printer while printing the receipt", func(r *rig) *gate {
			r.walkToConfirmT()
			r.printer.gate = newGate()
			return r.printer.gate
		}, func(r *rig, ctx context.Context) error { return r.c.VerifyCode(ctx, "424242") }, StepReceipt},
		{"portal while checking the code", func(r *rig) *gate {
			r.walkToConfirmT()
			r.portal.gate = newGate()
			return r.portal.gate
		}, func(r *rig, ctx context.Context) error { return r.c.VerifyCode(ctx, "424242") }, StepReceipt},
		{"portal while sending a code", func(r *rig) *gate {
			r.walkToConfirmT()
			r.portal.gate = newGate()
			return r.portal.gate
		}, func(r *rig, ctx context.Context) error { return r.c.RequestCode(ctx) }, StepConfirm},
		{"provider while beginning the login", func(r *rig) *gate {
			r.c.Start()
			r.c.SetLanguage("en")
			r.c.ChooseProcedure(context.Background(), "marital-status")
			r.login.gate = newGate()
			return r.login.gate
		}, func(r *rig, ctx context.Context) error { _, err := r.c.BeginLogin(ctx); return err }, StepLogin},
		{"provider while completing the login", func(r *rig) *gate {
			r.c.Start()
			r.c.SetLanguage("en")
			r.c.ChooseProcedure(context.Background(), "marital-status")
			r.c.BeginLogin(context.Background())
			r.login.gate = newGate()
			return r.login.gate
		}, func(r *rig, ctx context.Context) error {
			_, err := r.c.CompleteLogin(ctx, url.Values{"code": {"x"}, "state": {"y"}})
			return err
		}, StepIdentity},
		{"portal while looking up a receipt's status", func(r *rig) *gate {
			r.portal.statuses["QN-2026-000009"] = api.ApplicationStatus{TrackingNumber: "QN-2026-000009", Status: "in-review"}
			r.portal.gate = newGate()
			return r.portal.gate
		}, func(r *rig, ctx context.Context) error {
			r.c.HandleScan(ctx, []byte("http://portal.test/t/QN-2026-000009"))
			return nil
		}, StepStatus},
		{"scanner while feeding", func(r *rig) *gate {
			r.walkToDocuments()
			r.scanner.gate = newGate()
			return r.scanner.gate
		}, func(r *rig, ctx context.Context) error { return r.c.ScanDocument(ctx) }, StepDocuments},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t)
			r.t = t
			g := tc.setup(r)
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			ch, unsub := r.c.Subscribe()
			defer unsub()
			actDone := make(chan struct{})
			var actErr error
			go func() { defer close(actDone); actErr = tc.act(r, ctx) }()
			waitClosed(t, g.entered, 5*time.Second, "the action to reach the hung "+tc.name)

			// The gate is still shut: everything below must answer now.
			var v View
			within(t, 2*time.Second, "View", func() { v = r.c.View(ctx) })
			if v.Busy == "" {
				t.Errorf("View during the hung call shows no busy message")
			}
			within(t, 2*time.Second, "Touch", r.c.Touch)
			within(t, 2*time.Second, "a QR scan on a busy screen", func() { r.c.HandleScan(ctx, []byte("not for us")) })
			within(t, 2*time.Second, "a second tap", func() {
				if err := r.c.Back(); err != nil && !errors.Is(err, errBusy) {
					t.Errorf("second tap: %v", err)
				}
			})
			select {
			case <-ch:
			case <-time.After(2 * time.Second):
				t.Errorf("no redraw was signalled when the operation started")
			}

			close(g.released)
			waitClosed(t, actDone, 10*time.Second, "the action to finish once "+tc.name+" answered")
			if actErr != nil {
				t.Fatalf("action: %v", actErr)
			}
			if v := r.c.View(ctx); v.Step != tc.after || v.Busy != "" {
				t.Fatalf("after the hang: step %s busy %q, want %s and not busy", v.Step, v.Busy, tc.after)
			}
		})
	}
}

// TestViewIsACopy: what View returns shares nothing with the session. The
// UI may keep a View while the session changes (an ID QR read fills the
// form); before the fix View handed out the session's own map, slice and
// receipt, which identityQRLocked then wrote.
func TestViewIsACopy(t *testing.T) {
	r := newRig(t)
	r.t = t
	ctx := context.Background()
	r.walkToDocuments()
	if err := r.c.ScanDocument(ctx); err != nil {
		t.Fatal(err)
	}
	v := r.c.View(ctx)
	v.Form["purpose"] = "changed by the UI"
	v.FormProblems["x"] = "y"
	v.Docs[0].Pages = 99
	v.Docs[0].Thumbs[0] = nil
	v.Procedure.Documents = nil
	w := r.c.View(ctx)
	if w.Form["purpose"] != "marriage registration" || len(w.FormProblems) != 0 || w.Docs[0].Pages != 2 ||
		w.Docs[0].Thumbs[0] == nil || len(w.Procedure.Documents) != 2 {
		t.Fatalf("writing to a View changed the session: form %v problems %v docs %+v", w.Form, w.FormProblems, w.Docs[0].Pages)
	}

	// Readers of a View and writers of the session at once: the race
	// detector (make test runs it) reports any sharing.
	r2 := newRig(t)
	r2.t = t
	r2.walkToForm()
	key, qr := r2.idqrSetup(t)
	_ = key
	var wg sync.WaitGroup
	stop := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			v := r2.c.View(ctx)
			for k, val := range v.Form {
				_ = k + val
			}
		}
	}()
	for i := 0; i < 50; i++ {
		r2.c.HandleScan(ctx, qr)
	}
	close(stop)
	wg.Wait()
	if !r2.c.View(ctx).IDQRChecked {
		t.Fatal("the ID QR was never matched")
	}
}

// TestPermanentRefusalIsNotReceived: when the portal refuses a packet for
// good while the citizen waits (HTTP 422), the citizen is told so in plain
// words with a way on (change the answers, or staff), never handed a
// "received" receipt; a corrected application replaces the refused one.
func TestPermanentRefusalIsNotReceived(t *testing.T) {
	r := newRig(t)
	r.t = t
	ctx := context.Background()
	r.sender.mu.Lock()
	r.sender.refuse = &backendclient.APIError{StatusCode: 422, Code: "invalid_form", Message: "field purpose: field.too_short"}
	r.sender.mu.Unlock()
	r.walkToConfirm(t)
	if err := r.c.VerifyCode(ctx, "424242"); err != nil {
		t.Fatal(err)
	}
	v := r.c.View(ctx)
	if v.Step != StepRefused || v.Receipt != nil || v.Refusal != MsgRefusedForm || r.printer.print != 0 {
		t.Fatalf("refused packet: step %s receipt %+v refusal %q prints %d; want the refusal screen, no receipt", v.Step, v.Receipt, v.Refusal, r.printer.print)
	}
	entries, err := r.ob.List()
	if err != nil || len(entries) != 1 || entries[0].State != outbox.StateNeedsAttention {
		t.Fatalf("outbox after refusal: %+v %v", entries, err)
	}
	refused := entries[0].ID

	// The citizen changes their answers; nothing they entered is lost.
	if err := r.c.FixAnswers(); err != nil {
		t.Fatal(err)
	}
	if v := r.c.View(ctx); v.Step != StepForm || v.Form["purpose"] != "marriage registration" || v.Docs[0].Pages != 2 {
		t.Fatalf("after 'change my answers': step %s form %v", v.Step, v.Form)
	}
	r.sender.mu.Lock()
	r.sender.refuse = nil
	r.sender.mu.Unlock()
	if err := r.c.SubmitForm(map[string]string{"full_name": "Nguyễn Thị Hồng Nhung", "purpose": "marriage registration abroad"}); err != nil {
		t.Fatal(err)
	}
	r.c.NextDocument()
	r.c.NextDocument()
	if err := r.c.RequestCode(ctx); err != nil {
		t.Fatal(err)
	}
	if err := r.c.VerifyCode(ctx, "424242"); err != nil {
		t.Fatal(err)
	}
	if v := r.c.View(ctx); v.Step != StepReceipt || v.Receipt.Provisional {
		t.Fatalf("corrected application: step %s receipt %+v", v.Step, v.Receipt)
	}
	e, ok, err := r.ob.Get(refused)
	if err != nil || !ok || e.State != outbox.StateWithdrawn {
		t.Fatalf("refused packet after the corrected one was sent: %+v %v %v; want withdrawn", e, ok, err)
	}
}

func TestNumbersAreFinite(t *testing.T) {
	fields := []api.Field{{Name: "area", Type: api.FieldNumber}}
	for _, v := range []string{"NaN", "nan", "Inf", "+Inf", "-inf", "infinity", "1e400", "0x10", "1_000"} {
		if p := ValidateForm(fields, map[string]string{"area": v}); p["area"] != FieldNumber {
			t.Errorf("%q: problem %q, want %q", v, p["area"], FieldNumber)
		}
	}
	for _, v := range []string{"45.5", "-3", "1e3", "0"} {
		if p := ValidateForm(fields, map[string]string{"area": v}); len(p) != 0 {
			t.Errorf("%q refused: %v", v, p)
		}
	}
}

// TestExpiredLoginAsksToLogInAgain: after a portal restart the citizen's
// token is refused (401). The citizen is asked to log in again, keeping the
// language and procedure, and finds their form and documents again; a
// different citizen logging in gets none of them.
func TestExpiredLoginAsksToLogInAgain(t *testing.T) {
	for _, sameCitizen := range []bool{true, false} {
		r := newRig(t)
		r.t = t
		ctx := context.Background()
		r.walkToConfirm(t)
		r.c.SetLanguage("vi")
		r.portal.unauthorized = true
		err := r.c.VerifyCode(ctx, "424242")
		var ue *UserError
		if !errors.As(err, &ue) || ue.Key != MsgLoginAgain {
			t.Fatalf("401 at verify: %v, want %s", err, MsgLoginAgain)
		}
		v := r.c.View(ctx)
		if v.Step != StepLogin || v.Notice != MsgLoginAgain || v.Lang != "vi" || v.Procedure == nil || v.Procedure.ID != "marital-status" {
			t.Fatalf("after 401: step %s notice %q lang %s procedure %v", v.Step, v.Notice, v.Lang, v.Procedure)
		}
		if v.MaskedName != "" {
			t.Fatal("the expired identity is still shown")
		}
		r.portal.unauthorized = false
		if !sameCitizen {
			r.login.mu.Lock()
			r.login.citizen = "001099000111"
			r.login.mu.Unlock()
		}
		if _, err := r.c.BeginLogin(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := r.c.CompleteLogin(ctx, url.Values{"code": {"x"}, "state": {"y"}}); err != nil {
			t.Fatal(err)
		}
		if err := r.c.ConfirmIdentity(true); err != nil {
			t.Fatal(err)
		}
		v = r.c.View(ctx)
		if sameCitizen {
			if v.Step != StepReview || v.Form["purpose"] != "marriage registration" || v.Docs[0].Pages != 2 {
				t.Fatalf("same citizen again: step %s form %v", v.Step, v.Form)
			}
			if err := r.c.RequestCode(ctx); err != nil {
				t.Fatal(err)
			}
			if err := r.c.VerifyCode(ctx, "424242"); err != nil || r.c.View(ctx).Step != StepReceipt {
				t.Fatalf("submit after logging in again: %v", err)
			}
		} else if v.Step != StepForm || v.Form["purpose"] != "" || v.Docs[0].Pages != 0 {
			t.Fatalf("another citizen sees the first one's application: step %s form %v docs %+v", v.Step, v.Form, v.Docs)
		}
	}
}

// TestShortCodeCostsNoTry: a code that is not six digits never reaches the
// portal, so it costs the citizen none of their tries.
func TestShortCodeCostsNoTry(t *testing.T) {
	r := newRig(t)
	r.t = t
	ctx := context.Background()
	r.walkToConfirm(t)
	for _, code := range []string{"", "12345", "12345a", "1234567"} {
		var ue *UserError
		if err := r.c.VerifyCode(ctx, code); !errors.As(err, &ue) || ue.Key != MsgCodeShort {
			t.Errorf("code %q: %v, want %s", code, err, MsgCodeShort)
		}
	}
	if r.portal.attempts != 5 {
		t.Fatalf("short codes cost tries: %d left", r.portal.attempts)
	}
}

// TestCancelWaitsForTheReceipt: once the packet is being written, Cancel
// is refused until the receipt is there (every step has a deadline).
func TestCancelWaitsForTheReceipt(t *testing.T) {
	r := newRig(t)
	r.t = t
	ctx := context.Background()
	r.walkToConfirm(t)
	r.printer.gate = newGate()
	done := make(chan struct{})
	go func() { defer close(done); r.c.VerifyCode(ctx, "424242") }()
	waitClosed(t, r.printer.gate.entered, 5*time.Second, "the receipt to reach the printer")
	if err := r.c.Cancel(); !errors.Is(err, errBusy) {
		t.Errorf("cancel while printing the receipt: %v, want busy", err)
	}
	close(r.printer.gate.released)
	waitClosed(t, done, 10*time.Second, "VerifyCode to finish")
	if v := r.c.View(ctx); v.Step != StepReceipt || !v.Receipt.Printed {
		t.Fatalf("step %s receipt %+v", v.Step, v.Receipt)
	}
	if err := r.c.Cancel(); err != nil {
		t.Fatal(err)
	}
}

// TestCloseJoinsRevocation: the token revocation a wipe starts is joined
// by Close.
func TestCloseJoinsRevocation(t *testing.T) {
	r := newRig(t)
	r.t = t
	r.walkToForm()
	r.c.Cancel()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := r.c.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if got := r.login.endedTokens(); len(got) != 1 || got[0] != "at-1" {
		t.Fatalf("revoked %v after Close", got)
	}
}
