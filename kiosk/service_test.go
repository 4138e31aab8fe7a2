package kiosk_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"govkiosk/backend-client/fleetwire"
	"govkiosk/drivers/device"
	"govkiosk/kiosk"
	"govkiosk/kiosk/outbox"
	"govkiosk/provisioning"
)

type svcClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *svcClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *svcClock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

type svcEvents struct {
	mu sync.Mutex
	ev []string
}

func (e *svcEvents) add(kind, detail string) {
	e.mu.Lock()
	e.ev = append(e.ev, kind+" "+detail)
	e.mu.Unlock()
}

func (e *svcEvents) has(prefix string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.ContainsFunc(e.ev, func(s string) bool { return strings.HasPrefix(s, prefix) })
}

type fakeOutbox struct {
	mu      sync.Mutex
	entries []outbox.Entry
	kicked  int
}

func (o *fakeOutbox) List() ([]outbox.Entry, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return slices.Clone(o.entries), nil
}

func (o *fakeOutbox) Requeue(id string) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	for i := range o.entries {
		if o.entries[i].ID == id && o.entries[i].State == outbox.StateNeedsAttention {
			o.entries[i].State = outbox.StateQueued
			return nil
		}
	}
	return fmt.Errorf("no parked packet %s", id)
}

func (o *fakeOutbox) Kick() { o.mu.Lock(); o.kicked++; o.mu.Unlock() }

type svcRig struct {
	svc      *kiosk.Service
	key      ed25519.PrivateKey
	clock    *svcClock
	events   *svcEvents
	ob       *fakeOutbox
	printed  chan string
	paper    string // the printer's media
	jam      bool   // the scanner's latched jam
	mu       sync.Mutex
	refresh  int
	tokenSeq int
}

func newSvcRig(t *testing.T) *svcRig {
	t.Helper()
	pub, key, _ := ed25519.GenerateKey(rand.Reader)
	r := &svcRig{key: key, clock: &svcClock{t: time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)}, events: &svcEvents{},
		ob: &fakeOutbox{entries: []outbox.Entry{
			{ID: "p1", State: outbox.StateNeedsAttention, LastError: "portal refused: 422"},
			{ID: "p2", State: outbox.StateQueued},
		}}, printed: make(chan string, 4), paper: device.PaperOut}
	ver, err := provisioning.NewTechVerifier(pub, "QN-01", filepath.Join(t.TempDir(), "used.json"), r.clock.Now)
	if err != nil {
		t.Fatal(err)
	}
	r.svc, err = kiosk.NewService(kiosk.ServiceDeps{
		Now: r.clock.Now, Verifier: ver, PortalURL: "https://portal.example",
		Devices: []kiosk.ServiceDevice{
			{Name: "printer", Status: func(context.Context) device.Status {
				r.mu.Lock()
				defer r.mu.Unlock()
				return device.Status{State: device.Online, Media: r.paper}
			}},
			{Name: "scanner", Status: func(context.Context) device.Status {
				r.mu.Lock()
				defer r.mu.Unlock()
				if r.jam {
					return device.Status{State: device.Online, Media: device.ScannerJammed, Action: device.ActionClear}
				}
				return device.Status{State: device.Online, Media: device.ScannerReady}
			}, Clear: func() { r.mu.Lock(); r.jam = false; r.mu.Unlock() }},
		},
		Outbox: r.ob,
		TestPrint: func(_ context.Context, code string) (string, error) {
			r.printed <- code
			return "job-1", nil
		},
		SelfTest: func(context.Context) (string, bool) { return "printer ok\nscanner ok\n", true },
		Report:   r.events.add,
		Refresh:  func(context.Context) { r.mu.Lock(); r.refresh++; r.mu.Unlock() },
		Version:  "1.2.3", Catalogue: func() string { return "cat-7" },
		Timeout: 5 * time.Minute,
	})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func (r *svcRig) token(t *testing.T, office string, iat time.Time, life time.Duration) []byte {
	t.Helper()
	r.tokenSeq++
	p, err := fleetwire.EncodeTechToken(r.key, fleetwire.TechClaims{ID: fmt.Sprintf("tok-%d", r.tokenSeq), Office: office, Technician: "T-9", IssuedAt: iat.Unix(), Expires: iat.Add(life).Unix()})
	if err != nil {
		t.Fatal(err)
	}
	return []byte(p)
}

