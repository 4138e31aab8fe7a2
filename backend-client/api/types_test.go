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
		{Text{"vi": "Biên nhận", "th": "ใบรับ", "fr": "Reçu"}, "fr-FR", "ใบรับ"}, // in lang's order, not the map's
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

func TestCitizenIDs(t *testing.T) {
	for _, tc := range []struct {
		id     string
		th, vn bool
	}{
		{"1103700123458", true, false},
		{"1103700123459", false, false}, // wrong check digit
		{"049190012345", false, true},
		{"04919001234a", false, false},
		{"", false, false},
		{"११०३७००१२३४५८", false, false}, // non-ASCII digits
	} {
		if got := ValidThaiID(tc.id); got != tc.th {
			t.Errorf("ValidThaiID(%q) = %v", tc.id, got)
		}
		if got := ValidVietnamID(tc.id); got != tc.vn {
			t.Errorf("ValidVietnamID(%q) = %v", tc.id, got)
		}
	}
}

func TestCompareVersions(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want int
	}{
		{"2026.1", "2026.1", 0},
		{"2026.1", "2026.10", -1},
		{"2026.10", "2026.9", 1},
		{"2027", "2026.99", 1},
		{"2026", "2026.0", 0},
		{"2026.1.1", "2026.1", 1},
	} {
		if got, err := CompareVersions(tc.a, tc.b); err != nil || got != tc.want {
			t.Errorf("CompareVersions(%q, %q) = %d, %v; want %d", tc.a, tc.b, got, err, tc.want)
		}
	}
	for _, bad := range []string{"", "v1", "2026..1", "2026.1-rc", "-1", "1."} {
		if _, err := CompareVersions(bad, "1"); err == nil {
			t.Errorf("%q compared", bad)
		}
	}
}
