// Package hub is the fleet service's own MQTT 5 client: it subscribes to
// every kiosk's status, snapshot, event and reply topics (fleetwire) and
// records presence, snapshots, events and command results in the Store,
// and it is the fleet.Commander that sends remote commands.
//
// It works the same against the embedded broker (fleet/broker) and an
// external one (mosquitto, EMQX): it connects with its own client
// certificate, whose name the broker's ACL gives every fleet topic, in a
// persistent session, so what kiosks publish while the service restarts is
// kept for it by the broker. A message is acknowledged only once it is in
// the store.
//
// Commands: Send records the command (pending) and publishes it at QoS 1 to
// the kiosk's cmd topic with the kiosk's reply topic as response topic, the
// command id as correlation data and a message expiry, so the broker keeps
// it for an offline kiosk until it returns or the command expires. The
// kiosk's reply marks it done or failed; a command unanswered when its
// expiry has passed is marked expired. A repeated id is not sent again.
package hub

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"sync"
	"time"

	"github.com/eclipse/paho.golang/autopaho"
	"github.com/eclipse/paho.golang/paho"

	"govkiosk/backend-client/fleetwire"
	"govkiosk/fleet"
)

// Command states.
const (
	StatePending = "pending"
	StateDone    = "done"
	StateFailed  = "failed"
	StateExpired = "expired"
)

// Options configure a Hub.
type Options struct {
	Broker   *url.URL    // tls://host:port
	TLS      *tls.Config // the service's client certificate and the broker's CA
	ClientID string      // default "fleet-service"
	Store    fleet.Store
	Log      *slog.Logger
	Now      func() time.Time
	// CommandExpiry is how long a command waits for an offline kiosk;
	// default 24h.
	CommandExpiry time.Duration
	// SessionExpiry is how long the broker keeps the service's session
	// while it is away; default 1h.
	SessionExpiry time.Duration
	// KeepAlive is the MQTT keep-alive; default 30s.
	KeepAlive time.Duration
	// Rand is the source of command ids; default crypto/rand.
	Rand interface{ Read([]byte) (int, error) }
}

// Hub records what kiosks send and sends them commands.
type Hub struct {
	o   Options
	log *slog.Logger

	ready     chan struct{} // closed once subscribed the first time
	readyOnce sync.Once

	mu      sync.Mutex
	cm      *autopaho.ConnectionManager
	pending map[string]time.Time // command id → expiry
	notify  chan struct{}        // a pending command was added
}

var _ fleet.Commander = (*Hub)(nil)