func TestServiceEntryNeedsDoorAndValidToken(t *testing.T) {
	r := newSvcRig(t)
	ctx := context.Background()
	now := r.clock.Now()
	good := r.token(t, "QN-01", now, 10*time.Minute)
	if r.svc.HandleScan(good) {
		t.Fatal("a technician token was taken with the door closed")
	}
	r.svc.SetDoor(true)
	refused := []struct {
		name   string
		token  []byte
		notice string
	}{
		{"expired", r.token(t, "QN-01", now.Add(-time.Hour), 10*time.Minute), kiosk.MsgSvcTechExpired},
		{"other office", r.token(t, "QN-02", now, 10*time.Minute), kiosk.MsgSvcTechOffice},
		{"forged", []byte(strings.Replace(string(r.token(t, "QN-01", now, 10*time.Minute)), ".", ".A", 1)), kiosk.MsgSvcTechInvalid},
	}
	for _, tc := range refused {
		if !r.svc.HandleScan(tc.token) {
			t.Fatalf("%s: the token was left to the citizen flow", tc.name)
		}
		v := r.svc.View(ctx)
		if v.Active || v.Notice != tc.notice {
			t.Errorf("%s: active %v, notice %q; want refused with %q", tc.name, v.Active, v.Notice, tc.notice)
		}
	}
	if !r.events.has("service-refused") {
		t.Error("refused tokens were not reported to the fleet")
	}
	// A citizen's code while the door is open starts nothing and is taken.
	if !r.svc.HandleScan([]byte("https://portal.example/track/QN-2026-ABC")) || r.svc.Active() {
		t.Error("a citizen's code was passed on or entered service mode")
	}
	if err := r.svc.TestPrint(ctx); err == nil {
		t.Error("a test print ran outside service mode")
	}
	r.svc.HandleScan(good)
	v := r.svc.View(ctx)
	if !v.Active || v.TokenID != "tok-1" || v.Office != "QN-01" {
		t.Fatalf("valid token: %+v", v)
	}
	if !r.events.has("service-enter token tok-1") {
		t.Error("entry not reported to the fleet")
	}
	// Replayed after leaving: refused.
	r.svc.Leave()
	r.svc.HandleScan(good)
	if v := r.svc.View(ctx); v.Active || v.Notice != kiosk.MsgSvcTechReplayed {
		t.Errorf("replayed token: active %v notice %q", v.Active, v.Notice)
	}
	if !r.events.has("service-exit token tok-1: technician left") {
		t.Error("exit not reported")
	}
}

func (r *svcRig) enter(t *testing.T) {
	t.Helper()
	r.svc.SetDoor(true)
	r.svc.HandleScan(r.token(t, "QN-01", r.clock.Now(), 10*time.Minute))
	if !r.svc.Active() {
		t.Fatalf("service mode not entered: %+v", r.svc.View(context.Background()))
	}
}

func TestServiceLeavesOnDoorCloseAndTimeout(t *testing.T) {
	r := newSvcRig(t)
	r.enter(t)
	r.svc.SetDoor(false)
	if r.svc.Active() || !r.events.has("service-exit token tok-1: door closed") {
		t.Fatalf("door closed: active %v, events %v", r.svc.Active(), r.events.ev)
	}
	r.enter(t)
	r.clock.Add(4 * time.Minute)
	if err := r.svc.SelfTest(context.Background()); err != nil { // a touch keeps it alive
		t.Fatal(err)
	}
	r.clock.Add(4 * time.Minute)
	r.svc.Tick()
	if !r.svc.Active() {
		t.Fatal("service mode ended 4 minutes after a touch (timeout 5)")
	}
	r.clock.Add(2 * time.Minute)
	r.svc.Tick()
	if r.svc.Active() || !r.events.has("service-exit token tok-2: timeout") {
		t.Fatalf("not left on timeout: events %v", r.events.ev)
	}
}

