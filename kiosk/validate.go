package kiosk

import (
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"govkiosk/backend-client/api"
)

// Field problems, as message keys the UI translates.
const (
	FieldRequired = "field.required"
	FieldTooShort = "field.too_short"
	FieldTooLong  = "field.too_long"
	FieldPattern  = "field.pattern"
	FieldNumber   = "field.number"
	FieldRange    = "field.range"
	FieldDate     = "field.date"
	FieldOption   = "field.option"
)

// ValidateForm checks values against the procedure's fields and returns a
// problem key per field name; an empty map means the form is valid.
func ValidateForm(fields []api.Field, values map[string]string) map[string]string {
	problems := map[string]string{}
	for _, f := range fields {
		v := strings.TrimSpace(values[f.Name])
		if v == "" {
			if f.Required {
				problems[f.Name] = FieldRequired
			}
			continue
		}
		n := utf8.RuneCountInString(v)
		switch {
		case f.MinLen > 0 && n < f.MinLen:
			problems[f.Name] = FieldTooShort
			continue
		case f.MaxLen > 0 && n > f.MaxLen:
			problems[f.Name] = FieldTooLong
			continue
		}
		if f.Pattern != "" {
			re, err := regexp.Compile("^(?:" + f.Pattern + ")$")
			if err != nil || !re.MatchString(v) {
				problems[f.Name] = FieldPattern
				continue
			}
		}
		switch f.Type {
		case api.FieldNumber:
			x, err := strconv.ParseFloat(v, 64)
			if err != nil {
				problems[f.Name] = FieldNumber
			} else if (f.Min != nil && x < *f.Min) || (f.Max != nil && x > *f.Max) {
				problems[f.Name] = FieldRange
			}
		case api.FieldDate:
			if _, err := time.Parse("2006-01-02", v); err != nil {
				problems[f.Name] = FieldDate
			}
		case api.FieldPhone:
			if !regexp.MustCompile(`^\+?[0-9 ]{8,16}$`).MatchString(v) {
				problems[f.Name] = FieldPattern
			}
		case api.FieldSelect:
			ok := false
			for _, o := range f.Options {
				ok = ok || o.Value == v
			}
			if !ok {
				problems[f.Name] = FieldOption
			}
		}
	}
	return problems
}
