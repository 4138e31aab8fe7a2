package kiosk

import (
	"context"
	"testing"
	"time"

	"govkiosk/backend-client/api"
)

// TestOutOfServiceWipesAtOnce: the cabinet door opens while a citizen is
// at their form, their name on screen and a scan under way. The session is
// wiped there and then (the scan's pages are dropped, the login revoked),
// the screen says out of service and shows nothing of anyone, and nothing
// starts a session until the door is closed again.
func TestOutOfServiceWipesAtOnce(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	r.walkToDocuments()
	before := r.c.View(ctx).SessionID
	r.scanner.gate = newGate()
	scanned := make(chan error, 1)
	go func() { scanned <- r.c.ScanDocument(ctx) }()
	waitClosed(t, r.scanner.gate.entered, 5*time.Second, "the scan to start")

	within(t, time.Second, "SetOutOfService", func() { r.c.SetOutOfService(true) })
	v := r.c.View(ctx)
	if v.Step != StepOutOfService || v.SessionID == before || v.MaskedName != "" || v.Form != nil || v.Docs != nil || v.Procedure != nil || v.CanCancel || v.CanGoBack {
		t.Fatalf("after the door opened the screen is %+v", v)
	}
	close(r.scanner.gate.released)
	if err := <-scanned; err != nil {
		t.Fatalf("the scan of the wiped session: %v", err)
	}
	if v := r.c.View(ctx); v.Docs != nil || v.Step != StepOutOfService {
		t.Fatalf("the wiped session's scan reached the screen: %+v", v)
	}
	deadline := time.Now().Add(5 * time.Second)
	for len(r.login.endedTokens()) == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if len(r.login.endedTokens()) == 0 {
		t.Error("the citizen's login was not revoked when the door opened")
	}

	// Out of service: touches and receipt QR codes start nothing.
	r.c.Start()
	r.portal.statuses["QN-2026-000001"] = api.ApplicationStatus{TrackingNumber: "QN-2026-000001", Status: "in-review"}
	r.c.HandleScan(ctx, []byte("http://portal.test/t/QN-2026-000001"))
	r.clock.Add(time.Hour)
	r.c.Tick()
	if v := r.c.View(ctx); v.Step != StepOutOfService || v.Status != nil || v.Notice != "" {
		t.Fatalf("out of service, a touch and a QR code led to %+v", v)
	}

	r.c.SetOutOfService(false)
	if v := r.c.View(ctx); v.Step != StepAttract || v.Notice != "" {
		t.Fatalf("back in service at %s (notice %q)", v.Step, v.Notice)
	}
	if err := r.c.Start(); err != nil || r.c.View(ctx).Step != StepCatalogue {
		t.Fatalf("back in service the kiosk does not start a session: %v", err)
	}
}