func TestServiceScreenAndActions(t *testing.T) {
	r := newSvcRig(t)
	ctx := context.Background()
	r.enter(t)
	v := r.svc.View(ctx)
	if len(v.Devices) != 2 || v.Devices[0].Device != "printer" || v.Devices[0].Ack != kiosk.AckPaper || v.Devices[0].Media != device.PaperOut {
		t.Fatalf("devices %+v", v.Devices)
	}
	if v.Counts[outbox.StateNeedsAttention] != 1 || v.Counts[outbox.StateQueued] != 1 || len(v.Attention) != 1 || v.Attention[0].ID != "p1" {
		t.Fatalf("outbox counts %v attention %+v", v.Counts, v.Attention)
	}
	if v.Version != "1.2.3" || v.Catalogue != "cat-7" {
		t.Errorf("versions %q %q", v.Version, v.Catalogue)
	}

	// Test print, then the imager reads its QR back.
	if err := r.svc.TestPrint(ctx); err != nil {
		t.Fatal(err)
	}
	code := <-r.printed
	if !strings.HasPrefix(code, kiosk.TestPrintPrefix) {
		t.Fatalf("test print code %q", code)
	}
	r.svc.HandleScan([]byte(kiosk.TestPrintPrefix + "0000"))
	if r.svc.View(ctx).ReadBack {
		t.Fatal("another test code counted as the read-back")
	}
	r.svc.HandleScan([]byte(code))
	if v := r.svc.View(ctx); !v.ReadBack || v.Notice != kiosk.MsgSvcReadBack || v.PrintJob != "job-1" {
		t.Fatalf("read back: %+v", v)
	}
	if !r.events.has("service-action token tok-1: test print read back") {
		t.Error("read-back not reported")
	}

	// Paper acknowledged while the printer still reports no paper: refused.
	var ue *kiosk.UserError
	if err := r.svc.Acknowledge(ctx, kiosk.AckPaper); !errors.As(err, &ue) || ue.Key != kiosk.MsgSvcStillFault {
		t.Fatalf("ack with paper still out: %v", err)
	}
	r.mu.Lock()
	r.paper, r.jam = device.PaperFull, true
	r.mu.Unlock()
	if err := r.svc.Acknowledge(ctx, kiosk.AckPaper); err != nil {
		t.Fatalf("ack after paper replaced: %v", err)
	}
	// Feeder cleared forgets the scanner's latched jam.
	if err := r.svc.Acknowledge(ctx, kiosk.AckFeeder); err != nil {
		t.Fatalf("feeder cleared: %v", err)
	}
	if r.refresh != 2 || r.svc.View(ctx).Devices[1].Media != device.ScannerReady {
		t.Errorf("refreshes %d after two acknowledgements", r.refresh)
	}

	// Requeue the parked packet; a queued one cannot be.
	if err := r.svc.Requeue(ctx, "p2"); err == nil {
		t.Error("a queued packet was requeued")
	}
	if err := r.svc.Requeue(ctx, "p1"); err != nil {
		t.Fatal(err)
	}
	if v := r.svc.View(ctx); v.Counts[outbox.StateNeedsAttention] != 0 || r.ob.kicked != 1 {
		t.Errorf("after requeue: counts %v kicked %d", v.Counts, r.ob.kicked)
	}

	// Self-test: on screen and at the fleet.
	if err := r.svc.SelfTest(ctx); err != nil {
		t.Fatal(err)
	}
	if v := r.svc.View(ctx); !v.SelfTestOK || !strings.Contains(v.SelfTestReport, "scanner ok") {
		t.Errorf("self-test view %+v", v)
	}
	if !r.events.has("selftest-passed printer ok") {
		t.Errorf("self-test not reported: %v", r.events.ev)
	}
}
