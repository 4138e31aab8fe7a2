package ui

import (
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"govkiosk/backend-client/api"
	"govkiosk/kiosk"
	"govkiosk/kiosk/lang"
)

// TestEveryMessageInEveryLanguage: every supported language has every
// message English has and none English lacks; a language has a message's
// form for one exactly when it counts one (lang.Plural).
func TestEveryMessageInEveryLanguage(t *testing.T) {
	for _, l := range lang.Codes() {
		if messages[l] == nil {
			t.Errorf("no messages in %s", l)
			continue
		}
		countsOne := lang.Plural(l, 1, "one", "other") == "one"
		for key := range messages[lang.Fallback] {
			if _, ok := messages[l][key]; !ok && (!strings.HasSuffix(key, pluralOne) || countsOne) {
				t.Errorf("%s has no %q", l, key)
			}
		}
		for key := range messages[l] {
			if base, ok := strings.CutSuffix(key, pluralOne); ok {
				if _, ok := messages[l][base]; !ok || !countsOne {
					t.Errorf("%s has %q but no %q or no form for one", l, key, base)
				}
				continue
			}
			if _, ok := messages[lang.Fallback][key]; !ok && l != lang.Fallback {
				t.Errorf("%s has %q that English lacks", l, key)
			}
		}
	}
	for l := range messages {
		if !lang.Supported(l) {
			t.Errorf("messages in %q, which kiosk/lang does not support", l)
		}
	}
}

func TestPluralMessages(t *testing.T) {
	for _, tc := range []struct {
		lang string
		n    int
		want string
	}{
		{"en", 1, "1 page scanned. Take your original back."},
		{"en", 2, "2 pages scanned. Take your originals back."},
		{"en", 0, "0 pages scanned. Take your originals back."},
		{"vi", 1, "Đã quét 1 trang. Xin Ông/Bà nhận lại bản gốc."},
		{"th", 1, "สแกนแล้ว 1 หน้า กรุณารับเอกสารตัวจริงคืน"},
		{"fr", 1, "1 page scanned. Take your original back."}, // as T, English
	} {
		if got := fmt.Sprintf(TN(tc.lang, "docs.scanned", tc.n), tc.n); got != tc.want {
			t.Errorf("%s %d: %q, want %q", tc.lang, tc.n, got, tc.want)
		}
	}
	if got := TN("th", "no.such.key", 1); got != "no.such.key" {
		t.Errorf("unknown key: %q", got)
	}
}

func TestEveryUserErrorIsTranslated(t *testing.T) {
	for _, key := range append(append([]string{}, kiosk.MessageKeys...), kiosk.FieldProblems...) {
		for _, l := range lang.Codes() {
			if _, ok := messages[l][key]; !ok {
				t.Errorf("no %s message for %q", l, key)
			}
		}
	}
}

var proc = api.Procedure{
	ID: "p1", Name: api.Text{"en": "Building permit", "vi": "Giấy phép xây dựng", "th": "ใบอนุญาตก่อสร้าง"},
	Fields: []api.Field{
		{Name: "area", Type: api.FieldNumber, Label: api.Text{"en": "Floor area"}, Required: true},
		{Name: "kind", Type: api.FieldSelect, Label: api.Text{"en": "Kind"}, Options: []api.Option{{Value: "new", Label: api.Text{"en": "New"}}}},
	},
	Documents: []api.DocumentRequirement{{Type: "plan", Label: api.Text{"en": "Site plan"}, MinPages: 1, MaxPages: 3, Required: true}},
	FeeMinor:  75000, Currency: "VND", ProcessingDays: 15,
}

