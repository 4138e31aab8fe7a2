// Package fleet is the kiosk's link to the fleet service over MQTT 5
// (fleetwire): presence, events, snapshots and remote commands.
//
// Presence: the kiosk connects over TLS with its device certificate (mutual
// TLS, the CA pinned) as client id = kiosk id, in a persistent session
// (CleanStart false, a session expiry of days), with a retained Last Will
// "offline" on its status topic sent only after WillDelay: a blip shorter
// than that is not an outage. On every connection it publishes a retained
// "online".
//
// Telemetry is queued, not dropped: every event is numbered and written to
// the offline queue in Dir before Event returns (atomic files; bounded, the
// oldest folded into a count), and sent one at a time at QoS 1 in order,
// dropped from the queue only once the broker acknowledged it. The last
// snapshot is kept there too and published (retained) when it says
// something new or SnapshotInterval has passed. Nothing in Dir is personal
// data.
//
// Commands arrive on the cmd topic (QoS 1, kept by the broker while the
// kiosk is offline) and are dispatched to Kiosk; the answer goes to the
// command's response topic with its correlation data. Answers are kept by
// command id, so a repeated command is answered again, not run again.
// A restart command is answered first; then Run returns ErrRestart.
package fleet

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/eclipse/paho.golang/autopaho"
	"github.com/eclipse/paho.golang/paho"
	"github.com/eclipse/paho.golang/paho/session/state"
	storefile "github.com/eclipse/paho.golang/paho/store/file"

	"govkiosk/backend-client/fleetwire"
)

// Kiosk carries out remote commands; the kiosk program implements it.
type Kiosk interface {
	// Requeue sends a packet parked as needing attention again.
	Requeue(ctx context.Context, packetID string) error
	// RefreshCatalogue fetches the procedure catalogue now.
	RefreshCatalogue(ctx context.Context) error
	// SelfTest runs the devices' self-test and returns its report.
	SelfTest(ctx context.Context) (report string, ok bool)
	// Logs returns up to n of the last log lines (never personal data).
	Logs(n int) []string
	// SetOutOfService takes the kiosk out of service with a message for
	// the log, or (false) puts it back.
	SetOutOfService(out bool, message string)
}

// ServicePINs is implemented by a Kiosk that takes one-time service PINs
// (fleetwire.CmdServicePIN); the command is answered "not supported" by
// one that does not.
type ServicePINs interface {
	AddServicePIN(p fleetwire.ServicePIN) error
}

// ErrRestart is Run's answer to a restart command: the program exits with
// the code its service manager restarts it on.
var ErrRestart = errors.New("fleet: restart requested by the fleet")

// Options configure a Client.
type Options struct {
	KioskID string
	Broker  *url.URL    // tls://host:port
	TLS     *tls.Config // device certificate and the pinned CA
	Dir     string      // offline queue and session state (under the data dir)
	Kiosk   Kiosk       // nil: commands are answered "not supported"
	Log     *slog.Logger
	Now     func() time.Time

	WillDelay        time.Duration // default 60s
	SessionExpiry    time.Duration // default 7 days
	KeepAlive        time.Duration // default 120s
	SnapshotInterval time.Duration // unchanged snapshots are sent this often; default 1h
	QueueLimit       int           // events kept while offline; default 1000
	CommandTimeout   time.Duration // bound on one command; default 2 min

	// Dial opens the network connection to the broker (TLS is done on
	// top); nil: a plain TCP dial. Benchmarks count bytes through it.
	Dial func(ctx context.Context, addr string) (net.Conn, error)
}

// Defaults of Options.
const (
	DefaultWillDelay        = 60 * time.Second
	DefaultSessionExpiry    = 7 * 24 * time.Hour
	DefaultKeepAlive        = 120 * time.Second
	DefaultSnapshotInterval = time.Hour
	DefaultQueueLimit       = 1000
)

