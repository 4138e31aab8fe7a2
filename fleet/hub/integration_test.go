package hub_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/autopaho"
	"github.com/eclipse/paho.golang/paho"

	kioskfleet "govkiosk/backend-client/fleet"
	"govkiosk/backend-client/fleetwire"
	"govkiosk/fleet"
	"govkiosk/fleet/fleettest"
	"govkiosk/fleet/hub"
	"govkiosk/fleet/memstore"
)

// Every integration test runs against the embedded broker and Debian's
// mosquitto with the shipped configuration.
func forEachBroker(t *testing.T, f func(t *testing.T, b *fleettest.Broker)) {
	t.Parallel()
	for _, kind := range fleettest.Kinds {
		t.Run(string(kind), func(t *testing.T) {
			t.Parallel()
			f(t, fleettest.Start(t, kind))
		})
	}
}

// recorder is a Store that also notes the order events arrived in.
type recorder struct {
	*memstore.Store
	mu    sync.Mutex
	order []string
}

func (r *recorder) AddEvent(ctx context.Context, e fleet.Event) error {
	r.mu.Lock()
	r.order = append(r.order, fmt.Sprintf("%s#%d", e.KioskID, e.Seq))
	r.mu.Unlock()
	return r.Store.AddEvent(ctx, e)
}

func (r *recorder) arrivals() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.order...)
}

func testLog(t *testing.T) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug})).With("test", t.Name())
	}
	return slog.New(slog.DiscardHandler)
}

