package kiosk

import "testing"

// TestStepSaysOutOfService: while the door is open Step names the screen
// the view shows, so the out-of-service page (and service mode's) is not
// taken for a stale one and redrawn over and over.
func TestStepSaysOutOfService(t *testing.T) {
	r := newRig(t)
	r.c.SetOutOfService(true)
	if got := r.c.Step(); got != StepOutOfService {
		t.Fatalf("door open: Step = %s, want %s", got, StepOutOfService)
	}
	r.c.SetOutOfService(false)
	if got := r.c.Step(); got != StepAttract {
		t.Fatalf("door closed: Step = %s, want %s", got, StepAttract)
	}
}