// Client is the kiosk's fleet link.
type Client struct {
	o   Options
	log *slog.Logger
	q   *queue

	wake        chan struct{}
	restart     chan struct{}
	restartOnce sync.Once
	connected   atomic.Bool
	linkMu      sync.Mutex
	linkSince   time.Time  // when the link last went up or down
	cmdMu       sync.Mutex // one command at a time

	mu     sync.Mutex
	snap   snapshotState
	sentAt time.Time // when the snapshot was last published
	res    resultsState
}

// Open reads the offline queue in o.Dir; Run connects.
func Open(o Options) (*Client, error) {
	if !fleetwire.ValidKioskID(o.KioskID) {
		return nil, fmt.Errorf("fleet: kiosk id %q cannot name MQTT topics", o.KioskID)
	}
	if o.Broker == nil || o.TLS == nil || o.Dir == "" {
		return nil, errors.New("fleet: Broker, TLS and Dir are required")
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.WillDelay <= 0 {
		o.WillDelay = DefaultWillDelay
	}
	if o.SessionExpiry <= 0 {
		o.SessionExpiry = DefaultSessionExpiry
	}
	if o.KeepAlive <= 0 {
		o.KeepAlive = DefaultKeepAlive
	}
	if o.SnapshotInterval <= 0 {
		o.SnapshotInterval = DefaultSnapshotInterval
	}
	if o.QueueLimit <= 0 {
		o.QueueLimit = DefaultQueueLimit
	}
	if o.CommandTimeout <= 0 {
		o.CommandTimeout = 2 * time.Minute
	}
	o.TLS = o.TLS.Clone()
	if o.TLS.ClientSessionCache == nil {
		// Resumed TLS sessions: a reconnect on a metered link does not
		// send the certificates again.
		o.TLS.ClientSessionCache = tls.NewLRUClientSessionCache(4)
	}
	o.TLS.ClientSessionCache = certSessions{next: o.TLS.ClientSessionCache, tc: o.TLS}
	if o.TLS.CurvePreferences == nil {
		// Classic key exchange on this link: a post-quantum hybrid key
		// share costs some 2.3 kB per handshake both ways, nearly half of
		// the link's monthly budget at a reconnect an hour, for telemetry
		// that holds no personal data. The portal link keeps Go's default.
		o.TLS.CurvePreferences = []tls.CurveID{tls.X25519, tls.CurveP256}
	}
	q, err := openQueue(o.Dir, o.QueueLimit, o.Now(), o.Log)
	if err != nil {
		return nil, err
	}
	c := &Client{o: o, log: o.Log, q: q, wake: make(chan struct{}, 1), restart: make(chan struct{})}
	if err := readCBOR(filepath.Join(o.Dir, snapshotFile), &c.snap); err != nil {
		return nil, err
	}
	if err := readCBOR(filepath.Join(o.Dir, resultsFile), &c.res); err != nil {
		return nil, err
	}
	return c, nil
}

// certSessions keeps each TLS session under the client certificate that
// was presented when it was stored. A resumed session carries the identity
// of the certificate it was made with, without a new handshake: after a
// renewal (a GetClientCertificate that now returns another certificate)
// the broker would go on seeing the old one, up to its end or revocation.
// The sessions of an old certificate are never looked up again; the LRU
// cache lets them go.
type certSessions struct {
	next tls.ClientSessionCache
	tc   *tls.Config
}

func (c certSessions) Get(key string) (*tls.ClientSessionState, bool) {
	return c.next.Get(c.certKey() + key)
}

func (c certSessions) Put(key string, cs *tls.ClientSessionState) {
	c.next.Put(c.certKey()+key, cs)
}

// certKey names the certificate the client presents now.
func (c certSessions) certKey() string {
	var leaf []byte
	if c.tc.GetClientCertificate != nil {
		if cert, err := c.tc.GetClientCertificate(&tls.CertificateRequestInfo{}); err == nil && cert != nil && len(cert.Certificate) > 0 {
			leaf = cert.Certificate[0]
		}
	} else if len(c.tc.Certificates) > 0 && len(c.tc.Certificates[0].Certificate) > 0 {
		leaf = c.tc.Certificates[0].Certificate[0]
	}
	sum := sha256.Sum256(leaf)
	return hex.EncodeToString(sum[:8]) + " "
}

func (c *Client) kick() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// Event queues an event (kind e.g. "paper-out", the device it is about, a
// short detail without personal data); it is on disk when Event returns
// and is sent as soon as the link allows.
func (c *Client) Event(kind, device, detail string) error {
	_, err := c.q.add(fleetwire.Event{At: fleetwire.Unix(c.o.Now()), Kind: kind, Device: device, Detail: detail})
	if err == nil {
		c.kick()
	}
	return err
}

// SetSnapshot keeps s as the kiosk's latest health; it is published when it
// says something the last one sent did not, else at the interval.
func (c *Client) SetSnapshot(s fleetwire.Snapshot) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	changed := !c.snap.Have || !fleetwire.SameHealth(c.snap.Snap, s)
	st := snapshotState{Snap: s, Have: true, Sent: c.snap.Sent && !changed}
	if changed { // unchanged drift (time, disk, temperature) is not worth a disk write
		if err := writeCBOR(filepath.Join(c.o.Dir, snapshotFile), st); err != nil {
			return fmt.Errorf("fleet: snapshot not kept: %w", err)
		}
	}
	c.snap = st
	if changed {
		c.kick()
	}
	return nil
}

