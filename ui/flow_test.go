package ui

import (
	"context"
	"html/template"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"govkiosk/backend-client/api"
	"govkiosk/kiosk"
	"govkiosk/kiosk/lang"
	"govkiosk/portal/idp"
)

// TestLoginScreenIsTheKiosks: the login QR is on the kiosk's own screen,
// at once, with its cancel, help and idle countdown; only the provider's
// origin may be framed, and the provider lets only the kiosk frame it.
// When the session ends the screen has no QR; an approval after that is
// not used, and the start screen says the session ended.
func TestLoginScreenIsTheKiosks(t *testing.T) {
	r := newLoginRig(t)
	r.touch("/start", nil)
	r.touch("/lang", url.Values{"lang": {"vi"}})
	r.touch("/procedure", url.Values{"id": {loginProc.ID}})
	resp, err := r.hc.Get(r.kiosk.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	screen := string(b)
	for _, want := range []string{`data-step="login"`, `data-testid="cancel"`, `id="help-open"`, `data-idle-timeout="120"`, `id="idle"`,
		`data-testid="login-frame"`, T("vi", "help.login"), `data-testid="stage"`} {
		if !strings.Contains(screen, want) {
			t.Errorf("the login screen lacks %q", want)
		}
	}
	if strings.Contains(screen, `data-testid="login"`) {
		t.Error("the login screen still asks for a tap to show the QR")
	}
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "frame-src 'self' "+r.provSrv.URL) {
		t.Errorf("login screen CSP %q does not allow the provider's frame", csp)
	}
	page := r.providerPage(r.frameURL())
	presp, err := r.hc.Get(r.frameURL()) // a reload of the frame: the same login
	if err != nil {
		t.Fatal(err)
	}
	pb, _ := io.ReadAll(presp.Body)
	presp.Body.Close()
	if csp := presp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "frame-ancestors "+r.kiosk.URL) {
		t.Errorf("the provider's page may not be framed by the kiosk: CSP %q", csp)
	}
	if !strings.Contains(string(pb), `data-link-code="`+page.linkCode+`"`) {
		t.Errorf("a reload of the frame shows another login:\n%s", pb)
	}

	// The citizen cancels: after the confirmation the screen has no QR.
	r.touch("/cancel/ask", nil)
	if _, _, s := r.get(r.kiosk.URL + "/"); !strings.Contains(s, `data-testid="cancel-confirm"`) || strings.Contains(s, "login-frame") {
		t.Fatalf("cancel does not ask first, or leaves the QR:\n%s", s)
	}
	r.touch("/cancel", nil)
	if _, _, s := r.get(r.kiosk.URL + "/"); !strings.Contains(s, `data-step="attract"`) || strings.Contains(s, "<iframe") {
		t.Fatalf("after cancel the screen is not the start, or still frames the QR:\n%s", s)
	}
	// The phone approves the abandoned login: the kiosk does not use it.
	r.approve(page, idp.TestCitizens()[1].ID)
	if st, loc, _ := r.get(r.decided(page)); st != http.StatusSeeOther || loc != "/" {
		t.Fatalf("late callback: %d to %q", st, loc)
	}
	v := r.ctrl.View(context.Background())
	if v.Step != kiosk.StepAttract || v.MaskedName != "" || v.Notice != kiosk.MsgSessionExpired {
		t.Fatalf("after a late approval: %s, name %q, notice %q", v.Step, v.MaskedName, v.Notice)
	}
	if _, _, s := r.get(r.kiosk.URL + "/"); !strings.Contains(s, T(v.Lang, kiosk.MsgSessionExpired)) {
		t.Errorf("the start screen does not say the session ended:\n%s", s)
	}
}

