package kiosk

import (
	"context"
	"errors"
	"net/url"
	"testing"
	"time"

	"govkiosk/backend-client/api"
	"govkiosk/backend-client/identity"
)

// toLogin drives a session from attract to the login screen in lang, its
// login begun as the UI begins it.
func (r *rig) toLogin(lang string) {
	r.t.Helper()
	ctx := context.Background()
	if err := r.c.Start(); err != nil {
		r.t.Fatal(err)
	}
	if s := r.c.View(ctx).Step; s != StepCatalogue {
		r.t.Fatalf("the start leads to %s, want the catalogue (the header chooses the language)", s)
	}
	if err := r.c.SetLanguage(lang); err != nil {
		r.t.Fatal(err)
	}
	if err := r.c.ChooseProcedure(ctx, "marital-status"); err != nil {
		r.t.Fatal(err)
	}
	if _, err := r.c.BeginLogin(ctx); err != nil {
		r.t.Fatal(err)
	}
}

// TestLoginScreenShowsTheQRUntilTheSessionEnds: the login screen carries
// the provider's page while the login is pending, and nothing of it once
// the session is wiped; an approval after the wipe is not used and the
// start screen says the session had ended.
func TestLoginScreenShowsTheQRUntilTheSessionEnds(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	r.toLogin("vi")
	v := r.c.View(ctx)
	if v.Step != StepLogin || v.LoginURL == "" || v.Lang != "vi" {
		t.Fatalf("login screen: step %s, login URL %q, lang %s", v.Step, v.LoginURL, v.Lang)
	}
	if err := r.c.Cancel(); err != nil {
		t.Fatal(err)
	}
	if v := r.c.View(ctx); v.Step != StepAttract || v.LoginURL != "" {
		t.Fatalf("after the wipe: step %s, login URL %q", v.Step, v.LoginURL)
	}
	if _, err := r.c.CompleteLogin(ctx, url.Values{"code": {"x"}, "state": {fakeState}}); err == nil {
		t.Fatal("a late approval was accepted")
	}
	if v := r.c.View(ctx); v.Step != StepAttract || v.Notice != MsgSessionExpired || v.MaskedName != "" {
		t.Fatalf("after a late approval: step %s, notice %q, name %q; want the start screen saying the session ended", v.Step, v.Notice, v.MaskedName)
	}
	if r.login.completed != 0 {
		t.Fatal("the late approval's code was exchanged")
	}
}

// TestLoginPageThatNeverAnswersSaysSo: a provider page that neither
// answers nor expires (the provider unreachable after the page loaded) is
// replaced, after LoginPageWait, by a plain message and the retry.
func TestLoginPageThatNeverAnswersSaysSo(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	r.toLogin("en")
	r.clock.Add(LoginPageWait - time.Second)
	r.c.Touch()
	r.c.Tick()
	if v := r.c.View(ctx); v.LoginURL == "" || v.Notice != "" {
		t.Fatalf("before the wait: login URL %q, notice %q", v.LoginURL, v.Notice)
	}
	r.clock.Add(time.Second)
	r.c.Tick()
	v := r.c.View(ctx)
	if v.Step != StepLogin || v.LoginURL != "" || v.Notice != MsgProviderDown || !v.CanCancel {
		t.Fatalf("after the wait: step %s, login URL %q, notice %q, cancel %v", v.Step, v.LoginURL, v.Notice, v.CanCancel)
	}
	// Retry: a fresh login, the message gone with the old one.
	if _, err := r.c.BeginLogin(ctx); err != nil {
		t.Fatal(err)
	}
	if v := r.c.View(ctx); v.LoginURL == "" {
		t.Fatal("retry shows no login")
	}
}

// TestProviderDownAtLoginSaysSo: a provider that cannot be reached when
// the login begins gives the plain message and no QR, never a wait.
func TestProviderDownAtLoginSaysSo(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	r.login.beginErr = identity.ErrProviderDown
	r.c.Start()
	r.c.ChooseProcedure(ctx, "marital-status")
	_, err := r.c.BeginLogin(ctx)
	var ue *UserError
	if !errors.As(err, &ue) || ue.Key != MsgProviderDown {
		t.Fatalf("BeginLogin: %v", err)
	}
	if v := r.c.View(ctx); v.Step != StepLogin || v.Notice != MsgProviderDown || v.LoginURL != "" || v.Busy != "" {
		t.Fatalf("step %s notice %q login URL %q busy %q", v.Step, v.Notice, v.LoginURL, v.Busy)
	}
}