// Connected reports whether the link to the broker is up.
func (c *Client) Connected() bool { return c.connected.Load() }

func (c *Client) setLink(up bool) {
	c.linkMu.Lock()
	defer c.linkMu.Unlock()
	if c.connected.Load() != up || c.linkSince.IsZero() {
		c.linkSince = c.o.Now()
	}
	c.connected.Store(up)
}

// Link reports whether the link to the broker is up and since when it has
// been up or down (the zero time: it has not been tried yet).
func (c *Client) Link() (up bool, since time.Time) {
	c.linkMu.Lock()
	defer c.linkMu.Unlock()
	return c.connected.Load(), c.linkSince
}

// Queued is how many events wait to be sent.
func (c *Client) Queued() int { return c.q.len() }

// Run keeps the link up and sends what is queued until ctx ends (nil) or
// a restart command was answered (ErrRestart).
func (c *Client) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	sess, err := c.session()
	if err != nil {
		return err
	}
	statusTopic := fleetwire.Topic(c.o.KioskID, fleetwire.KindStatus)
	cmdTopic := fleetwire.Topic(c.o.KioskID, fleetwire.KindCmd)
	willDelay := uint32(c.o.WillDelay / time.Second)
	cfg := autopaho.ClientConfig{
		ServerUrls:                    []*url.URL{c.o.Broker},
		TlsCfg:                        c.o.TLS,
		KeepAlive:                     uint16(c.o.KeepAlive / time.Second),
		CleanStartOnInitialConnection: false,
		SessionExpiryInterval:         uint32(c.o.SessionExpiry / time.Second),
		ConnectTimeout:                30 * time.Second,
		ReconnectBackoff:              autopaho.NewExponentialBackoff(time.Second, 5*time.Minute, 5*time.Second, 2),
		WillMessage:                   &paho.WillMessage{Topic: statusTopic, Payload: []byte(fleetwire.Offline), QoS: 1, Retain: true},
		WillProperties:                &paho.WillProperties{WillDelayInterval: &willDelay},
		OnConnectionUp: func(cm *autopaho.ConnectionManager, ack *paho.Connack) {
			c.setLink(true)
			go c.connectionUp(ctx, cm, ack, statusTopic, cmdTopic)
		},
		DisconnectPacketBuilder: func() *paho.Disconnect { return &paho.Disconnect{ReasonCode: 0x04} },
		OnConnectionDown:        func() bool { c.setLink(false); return true },
		OnConnectError: func(err error) {
			c.log.Warn("fleet: cannot reach the broker", "broker", c.o.Broker.Redacted(), "err", err)
		},
		ClientConfig: paho.ClientConfig{
			ClientID: c.o.KioskID,
			Session:  sess,
			OnPublishReceived: []func(paho.PublishReceived) (bool, error){
				func(pr paho.PublishReceived) (bool, error) {
					if pr.Packet.Topic == cmdTopic {
						c.command(ctx, pr.Client, pr.Packet)
					}
					return true, nil
				},
			},
			OnClientError: func(err error) { c.log.Warn("fleet: link error", "err", err) },
		},
	}
	if c.o.Dial != nil {
		cfg.AttemptConnection = func(ctx context.Context, cfg autopaho.ClientConfig, u *url.URL) (net.Conn, error) {
			raw, err := c.o.Dial(ctx, u.Host)
			if err != nil {
				return nil, err
			}
			tc := cfg.TlsCfg.Clone()
			if tc.ServerName == "" {
				tc.ServerName = u.Hostname()
			}
			conn := tls.Client(raw, tc)
			if err := conn.HandshakeContext(ctx); err != nil {
				raw.Close()
				return nil, err
			}
			return conn, nil
		}
	}
	cm, err := autopaho.NewConnection(ctx, cfg)
	if err != nil {
		return err
	}
	restart := c.send(ctx, cm)
	// A stopped kiosk is offline too: its DISCONNECT (reason 0x04) asks
	// the broker for the Last Will, after its delay, so a restart within
	// the delay is no outage.
	dctx, dcancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer dcancel()
	_ = cm.Disconnect(dctx)
	<-cm.Done()
	if restart {
		return ErrRestart
	}
	return nil
}

