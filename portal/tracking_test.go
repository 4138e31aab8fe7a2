package portal_test

import (
	"context"
	"regexp"
	"testing"

	"govkiosk/portal"
)

var trackingRE = regexp.MustCompile(`^QN-2026-[0-9A-HJKMNP-TV-Z]{9}$`)

// TestTrackingNumbersNotGuessable is the attack of counting through
// tracking numbers (QN-2026-000001, -000002, …) on the public status API.
func TestTrackingNumbersNotGuessable(t *testing.T) {
	e := newEnv(t, nil)
	var refs []string
	for i := range 3 {
		res, err := e.submit(e.newPacket(t, i+1, e.confirm(t, "tok-an", "049090001234", "marital-status"), nil))
		if err != nil {
			t.Fatal(err)
		}
		refs = append(refs, res.TrackingNumber)
		if !trackingRE.MatchString(res.TrackingNumber) || !portal.ValidTrackingNumber(res.TrackingNumber) {
			t.Errorf("tracking number %q is not PREFIX-YEAR-<8 random><check>", res.TrackingNumber)
		}
	}
	for _, guess := range []string{"QN-2026-000001", "QN-2026-000002", "QN-2026-000003"} {
		if _, err := e.kiosk.Status(context.Background(), guess); func() bool { st, _ := apiCode(err); return st != 404 }() {
			t.Errorf("counted reference %s: %v", guess, err)
		}
	}
	if refs[0][:13] == refs[1][:13] && refs[1][:13] == refs[2][:13] {
		t.Errorf("tracking numbers %v share their first random characters", refs)
	}
	// One character changed: the check character catches it.
	r := []byte(refs[0])
	r[10] = map[bool]byte{true: 'A', false: 'B'}[r[10] != 'A']
	if portal.ValidTrackingNumber(string(r)) {
		t.Errorf("%s passes the check of %s", r, refs[0])
	}
}