// New builds a Hub; Run connects it.
func New(o Options) (*Hub, error) {
	if o.Broker == nil || o.Store == nil || o.TLS == nil {
		return nil, errors.New("hub: Broker, TLS and Store are required")
	}
	if o.ClientID == "" {
		o.ClientID = "fleet-service"
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.CommandExpiry <= 0 {
		o.CommandExpiry = 24 * time.Hour
	}
	if o.SessionExpiry <= 0 {
		o.SessionExpiry = time.Hour
	}
	if o.KeepAlive <= 0 {
		o.KeepAlive = 30 * time.Second
	}
	if o.Rand == nil {
		o.Rand = rand.Reader
	}
	return &Hub{o: o, log: o.Log, ready: make(chan struct{}), pending: map[string]time.Time{}, notify: make(chan struct{}, 1)}, nil
}

// Run connects to the broker and records until ctx ends.
func (h *Hub) Run(ctx context.Context) error {
	subs := []paho.SubscribeOptions{
		{Topic: fleetwire.AllStatus, QoS: 1},
		{Topic: fleetwire.AllSnapshots, QoS: 1},
		{Topic: fleetwire.AllEvents, QoS: 1},
		{Topic: fleetwire.AllReplies, QoS: 1},
	}
	cfg := autopaho.ClientConfig{
		ServerUrls:                    []*url.URL{h.o.Broker},
		TlsCfg:                        h.o.TLS,
		KeepAlive:                     uint16(h.o.KeepAlive / time.Second),
		CleanStartOnInitialConnection: false,
		SessionExpiryInterval:         uint32(h.o.SessionExpiry / time.Second),
		ConnectTimeout:                10 * time.Second,
		ReconnectBackoff:              autopaho.NewExponentialBackoff(500*time.Millisecond, 30*time.Second, 2*time.Second, 2),
		OnConnectionUp: func(cm *autopaho.ConnectionManager, _ *paho.Connack) {
			go func() {
				sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
				defer cancel()
				if _, err := cm.Subscribe(sctx, &paho.Subscribe{Subscriptions: subs}); err != nil {
					h.log.Error("hub: subscribe failed", "err", err)
					return
				}
				h.readyOnce.Do(func() { close(h.ready) })
				h.log.Info("hub: connected and subscribed", "broker", h.o.Broker.Redacted())
			}()
		},
		OnConnectError: func(err error) { h.log.Warn("hub: connect failed", "broker", h.o.Broker.Redacted(), "err", err) },
		ClientConfig: paho.ClientConfig{
			ClientID: h.o.ClientID,
			OnPublishReceived: []func(paho.PublishReceived) (bool, error){
				func(pr paho.PublishReceived) (bool, error) { h.receive(ctx, pr.Packet); return true, nil },
			},
			OnClientError: func(err error) { h.log.Warn("hub: client error", "err", err) },
		},
	}
	cm, err := autopaho.NewConnection(ctx, cfg)
	if err != nil {
		return err
	}
	h.mu.Lock()
	h.cm = cm
	h.mu.Unlock()
	go h.expire(ctx)
	<-ctx.Done()
	dctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = cm.Disconnect(dctx)
	<-cm.Done()
	return nil
}

// Ready waits until the hub is connected and subscribed.
func (h *Hub) Ready(ctx context.Context) error {
	select {
	case <-h.ready:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("hub: not connected to the broker %s: %w", h.o.Broker.Redacted(), ctx.Err())
	}
}

// receive records one message; errors are logged (a bad payload from one
// kiosk must not stop the others).
func (h *Hub) receive(ctx context.Context, p *paho.Publish) {
	id, kind, err := fleetwire.ParseTopic(p.Topic)
	if err != nil {
		h.log.Warn("hub: message on an unknown topic", "topic", p.Topic)
		return
	}
	now := h.o.Now()
	switch kind {
	case fleetwire.KindStatus:
		online := string(p.Payload) == fleetwire.Online
		if !online && string(p.Payload) != fleetwire.Offline {
			h.log.Warn("hub: bad status payload", "kiosk", id, "bytes", len(p.Payload))
			return
		}
		err = h.o.Store.SetPresence(ctx, fleet.Presence{KioskID: id, Online: online, At: now})
	case fleetwire.KindSnapshot:
		var s fleetwire.Snapshot
		if err = fleetwire.Unmarshal(p.Payload, &s); err == nil {
			err = h.o.Store.PutSnapshot(ctx, snapshotOf(id, s))
		}
	case fleetwire.KindEvent:
		var e fleetwire.Event
		if err = fleetwire.Unmarshal(p.Payload, &e); err == nil {
			err = h.o.Store.AddEvent(ctx, fleet.Event{
				KioskID: id, Seq: e.Seq, At: fleetwire.Time(e.At), Kind: e.Kind,
				Device: e.Device, Detail: e.Detail, Summarised: e.Summarised,
			})
		}
	case fleetwire.KindReply:
		err = h.reply(ctx, id, p, now)
	default:
		return // the fleet's own commands echo nowhere: it does not subscribe to cmd
	}
	if err != nil {
		h.log.Warn("hub: message not recorded", "kiosk", id, "kind", kind, "err", err)
	}
}

func snapshotOf(id string, s fleetwire.Snapshot) fleet.Snapshot {
	out := fleet.Snapshot{
		KioskID: id, At: fleetwire.Time(s.At), Seq: s.Seq, Version: s.Version, Catalogue: s.Catalogue,
		Backlog: s.Backlog, NeedsAttention: s.NeedsAttention, DiskFreeBytes: s.DiskFreeMB << 20,
		TemperatureC: float64(s.TemperatureC), CertNotAfter: fleetwire.Time(s.CertNotAfter),
		OutOfService: s.OutOfService, Warnings: s.Warnings, UpdateState: s.UpdateState,
		UpdateFailed: s.UpdateFailed, Sessions: s.Sessions, Ratings: s.Ratings,
		Devices: make([]fleet.DeviceState, 0, len(s.Devices)),
	}
	for _, d := range s.Devices {
		out.Devices = append(out.Devices, fleet.DeviceState{Name: d.Name, State: d.State, Media: d.Media, Action: d.Action})
	}
	return out
}

// reply records a kiosk's answer to one of its own commands.
func (h *Hub) reply(ctx context.Context, kioskID string, p *paho.Publish, now time.Time) error {
	var r fleetwire.Reply
	if err := fleetwire.Unmarshal(p.Payload, &r); err != nil {
		return err
	}
	if p.Properties != nil && len(p.Properties.CorrelationData) > 0 {
		r.ID = string(p.Properties.CorrelationData) // the correlation data names the command
	}
	c, err := h.o.Store.Command(ctx, r.ID)
	if err != nil {
		return fmt.Errorf("reply to an unknown command %q: %w", r.ID, err)
	}
	if c.KioskID != kioskID {
		return fmt.Errorf("reply to command %q of kiosk %s came from %s", r.ID, c.KioskID, kioskID)
	}
	if c.State != StatePending {
		return nil // a repeated reply
	}
	c.AnsweredAt, c.Result, c.State = now, r.Result, StateDone
	if !r.OK {
		c.State = StateFailed
	}
	h.mu.Lock()
	delete(h.pending, c.ID)
	h.mu.Unlock()
	return h.o.Store.PutCommand(ctx, c)
}

// ErrCommand is a command refused before it was sent.
var ErrCommand = errors.New("hub: command refused")

// Send records c and publishes it to its kiosk (see the package doc). An
// empty ID is given a random one; an ID already recorded answers the
// recorded command without sending it again.
func (h *Hub) Send(ctx context.Context, c fleet.Command) (fleet.Command, error) {
	switch {
	case !fleetwire.ValidKioskID(c.KioskID):
		return c, fmt.Errorf("%w: bad kiosk id %q", ErrCommand, c.KioskID)
	case !fleetwire.KnownCommand(c.Name):
		return c, fmt.Errorf("%w: unknown command %q", ErrCommand, c.Name)
	case c.By == "":
		return c, fmt.Errorf("%w: no staff user named (By)", ErrCommand)
	case len(c.Args) > 1024:
		return c, fmt.Errorf("%w: arguments too long", ErrCommand)
	}
	if c.ID == "" {
		b := make([]byte, 16)
		if _, err := h.o.Rand.Read(b); err != nil {
			return c, err
		}
		c.ID = hex.EncodeToString(b)
	} else if old, err := h.o.Store.Command(ctx, c.ID); err == nil {
		return old, nil
	}
	h.mu.Lock()
	cm := h.cm
	h.mu.Unlock()
	if cm == nil {
		return c, fmt.Errorf("hub: not running")
	}
	now := h.o.Now()
	c.SentAt, c.State, c.AnsweredAt, c.Result = now, StatePending, time.Time{}, ""
	if err := h.o.Store.PutCommand(ctx, c); err != nil {
		return c, err
	}
	payload, err := fleetwire.Marshal(fleetwire.Command{ID: c.ID, Name: c.Name, Args: c.Args})
	if err != nil {
		return c, err
	}
	expiry := uint32(h.o.CommandExpiry / time.Second)
	h.mu.Lock()
	h.pending[c.ID] = now.Add(h.o.CommandExpiry)
	h.mu.Unlock()
	select {
	case h.notify <- struct{}{}:
	default:
	}
	if err = cm.AwaitConnection(ctx); err == nil {
		_, err = cm.Publish(ctx, &paho.Publish{
			Topic: fleetwire.Topic(c.KioskID, fleetwire.KindCmd), QoS: 1, Payload: payload,
			Properties: &paho.PublishProperties{
				ResponseTopic:   fleetwire.Topic(c.KioskID, fleetwire.KindReply),
				CorrelationData: []byte(c.ID),
				MessageExpiry:   &expiry,
			},
		})
	}
	if err != nil {
		h.mu.Lock()
		delete(h.pending, c.ID)
		h.mu.Unlock()
		c.State, c.Result, c.AnsweredAt = StateFailed, "not sent: the broker did not take it", h.o.Now()
		if perr := h.o.Store.PutCommand(context.WithoutCancel(ctx), c); perr != nil {
			h.log.Error("hub: command outcome not recorded", "id", c.ID, "err", perr)
		}
		return c, fmt.Errorf("hub: send %s to %s: %w", c.Name, c.KioskID, err)
	}
	h.log.Info("hub: command sent", "id", c.ID, "kiosk", c.KioskID, "name", c.Name, "by", c.By)
	// The reply may have come already; answer what the store holds.
	if got, err := h.o.Store.Command(ctx, c.ID); err == nil {
		return got, nil
	}
	return c, nil
}

// expire marks commands expired once their message expiry has passed
// without an answer.
func (h *Hub) expire(ctx context.Context) {
	for {
		h.mu.Lock()
		var next time.Time
		for _, at := range h.pending {
			if next.IsZero() || at.Before(next) {
				next = at
			}
		}
		h.mu.Unlock()
		wait := time.Hour
		if !next.IsZero() {
			wait = max(next.Sub(h.o.Now()), 0) + 500*time.Millisecond
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-h.notify:
			t.Stop()
			continue
		case <-t.C:
		}
		now := h.o.Now()
		var due []string
		h.mu.Lock()
		for id, at := range h.pending {
			if !now.Before(at) {
				due = append(due, id)
				delete(h.pending, id)
			}
		}
		h.mu.Unlock()
		for _, id := range due {
			c, err := h.o.Store.Command(ctx, id)
			if err != nil || c.State != StatePending {
				continue
			}
			c.State, c.AnsweredAt, c.Result = StateExpired, now, "the kiosk did not answer before the command expired"
			if err := h.o.Store.PutCommand(ctx, c); err != nil {
				h.log.Error("hub: expiry not recorded", "id", id, "err", err)
			}
		}
	}
}
