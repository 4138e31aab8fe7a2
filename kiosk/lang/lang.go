// Package lang is the one place that knows the languages the kiosk speaks:
// which they are and in what order they are offered (Codes), what each is
// called in itself (Name), how a request's language tags map onto them
// (Parse, Match), how each writes a date (FormatDate: Thai with the
// Buddhist era year) and how each counts things (Plural: Thai and
// Vietnamese have no plural forms, English has one and other).
//
// A language is its lower-case ISO 639-1 code as a plain string, the form
// it takes in configuration, api.Text keys, URLs and ui_locales. The
// package imports only the standard library so that every layer above the
// drivers may use it; drivers do not know about languages.
package lang

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// The supported languages.
const (
	Thai       = "th"
	Vietnamese = "vi"
	English    = "en"
)

// Fallback is the language shown when a text lacks the wanted one, and the
// rules (dates, plurals) used for a language that is not supported.
const Fallback = English

// codes is the order in which the languages are offered: a kiosk's
// configured list defaults to it, and its first is the kiosk's default.
var codes = []string{Thai, Vietnamese, English}

var names = map[string]string{
	Thai:       "ไทย",
	Vietnamese: "Tiếng Việt",
	English:    "English",
}

// Codes returns the supported languages in the order they are offered.
// The slice is the caller's own.
func Codes() []string { return slices.Clone(codes) }

// Supported reports whether code is a supported language, exactly as
// Codes spells it.
func Supported(code string) bool { return slices.Contains(codes, code) }

// Name is a language's name in that language ("ไทย" for th), the label of
// its button on the language screen; an unsupported code names itself.
func Name(code string) string {
	if n, ok := names[code]; ok {
		return n
	}
	return code
}

// Parse maps one language tag as browsers and OIDC send it ("th",
// "vi-VN", "EN_gb", "th;q=0.8") onto a supported language by its primary
// subtag. It reports false when that language is not supported.
func Parse(tag string) (string, bool) {
	tag, _, _ = strings.Cut(tag, ";")
	base, _, _ := strings.Cut(strings.TrimSpace(tag), "-")
	base, _, _ = strings.Cut(base, "_")
	base = strings.ToLower(base)
	if !Supported(base) {
		return "", false
	}
	return base, true
}

// Match picks the first supported language of a list of tags in order of
// preference: an OIDC ui_locales value (separated by spaces) or an
// Accept-Language header (separated by commas, quality values ignored as
// the list is already ordered). It reports false when none is supported.
func Match(list string) (string, bool) {
	for _, tag := range strings.FieldsFunc(list, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' }) {
		if code, ok := Parse(tag); ok {
			return code, true
		}
	}
	return "", false
}

// buddhistEra is how many years the Thai solar calendar counts ahead of
// the Gregorian one: 2026 is B.E. 2569.
const buddhistEra = 543

var monthsEN = [...]string{"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"}

// FormatDate writes the day of t as people of the language read it: Thai
// day/month/Buddhist-era year ("25/11/2569"), Vietnamese day/month/year
// ("25/11/2026"), English "25 Nov 2026". The time of day is not written
// and t is not converted to another zone.
func FormatDate(code string, t time.Time) string {
	switch code {
	case Thai:
		return fmt.Sprintf("%02d/%02d/%d", t.Day(), int(t.Month()), t.Year()+buddhistEra)
	case Vietnamese:
		return t.Format("02/01/2006")
	}
	return fmt.Sprintf("%d %s %d", t.Day(), monthsEN[t.Month()-1], t.Year())
}

// Plural picks the word or message for n things: one when the language
// counts n as one, other otherwise. Thai and Vietnamese do not inflect
// for number and always take other; English takes one for exactly 1.
func Plural(code string, n int, one, other string) string {
	if !Supported(code) {
		code = Fallback
	}
	if code == English && n == 1 {
		return one
	}
	return other
}
