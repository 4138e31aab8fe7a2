// Package keyboard is the touch UI's on-screen keyboard: its layouts (Thai
// Kedmanee with its shift layer, Vietnamese Latin letters with a row of
// tone marks, English, and number, phone and date pads) and what a key
// press does to a field's value.
//
// Press is the whole of the typing logic, the same on the server (a key is
// a submit button when the browser runs no script) and, mirrored, in the
// page's script (ui/static/kiosk.js), which types without a round trip:
//
//   - Vietnamese: a tone key (sắc, huyền, hỏi, ngã, nặng) puts its mark on
//     the vowel of the last word that carries it by the spelling rules
//     (the modified vowel, ơ in ươ, the middle of three vowels, the first of
//     two in an open syllable, the last before a final consonant; "gi" and
//     "qu" begin a word), replaces another tone, and takes the same tone off
//     again. The mark moves when a letter is typed or erased after it
//     ("hóa" + n = "hoán"). Values are kept precomposed (NFC).
//   - Thai: an above or below vowel goes only after a consonant (typed
//     again, it replaces the one there), a tone mark or thanthakhat only
//     after a consonant or such a vowel (typed again, it replaces the one
//     there; a vowel typed after a tone mark goes before it, where it is
//     stored); a press that would make an impossible cluster does nothing.
//
// Values are typed and erased at their end.
package keyboard

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// Commands: keys that do something other than type their value.
const (
	Back  = "@back"  // erase the last character
	Space = "@space" // a space
	Clear = "@clear" // erase everything
	Shift = "@shift" // the other layer (one character, then back)
)

// Key is one key: what it types (or a command) and what it shows.
type Key struct {
	Value string
	Label string
	Wide  bool // space and the commands span more than one column
	Tone  bool // a Vietnamese tone mark
}

// Layout is a keyboard: rows of keys, and the rows of its shift layer (none
// for a pad).
type Layout struct {
	ID    string // "th", "vi", "en", "number", "phone", "date"
	Name  string // its own name, on the key that switches to it
	Rows  [][]Key
	Shift [][]Key
}

// HasShift says whether the layout has a second layer.
func (l Layout) HasShift() bool { return len(l.Shift) > 0 }

// Text layouts, for free text, by language code.
var textLayouts = []string{"th", "vi", "en"}

// TextLayouts are the IDs of the layouts for free text.
func TextLayouts() []string { return append([]string(nil), textLayouts...) }

// ForLanguage is the text layout for a session language (English for one
// without its own).
func ForLanguage(lang string) string {
	for _, id := range textLayouts {
		if id == lang {
			return id
		}
	}
	return "en"
}

// ForField is the layout a field of the catalogue's type starts with: a
// pad for numbers, phone numbers and dates, else the text layout of the
// session language. The second result says whether the citizen may switch
// between the text layouts.
func ForField(fieldType, lang string) (string, bool) {
	switch fieldType {
	case "number", "phone", "date":
		return fieldType, false
	}
	return ForLanguage(lang), true
}

// Get returns the layout id; ok is false for an unknown id.
func Get(id string) (Layout, bool) {
	l, ok := layouts[id]
	return l, ok
}

// IsTextLayout says whether id is a layout for free text.
func IsTextLayout(id string) bool {
	for _, t := range textLayouts {
		if t == id {
			return true
		}
	}
	return false
}

func chars(s string) []Key {
	var ks []Key
	for _, r := range s {
		ks = append(ks, charKey(string(r)))
	}
	return ks
}

// charKey is a key that types s; a combining mark is shown on a dotted
// circle so it can be seen.
func charKey(s string) Key {
	r, _ := utf8.DecodeRuneInString(s)
	if unicode.Is(unicode.Mn, r) {
		return Key{Value: s, Label: "◌" + s}
	}
	return Key{Value: s, Label: s}
}

// Vietnamese tone marks, as combining characters.
const (
	toneAcute = "\u0301" // sắc
	toneGrave = "\u0300" // huyền
	toneHook  = "\u0309" // hỏi
	toneTilde = "\u0303" // ngã
	toneDot   = "\u0323" // nặng
)

func isTone(r rune) bool {
	switch r {
	case 0x0301, 0x0300, 0x0309, 0x0303, 0x0323:
		return true
	}
	return false
}

