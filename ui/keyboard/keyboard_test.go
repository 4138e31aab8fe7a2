package keyboard

import (
	"strings"
	"testing"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// typeKeys presses each key in turn, from an empty value.
func typeKeys(keys ...string) string {
	v := ""
	for _, k := range keys {
		v = Press(v, k, 0)
	}
	return v
}

// letters splits s into one key per rune.
func letters(s string) []string {
	var ks []string
	for _, r := range s {
		ks = append(ks, string(r))
	}
	return ks
}

const (
	sac   = toneAcute
	huyen = toneGrave
	hoi   = toneHook
	nga   = toneTilde
	nang  = toneDot
)

func TestVietnameseTones(t *testing.T) {
	for _, tc := range []struct {
		keys []string
		want string
	}{
		{[]string{"v", "i", "ê", "t", nang}, "việt"},
		{[]string{"N", "g", "u", "y", "ê", "n", nga}, "Nguyễn"},
		{[]string{"n", "g", "ư", "ơ", "i", huyen}, "người"},
		{[]string{"r", "ư", "ơ", "u", nang}, "rượu"},
		{[]string{"c", "u", "a", hoi}, "của"},
		{[]string{"h", "o", "a", huyen}, "hòa"},             // open syllable of two vowels: the first
		{[]string{"h", "o", "a", "n", huyen}, "hoàn"},       // a final consonant: the last vowel
		{[]string{"h", "o", sac, "a", "n"}, "hoán"},         // the mark moves as the word grows
		{[]string{"n", "g", "o", "a", "i", huyen}, "ngoài"}, // three vowels: the middle one
		{[]string{"q", "u", "a", "n", "g", hoi}, "quảng"},   // qu begins the word
		{[]string{"g", "i", "a", sac}, "giá"},               // gi begins the word
		{[]string{"g", "i", huyen}, "gì"},                   // …unless i is the only vowel
		{[]string{"g", "i", "ư", "ơ", "n", "g", huyen}, "giường"},
		{[]string{"Đ", "a", huyen, Space, "N", "ă", "n", "g", nga}, "Đà Nẵng"},
		{[]string{"L", "ê", Space, "L", "ơ", "i", nang}, "Lê Lợi"},
		{[]string{"H", "u", "ê", sac}, "Huế"},
		{[]string{"m", "a", sac, hoi}, "mả"}, // another tone replaces it
		{[]string{"m", "a", sac, sac}, "ma"}, // the same tone takes it off
		{[]string{"T", "H", "Ư", "Ơ", "N", "G", sac}, "THƯỚNG"},
		{[]string{sac}, ""},             // no vowel: nothing
		{[]string{"1", "2", sac}, "12"}, // …nor on digits
		{[]string{"b", "c", sac}, "bc"},
		{[]string{"m", "ư", "a", sac, Back}, "mứ"},       // erasing keeps the tone on what is left
		{[]string{"h", "o", "a", "n", sac, Back}, "hóa"}, // …where it now belongs
		{[]string{"1", "2", Space, "L", "ê"}, "12 Lê"},
	} {
		got := typeKeys(tc.keys...)
		if got != tc.want {
			t.Errorf("%q: %q, want %q", tc.keys, got, tc.want)
		}
		if !norm.NFC.IsNormalString(got) {
			t.Errorf("%q: %q is not precomposed (NFC)", tc.keys, got)
		}
	}
	// Precomposed: one code point per letter.
	if got := typeKeys("v", "i", "ê", "t", nang); utf8.RuneCountInString(got) != 4 {
		t.Errorf("việt has %d code points, want 4", utf8.RuneCountInString(got))
	}
}

func TestThai(t *testing.T) {
	for _, tc := range []struct {
		keys []string
		want string
	}{
		{letters("สวัสดี"), "สวัสดี"},
		{letters("น้ำ"), "น้ำ"},
		{letters("ที่อยู่"), "ที่อยู่"},
		{letters("ร้านอาหาร"), "ร้านอาหาร"},
		{[]string{"่"}, ""},              // a tone mark needs a consonant
		{[]string{"ิ"}, ""},              // …and so does a vowel above
		{[]string{"ก", "ิ", "ี"}, "กี"},  // a vowel typed again replaces it
		{[]string{"ก", "่", "้"}, "ก้"},  // a tone mark typed again replaces it
		{[]string{"ก", "่", "ี"}, "กี่"}, // a vowel after the tone mark goes under it
		{[]string{"า", "่"}, "า"},        // no tone mark on a vowel that follows
		{[]string{"ก", "็", "่"}, "ก็"},  // nor on maitaikhu
		{[]string{"ก", "ุ", "์"}, "กุ์"},
		{[]string{"ส", "ว", "ั", "ส", "ด", "ี", Back}, "สวัสด"}, // erases one character
		{[]string{"ก", Space, "ข"}, "ก ข"},
	} {
		if got := typeKeys(tc.keys...); got != tc.want {
			t.Errorf("%q: %q, want %q", tc.keys, got, tc.want)
		}
	}
}

func TestCommandsAndLimits(t *testing.T) {
	if got := Press("abc", Clear, 0); got != "" {
		t.Errorf("clear: %q", got)
	}
	if got := Press("", Back, 0); got != "" {
		t.Errorf("back on empty: %q", got)
	}
	if got := Press("ab", Shift, 0); got != "ab" {
		t.Errorf("shift changed the value: %q", got)
	}
	if got := Press("abc", "d", 3); got != "abc" {
		t.Errorf("past the limit: %q", got)
	}
	for _, k := range []string{"", "ab", "\x00", "\n", "\xff", "@nope"} {
		if got := Press("x", k, 0); got != "x" {
			t.Errorf("key %q: %q, want x unchanged", k, got)
		}
	}
}

// TestLayouts: every key of every layout types what it shows (or is a
// command or a mark shown on a dotted circle), Kedmanee has its 4 rows
// in both layers, and the pads have 0-9.
func TestLayouts(t *testing.T) {
	for id, l := range layouts {
		if l.ID != id || l.Name == "" || len(l.Rows) == 0 {
			t.Errorf("%s: %+v", id, l)
		}
		if l.HasShift() && len(l.Shift) != len(l.Rows) {
			t.Errorf("%s: %d rows, %d shifted", id, len(l.Rows), len(l.Shift))
		}
		for _, row := range append(append([][]Key{}, l.Rows...), l.Shift...) {
			if len(row) > 13 {
				t.Errorf("%s: a row of %d keys is too wide for 64 px keys on a 1080 px screen", id, len(row))
			}
			for _, k := range row {
				switch {
				case strings.HasPrefix(k.Value, "@"), k.Tone:
				case k.Label != k.Value && k.Label != "◌"+k.Value:
					t.Errorf("%s: key %q shows %q", id, k.Value, k.Label)
				}
				if Press("ก", k.Value, 0) == "ก" && !k.Tone && !strings.HasPrefix(k.Value, "@") && !isThaiAboveBelow([]rune(k.Value)[0]) && !isThaiTone([]rune(k.Value)[0]) {
					t.Errorf("%s: key %q types nothing", id, k.Value)
				}
			}
		}
	}
	th, _ := Get("th")
	if got := keysOf(th.Rows); !strings.Contains(got, "ฟหกดเ้่าสวง") || !strings.Contains(keysOf(th.Shift), "ฤฆฏโฌ็๋ษศซ") {
		t.Errorf("th is not Kedmanee: %q", got)
	}
	for _, id := range []string{"number", "phone", "date"} {
		l, _ := Get(id)
		for _, d := range "0123456789" {
			if !strings.ContainsRune(keysOf(l.Rows), d) {
				t.Errorf("%s pad has no %c", id, d)
			}
		}
	}
	if id, sw := ForField("phone", "th"); id != "phone" || sw {
		t.Errorf("phone field: %s %v", id, sw)
	}
	if id, sw := ForField("text", "vi"); id != "vi" || !sw {
		t.Errorf("text field in vi: %s %v", id, sw)
	}
	if id := ForLanguage("fr"); id != "en" {
		t.Errorf("fr: %s", id)
	}
}

func keysOf(rows [][]Key) string {
	var b strings.Builder
	for _, r := range rows {
		for _, k := range r {
			b.WriteString(k.Value)
		}
	}
	return b.String()
}

func FuzzPress(f *testing.F) {
	f.Add("Nguyễn", sac)
	f.Add("ก่", "ี")
	f.Fuzz(func(t *testing.T, v, k string) {
		got := Press(v, k, 50)
		if utf8.ValidString(v) && !utf8.ValidString(got) {
			t.Fatalf("Press(%q, %q) = %q: not UTF-8", v, k, got)
		}
		if utf8.RuneCountInString(got) > 50 && got != v {
			t.Fatalf("Press(%q, %q) = %q: past the limit", v, k, got)
		}
	})
}