// session keeps the MQTT session state (packets in flight) on disk, so a
// restarted kiosk resumes the broker's session where it was.
func (c *Client) session() (*state.State, error) {
	dir := filepath.Join(c.o.Dir, "session")
	cs, err := storefile.New(dir, "client-", ".pkt")
	if err != nil {
		return nil, fmt.Errorf("fleet session: %w", err)
	}
	ss, err := storefile.New(dir, "server-", ".pkt")
	if err != nil {
		return nil, fmt.Errorf("fleet session: %w", err)
	}
	return state.New(cs, ss), nil
}

func (c *Client) connectionUp(ctx context.Context, cm *autopaho.ConnectionManager, ack *paho.Connack, statusTopic, cmdTopic string) {
	pctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if !ack.SessionPresent {
		if _, err := cm.Subscribe(pctx, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: cmdTopic, QoS: 1}}}); err != nil {
			c.log.Warn("fleet: subscribe to commands failed", "err", err)
		}
	}
	if _, err := cm.Publish(pctx, &paho.Publish{Topic: statusTopic, QoS: 1, Retain: true, Payload: []byte(fleetwire.Online)}); err != nil {
		c.log.Warn("fleet: online status not published", "err", err)
	}
	c.log.Info("fleet: connected", "broker", c.o.Broker.Redacted(), "sessionPresent", ack.SessionPresent, "queued", c.q.len())
	c.kick()
}

// send publishes queued events in order, then the snapshot when due, until
// ctx ends; true when it ended for a restart.
func (c *Client) send(ctx context.Context, cm *autopaho.ConnectionManager) bool {
	retry := time.Second
	eventTopic := fleetwire.Topic(c.o.KioskID, fleetwire.KindEvent)
	snapTopic := fleetwire.Topic(c.o.KioskID, fleetwire.KindSnapshot)
	for {
		var wait time.Duration
		if err := cm.AwaitConnection(ctx); err != nil {
			select {
			case <-c.restart:
				return true
			default:
				return false
			}
		}
		err := c.sendOne(ctx, cm, eventTopic, snapTopic)
		switch {
		case errors.Is(err, errNothingDue):
			retry = time.Second
			wait = c.nextSnapshotDue()
		case err != nil:
			c.log.Warn("fleet: send failed; retrying", "err", err, "retry_in", retry)
			wait = retry
			retry = min(retry*2, time.Minute)
		default:
			retry = time.Second
			continue
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
		case <-c.restart:
			t.Stop()
			return true
		case <-c.wake:
			t.Stop()
		case <-t.C:
		}
	}
}

