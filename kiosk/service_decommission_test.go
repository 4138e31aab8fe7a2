package kiosk_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"govkiosk/backend-client/fleetwire"
	"govkiosk/kiosk"
	"govkiosk/provisioning"
)

// decomRig is service mode with a decommission whose outcome the test
// sets.
type decomRig struct {
	svc    *kiosk.Service
	result error
	calls  []string // technician code ids passed
}

func newDecomRig(t *testing.T) *decomRig {
	t.Helper()
	pub, key, _ := ed25519.GenerateKey(rand.Reader)
	clock := &svcClock{t: time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)}
	ver, err := provisioning.NewTechVerifier(pub, "QN-01", filepath.Join(t.TempDir(), "used.json"), clock.Now)
	if err != nil {
		t.Fatal(err)
	}
	r := &decomRig{}
	r.svc, err = kiosk.NewService(kiosk.ServiceDeps{Now: clock.Now, Verifier: ver, PortalURL: "https://portal.example",
		Decommission: func(_ context.Context, code string) error { r.calls = append(r.calls, code); return r.result }})
	if err != nil {
		t.Fatal(err)
	}
	r.svc.SetDoor(true)
	tok, err := fleetwire.EncodeTechToken(key, fleetwire.TechClaims{ID: "tok-1", Office: "QN-01", Technician: "T-9",
		IssuedAt: clock.Now().Unix(), Expires: clock.Now().Add(10 * time.Minute).Unix()})
	if err != nil {
		t.Fatal(err)
	}
	r.svc.HandleScan([]byte(tok))
	if !r.svc.Active() {
		t.Fatal("service mode not entered")
	}
	return r
}

// TestServiceDecommission: the action needs the confirm screen; each
// refusal (applications waiting, portal away, portal refusing) is named
// on the screen and the kiosk stays as it was; a retirement says so and
// passes the technician code's id for the portal's audit log.
func TestServiceDecommission(t *testing.T) {
	ctx := context.Background()
	r := newDecomRig(t)
	if v := r.svc.View(ctx).Decom; !v.Offered || v.Confirming {
		t.Fatalf("decommission view before asking: %+v", v)
	}
	if err := r.svc.Decommission(ctx); err == nil || len(r.calls) != 0 {
		t.Fatalf("decommission without the confirm screen: %v, %d calls", err, len(r.calls))
	}
	r.svc.AskDecommission()
	if !r.svc.View(ctx).Decom.Confirming {
		t.Fatal("no confirm screen after asking")
	}
	r.svc.CancelDecommission()
	if r.svc.View(ctx).Decom.Confirming {
		t.Fatal("the confirm screen stays after cancel")
	}

	cases := []struct {
		name    string
		err     error
		notice  string
		pending int
		done    bool
	}{
		{"waiting applications", provisioning.ErrUndelivered{N: 3}, kiosk.MsgSvcDecomUndelivered, 3, false},
		{"portal away", fmt.Errorf("%w: %w", kiosk.ErrPortalAway, provisioning.ErrPortalUnreachable), kiosk.MsgSvcDecomUnreachable, 0, false},
		{"portal refuses", errors.New("portal: HTTP 400"), kiosk.MsgSvcDecomFailed, 0, false},
		{"retired", nil, kiosk.MsgSvcDecommissioned, 0, true},
	}
	for _, c := range cases {
		r.result = c.err
		r.svc.AskDecommission()
		if err := r.svc.Decommission(ctx); err != nil {
			t.Errorf("%s: %v", c.name, err)
		}
		v := r.svc.View(ctx)
		if v.Notice != c.notice || v.Decom.Pending != c.pending || v.Decom.Done != c.done || v.Decom.Confirming {
			t.Errorf("%s: notice %q, decommission %+v; want %q, pending %d, done %v", c.name, v.Notice, v.Decom, c.notice, c.pending, c.done)
		}
	}
	if len(r.calls) != 4 || r.calls[0] != "tok-1" {
		t.Errorf("decommission calls %q; want 4 with the technician code tok-1", r.calls)
	}
}
