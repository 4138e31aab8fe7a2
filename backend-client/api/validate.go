package api

import (
	"math"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// Problems with a form value, as message keys the kiosk UI translates. The
// kiosk shows them next to the field; the portal refuses a packet with any.
const (
	ProblemRequired = "field.required"
	ProblemTooShort = "field.too_short"
	ProblemTooLong  = "field.too_long"
	ProblemPattern  = "field.pattern"
	ProblemNumber   = "field.number"
	ProblemRange    = "field.range"
	ProblemDate     = "field.date"
	ProblemOption   = "field.option"
)

// MaxFieldRunes bounds any single form value, whatever the catalogue says.
const MaxFieldRunes = 1000

var phonePattern = regexp.MustCompile(`^\+?[0-9 ]{8,16}$`)

// patterns caches compiled field patterns: a catalogue has a handful.
var patterns sync.Map // string -> *regexp.Regexp (nil when it does not compile)

func pattern(p string) *regexp.Regexp {
	if re, ok := patterns.Load(p); ok {
		return re.(*regexp.Regexp)
	}
	re, err := regexp.Compile("^(?:" + p + ")$")
	if err != nil {
		re = nil
	}
	patterns.Store(p, re)
	return re
}

// CheckField returns the problem with value v for field f, or "" when v is
// acceptable. v is taken as given (callers trim). This one function is what
// the kiosk checks before the citizen moves on and what the portal checks at
// intake, so a form the kiosk accepted is never refused for its values.
func CheckField(f Field, v string) string {
	if v == "" {
		if f.Required {
			return ProblemRequired
		}
		return ""
	}
	n := utf8.RuneCountInString(v)
	switch {
	case f.MinLen > 0 && n < f.MinLen:
		return ProblemTooShort
	case f.MaxLen > 0 && n > f.MaxLen, n > MaxFieldRunes:
		return ProblemTooLong
	}
	if f.Pattern != "" {
		if re := pattern(f.Pattern); re == nil || !re.MatchString(v) {
			return ProblemPattern
		}
	}
	switch f.Type {
	case FieldNumber:
		// ParseFloat takes "NaN", "Inf" and hex floats: none is a quantity.
		if strings.ContainsAny(v, "xXpPnNiI_") {
			return ProblemNumber
		}
		x, err := strconv.ParseFloat(v, 64)
		if err != nil || math.IsNaN(x) || math.IsInf(x, 0) {
			return ProblemNumber
		}
		if (f.Min != nil && x < *f.Min) || (f.Max != nil && x > *f.Max) {
			return ProblemRange
		}
	case FieldDate:
		if _, err := time.Parse(time.DateOnly, v); err != nil {
			return ProblemDate
		}
	case FieldPhone:
		if !phonePattern.MatchString(v) {
			return ProblemPattern
		}
	case FieldSelect:
		for _, o := range f.Options {
			if o.Value == v {
				return ""
			}
		}
		return ProblemOption
	}
	return ""
}

// CheckForm checks values against fields and returns the problem per field
// name; an empty map means the form is valid. Values that name no field are
// not looked at here (the portal refuses them separately).
func CheckForm(fields []Field, values map[string]string) map[string]string {
	problems := map[string]string{}
	for _, f := range fields {
		if p := CheckField(f, values[f.Name]); p != "" {
			problems[f.Name] = p
		}
	}
	return problems
}