var errNothingDue = errors.New("nothing due")

func (c *Client) nextSnapshotDue() time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.snap.Have {
		return c.o.SnapshotInterval
	}
	return max(c.sentAt.Add(c.o.SnapshotInterval).Sub(c.o.Now()), time.Second)
}

// sendOne publishes the oldest queued event, or else the snapshot if due.
func (c *Client) sendOne(ctx context.Context, cm *autopaho.ConnectionManager, eventTopic, snapTopic string) error {
	pctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if e, ok := c.q.head(); ok {
		b, err := fleetwire.Marshal(e)
		if err != nil {
			return err
		}
		if _, err := cm.Publish(pctx, &paho.Publish{Topic: eventTopic, QoS: 1, Payload: b}); err != nil {
			return fmt.Errorf("event %d: %w", e.Seq, err)
		}
		return c.q.done(e.Seq)
	}
	c.mu.Lock()
	due := c.snap.Have && (!c.snap.Sent || !c.o.Now().Before(c.sentAt.Add(c.o.SnapshotInterval)))
	snap := c.snap.Snap
	c.mu.Unlock()
	if !due {
		return errNothingDue
	}
	b, err := fleetwire.Marshal(snap)
	if err != nil {
		return err
	}
	if _, err := cm.Publish(pctx, &paho.Publish{Topic: snapTopic, QoS: 1, Retain: true, Payload: b}); err != nil {
		return fmt.Errorf("snapshot: %w", err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sentAt = c.o.Now()
	if fleetwire.SameHealth(c.snap.Snap, snap) && !c.snap.Sent {
		c.snap.Sent = true
		if err := writeCBOR(filepath.Join(c.o.Dir, snapshotFile), c.snap); err != nil {
			c.log.Warn("fleet: snapshot state not kept", "err", err)
		}
	}
	return nil
}

// maxResults is how many command answers are kept for repeated ids.
const maxResults = 64

// maxResult bounds one answer's text.
const maxResult = 32 << 10

// command runs one command and answers it; a repeated id gets the kept
// answer.
func (c *Client) command(ctx context.Context, cli *paho.Client, p *paho.Publish) {
	c.cmdMu.Lock()
	defer c.cmdMu.Unlock()
	var cmd fleetwire.Command
	if err := fleetwire.Unmarshal(p.Payload, &cmd); err != nil {
		c.log.Warn("fleet: bad command ignored", "err", err)
		return
	}
	var corr []byte
	replyTopic := fleetwire.Topic(c.o.KioskID, fleetwire.KindReply)
	if p.Properties != nil {
		if len(p.Properties.CorrelationData) > 0 {
			corr = p.Properties.CorrelationData
			cmd.ID = string(corr)
		}
		if p.Properties.ResponseTopic != "" {
			replyTopic = p.Properties.ResponseTopic
		}
	}
	if cmd.ID == "" {
		c.log.Warn("fleet: command without an id ignored", "name", cmd.Name)
		return
	}
	r, seen := c.kept(cmd.ID)
	if !seen {
		cctx, cancel := context.WithTimeout(ctx, c.o.CommandTimeout)
		r = c.run(cctx, cmd)
		cancel()
		if len(r.Result) > maxResult {
			r.Result = r.Result[:maxResult]
		}
		c.keep(r)
		c.log.Info("fleet: command", "id", cmd.ID, "name", cmd.Name, "ok", r.OK)
	}
	b, err := fleetwire.Marshal(r)
	if err != nil {
		return
	}
	pctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if _, err := cli.Publish(pctx, &paho.Publish{Topic: replyTopic, QoS: 1, Payload: b,
		Properties: &paho.PublishProperties{CorrelationData: corr}}); err != nil {
		c.log.Warn("fleet: command answer not sent (the broker sends the command again)", "id", cmd.ID, "err", err)
		return
	}
	if cmd.Name == fleetwire.CmdRestart && r.OK && !seen {
		c.restartOnce.Do(func() { close(c.restart) }) // a second restart command before the exit is answered, not fatal
	}
}

func (c *Client) kept(id string) (fleetwire.Reply, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, r := range c.res.Replies {
		if r.ID == id {
			return r, true
		}
	}
	return fleetwire.Reply{}, false
}

func (c *Client) keep(r fleetwire.Reply) {
	c.mu.Lock()
	defer c.mu.Unlock()
	st := resultsState{Replies: append(append([]fleetwire.Reply(nil), c.res.Replies...), r)}
	if n := len(st.Replies) - maxResults; n > 0 {
		st.Replies = st.Replies[n:]
	}
	if err := writeCBOR(filepath.Join(c.o.Dir, resultsFile), st); err != nil {
		c.log.Warn("fleet: command answer not kept", "err", err)
	}
	c.res = st
}

// run carries out cmd.
func (c *Client) run(ctx context.Context, cmd fleetwire.Command) fleetwire.Reply {
	r := fleetwire.Reply{ID: cmd.ID}
	k := c.o.Kiosk
	if k == nil && cmd.Name != fleetwire.CmdRestart {
		r.Result = "not supported by this kiosk"
		return r
	}
	fail := func(err error) fleetwire.Reply { r.Result = err.Error(); return r }
	switch cmd.Name {
	case fleetwire.CmdRequeue:
		if cmd.Args == "" {
			return fail(errors.New("requeue: no packet id"))
		}
		if err := k.Requeue(ctx, cmd.Args); err != nil {
			return fail(err)
		}
		r.OK, r.Result = true, "requeued "+cmd.Args
	case fleetwire.CmdRefreshCatalogue:
		if err := k.RefreshCatalogue(ctx); err != nil {
			return fail(err)
		}
		r.OK, r.Result = true, "catalogue refreshed"
	case fleetwire.CmdSelfTest:
		r.Result, r.OK = k.SelfTest(ctx)
	case fleetwire.CmdLogs:
		n := 50
		if cmd.Args != "" {
			v, err := strconv.Atoi(cmd.Args)
			if err != nil || v <= 0 {
				return fail(fmt.Errorf("logs: %q is not a count of lines", cmd.Args))
			}
			n = min(v, 500)
		}
		lines := k.Logs(n)
		var b []byte
		for _, l := range lines {
			b = append(append(b, l...), '\n')
		}
		r.OK, r.Result = true, string(b)
	case fleetwire.CmdRestart:
		r.OK, r.Result = true, "restarting"
	case fleetwire.CmdOutOfService:
		k.SetOutOfService(true, cmd.Args)
		r.OK, r.Result = true, "out of service"
	case fleetwire.CmdInService:
		k.SetOutOfService(false, "")
		r.OK, r.Result = true, "in service"
	case fleetwire.CmdServicePIN:
		sp, ok := k.(ServicePINs)
		if !ok {
			r.Result = "service PINs are not supported by this kiosk"
			return r
		}
		p, err := fleetwire.ParseServicePIN(cmd.Args)
		if err != nil {
			return fail(err)
		}
		if err := sp.AddServicePIN(p); err != nil {
			return fail(err)
		}
		r.OK, r.Result = true, "service PIN "+p.ID+" kept until "+p.Expires.Format(time.RFC3339)
	default:
		r.Result = "unknown command " + strconv.Quote(cmd.Name)
	}
	return r
}