// TestProviderUnreachableSaysSoWithRetry: with the provider down the login
// screen says so plainly and offers retry and cancel, never a wait.
func TestProviderUnreachableSaysSoWithRetry(t *testing.T) {
	r := newLoginRig(t)
	r.provSrv.Close()
	r.touch("/start", nil)
	r.touch("/lang", url.Values{"lang": {"th"}})
	r.touch("/procedure", url.Values{"id": {loginProc.ID}})
	_, _, s := r.get(r.kiosk.URL + "/")
	for _, want := range []string{T("th", kiosk.MsgProviderDown), `data-testid="login-retry"`, `data-testid="cancel"`} {
		if !strings.Contains(s, want) {
			t.Errorf("login screen with the provider down lacks %q", want)
		}
	}
	for _, bad := range []string{"<iframe", "รอการยืนยัน"} {
		if strings.Contains(s, bad) {
			t.Errorf("login screen with the provider down shows %q", bad)
		}
	}
}

// TestNotMeKeepsLanguageAndLogsInAgain: "No, this is not me" explains, in
// the citizen's language, and shows a fresh QR for the same procedure.
func TestNotMeKeepsLanguageAndLogsInAgain(t *testing.T) {
	r := newLoginRig(t)
	page := r.startLogin()
	r.approve(page, idp.TestCitizens()[1].ID)
	r.get(r.decided(page))
	if v := r.ctrl.View(context.Background()); v.Step != kiosk.StepIdentity {
		t.Fatalf("at %s, want \"Is this you?\"", v.Step)
	}
	r.touch("/identity", url.Values{"yes": {"0"}})
	_, _, s := r.get(r.kiosk.URL + "/")
	for _, want := range []string{`lang="vi"`, T("vi", kiosk.MsgNotMe), loginProc.Name["vi"], `data-testid="login-frame"`} {
		if !strings.Contains(s, want) {
			t.Errorf("after \"not me\" the screen lacks %q", want)
		}
	}
	if again := r.providerPage(r.frameURL()); again.linkCode == page.linkCode {
		t.Error("\"not me\" shows the same login again")
	}
}

var choiceProc = api.Procedure{
	ID: "choices", Name: api.Text{"en": "Choices", "vi": "Lựa chọn", "th": "ตัวเลือก"},
	Fields: []api.Field{
		{Name: "full_name", Type: api.FieldText, Label: api.Text{"en": "Name"}, ReadOnly: true, Prefill: "name", Required: true},
		{Name: "purpose", Type: api.FieldSelect, Label: api.Text{"en": "Purpose"}, Required: true,
			Options: []api.Option{{Value: "marriage", Label: api.Text{"en": "Marriage", "vi": "Kết hôn", "th": "จดทะเบียนสมรส"}}, {Value: "work", Label: api.Text{"en": "Work", "vi": "Việc làm", "th": "ทำงาน"}}}},
		{Name: "note", Type: api.FieldText, Label: api.Text{"en": "Note"}, Required: true},
	},
}

