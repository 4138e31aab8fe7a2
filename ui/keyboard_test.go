package ui

import (
	"context"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"govkiosk/backend-client/api"
	"govkiosk/kiosk"
)

// press taps one key of the keyboard on page, as a browser without script
// does (the key is a submit button of the form, posting to /kb), and
// returns the page drawn after it.
func (r *inputRig) press(page, name, value string) string {
	r.t.Helper()
	if !strings.Contains(page, `name="`+name+`" value="`+value+`"`) {
		r.t.Fatalf("no key %s=%q on the page", name, value)
	}
	p, _ := r.post("/kb", formOf(r.t, page, url.Values{name: {value}}))
	return p
}

func (r *inputRig) typeKeys(page string, keys ...string) string {
	r.t.Helper()
	for _, k := range keys {
		page = r.press(page, kbKey, k)
	}
	return page
}

// TestKeyboardWithoutScript: the keyboard works as plain form posts, one
// question at a time. It opens under the question's field in the session's
// layout (Thai Kedmanee), types a Thai word with its tone mark, switches to
// Vietnamese and composes tone marks; Done answers the question, and the
// next typed question opens with its own pad; the decimal comma typed on
// the pad is accepted, and every answer is kept across the round trips.
func TestKeyboardWithoutScript(t *testing.T) {
	r := newInputRig(t, "th", nil)
	page := r.get("/")
	if hiddenValue(page, kbField) != "shop_name" || hiddenValue(page, kbLayout) != "th" {
		t.Fatalf("keyboard opened on %q in %q, want shop_name in th", hiddenValue(page, kbField), hiddenValue(page, kbLayout))
	}
	if strings.Contains(page, `name="kb.focus" value="full_name"`) {
		t.Fatal("the read-only name has a keyboard")
	}
	page = r.typeKeys(page, "ร", "้", "า", "น", "@space")
	if got := fieldValue(t, page, "shop_name"); got != "ร้าน " {
		t.Fatalf("typed %q, want %q", got, "ร้าน ")
	}
	// Kedmanee's shift layer: ฮ is on shift+v.
	page = r.press(page, kbKey, "@shift")
	if hiddenValue(page, kbShift) != "1" {
		t.Fatal("shift did not stick")
	}
	page = r.press(page, kbKey, "ฮ")
	if hiddenValue(page, kbShift) != "" {
		t.Fatal("shift stayed on after one letter")
	}
	page = r.typeKeys(page, "@back", "@clear")
	if got := fieldValue(t, page, "shop_name"); got != "" {
		t.Fatalf("after clear: %q", got)
	}
	// Vietnamese, with tone marks composed into precomposed letters.
	page = r.press(page, kbTo, "vi")
	if hiddenValue(page, kbLayout) != "vi" {
		t.Fatalf("layout %q after switching to vi", hiddenValue(page, kbLayout))
	}
	page = r.typeKeys(page, "P", "h", "ơ", "\u0309", "@space", "H", "ư", "ơ", "n", "g", "\u0300")
	if got := fieldValue(t, page, "shop_name"); got != "Phở Hường" {
		t.Fatalf("typed %q, want %q", got, "Phở Hường")
	}
	// Done answers the question: the next one is the area, on the number pad.
	page = r.press(page, kbKey, kbDone)
	if hiddenValue(page, kbField) != "area" || hiddenValue(page, kbLayout) != "number" {
		t.Fatalf("after done: %q in %q, want area in number", hiddenValue(page, kbField), hiddenValue(page, kbLayout))
	}
	page = r.typeKeys(page, "4", "5", ",", "5")
	page = r.press(page, kbKey, kbDone)
	if hiddenValue(page, kbField) != "phone" || hiddenValue(page, kbLayout) != "phone" {
		t.Fatalf("after done: %q in %q, want phone", hiddenValue(page, kbField), hiddenValue(page, kbLayout))
	}
	page = r.typeKeys(page, strings.Split("0812345678", "")...)
	if got := fieldValue(t, page, "phone"); got != "0812345678" {
		t.Fatalf("typed %q", got)
	}
	page = r.press(page, kbKey, kbDone)
	// The last question is a choice: one touch answers it.
	if !strings.Contains(page, `value="stall" data-testid="option-kind-1"`) {
		t.Fatal("no choice of kind after the phone")
	}
	r.post("/form", formOf(t, page, url.Values{"kind": {"stall"}}))
	v := r.ctrl.View(context.Background())
	if v.Step != kiosk.StepDocuments {
		t.Fatalf("the last answer led to %s with problems %v", v.Step, v.FormProblems)
	}
	want := map[string]string{"shop_name": "Phở Hường", "area": "45.5", "phone": "0812345678", "kind": "stall", "full_name": "สมหญิง ใจดี"}
	for k, w := range want {
		if v.Form[k] != w {
			t.Errorf("%s = %q, want %q", k, v.Form[k], w)
		}
	}
}

// TestKeyboardRefusesStrayKeys: a key posted for a read-only field, or a
// layout that the field does not take, changes nothing.
func TestKeyboardRefusesStrayKeys(t *testing.T) {
	r := newInputRig(t, "vi", nil)
	page := r.get("/")
	if hiddenValue(page, kbLayout) != "vi" {
		t.Fatalf("a Vietnamese session's keyboard is %q", hiddenValue(page, kbLayout))
	}
	r.post("/kb", url.Values{kbField: {"full_name"}, kbKey: {"x"}, "full_name": {"Someone else"}})
	if got := r.ctrl.View(context.Background()).Form["full_name"]; got != "สมหญิง ใจดี" {
		t.Fatalf("read-only name became %q", got)
	}
	// The area is the second question: answer the first.
	page, _ = r.post("/kb", formOf(t, page, url.Values{"shop_name": {"Phở"}, kbKey: {kbDone}}))
	if hiddenValue(page, kbField) != "area" {
		t.Fatalf("after the first answer the keyboard is on %q", hiddenValue(page, kbField))
	}
	page, _ = r.post("/kb", formOf(t, page, url.Values{kbTo: {"th"}}))
	if hiddenValue(page, kbLayout) != "number" {
		t.Fatalf("a number field switched to %q", hiddenValue(page, kbLayout))
	}
}

// TestReadOnlyDateInSessionLanguage: the provider's birth date, which the
// citizen cannot change, is shown as the session's language writes dates
// (Buddhist year in Thai), not as the browser's date widget would.
func TestReadOnlyDateInSessionLanguage(t *testing.T) {
	s, err := New(nil, Options{})
	if err != nil {
		t.Fatal(err)
	}
	p := api.Procedure{ID: "birth", Fields: []api.Field{{Name: "birth_date", Type: api.FieldDate, ReadOnly: true, Label: api.Text{"en": "Born"}}}}
	rec := httptest.NewRecorder()
	s.render(rec, kiosk.View{Step: kiosk.StepForm, Lang: "th", Languages: []string{"th"}, Procedure: &p, Form: map[string]string{"birth_date": "1948-01-20"}})
	got := fieldValue(t, rec.Body.String(), "birth_date")
	if !strings.Contains(got, "2491") || strings.Contains(rec.Body.String(), `type="date"`) {
		t.Fatalf("Thai form shows the birth date as %q", got)
	}
}
