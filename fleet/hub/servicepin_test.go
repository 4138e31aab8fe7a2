package hub_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"govkiosk/backend-client/fleetwire"
	"govkiosk/fleet"
	"govkiosk/fleet/fleettest"
	"govkiosk/fleet/hub"
	"govkiosk/kiosk"
	"govkiosk/provisioning"
)

// pinKiosk is a kiosk whose service mode takes PINs from the fleet.
type pinKiosk struct {
	fakeKiosk
	svc *kiosk.Service
}

func (k *pinKiosk) AddServicePIN(p fleetwire.ServicePIN) error { return k.svc.AddServicePIN(p) }

type safeBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *safeBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *safeBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// TestServicePINReachesTheKiosk: a service PIN command sent by the hub
// reaches the kiosk's fleet client through the broker, is recorded as
// answered by the staff id that gave it, and the PIN then opens the
// kiosk's service mode once; neither side's log holds the PIN. The fleet
// client reports its link up since it connected.
func TestServicePINReachesTheKiosk(t *testing.T) {
	forEachBroker(t, func(t *testing.T, b *fleettest.Broker) {
		h, st := startHub(t, b, time.Hour)
		logs := &safeBuffer{}
		log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
		pub, _, _ := ed25519.GenerateKey(rand.Reader)
		ver, err := provisioning.NewTechVerifier(pub, "QN-01", filepath.Join(t.TempDir(), "used.json"), time.Now)
		if err != nil {
			t.Fatal(err)
		}
		svc, err := kiosk.NewService(kiosk.ServiceDeps{Log: log, Verifier: ver})
		if err != nil {
			t.Fatal(err)
		}
		before := time.Now()
		k := startKiosk(t, b, b.URL, "k-pin", t.TempDir(), &pinKiosk{svc: svc}, 0)
		fleettest.WaitFor(t, 15*time.Second, "the kiosk online", online(st, "k-pin"))
		if up, since := k.c.Link(); !up || since.Before(before) {
			t.Errorf("the fleet client says link up %v since %v, want up since after %v", up, since, before)
		}

		pin, sp, err := fleetwire.NewServicePIN(rand.Reader, "T-0042", time.Now(), 10*time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		sent, err := h.Send(ctx, fleet.Command{KioskID: "k-pin", Name: fleetwire.CmdServicePIN, Args: sp.Encode(), By: "T-0042"})
		if err != nil {
			t.Fatal(err)
		}
		fleettest.WaitFor(t, 15*time.Second, "the service PIN command answered", func() bool {
			c, _ := st.Command(ctx, sent.ID)
			return c.State != hub.StatePending
		})
		c, _ := st.Command(ctx, sent.ID)
		if c.State != hub.StateDone || !strings.Contains(c.Result, sp.ID) || c.By != "T-0042" {
			t.Fatalf("the service PIN command: %+v", c)
		}

		svc.SetDoor(true)
		enter := func(p string) error {
			for _, d := range p {
				svc.TypePIN(func(s string) string { return s + string(d) })
			}
			return svc.EnterPIN()
		}
		if err := enter(pin); err != nil || !svc.Active() {
			t.Fatalf("the PIN from the fleet: %v, active %v", err, svc.Active())
		}
		svc.Leave()
		if err := enter(pin); err == nil || svc.Active() {
			t.Fatalf("the PIN a second time: %v, active %v", err, svc.Active())
		}
		if strings.Contains(logs.String(), pin) {
			t.Fatalf("the kiosk's log holds the PIN:\n%s", logs)
		}

		// A PIN command a kiosk cannot parse is failed, with the reason.
		bad, err := h.Send(ctx, fleet.Command{KioskID: "k-pin", Name: fleetwire.CmdServicePIN, Args: strings.Replace(sp.Encode(), "m=19456", "m=9999999", 1), By: "T-0042"})
		if err != nil {
			t.Fatal(err)
		}
		fleettest.WaitFor(t, 15*time.Second, "the bad PIN command failed", func() bool {
			c, _ := st.Command(ctx, bad.ID)
			return c.State == hub.StateFailed && strings.Contains(c.Result, "cost m")
		})
	})
}
