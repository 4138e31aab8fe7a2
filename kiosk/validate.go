package kiosk

import (
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"govkiosk/backend-client/api"
)

// Field problems, as message keys the UI translates. They are the portal's
// own (api.Problem*): the kiosk and the portal check a form with one function.
const (
	FieldRequired = api.ProblemRequired
	FieldTooShort = api.ProblemTooShort
	FieldTooLong  = api.ProblemTooLong
	FieldPattern  = api.ProblemPattern
	FieldNumber   = api.ProblemNumber
	FieldRange    = api.ProblemRange
	FieldDate     = api.ProblemDate
	FieldOption   = api.ProblemOption
)

// FieldProblems lists every field problem key, for the UI's coverage tests.
var FieldProblems = []string{FieldRequired, FieldTooShort, FieldTooLong, FieldPattern, FieldNumber, FieldRange, FieldDate, FieldOption}

// ValidateForm checks values against the procedure's fields exactly as the
// portal does at intake and returns a problem key per field name; an empty
// map means the form is valid. A choice left unanswered asks the citizen to
// choose one (FieldOption) rather than to "fill it in".
func ValidateForm(fields []api.Field, values map[string]string) map[string]string {
	problems := api.CheckForm(fields, values)
	for _, f := range fields {
		if f.Type == api.FieldSelect && problems[f.Name] == FieldRequired {
			problems[f.Name] = FieldOption
		}
	}
	return problems
}

// NormalizeValue is value v of field f as the citizen meant it, in the one
// form the portal checks and stores: trimmed; a number written with a
// decimal comma ("45,5") with a point; a phone number without the spaces,
// dashes, dots and brackets people group its digits with; a date written
// day first (31/05/1960, 31-5-2503) in YYYY-MM-DD, a Buddhist-era year
// (2400 and later) turned into the common era. Anything it cannot read is
// returned trimmed, for ValidateForm to say what is wrong.
func NormalizeValue(f api.Field, v string) string {
	v = strings.TrimSpace(v)
	switch f.Type {
	case api.FieldNumber:
		if strings.Count(v, ",") == 1 && !strings.Contains(v, ".") {
			v = strings.Replace(v, ",", ".", 1)
		}
		v = strings.ReplaceAll(v, " ", "")
	case api.FieldPhone:
		v = strings.Map(func(r rune) rune {
			switch r {
			case ' ', '-', '.', '(', ')', '\u00a0':
				return -1
			}
			return r
		}, v)
	case api.FieldDate:
		v = normalizeDate(v)
	}
	return v
}

// normalizeDate reads a date written day/month/year (with / - or .) or
// year-month-day, with a common-era or Buddhist-era year.
func normalizeDate(v string) string {
	parts := strings.FieldsFunc(v, func(r rune) bool { return r == '/' || r == '-' || r == '.' })
	if len(parts) != 3 {
		return v
	}
	n := make([]int, 3)
	for i, p := range parts {
		x, err := strconv.Atoi(p)
		if err != nil || x <= 0 || utf8.RuneCountInString(p) > 4 {
			return v
		}
		n[i] = x
	}
	y, m, d := n[2], n[1], n[0]
	if len(parts[0]) == 4 { // year first
		y, d = n[0], n[2]
	} else if len(parts[2]) != 4 {
		return v
	}
	if y >= 2400 {
		y -= 543
	}
	t := time.Date(y, time.Month(m), d, 0, 0, 0, 0, time.UTC)
	if t.Year() != y || int(t.Month()) != m || t.Day() != d {
		return v // 31/02: not a day; ValidateForm says so
	}
	return t.Format(time.DateOnly)
}