// TestReviewShowsOptionLabels: the review screen shows what the citizen
// chose as they saw it, in their language, never the option's code.
func TestReviewShowsOptionLabels(t *testing.T) {
	s, err := New(nil, Options{Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	p := api.Procedure{ID: "marital-status", Name: api.Text{"en": "Marital status", "vi": "Tình trạng hôn nhân", "th": "สถานภาพสมรส"},
		Fields: []api.Field{{Name: "purpose", Type: api.FieldSelect, Label: api.Text{"en": "Purpose", "vi": "Mục đích", "th": "วัตถุประสงค์"},
			Options: []api.Option{
				{Value: "marriage", Label: api.Text{"en": "To marry", "vi": "Để đăng ký kết hôn", "th": "เพื่อจดทะเบียนสมรส"}},
				{Value: "never_married", Label: api.Text{"en": "Never married", "vi": "Chưa từng kết hôn", "th": "ไม่เคยสมรส"}},
			}}}}
	for _, code := range lang.Codes() {
		v := kiosk.View{Step: kiosk.StepReview, Lang: code, Languages: lang.Codes(), Procedure: &p,
			Form: map[string]string{"purpose": "never_married"}, IdleTimeout: 120, IdleCountdown: 30}
		rec := httptest.NewRecorder()
		s.render(rec, v)
		body := rec.Body.String()
		if want := p.Fields[0].Options[1].Label.Get(code); !strings.Contains(body, want) {
			t.Errorf("%s: review does not show %q", code, want)
		}
		if strings.Contains(body, ">never_married<") {
			t.Errorf("%s: review shows the option code never_married", code)
		}
	}
}

// TestDatesInTheCitizensLanguage: the appointment on the receipt and the
// status screens is written the way the session's language writes dates,
// with the Buddhist year in Thai.
func TestDatesInTheCitizensLanguage(t *testing.T) {
	s, err := New(nil, Options{Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"th": "11/12/2569", "vi": "11/12/2026", "en": "11 Dec 2026"}
	for _, code := range lang.Codes() {
		for _, v := range []kiosk.View{
			{Step: kiosk.StepReceipt, Receipt: &kiosk.Receipt{Reference: "QN-2026-7KD4M9QXR", AppointmentDate: "2026-12-11"}},
			{Step: kiosk.StepStatus, Status: &api.ApplicationStatus{TrackingNumber: "QN-2026-7KD4M9QXR", Status: "in-review", AppointmentDate: "2026-12-11"}},
		} {
			v.Lang, v.Languages, v.IdleTimeout, v.IdleCountdown = code, lang.Codes(), 120, 30
			rec := httptest.NewRecorder()
			s.render(rec, v)
			if body := rec.Body.String(); !strings.Contains(body, want[code]) || strings.Contains(body, "2026-12-11") {
				t.Errorf("%s %s: the appointment is not written %q", code, v.Step, want[code])
			}
		}
	}
}

// TestFooterSaysFinishAfterSubmission: once the application is kept, the
// footer no longer offers to cancel it.
func TestFooterSaysFinishAfterSubmission(t *testing.T) {
	s, err := New(nil, Options{Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	for _, code := range lang.Codes() {
		for step, finish := range map[kiosk.Step]bool{kiosk.StepReview: false, kiosk.StepReceipt: true, kiosk.StepRating: true, kiosk.StepThanks: true} {
			v := kiosk.View{Step: step, Lang: code, Languages: lang.Codes(), Procedure: &proc, CanCancel: true, IdleTimeout: 120, IdleCountdown: 30,
				Receipt: &kiosk.Receipt{Reference: "QN-2026-7KD4M9QXR", AppointmentDate: "2026-12-11"}}
			rec := httptest.NewRecorder()
			s.render(rec, v)
			body := rec.Body.String()
			if got := strings.Contains(body, T(code, "nav.cancel")); got == finish {
				t.Errorf("%s %s: footer offers %q: %v", code, step, T(code, "nav.cancel"), got)
			}
			if got := strings.Contains(body, T(code, "nav.finish")); got != finish {
				t.Errorf("%s %s: footer says %q: %v, want %v", code, step, T(code, "nav.finish"), got, finish)
			}
		}
	}
}

// TestEveryScreenRenders draws each step in each language and checks that
// no message key leaks onto the screen untranslated.
func TestEveryScreenRenders(t *testing.T) {
	s, err := New(nil, Options{Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	base := kiosk.View{
		Languages: lang.Codes(), Procedure: &proc, MaskedName: "Nguyễn T** H***", BirthYear: "1954",
		Form: map[string]string{"area": "120"}, FormProblems: map[string]string{"area": kiosk.FieldRange},
		Docs: []kiosk.ScannedDocument{{Type: "plan", Pages: 2, Thumbs: [][]byte{{1}, {2}}}}, CodeSent: true, AttemptsLeft: 3,
		Receipt:    &kiosk.Receipt{Reference: "P-K0001-261122-ABCDEF", Provisional: true, AppointmentDate: "2026-12-11"},
		Status:     &api.ApplicationStatus{TrackingNumber: "QN-2026-000001", Status: "in-review"},
		Procedures: []kiosk.ProcedureView{{Procedure: proc, Available: false}},
		Notice:     kiosk.MsgScannerJammed, IdleTimeout: 120, IdleCountdown: 30,
		Refusal: kiosk.MsgRefusedForm, Busy: kiosk.MsgBusySending, CanCancel: true,
	}
	leak := regexp.MustCompile(`>\s*(err|field|docs|nav|status|receipt|busy|refused)\.[a-z_]+`)
	for _, step := range kiosk.Steps {
		for _, l := range lang.Codes() {
			v := base
			v.Step, v.Lang = step, l
			w := httptest.NewRecorder()
			s.render(w, v)
			body := w.Body.String()
			if w.Code != 200 || !strings.Contains(body, "</html>") {
				t.Fatalf("%s/%s: status %d, body ends %q", step, l, w.Code, body[max(0, len(body)-200):])
			}
			if m := leak.FindString(body); m != "" {
				t.Errorf("%s/%s: untranslated key on screen: %q", step, l, m)
			}
			if !strings.Contains(body, T(l, kiosk.MsgScannerJammed)) {
				t.Errorf("%s/%s: notice not shown", step, l)
			}
			for _, other := range lang.Codes() {
				// The header's buttons choose the language on every screen.
				if !strings.Contains(body, ">"+lang.Name(other)+"<") {
					t.Errorf("%s/%s: no button for %s", step, l, lang.Name(other))
				}
			}
		}
	}
}

func TestNoticeSaysTheWait(t *testing.T) {
	for _, tc := range []struct {
		lang, key string
		minutes   int
		want      string
	}{
		{"en", kiosk.MsgCodeWait, 2, "You can ask for a new code in 2 minutes."},
		{"en", kiosk.MsgCodeWait, 1, "You can ask for a new code in 1 minute."},
		{"en", kiosk.MsgCodeLocked, 50, "Too many wrong codes. You can try again in 50 minutes."},
		{"vi", kiosk.MsgCodeWait, 3, "Ông/Bà có thể yêu cầu mã mới sau 3 phút."},
		{"th", kiosk.MsgCodeLocked, 7, "กรอกรหัสผิดหลายครั้งเกินไป ท่านลองใหม่ได้ในอีก 7 นาที"},
		{"en", kiosk.MsgCodeResent, 0, "A new code was sent to your phone."},
		{"en", kiosk.MsgScannerJammed, 4, T("en", kiosk.MsgScannerJammed)}, // no wait in its text
	} {
		if got := noticeText(tc.lang, kiosk.View{Notice: tc.key, NoticeMinutes: tc.minutes}); got != tc.want {
			t.Errorf("%s %s %d: %q, want %q", tc.lang, tc.key, tc.minutes, got, tc.want)
		}
	}
	s, err := New(nil, Options{Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	s.render(rec, kiosk.View{Step: kiosk.StepConfirm, Lang: "en", Languages: []string{"en"}, CodeSent: true, Notice: kiosk.MsgCodeWait, NoticeMinutes: 2})
	if !strings.Contains(rec.Body.String(), "You can ask for a new code in 2 minutes.") {
		t.Errorf("confirm screen lacks the wait:\n%s", rec.Body)
	}
}
