package console

import (
	"context"
	"strings"
	"testing"
	"time"

	"govkiosk/fleet"
)

// TestKioskPageShowsServiceSelfTest: a self-test a technician ran from the
// kiosk's service mode (an event) shows on the kiosk's page when it is
// newer than the last remote one.
func TestKioskPageShowsServiceSelfTest(t *testing.T) {
	r := newRig(t, "")
	ctx := context.Background()
	now := r.clk.Now()
	must(t, r.st.PutKiosk(ctx, fleet.KioskInfo{KioskID: "K1", Province: "TH-10", Office: "TH-10-1001"}))
	must(t, r.st.PutSnapshot(ctx, fleet.Snapshot{KioskID: "K1", At: now.Add(-time.Minute), Seq: 1, Version: "1.4.0"}))
	must(t, r.st.PutCommand(ctx, fleet.Command{ID: "c1", KioskID: "K1", Name: "selftest", By: "binh", SentAt: now.Add(-2 * time.Hour),
		AnsweredAt: now.Add(-2 * time.Hour), State: "done", Result: "remote: all ok"}))
	r.login()
	if _, _, body := r.do("GET", "/kiosk/K1", nil); !strings.Contains(body, "<pre>remote: all ok</pre>") {
		t.Fatal("the remote self-test is not shown")
	}
	must(t, r.st.AddEvent(ctx, fleet.Event{KioskID: "K1", Seq: 1, At: now.Add(-time.Hour), Kind: "selftest-failed", Detail: "printer  userError  out"}))
	must(t, r.st.AddEvent(ctx, fleet.Event{KioskID: "K1", Seq: 2, At: now.Add(-30 * time.Minute), Kind: "service-exit", Detail: "token t1: door closed"}))
	_, _, body := r.do("GET", "/kiosk/K1", nil)
	if !strings.Contains(body, "<pre>printer  userError  out</pre>") || strings.Contains(body, "<pre>remote: all ok</pre>") {
		t.Errorf("the newer service-mode self-test is not the one shown")
	}
}