var layouts = map[string]Layout{
	// Kedmanee, as on a Thai keyboard, row by row.
	"th": {ID: "th", Name: "ไทย",
		Rows: [][]Key{
			chars("ๅ/-ภถุึคตจขช"),
			chars("ๆไำพะัีรนยบลฃ"),
			chars("ฟหกดเ้่าสวง"),
			chars("ผปแอิืทมใฝ"),
		},
		Shift: [][]Key{
			chars("+๑๒๓๔ู฿๕๖๗๘๙"),
			chars("๐\"ฎฑธํ๊ณฯญฐ,ฅ"),
			chars("ฤฆฏโฌ็๋ษศซ."),
			chars("()ฉฮฺ์?ฒฬฦ"),
		},
	},
	"vi": {ID: "vi", Name: "Tiếng Việt",
		Rows: [][]Key{
			tones(),
			chars("1234567890"),
			chars("ăâđêôơư"),
			chars("qwertyuiop"),
			chars("asdfghjkl"),
			chars("zxcvbnm,./"),
		},
		Shift: [][]Key{
			tones(),
			chars("1234567890"),
			chars("ĂÂĐÊÔƠƯ"),
			chars("QWERTYUIOP"),
			chars("ASDFGHJKL"),
			chars("ZXCVBNM,.-"),
		},
	},
	"en": {ID: "en", Name: "English",
		Rows: [][]Key{
			chars("1234567890"),
			chars("qwertyuiop"),
			chars("asdfghjkl"),
			chars("zxcvbnm,./"),
		},
		Shift: [][]Key{
			chars("1234567890"),
			chars("QWERTYUIOP"),
			chars("ASDFGHJKL"),
			chars("ZXCVBNM,.-"),
		},
	},
	"number": {ID: "number", Name: "123", Rows: pad(",")},
	"phone":  {ID: "phone", Name: "123", Rows: pad("+")},
	"date":   {ID: "date", Name: "123", Rows: pad("/")},
}

// tones is the row of Vietnamese tone keys, each shown on a vowel.
func tones() []Key {
	return []Key{
		{Value: toneAcute, Label: "á", Tone: true},
		{Value: toneGrave, Label: "à", Tone: true},
		{Value: toneHook, Label: "ả", Tone: true},
		{Value: toneTilde, Label: "ã", Tone: true},
		{Value: toneDot, Label: "ạ", Tone: true},
	}
}

// pad is a telephone-order number pad with one extra key beside 0.
func pad(extra string) [][]Key {
	return [][]Key{chars("123"), chars("456"), chars("789"), {charKey(extra), charKey("0"), {Value: Back, Label: "⌫"}}}
}

// Press is what pressing key does to value, with at most max characters
// (runes; 0: no limit).
func Press(value, key string, max int) string {
	switch key {
	case Back:
		if value == "" {
			return value
		}
		_, n := utf8.DecodeLastRuneInString(value)
		return retone(value[:len(value)-n])
	case Clear:
		return ""
	case Space:
		key = " "
	case Shift:
		return value
	}
	if key == "" || !utf8.ValidString(key) || utf8.RuneCountInString(key) != 1 {
		return value // not a key of any layout
	}
	r, _ := utf8.DecodeRuneInString(key)
	var out string
	switch {
	case isTone(r):
		out = tone(value, key)
	case isThaiAboveBelow(r) || isThaiTone(r):
		out = thai(value, r)
	case unicode.IsPrint(r):
		out = retone(value + key)
	default:
		return value
	}
	if max > 0 && utf8.RuneCountInString(out) > max {
		return value
	}
	return out
}

// lastWord splits s before its last word (a run of letters and marks).
func lastWord(s string) (head, word string) {
	i := len(s)
	for i > 0 {
		r, n := utf8.DecodeLastRuneInString(s[:i])
		if !unicode.IsLetter(r) && !unicode.IsMark(r) {
			break
		}
		i -= n
	}
	return s[:i], s[i:]
}

// splitTone takes the Vietnamese tone mark off word: the word without it
// (precomposed) and the mark ("" when none).
func splitTone(word string) (string, string) {
	d := norm.NFD.String(word)
	var b strings.Builder
	mark := ""
	for _, r := range d {
		if isTone(r) {
			mark = string(r)
			continue
		}
		b.WriteRune(r)
	}
	return norm.NFC.String(b.String()), mark
}