// TestNotMeLogsInAgainKeepingLanguageAndProcedure: "No, this is not me"
// ends that login, says why, and shows a fresh login for the same
// procedure in the same language.
func TestNotMeLogsInAgainKeepingLanguageAndProcedure(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	r.toLogin("th")
	first := r.c.View(ctx).LoginURL
	if _, err := r.c.CompleteLogin(ctx, url.Values{"code": {"x"}, "state": {fakeState}}); err != nil {
		t.Fatal(err)
	}
	if err := r.c.ConfirmIdentity(false); err != nil {
		t.Fatal(err)
	}
	v := r.c.View(ctx)
	if v.Step != StepLogin || v.Lang != "th" || v.Procedure == nil || v.Procedure.ID != "marital-status" || v.Notice != MsgNotMe || v.MaskedName != "" {
		t.Fatalf("after 'not me': step %s lang %s procedure %v notice %q name %q", v.Step, v.Lang, v.Procedure, v.Notice, v.MaskedName)
	}
	// The login is ended at the provider in the background.
	for deadline := time.Now().Add(5 * time.Second); len(r.login.endedTokens()) == 0 && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	if got := r.login.endedTokens(); len(got) != 1 {
		t.Fatalf("waited 5s: the other person's login was not ended at the provider: %v", got)
	}
	if _, err := r.c.BeginLogin(ctx); err != nil {
		t.Fatal(err)
	}
	v = r.c.View(ctx)
	if v.LoginURL == "" || v.LoginURL == first || v.Notice != MsgNotMe {
		t.Fatalf("fresh login: URL %q (first %q), notice %q", v.LoginURL, first, v.Notice)
	}
}

// TestCancelAsksBeforeSubmission: Cancel before submission asks; "no"
// keeps everything, "yes" wipes. On the catalogue and after submission it
// ends at once.
func TestCancelAsksBeforeSubmission(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	r.c.Start()
	if err := r.c.AskCancel(); err != nil {
		t.Fatal(err)
	}
	if v := r.c.View(ctx); v.Step != StepAttract {
		t.Fatalf("cancel on the catalogue: at %s, want the start", v.Step)
	}
	r.walkToForm()
	r.c.AskCancel()
	if v := r.c.View(ctx); v.Step != StepForm || !v.AskCancel || v.Form["full_name"] == "" {
		t.Fatalf("first cancel: step %s ask %v form %v", v.Step, v.AskCancel, v.Form)
	}
	r.c.KeepGoing()
	if v := r.c.View(ctx); v.Step != StepForm || v.AskCancel || v.Form["full_name"] == "" {
		t.Fatalf("keep going: step %s ask %v form %v", v.Step, v.AskCancel, v.Form)
	}
	r.c.AskCancel()
	r.c.Cancel()
	if v := r.c.View(ctx); v.Step != StepAttract || v.Form != nil || v.AskCancel {
		t.Fatalf("confirmed cancel: step %s form %v ask %v", v.Step, v.Form, v.AskCancel)
	}
}

var questionProcedure = api.Procedure{
	ID: "q", Name: api.Text{"en": "Questions"},
	Fields: []api.Field{
		{Name: "full_name", Type: api.FieldText, Label: api.Text{"en": "Name"}, Required: true, ReadOnly: true, Prefill: "name"},
		{Name: "purpose", Type: api.FieldSelect, Label: api.Text{"en": "Purpose"}, Required: true,
			Options: []api.Option{{Value: "marriage", Label: api.Text{"en": "Marriage"}}, {Value: "work", Label: api.Text{"en": "Work"}}}},
		{Name: "note", Type: api.FieldText, Label: api.Text{"en": "Note"}, Required: true, MinLen: 3},
	},
}

