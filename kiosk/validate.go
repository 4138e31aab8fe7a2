package kiosk

import "govkiosk/backend-client/api"

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
// map means the form is valid.
func ValidateForm(fields []api.Field, values map[string]string) map[string]string {
	return api.CheckForm(fields, values)
}