// TestFormScreenHeaderKeepsTheDraft: on the form screen the header's
// language and text-size buttons submit the form's draft first (no script
// needed), each question is one screen, and a choice is one touch.
func TestFormScreenHeaderKeepsTheDraft(t *testing.T) {
	s, err := New(nil, Options{Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	p := choiceProc
	for q, want := range map[int][]string{
		0: {`name="purpose" value="work"`, `class="option chosen" name="purpose" value="work"`, `name="full_name"`, T("en", "form.hint")},
		1: {`name="note"`, `data-testid="form-next"`},
	} {
		v := kiosk.View{Step: kiosk.StepForm, Lang: "en", Languages: lang.Codes(), Procedure: &p, Question: q, Questions: 2,
			Form: map[string]string{"full_name": "A B", "purpose": "work"}, CanCancel: true, IdleTimeout: 120, IdleCountdown: 30}
		rec := httptest.NewRecorder()
		s.render(rec, v)
		body := rec.Body.String()
		for _, w := range append(want, `form="appform" formaction="/lang"`, `form="appform" formaction="/large"`, `id="appform"`, `name="q" value="`) {
			if !strings.Contains(body, w) {
				t.Errorf("question %d lacks %q", q, w)
			}
		}
		if q == 0 && (strings.Contains(body, `data-testid="form-next"`) || strings.Contains(body, `name="note"`)) {
			t.Errorf("the choice question shows a Continue button or another question")
		}
		if q == 1 && strings.Contains(body, `name="purpose"`) {
			t.Errorf("the second question shows the first")
		}
	}
}

// TestCodeKeypad: the code is required as 6 digits in the HTML itself, the
// overlay says what is being done, and the Thai clear key is "clear all".
func TestCodeKeypad(t *testing.T) {
	s, err := New(nil, Options{Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range lang.Codes() {
		rec := httptest.NewRecorder()
		s.render(rec, kiosk.View{Step: kiosk.StepConfirm, Lang: l, Languages: lang.Codes(), CodeSent: true, CanCancel: true})
		body := rec.Body.String()
		for _, want := range []string{`pattern="[0-9]{6}" required`, `minlength="6"`, `data-busy="` + T(l, "busy.checking") + `"`,
			`data-busy="` + T(l, "busy.sending_code") + `"`, `data-key="clear" data-testid="key-clear">` + T(l, "confirm.clear_all") + `<`} {
			if !strings.Contains(body, want) {
				t.Errorf("%s: code screen lacks %q", l, want)
			}
		}
		if strings.Contains(body, T(l, "busy.scanning")) || strings.Contains(body, T(l, "docs.scanning")) {
			t.Errorf("%s: the code screen's overlay speaks of scanning", l)
		}
	}
	// Beside ⌫, a bare "delete" (ลบ, Xóa) reads as deleting one digit.
	for l, ambiguous := range map[string]string{"th": "ลบ", "vi": "Xóa", "en": "Clear"} {
		if T(l, "confirm.clear_all") == ambiguous {
			t.Errorf("%s: the keypad's clear key says %q, which reads like ⌫", l, ambiguous)
		}
	}
}

// TestStatusScreenSaysProcedureAndNext: the receipt QR's status screen
// names the procedure and what happens next.
func TestStatusScreenSaysProcedureAndNext(t *testing.T) {
	s, err := New(nil, Options{Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range lang.Codes() {
		for _, st := range []string{"received", "in-review", "ready", "rejected"} {
			rec := httptest.NewRecorder()
			s.render(rec, kiosk.View{Step: kiosk.StepStatus, Lang: l, Languages: lang.Codes(), Procedure: &proc, CanCancel: true,
				Status: &api.ApplicationStatus{TrackingNumber: "QN-2026-7KD4M9QXR", ProcedureID: proc.ID, Status: st, AppointmentDate: "2026-12-11"}})
			body := rec.Body.String()
			for _, want := range []string{proc.Name.Get(l), T(l, "status.next"), T(l, "status.next."+st), T(l, "help.status")} {
				if !strings.Contains(body, template.HTMLEscapeString(want)) {
					t.Errorf("%s %s: status screen lacks %q", l, st, want)
				}
			}
		}
	}
}

// TestEveryScreenHasItsOwnHelp: each step of the flow has help written for
// it, and the step indicator where it belongs.
func TestEveryScreenHasItsOwnHelp(t *testing.T) {
	s, err := New(nil, Options{Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	for _, step := range kiosk.Steps {
		if !hasMessage("help." + string(step)) {
			t.Errorf("no help for %s", step)
			continue
		}
		for _, l := range lang.Codes() {
			rec := httptest.NewRecorder()
			v := kiosk.View{Step: step, Lang: l, Languages: lang.Codes(), Procedure: &proc, CanCancel: true,
				Receipt: &kiosk.Receipt{Reference: "QN-2026-7KD4M9QXR"}, Docs: []kiosk.ScannedDocument{{}}, Questions: 2}
			v.Stage, v.Stages, v.StageKey = 3, 6, kiosk.StageDetails
			s.render(rec, v)
			if body := rec.Body.String(); !strings.Contains(body, template.HTMLEscapeString(T(l, "help."+string(step)))) || !strings.Contains(body, T(l, "stage.details")) {
				t.Errorf("%s/%s: the screen lacks its own help or the step indicator", step, l)
			}
		}
	}
}