// TestOneQuestionAtATime: each editable field is its own screen; an
// invalid answer stays with its problem, back returns to the previous
// question with its answer kept, and the draft survives a language switch.
func TestOneQuestionAtATime(t *testing.T) {
	if got := Questions(questionProcedure.Fields); len(got) != 2 || got[0] != 1 || got[1] != 2 {
		t.Fatalf("Questions = %v, want [1 2]", got)
	}
	if got := Questions(questionProcedure.Fields[:1]); len(got) != 1 || got[0] != -1 {
		t.Fatalf("Questions of read-only fields = %v, want one screen", got)
	}
	r := newRig(t)
	ctx := context.Background()
	p := questionProcedure
	r.c.mu.Lock()
	r.c.s.step, r.c.s.procedure, r.c.s.ident = StepForm, &p, &identity.Identity{Name: "A B", CitizenID: "1"}
	r.c.s.form = prefill(p.Fields, r.c.s.ident)
	r.c.mu.Unlock()

	if v := r.c.View(ctx); v.Question != 0 || v.Questions != 2 || v.CanGoBack {
		t.Fatalf("first question: %d of %d, back %v", v.Question, v.Questions, v.CanGoBack)
	}
	if err := r.c.AnswerQuestion(0, map[string]string{}); !errors.Is(err, ErrFormProblems) {
		t.Fatalf("no choice: %v", err)
	}
	if v := r.c.View(ctx); v.Question != 0 || v.FormProblems["purpose"] != FieldOption {
		t.Fatalf("no choice: question %d problems %v", v.Question, v.FormProblems)
	}
	if err := r.c.AnswerQuestion(0, map[string]string{"purpose": "work", "full_name": "Forged"}); err != nil {
		t.Fatal(err)
	}
	v := r.c.View(ctx)
	if v.Question != 1 || !v.CanGoBack || v.Form["purpose"] != "work" || v.Form["full_name"] != "A B" {
		t.Fatalf("second question: %d, back %v, form %v", v.Question, v.CanGoBack, v.Form)
	}
	// A stale answer to the first question (a second tap) changes nothing.
	r.c.AnswerQuestion(0, map[string]string{"purpose": "marriage"})
	if v := r.c.View(ctx); v.Question != 1 || v.Form["purpose"] != "work" {
		t.Fatalf("stale answer applied: %d %v", v.Question, v.Form)
	}
	// Typed, not yet sent, then the language switched: the draft is kept.
	r.c.SaveDraft(map[string]string{"note": "hello"})
	r.c.SetLanguage("vi")
	if v := r.c.View(ctx); v.Form["note"] != "hello" || v.Question != 1 {
		t.Fatalf("after a language switch: question %d form %v", v.Question, v.Form)
	}
	r.c.Back()
	if v := r.c.View(ctx); v.Question != 0 || v.Form["purpose"] != "work" || v.Form["note"] != "hello" {
		t.Fatalf("back: question %d form %v", v.Question, v.Form)
	}
	r.c.AnswerQuestion(0, map[string]string{"purpose": "work"})
	if err := r.c.AnswerQuestion(1, map[string]string{"note": "ok fine"}); err != nil {
		t.Fatal(err)
	}
	if v := r.c.View(ctx); v.Step != StepReview {
		t.Fatalf("after the last question: %s, want review (no documents)", v.Step)
	}
	// Back from review leads to the last question.
	r.c.Back()
	if v := r.c.View(ctx); v.Step != StepForm || v.Question != 1 {
		t.Fatalf("back from review: %s question %d", v.Step, v.Question)
	}
}

// TestStepIndicator: every screen of the flow says where the citizen is.
func TestStepIndicator(t *testing.T) {
	docs, none := testProcedure, questionProcedure
	for _, tc := range []struct {
		step  Step
		p     *api.Procedure
		n, of int
		key   string
	}{
		{StepAttract, nil, 0, 0, ""},
		{StepCatalogue, nil, 1, 6, StageChoose},
		{StepLogin, &docs, 2, 6, StageLogin},
		{StepIdentity, &docs, 2, 6, StageLogin},
		{StepForm, &docs, 3, 6, StageDetails},
		{StepDocuments, &docs, 4, 6, StageDocuments},
		{StepReview, &docs, 5, 6, StageCheck},
		{StepConfirm, &none, 4, 5, StageCheck},
		{StepReceipt, &none, 5, 5, StageReceipt},
		{StepStatus, nil, 0, 0, ""},
	} {
		s := &session{step: tc.step, procedure: tc.p}
		if n, of, key := s.progress(); n != tc.n || of != tc.of || key != tc.key {
			t.Errorf("%s: step %d of %d %q, want %d of %d %q", tc.step, n, of, key, tc.n, tc.of, tc.key)
		}
	}
}

// TestRatingOnTheReceiptScreen: a face touched on the receipt screen rates
// and ends the session in one tap.
func TestRatingOnTheReceiptScreen(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	r.walkToConfirmT()
	if err := r.c.VerifyCode(ctx, r.portal.code); err != nil {
		t.Fatal(err)
	}
	if v := r.c.View(ctx); v.Step != StepReceipt {
		t.Fatalf("after the code: %s", v.Step)
	}
	if err := r.c.Rate(5); err != nil {
		t.Fatal(err)
	}
	if v := r.c.View(ctx); v.Step != StepThanks || v.Procedure != nil {
		t.Fatalf("after rating on the receipt: %s, procedure %v", v.Step, v.Procedure)
	}
}
