package api

import "testing"

func TestTextGetFallsBack(t *testing.T) {
	for _, tc := range []struct {
		t    Text
		lang string
		want string
	}{
		{Text{"th": "ใบรับ", "en": "Receipt"}, "th", "ใบรับ"},
		{Text{"th": "ใบรับ", "en": "Receipt"}, "vi", "Receipt"},
		{Text{"th": "", "en": "Receipt"}, "th", "Receipt"},
		{Text{"vi": "Biên nhận"}, "en", "Biên nhận"},
		{Text{}, "en", ""},
	} {
		if got := tc.t.Get(tc.lang); got != tc.want {
			t.Errorf("%v.Get(%s) = %q, want %q", tc.t, tc.lang, got, tc.want)
		}
	}
}

func TestNeedsScanner(t *testing.T) {
	for _, tc := range []struct {
		docs []DocumentRequirement
		want bool
	}{
		{nil, false},
		{[]DocumentRequirement{{Type: "decree", MinPages: 1, MaxPages: 5}}, false}, // optional
		{[]DocumentRequirement{{Type: "decree"}, {Type: "id", Required: true, MinPages: 1, MaxPages: 2}}, true},
	} {
		if got := (Procedure{Documents: tc.docs}).NeedsScanner(); got != tc.want {
			t.Errorf("NeedsScanner(%+v) = %v, want %v", tc.docs, got, tc.want)
		}
	}
}
