package ui

import (
	"io"
	"log/slog"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"govkiosk/backend-client/api"
	"govkiosk/kiosk"
)

func TestEveryMessageInEveryLanguage(t *testing.T) {
	for key := range messages["en"] {
		for _, lang := range []string{"th", "vi"} {
			if _, ok := messages[lang][key]; !ok {
				t.Errorf("%s has no %q", lang, key)
			}
		}
	}
	for _, lang := range []string{"th", "vi"} {
		for key := range messages[lang] {
			if _, ok := messages["en"][key]; !ok {
				t.Errorf("%s has %q that English lacks", lang, key)
			}
		}
	}
}

func TestEveryUserErrorIsTranslated(t *testing.T) {
	for _, key := range append(append([]string{}, kiosk.MessageKeys...), kiosk.FieldProblems...) {
		if _, ok := messages["en"][key]; !ok {
			t.Errorf("no message for %q", key)
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

// TestEveryScreenRenders draws each step in each language and checks that
// no message key leaks onto the screen untranslated.
func TestEveryScreenRenders(t *testing.T) {
	s, err := New(nil, Options{Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	base := kiosk.View{
		Languages: []string{"th", "vi", "en"}, Procedure: &proc, MaskedName: "Nguyễn T** H***", BirthYear: "1954",
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
		for _, lang := range []string{"th", "vi", "en"} {
			v := base
			v.Step, v.Lang = step, lang
			w := httptest.NewRecorder()
			s.render(w, v)
			body := w.Body.String()
			if w.Code != 200 || !strings.Contains(body, "</html>") {
				t.Fatalf("%s/%s: status %d, body ends %q", step, lang, w.Code, body[max(0, len(body)-200):])
			}
			if m := leak.FindString(body); m != "" {
				t.Errorf("%s/%s: untranslated key on screen: %q", step, lang, m)
			}
			if !strings.Contains(body, T(lang, "err.scanner_jammed")) {
				t.Errorf("%s/%s: notice not shown", step, lang)
			}
		}
	}
}