// tone puts mark on the last word of s, or takes it off when it is there.
func tone(s, mark string) string {
	head, word := lastWord(s)
	bare, had := splitTone(word)
	if had == mark {
		mark = ""
	}
	placed, ok := placeTone(bare, mark)
	if !ok {
		return s // no vowel to carry a tone
	}
	return head + placed
}

// retone moves the tone of s's last word to where the word, as it is now,
// carries it.
func retone(s string) string {
	head, word := lastWord(s)
	bare, mark := splitTone(word)
	if mark == "" {
		return s
	}
	placed, ok := placeTone(bare, mark)
	if !ok {
		return s
	}
	return head + placed
}

func isViVowel(r rune) bool {
	return strings.ContainsRune("aăâeêioôơuưy", unicode.ToLower(r))
}

func isModified(r rune) bool {
	return strings.ContainsRune("ăâêôơư", unicode.ToLower(r))
}

// placeTone puts mark ("" for none) on the vowel of word (precomposed,
// without a tone) that carries it. ok is false when word has no vowel.
func placeTone(word, mark string) (string, bool) {
	rs := []rune(word)
	lower := []rune(strings.ToLower(word))
	start := 0
	// "qu" and "gi" before a vowel are the word's first consonant.
	if len(lower) > 2 && ((lower[0] == 'q' && lower[1] == 'u') || (lower[0] == 'g' && lower[1] == 'i')) && isViVowel(lower[2]) {
		start = 2
	}
	for start < len(rs) && !isViVowel(rs[start]) {
		start++
	}
	if start == len(rs) {
		return word, false
	}
	end := start
	for end < len(rs) && isViVowel(rs[end]) {
		end++
	}
	at := -1
	for i := start; i < end; i++ {
		if unicode.ToLower(rs[i]) == 'ơ' {
			at = i
			break
		}
	}
	if at < 0 {
		for i := start; i < end; i++ {
			if isModified(rs[i]) {
				at = i
				break
			}
		}
	}
	if at < 0 {
		switch n := end - start; {
		case end < len(rs): // a final consonant follows
			at = end - 1
		case n >= 3:
			at = start + 1
		default:
			at = start
		}
	}
	if mark == "" {
		return word, true
	}
	return norm.NFC.String(string(rs[:at]) + string(rs[at]) + mark + string(rs[at+1:])), true
}

func isThaiConsonant(r rune) bool { return r >= 0x0E01 && r <= 0x0E2E }

// isThaiAboveBelow: the vowels written above or below a consonant (and
// maitaikhu, nikhahit, phinthu), which need one to sit on.
func isThaiAboveBelow(r rune) bool {
	return r == 0x0E31 || (r >= 0x0E34 && r <= 0x0E3A) || r == 0x0E47 || r == 0x0E4D
}

// isThaiTone: the four tone marks and thanthakhat.
func isThaiTone(r rune) bool { return r >= 0x0E48 && r <= 0x0E4C }

// thai types the combining Thai character r at the end of s, where a
// consonant (or, for a tone mark, a vowel on one) can carry it.
func thai(s string, r rune) string {
	prev, n := utf8.DecodeLastRuneInString(s)
	if n == 0 {
		return s
	}
	before := s[:len(s)-n]
	pprev, _ := utf8.DecodeLastRuneInString(before)
	switch {
	case isThaiAboveBelow(r):
		if isThaiConsonant(prev) {
			return s + string(r)
		}
		if isThaiAboveBelow(prev) && isThaiConsonant(pprev) {
			return before + string(r) // the vowel typed instead
		}
		if isThaiTone(prev) && isThaiConsonant(pprev) {
			return before + string(r) + string(prev) // typed after the tone mark: the vowel goes under it
		}
	case isThaiTone(r):
		if isThaiTone(prev) && (isThaiConsonant(pprev) || isThaiAboveBelow(pprev)) {
			return before + string(r) // the mark typed instead
		}
		if isThaiConsonant(prev) || (isThaiAboveBelow(prev) && prev != 0x0E47 && prev != 0x0E3A) {
			return s + string(r)
		}
	}
	return s
}
