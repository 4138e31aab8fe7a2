package kiosk

import (
	"context"
	"testing"

	"govkiosk/backend-client/api"
)

// TestCitizensOwnNotation: a decimal comma, a phone number grouped with
// spaces or dashes and a day-first or Buddhist-era date are accepted, and
// reach the portal in the one form it checks.
func TestCitizensOwnNotation(t *testing.T) {
	lo, hi := 1.0, 200.0
	area := api.Field{Name: "area", Type: api.FieldNumber, Required: true, Min: &lo, Max: &hi}
	phone := api.Field{Name: "phone", Type: api.FieldPhone, Required: true, Pattern: `\+?[0-9]{9,15}`}
	born := api.Field{Name: "born", Type: api.FieldDate, Required: true}
	for _, tc := range []struct {
		f        api.Field
		in, want string
		problem  string
	}{
		{area, "45,5", "45.5", ""},
		{area, " 45.5 ", "45.5", ""},
		{area, "120", "120", ""},
		{area, "1,5,5", "1,5,5", FieldNumber},
		{area, "250,5", "250.5", FieldRange},
		{area, "abc", "abc", FieldNumber},
		{phone, "081 234 5678", "0812345678", ""},
		{phone, "081-234-5678", "0812345678", ""},
		{phone, "+84 (905) 123.456", "+84905123456", ""},
		{phone, "call me", "callme", FieldPattern},
		{phone, "12 34", "1234", FieldPattern},
		{born, "1960-05-31", "1960-05-31", ""},
		{born, "31/05/1960", "1960-05-31", ""},
		{born, "31/5/2503", "1960-05-31", ""}, // Buddhist era
		{born, "1-2-2503", "1960-02-01", ""},
		{born, "31/02/1960", "31/02/1960", FieldDate},
		{born, "05/31", "05/31", FieldDate},
	} {
		got := NormalizeValue(tc.f, tc.in)
		if got != tc.want {
			t.Errorf("%s %q: normalized to %q, want %q", tc.f.Name, tc.in, got, tc.want)
		}
		if p := ValidateForm([]api.Field{tc.f}, map[string]string{tc.f.Name: got})[tc.f.Name]; p != tc.problem {
			t.Errorf("%s %q: problem %q, want %q", tc.f.Name, tc.in, p, tc.problem)
		}
		// The portal checks with api.CheckForm: what the kiosk lets
		// through is what the portal accepts.
		if tc.problem == "" && len(api.CheckForm([]api.Field{tc.f}, map[string]string{tc.f.Name: got})) != 0 {
			t.Errorf("%s %q: the portal would refuse %q", tc.f.Name, tc.in, got)
		}
	}
}

// TestUnansweredChoiceAsksToChoose: a required choice left unanswered asks
// the citizen to choose one, not to "fill it in"; a text field still asks
// to be filled in.
func TestUnansweredChoiceAsksToChoose(t *testing.T) {
	fields := []api.Field{
		{Name: "kind", Type: api.FieldSelect, Required: true, Options: []api.Option{{Value: "a"}}},
		{Name: "name", Type: api.FieldText, Required: true},
	}
	p := ValidateForm(fields, map[string]string{})
	if p["kind"] != FieldOption || p["name"] != FieldRequired {
		t.Fatalf("problems %v, want kind=%s name=%s", p, FieldOption, FieldRequired)
	}
}

// TestSubmitFormNormalizes: the form the controller keeps (and later sends)
// holds the normalized values.
func TestSubmitFormNormalizes(t *testing.T) {
	r := newRig(t)
	r.walkToForm()
	if err := r.c.SubmitForm(map[string]string{"full_name": "  Lê Văn An ", "purpose": "Đăng ký kết hôn"}); err != nil {
		t.Fatal(err)
	}
	if v := r.c.View(context.Background()); v.Form["full_name"] != "Lê Văn An" {
		t.Fatalf("kept %q, want it trimmed", v.Form["full_name"])
	}
}

// TestSaveDraftAsTyped: what the keyboard posts is kept as typed (with its
// trailing space) and the form stays on screen, unchecked.
func TestSaveDraftAsTyped(t *testing.T) {
	r := newRig(t)
	r.walkToForm()
	ctx := context.Background()
	if err := r.c.SaveDraft(map[string]string{"purpose": "Lê ", "nope": "x"}); err != nil {
		t.Fatal(err)
	}
	v := r.c.View(ctx)
	if v.Step != StepForm || v.Form["purpose"] != "Lê " || len(v.FormProblems) != 0 {
		t.Fatalf("after a draft: step %s form %q problems %v", v.Step, v.Form, v.FormProblems)
	}
	if _, ok := v.Form["nope"]; ok {
		t.Fatal("a value that names no field was kept")
	}
	long := make([]rune, api.MaxFieldRunes+10)
	for i := range long {
		long[i] = 'ก'
	}
	if err := r.c.SaveDraft(map[string]string{"purpose": string(long)}); err != nil {
		t.Fatal(err)
	}
	if n := len([]rune(r.c.View(ctx).Form["purpose"])); n != api.MaxFieldRunes {
		t.Fatalf("kept %d characters, want at most %d", n, api.MaxFieldRunes)
	}
}