// startHub runs the fleet service's client until the test ends.
func startHub(t *testing.T, b *fleettest.Broker, expiry time.Duration) (*hub.Hub, *recorder) {
	st := &recorder{Store: memstore.New()}
	h, err := hub.New(hub.Options{Broker: b.URL, TLS: b.ClientTLS(t, fleettest.ServiceName), Store: st, Log: testLog(t), CommandExpiry: expiry, KeepAlive: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	rctx, rcancel := context.WithTimeout(ctx, 10*time.Second)
	defer rcancel()
	if err := h.Ready(rctx); err != nil {
		t.Fatal(err)
	}
	return h, st
}

// fakeKiosk records the commands it carried out.
type fakeKiosk struct {
	mu    sync.Mutex
	calls []string
}

func (k *fakeKiosk) note(s string) { k.mu.Lock(); k.calls = append(k.calls, s); k.mu.Unlock() }
func (k *fakeKiosk) Calls() []string {
	k.mu.Lock()
	defer k.mu.Unlock()
	return append([]string(nil), k.calls...)
}
func (k *fakeKiosk) Requeue(_ context.Context, id string) error {
	k.note("requeue " + id)
	if id == "missing" {
		return errors.New("no packet missing needs attention")
	}
	return nil
}
func (k *fakeKiosk) RefreshCatalogue(context.Context) error { k.note("refresh"); return nil }
func (k *fakeKiosk) SelfTest(context.Context) (string, bool) {
	k.note("selftest")
	return "printer ok\nscanner ok", true
}
func (k *fakeKiosk) Logs(n int) []string {
	k.note(fmt.Sprint("logs ", n))
	return []string{"line one", "line two"}
}
func (k *fakeKiosk) SetOutOfService(out bool, msg string) {
	k.note(fmt.Sprint("out-of-service ", out, " ", msg))
}

// kioskRun is one run of a kiosk's fleet client.
type kioskRun struct {
	c      *kioskfleet.Client
	cancel context.CancelFunc
	done   chan struct{} // closed when Run returned err
	err    error
}

func (r *kioskRun) stop(t *testing.T) {
	r.cancel()
	select {
	case <-r.done:
		if r.err != nil {
			t.Errorf("kiosk Run: %v", r.err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("kiosk Run did not stop within 10s")
	}
}

func startKiosk(t *testing.T, b *fleettest.Broker, broker *url.URL, id, dir string, k kioskfleet.Kiosk, willDelay time.Duration) *kioskRun {
	c, err := kioskfleet.Open(kioskfleet.Options{
		KioskID: id, Broker: broker, TLS: b.ClientTLS(t, id), Dir: dir, Kiosk: k, Log: testLog(t).With("kiosk", id),
		WillDelay: willDelay, KeepAlive: 5 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &kioskRun{c: c, cancel: cancel, done: make(chan struct{})}
	go func() { r.err = c.Run(ctx); close(r.done) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-r.done:
		case <-time.After(10 * time.Second):
		}
	})
	return r
}

func online(st fleet.Store, id string) func() bool {
	return func() bool { v, err := st.Kiosk(context.Background(), id); return err == nil && v.Online }
}

func TestPresenceLastWill(t *testing.T) {
	forEachBroker(t, func(t *testing.T, b *fleettest.Broker) {
		_, st := startHub(t, b, time.Hour)
		proxy := fleettest.NewProxy(t, b.URL.Host)
		const willDelay = 3 * time.Second
		startKiosk(t, b, proxy.URL(), "k-presence", t.TempDir(), nil, willDelay)
		fleettest.WaitFor(t, 15*time.Second, "the kiosk shown online", online(st, "k-presence"))

		proxy.Cut() // the kiosk's link dies abruptly
		cut := time.Now()
		time.Sleep(willDelay - time.Second)
		if !online(st, "k-presence")() {
			t.Fatalf("offline %v after the cut, before the will delay of %v", time.Since(cut), willDelay)
		}
		fleettest.WaitFor(t, willDelay+5*time.Second, "the kiosk shown offline after the will delay", func() bool { return !online(st, "k-presence")() })
		if took := time.Since(cut); took < willDelay-time.Second {
			t.Errorf("offline %v after the cut, before the will delay of %v", took, willDelay)
		}
		proxy.Restore()
		// The kiosk's reconnect backoff grew while the link was cut (5 s,
		// doubling): its next try may be 20 s away on a loaded machine.
		fleettest.WaitFor(t, 60*time.Second, "the kiosk shown online again once the link is back", online(st, "k-presence"))
	})
}

func TestEventAndSnapshotRecorded(t *testing.T) {
	forEachBroker(t, func(t *testing.T, b *fleettest.Broker) {
		_, st := startHub(t, b, time.Hour)
		k := startKiosk(t, b, b.URL, "k-events", t.TempDir(), nil, 0)
		if err := k.c.Event("paper-out", "printer", "sensor"); err != nil {
			t.Fatal(err)
		}
		snap := fleetwire.Snapshot{At: time.Now().Unix(), Version: "1.2.3", Backlog: 4,
			Devices: []fleetwire.Device{{Name: "printer", State: "userError", Media: "out", Action: "clear"}}, Warnings: []string{"printer-paper-out"}}
		if err := k.c.SetSnapshot(snap); err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		fleettest.WaitFor(t, 15*time.Second, "the paper-out event in the store", func() bool {
			ev, _ := st.Events(ctx, "k-events", time.Time{}, 0)
			return len(ev) == 1 && ev[0].Kind == "paper-out" && ev[0].Device == "printer" && ev[0].Seq > 0
		})
		fleettest.WaitFor(t, 15*time.Second, "the snapshot in the store", func() bool {
			v, _ := st.Kiosk(ctx, "k-events")
			return v.Snapshot != nil && v.Snapshot.Version == "1.2.3" && v.Snapshot.Backlog == 4 &&
				len(v.Snapshot.Devices) == 1 && v.Snapshot.Devices[0].Media == "out"
		})
		if k.c.Queued() != 0 {
			t.Errorf("%d events still queued after delivery", k.c.Queued())
		}
	})
}

func TestCommandAnswered(t *testing.T) {
	forEachBroker(t, func(t *testing.T, b *fleettest.Broker) {
		h, st := startHub(t, b, time.Hour)
		fk := &fakeKiosk{}
		startKiosk(t, b, b.URL, "k-cmd", t.TempDir(), fk, 0)
		fleettest.WaitFor(t, 15*time.Second, "the kiosk online", online(st, "k-cmd"))
		ctx := context.Background()
		sent, err := h.Send(ctx, fleet.Command{KioskID: "k-cmd", Name: fleetwire.CmdLogs, Args: "20", By: "staff-anna"})
		if err != nil {
			t.Fatal(err)
		}
		fleettest.WaitFor(t, 15*time.Second, "the logs command answered", func() bool {
			c, _ := st.Command(ctx, sent.ID)
			return c.State == hub.StateDone
		})
		c, _ := st.Command(ctx, sent.ID)
		if c.Result != "line one\nline two\n" || c.By != "staff-anna" || c.AnsweredAt.IsZero() {
			t.Errorf("answered command = %+v", c)
		}
		// A failing command is recorded as failed, with the kiosk's reason.
		bad, err := h.Send(ctx, fleet.Command{KioskID: "k-cmd", Name: fleetwire.CmdRequeue, Args: "missing", By: "staff-anna"})
		if err != nil {
			t.Fatal(err)
		}
		fleettest.WaitFor(t, 15*time.Second, "the requeue command answered", func() bool {
			c, _ := st.Command(ctx, bad.ID)
			return c.State == hub.StateFailed && strings.Contains(c.Result, "no packet")
		})
		// The same id again is not sent again.
		again, err := h.Send(ctx, fleet.Command{ID: sent.ID, KioskID: "k-cmd", Name: fleetwire.CmdLogs, By: "staff-anna"})
		if err != nil || again.State != hub.StateDone {
			t.Errorf("repeated id: %+v, %v", again, err)
		}
		if _, err := h.Send(ctx, fleet.Command{KioskID: "k-cmd", Name: "format-disk", By: "staff-anna"}); !errors.Is(err, hub.ErrCommand) {
			t.Errorf("unknown command: %v, want ErrCommand", err)
		}
		if _, err := h.Send(ctx, fleet.Command{KioskID: "k-cmd", Name: fleetwire.CmdSelfTest}); !errors.Is(err, hub.ErrCommand) {
			t.Errorf("command without a staff user: %v, want ErrCommand", err)
		}
		if got := fk.Calls(); len(got) != 2 || got[0] != "logs 20" || got[1] != "requeue missing" {
			t.Errorf("kiosk carried out %q, want logs 20 then requeue missing, once each", got)
		}
	})
}

// A kiosk answers a repeated command id with the answer it kept, without
// running it again, even across a restart.
func TestKioskCommandIdempotent(t *testing.T) {
	forEachBroker(t, func(t *testing.T, b *fleettest.Broker) {
		fk := &fakeKiosk{}
		dir := t.TempDir()
		k := startKiosk(t, b, b.URL, "k-idem", dir, fk, 0)
		fleettest.WaitFor(t, 15*time.Second, "the kiosk connected", k.c.Connected)
		ctx := context.Background()
		// The same command published twice, as a broker redelivery would.
		replies := make(chan string, 4)
		cm := rawClient(t, b, fleettest.ServiceName, fleettest.ServiceName, func(p *paho.Publish) {
			if p.Topic == fleetwire.Topic("k-idem", fleetwire.KindReply) && p.Properties != nil {
				replies <- string(p.Properties.CorrelationData)
			}
		})
		if _, err := cm.Subscribe(ctx, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: fleetwire.Topic("k-idem", fleetwire.KindReply), QoS: 1}}}); err != nil {
			t.Fatal(err)
		}
		payload, _ := fleetwire.Marshal(fleetwire.Command{ID: "c-1", Name: fleetwire.CmdOutOfService, Args: "maintenance visit"})
		publish := func() {
			if _, err := cm.Publish(ctx, &paho.Publish{Topic: fleetwire.Topic("k-idem", fleetwire.KindCmd), QoS: 1, Payload: payload,
				Properties: &paho.PublishProperties{ResponseTopic: fleetwire.Topic("k-idem", fleetwire.KindReply), CorrelationData: []byte("c-1")}}); err != nil {
				t.Fatal(err)
			}
			select {
			case id := <-replies:
				if id != "c-1" {
					t.Fatalf("reply correlation %q, want c-1", id)
				}
			case <-time.After(15 * time.Second):
				t.Fatal("no reply within 15s")
			}
		}
		publish()
		publish()
		k.stop(t)
		startKiosk(t, b, b.URL, "k-idem", dir, fk, 0)
		publish()
		if got := fk.Calls(); len(got) != 1 || got[0] != "out-of-service true maintenance visit" {
			t.Errorf("kiosk carried out %q, want one out-of-service", got)
		}
	})
}

func TestTelemetryQueuedAcrossCut(t *testing.T) {
	forEachBroker(t, func(t *testing.T, b *fleettest.Broker) {
		_, st := startHub(t, b, time.Hour)
		proxy := fleettest.NewProxy(t, b.URL.Host)
		dir := t.TempDir()
		k := startKiosk(t, b, proxy.URL(), "k-cut", dir, nil, time.Minute)
		fleettest.WaitFor(t, 15*time.Second, "the kiosk online", online(st, "k-cut"))
		proxy.Cut()
		fleettest.WaitFor(t, 15*time.Second, "the kiosk to see its link down", func() bool { return !k.c.Connected() })
		kinds := []string{"door-open", "paper-low", "paper-out", "scanner-jam", "door-closed"}
		for _, kind := range kinds[:3] {
			if err := k.c.Event(kind, "", ""); err != nil {
				t.Fatal(err)
			}
		}
		// The kiosk restarts while the link is down: the queue is on disk.
		k.stop(t)
		k = startKiosk(t, b, proxy.URL(), "k-cut", dir, nil, time.Minute)
		for _, kind := range kinds[3:] {
			if err := k.c.Event(kind, "", ""); err != nil {
				t.Fatal(err)
			}
		}
		if n := k.c.Queued(); n != 5 {
			t.Fatalf("%d events queued across the cut and the restart, want 5", n)
		}
		time.Sleep(500 * time.Millisecond)
		if ev, _ := st.Events(context.Background(), "k-cut", time.Time{}, 0); len(ev) != 0 {
			t.Fatalf("events arrived through a cut link: %+v", ev)
		}
		proxy.Restore()
		fleettest.WaitFor(t, 30*time.Second, "5 events delivered after the link returned", func() bool {
			ev, _ := st.Events(context.Background(), "k-cut", time.Time{}, 0)
			return len(ev) == 5
		})
		ev, _ := st.Events(context.Background(), "k-cut", time.Time{}, 0)
		var want []string
		for i, e := range ev {
			if e.Kind != kinds[i] || (i > 0 && e.Seq != ev[i-1].Seq+1) {
				t.Errorf("event %d = seq %d %q, want %q numbered after seq %d", i, e.Seq, e.Kind, kinds[i], ev[max(i-1, 0)].Seq)
			}
			want = append(want, fmt.Sprintf("k-cut#%d", e.Seq))
		}
		if got := strings.Join(st.arrivals(), " "); got != strings.Join(want, " ") {
			t.Errorf("arrival order %q, want %q", got, strings.Join(want, " "))
		}
	})
}

func TestCommandDeliveredWhenKioskReturns(t *testing.T) {
	forEachBroker(t, func(t *testing.T, b *fleettest.Broker) {
		h, st := startHub(t, b, time.Hour)
		fk := &fakeKiosk{}
		dir := t.TempDir()
		k := startKiosk(t, b, b.URL, "k-away", dir, fk, time.Second)
		fleettest.WaitFor(t, 15*time.Second, "the kiosk online", online(st, "k-away"))
		k.stop(t)
		fleettest.WaitFor(t, 15*time.Second, "the stopped kiosk shown offline", func() bool { return !online(st, "k-away")() })
		ctx := context.Background()
		sent, err := h.Send(ctx, fleet.Command{KioskID: "k-away", Name: fleetwire.CmdSelfTest, By: "staff-binh"})
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(500 * time.Millisecond)
		if c, _ := st.Command(ctx, sent.ID); c.State != hub.StatePending {
			t.Fatalf("command to an offline kiosk is %q, want pending", c.State)
		}
		startKiosk(t, b, b.URL, "k-away", dir, fk, time.Second)
		fleettest.WaitFor(t, 15*time.Second, "the self-test answered after the kiosk returned", func() bool {
			c, _ := st.Command(ctx, sent.ID)
			return c.State == hub.StateDone && strings.Contains(c.Result, "scanner ok")
		})
	})
}

func TestCommandExpires(t *testing.T) {
	t.Parallel()
	b := fleettest.Start(t, fleettest.Embedded)
	h, st := startHub(t, b, 2*time.Second)
	ctx := context.Background()
	sent, err := h.Send(ctx, fleet.Command{KioskID: "k-never", Name: fleetwire.CmdRestart, By: "staff-chi"})
	if err != nil {
		t.Fatal(err)
	}
	fleettest.WaitFor(t, 10*time.Second, "the unanswered command marked expired", func() bool {
		c, _ := st.Command(ctx, sent.ID)
		return c.State == hub.StateExpired
	})
}

func TestRestartCommandEndsRun(t *testing.T) {
	t.Parallel()
	b := fleettest.Start(t, fleettest.Embedded)
	h, st := startHub(t, b, time.Hour)
	k := startKiosk(t, b, b.URL, "k-restart", t.TempDir(), &fakeKiosk{}, 0)
	fleettest.WaitFor(t, 15*time.Second, "the kiosk online", online(st, "k-restart"))
	sent, err := h.Send(context.Background(), fleet.Command{KioskID: "k-restart", Name: fleetwire.CmdRestart, By: "staff-chi"})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-k.done:
		if !errors.Is(k.err, kioskfleet.ErrRestart) {
			t.Fatalf("Run = %v, want ErrRestart", k.err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("Run did not end within 15s of the restart command")
	}
	fleettest.WaitFor(t, 10*time.Second, "the restart command's answer, sent before the exit, recorded", func() bool {
		c, _ := st.Command(context.Background(), sent.ID)
		return c.State == hub.StateDone && c.Result == "restarting"
	})
}

// rawClient is a bare MQTT 5 client with a certificate named cn.
func rawClient(t *testing.T, b *fleettest.Broker, cn, clientID string, recv func(*paho.Publish)) *autopaho.ConnectionManager {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cm, err := autopaho.NewConnection(ctx, autopaho.ClientConfig{
		ServerUrls: []*url.URL{b.URL}, TlsCfg: b.ClientTLS(t, cn), KeepAlive: 10, CleanStartOnInitialConnection: true,
		ClientConfig: paho.ClientConfig{ClientID: clientID, OnPublishReceived: []func(paho.PublishReceived) (bool, error){
			func(pr paho.PublishReceived) (bool, error) {
				if recv != nil {
					recv(pr.Packet)
				}
				return true, nil
			}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); <-cm.Done() })
	actx, acancel := context.WithTimeout(ctx, 10*time.Second)
	defer acancel()
	if err := cm.AwaitConnection(actx); err != nil {
		t.Fatalf("%s did not connect to %s: %v", cn, b.Name, err)
	}
	return cm
}

func TestACLKioskKeepsToItsOwnTopics(t *testing.T) {
	forEachBroker(t, func(t *testing.T, b *fleettest.Broker) {
		h, st := startHub(t, b, time.Hour)
		var got sync.Map
		cm := rawClient(t, b, "k-a", "k-a", func(p *paho.Publish) { got.Store(p.Topic, true) })
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		ev, _ := fleetwire.Marshal(fleetwire.Event{Seq: 1, At: time.Now().Unix(), Kind: "door-open"})
		// Kiosk A publishing as kiosk B is refused at QoS 1 …
		if _, err := cm.Publish(ctx, &paho.Publish{Topic: fleetwire.Topic("k-b", fleetwire.KindEvent), QoS: 1, Payload: ev}); err == nil {
			t.Error("kiosk k-a published on k-b's event topic")
		}
		// … and so is its reading B's commands.
		// (the embedded broker refuses the subscription; mosquitto grants
		// it and delivers nothing the ACL forbids).
		for _, filter := range []string{fleetwire.Topic("k-b", fleetwire.KindCmd), fleetwire.AllEvents} {
			sa, err := cm.Subscribe(ctx, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: filter, QoS: 1}}})
			if b.Name == string(fleettest.Embedded) && err == nil && len(sa.Reasons) == 1 && sa.Reasons[0] < 0x80 {
				t.Errorf("kiosk k-a subscribed to %s: %v", filter, sa.Reasons)
			}
		}
		if _, err := h.Send(ctx, fleet.Command{KioskID: "k-b", Name: fleetwire.CmdRestart, By: "staff-dung"}); err != nil {
			t.Fatal(err)
		}
		other := rawClient(t, b, "k-c", "k-c", nil)
		if _, err := other.Publish(ctx, &paho.Publish{Topic: fleetwire.Topic("k-c", fleetwire.KindEvent), QoS: 1, Payload: ev}); err != nil {
			t.Fatal(err)
		}
		fleettest.WaitFor(t, 10*time.Second, "k-c's event in the store", func() bool {
			e, _ := st.Events(context.Background(), "k-c", time.Time{}, 0)
			return len(e) == 1
		})
		time.Sleep(200 * time.Millisecond)
		got.Range(func(topic, _ any) bool { t.Errorf("kiosk k-a received %s", topic); return true })
		// Its own topics work.
		if _, err := cm.Publish(ctx, &paho.Publish{Topic: fleetwire.Topic("k-a", fleetwire.KindEvent), QoS: 1, Payload: ev}); err != nil {
			t.Fatalf("kiosk k-a publishing its own event: %v", err)
		}
		fleettest.WaitFor(t, 10*time.Second, "k-a's own event in the store", func() bool {
			e, _ := st.Events(context.Background(), "k-a", time.Time{}, 0)
			return len(e) == 1
		})
		if e, _ := st.Events(context.Background(), "k-b", time.Time{}, 0); len(e) != 0 {
			t.Errorf("the store holds events forged for k-b: %+v", e)
		}
	})
}

// A command the broker does not take (the service cannot reach it in time)
// is recorded as failed, not left pending.
func TestCommandNotSentIsFailed(t *testing.T) {
	t.Parallel()
	b := fleettest.Start(t, fleettest.Embedded)
	proxy := fleettest.NewProxy(t, b.URL.Host)
	st := memstore.New()
	h, err := hub.New(hub.Options{Broker: proxy.URL(), TLS: b.ClientTLS(t, fleettest.ServiceName), Store: st, Log: testLog(t)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	rctx, rcancel := context.WithTimeout(ctx, 10*time.Second)
	defer rcancel()
	if err := h.Ready(rctx); err != nil {
		t.Fatal(err)
	}
	proxy.Cut()
	sctx, scancel := context.WithTimeout(ctx, time.Second)
	defer scancel()
	c, err := h.Send(sctx, fleet.Command{KioskID: "k-x", Name: fleetwire.CmdSelfTest, By: "staff-em"})
	if err == nil {
		t.Fatal("Send through a cut link succeeded")
	}
	if got, _ := st.Command(ctx, c.ID); got.State != hub.StateFailed {
		t.Errorf("command not sent is %q, want failed", got.State)
	}
}
