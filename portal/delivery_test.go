package portal_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"govkiosk/backend-client"
	"govkiosk/backend-client/api"
	"govkiosk/kiosk/outbox"
	"govkiosk/portal"
)

// The kiosk's outbox delivering to the reference portal through the real
// client, with one injected clock on both sides.

// client is a kiosk client of the portal at url, as the kiosk configures it.
func (e *env) client(url string) *backendclient.Client {
	c := fastUploads(backendclient.New(url, nil, e.kid, e.key))
	c.SetPortalKey(e.s.PublicKey())
	return c
}

// kioskOutbox opens a kiosk outbox on the env's clock with the kiosk's
// default limits, encrypting to the portal; log receives its records.
func (e *env) kioskOutbox(t *testing.T, log io.Writer) (*outbox.Outbox, string) {
	t.Helper()
	rcpt, err := outbox.ParseRecipient(e.s.AgeRecipient())
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "outbox")
	if log == nil {
		log = io.Discard
	}
	ob, err := outbox.Open(outbox.Options{
		Dir: dir, Recipient: rcpt, Now: e.clk.Now, Limits: outbox.DefaultLimits,
		IsPermanent: backendclient.IsPermanent, MinBackoff: time.Minute, MaxBackoff: time.Hour,
		Log: slog.New(slog.NewTextHandler(log, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ob.Close() })
	return ob, dir
}

// run delivers with s until the test ends.
func run(t *testing.T, ob *outbox.Outbox, s outbox.Sender) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); ob.Run(ctx, s) }()
	t.Cleanup(func() { cancel(); <-done })
}

func enqueue(t *testing.T, ob *outbox.Outbox, p packet) {
	t.Helper()
	op := outbox.Packet{ID: p.m.PacketID, ProvisionalNumber: p.m.ProvisionalNumber, ManifestJSON: p.manifest, Signature: p.sig}
	for _, d := range p.docs {
		op.Docs = append(op.Docs, outbox.Doc{Name: d.Name, Data: d.Data})
	}
	if err := ob.Enqueue(context.Background(), op); err != nil {
		t.Fatal(err)
	}
	ob.Kick()
}

// waitEntry polls the outbox until cond holds for packet id.
func waitEntry(t *testing.T, ob *outbox.Outbox, id string, what string, cond func(outbox.Entry) bool) outbox.Entry {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		e, ok, err := ob.Get(id)
		if err != nil || !ok {
			t.Fatalf("packet %s: %v (found %v)", id, err, ok)
		}
		if cond(e) {
			return e
		}
		if time.Now().After(deadline) {
			t.Fatalf("packet %s never %s: %+v", id, what, e)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// confirmedPacket is packet n, confirmed by An for exactly what it holds.
func (e *env) confirmedPacket(t *testing.T, n int) packet {
	t.Helper()
	p := e.newPacket(t, n, "", nil)
	return withToken(t, e.key, p, e.confirmPacket(t, "tok-an", "049090001234", p))
}

// TestPacketHeld71HoursIsDelivered: an application confirmed, queued, and
// held by the kiosk through a 71-hour outage (inside the outbox's limits,
// so the kiosk kept taking applications and printing receipts) is accepted
// when the portal is back. Before the fix the confirmation token died after
// 24 hours and the packet was refused (403) and parked.
func TestPacketHeld71HoursIsDelivered(t *testing.T) {
	e := newEnv(t, nil)
	var mu sync.Mutex
	down := true
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		d := down
		mu.Unlock()
		if d {
			http.Error(w, "portal unreachable", http.StatusBadGateway)
			return
		}
		e.s.Handler().ServeHTTP(w, r)
	}))
	t.Cleanup(ts.Close)
	ob, _ := e.kioskOutbox(t, nil)
	run(t, ob, e.client(ts.URL))

	p := e.confirmedPacket(t, 1)
	enqueue(t, ob, p)
	waitEntry(t, ob, p.m.PacketID, "tried during the outage", func(en outbox.Entry) bool { return en.Attempts > 0 })

	if portal.ConfirmationTokenTTL < outbox.DefaultLimits.MaxBacklogAge {
		t.Errorf("the portal honours a confirmation for %v, the kiosk holds packets up to %v",
			portal.ConfirmationTokenTTL, outbox.DefaultLimits.MaxBacklogAge)
	}
	e.clk.Add(71 * time.Hour)
	if err := ob.Admit(); err != nil {
		t.Fatalf("after 71 hours the kiosk no longer takes applications (%v): the test is outside the limits", err)
	}
	mu.Lock()
	down = false
	mu.Unlock()
	ob.Kick()
	got := waitEntry(t, ob, p.m.PacketID, "settled", func(en outbox.Entry) bool {
		return en.Delivered() || en.State == outbox.StateNeedsAttention
	})
	if !got.Delivered() || got.Result == nil || got.Result.TrackingNumber == "" {
		t.Fatalf("packet held 71 h: %s (%s), want delivered", got.State, got.LastError)
	}
	if apps := e.apps(t); len(apps) != 1 || apps[0].TrackingNumber != got.Result.TrackingNumber {
		t.Errorf("portal holds %+v, kiosk has %+v", apps, got.Result)
	}

	// The code the citizen types still expires in minutes.
	ch, err := e.kiosk.RequestConfirmation(context.Background(), "tok-an", api.ConfirmationRequest{ProcedureID: "marital-status"})
	if err != nil {
		t.Fatal(err)
	}
	code := e.id.lastCode(t, "049090001234")
	e.clk.Add(5*time.Minute + time.Second)
	res, err := e.kiosk.VerifyConfirmation(context.Background(), "tok-an", api.ConfirmationVerify{ID: ch.ID, Code: code, ReviewDigest: api.ReviewDigest(api.ReviewOf(p.m))})
	if err != nil || res.OK || res.Reason != "expired" {
		t.Errorf("a code typed after 5 minutes: %+v %v", res, err)
	}
}
