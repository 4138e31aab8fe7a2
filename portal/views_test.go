package portal

import (
	"net/http/httptest"
	"testing"

	"govkiosk/kiosk/lang"
)

func TestTrackTextInEveryLanguage(t *testing.T) {
	for _, l := range lang.Codes() {
		for key := range trackText[lang.Fallback] {
			if trackText[l][key] == "" {
				t.Errorf("%s: no track page text %q", l, key)
			}
		}
		for key := range trackText[l] {
			if _, ok := trackText[lang.Fallback][key]; !ok {
				t.Errorf("%s: track page text %q that English lacks", l, key)
			}
		}
	}
}

func TestPageLang(t *testing.T) {
	for _, tc := range []struct{ query, accept, want string }{
		{"", "", "vi"}, // the reference portal's own
		{"", "th-TH,th;q=0.9,en;q=0.8", "th"},
		{"", "fr-FR, en-GB;q=0.7", "en"},
		{"", "fr, de", "vi"},
		{"?lang=en", "th", "en"},
		{"?lang=fr", "th", "th"},
		{"?lang=TH", "", "vi"}, // ?lang= takes the code exactly as the page's links write it
	} {
		r := httptest.NewRequest("GET", "/t/QN-2026-000001"+tc.query, nil)
		if tc.accept != "" {
			r.Header.Set("Accept-Language", tc.accept)
		}
		if got := pageLang(r); got != tc.want {
			t.Errorf("%q, Accept-Language %q: %s, want %s", tc.query, tc.accept, got, tc.want)
		}
	}
}
