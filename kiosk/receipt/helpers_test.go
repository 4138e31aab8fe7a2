package receipt

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"govkiosk/drivers/printer"
	"govkiosk/kiosk/lang"
)

// TestLabelsInEveryLanguage: the receipt can be printed in every supported
// language, with every label.
func TestLabelsInEveryLanguage(t *testing.T) {
	for _, code := range lang.Codes() {
		if labels[code] == nil {
			t.Errorf("no receipt labels in %s", code)
		}
		for key := range labels[lang.Fallback] {
			if labels[code][key] == "" {
				t.Errorf("%s: no receipt label %q", code, key)
			}
		}
		for key := range labels[code] {
			if _, ok := labels[lang.Fallback][key]; !ok {
				t.Errorf("%s: label %q that %s lacks", code, key, lang.Fallback)
			}
		}
	}
}

// TestDocumentPages: one page is "1 page" in English; Thai and Vietnamese
// do not inflect.
func TestDocumentPages(t *testing.T) {
	for _, code := range lang.Codes() {
		h, err := HTML(Sample(code, false))
		if err != nil {
			t.Fatal(err)
		}
		for _, doc := range Sample(code, false).Documents {
			want := fmt.Sprintf("%s — %d %s", doc.Label, doc.Pages, lang.Plural(code, doc.Pages, labels[code]["page"], labels[code]["pages"]))
			if !strings.Contains(string(h), string(thaiBreaks([]byte(want)))) {
				t.Errorf("%s: no %q on the receipt", code, want)
			}
		}
	}
	h, err := HTML(Sample(lang.English, false))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Divorce decision (copy) — 3 pages", "Declaration form — 1 page<"} {
		if !strings.Contains(string(h), want) {
			t.Errorf("English receipt lacks %q", want)
		}
	}
}

func TestThaiBreaks(t *testing.T) {
	tests := []struct{ in, want string }{
		{"ขอ", "ข\u200bอ"},
		{"ไปเที่ยว", "ไป\u200bเที่\u200bย\u200bว"}, // never after a leading vowel; marks stay
		{"Nguyễn <b>x</b>", "Nguyễn <b>x</b>"},
		{"ก ข", "ก ข"},
	}
	for _, tc := range tests {
		if got := string(thaiBreaks([]byte(tc.in))); got != tc.want {
			t.Errorf("thaiBreaks(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestDatesAndSizes(t *testing.T) {
	at := time.Date(2026, 11, 20, 2, 30, 0, 0, time.UTC)
	ict := time.FixedZone("ICT", 7*3600)
	for _, tc := range []struct{ lang, dt, day string }{
		{"th", "20/11/2569 09:30", "25/11/2569"},
		{"vi", "20/11/2026 09:30", "25/11/2026"},
		{"en", "20 Nov 2026 09:30", "25 Nov 2026"},
	} {
		if got := formatDateTime(tc.lang, at.In(ict)); got != tc.dt {
			t.Errorf("%s: %q, want %q", tc.lang, got, tc.dt)
		}
		if got := formatDay(tc.lang, "2026-11-25"); got != tc.day {
			t.Errorf("%s: %q, want %q", tc.lang, got, tc.day)
		}
	}
	if got := formatDay("en", "soon"); got != "soon" {
		t.Errorf("non-date %q", got)
	}
	for _, tc := range []struct {
		ref   string
		width int
		want  string
	}{
		{"QN-2026-000042", 576, "17.0"},        // fits at full size
		{"P-K0001-261120-3F9A2C", 576, "15.0"}, // shrunk to fit 80 mm
		{"P-K0001-261120-3F9A2C", 384, "9.8"},  // and 58 mm
		{strings.Repeat("9", 60), 384, "9.0"},  // never below 9 pt
	} {
		if got := refPoints(tc.ref, tc.width); got != tc.want {
			t.Errorf("refPoints(%q, %d) = %s, want %s", tc.ref, tc.width, got, tc.want)
		}
	}
	// The receipt is laid out in the kiosk's zone whatever the machine's.
	d := Sample("en", false)
	d.ReceivedAt = at
	h, err := HTML(d)
	if err != nil || !strings.Contains(string(h), "20 Nov 2026 09:30") {
		t.Errorf("time zone not applied: %v", err)
	}
}

func TestPartsNativeQR(t *testing.T) {
	d := Sample("vi", false)
	parts, err := Parts(d, printer.Width58mm, true)
	if err != nil {
		t.Fatal(err)
	}
	if len(parts) != 3 || parts[0].Image == nil || parts[1].QR != d.TrackURL || parts[2].Image == nil {
		t.Fatalf("parts %+v", parts)
	}
	for _, p := range []printer.Part{parts[0], parts[2]} {
		if p.Image.Bounds().Dx() != printer.Width58mm {
			t.Errorf("part width %d", p.Image.Bounds().Dx())
		}
	}
	d.TrackURL = ""
	if _, err := Parts(d, printer.Width80mm, true); err == nil {
		t.Error("native QR without a URL accepted")
	}
}
