// Package broker is the fleet's embedded MQTT 5 broker (mochi-mqtt), for
// the demo and single-machine set-ups; production runs mosquitto or a
// clustered broker with the same rules (fleet/mosquitto).
//
// Every client connects over TLS with a client certificate of the fleet's
// CA, and its identity is the certificate's common name: a kiosk (whose
// client id must be that name) may publish and subscribe only under
// govkiosk/v1/kiosk/{its id}/, its Last Will included; the fleet service's
// own identities (Options.Services) may use every fleet topic.
//
// With Options.Revoked (the enrollment CA's revocation list, fleet/crl), a
// kiosk whose certificate is revoked is refused at CONNECT (CONNACK 0x8A
// banned), and DisconnectRevoked drops the connected kiosks a new list
// names (DISCONNECT 0x87 not authorized).
package broker

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync/atomic"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/listeners"
	"github.com/mochi-mqtt/server/v2/packets"

	"govkiosk/backend-client/fleetwire"
)

// Options configure a Broker.
type Options struct {
	// Listen is the TLS listener's address, e.g. "0.0.0.0:8883".
	Listen string
	// TLS is the server side: Certificates, and ClientCAs the CA that
	// issued the kiosks' device certificates. Client certificates are
	// always required and verified.
	TLS *tls.Config
	// Services are the common names with access to every fleet topic
	// (the fleet service's own client), used when ServiceCA is nil.
	Services []string
	// ServiceCA, when set, is the CA of the fleet service's own clients:
	// a client whose certificate it issued has every fleet topic, whatever
	// its name, and no certificate of another CA does. It must also be
	// in TLS.ClientCAs.
	ServiceCA *x509.Certificate
	// Revoked, when set, says whether a kiosk's certificate is revoked
	// (fleet/crl's List): such a kiosk is refused.
	Revoked Revocations
	// OnKioskConnect, when set, is called (in the connection's goroutine,
	// no lock held) for every kiosk let in, with its verified certificate.
	OnKioskConnect func(kioskID string, cert *x509.Certificate)
	Log            *slog.Logger
}

// Revocations says whether a client certificate is revoked.
type Revocations interface {
	Revoked(cert *x509.Certificate) bool
}

// Broker is a running embedded broker.
type Broker struct {
	srv     *mqtt.Server
	ln      *listener
	log     *slog.Logger
	revoked Revocations
	done    chan struct{}
}

// Start listens and serves until Close.
func Start(o Options) (*Broker, error) {
	if o.TLS == nil || len(o.TLS.Certificates) == 0 && o.TLS.GetCertificate == nil {
		return nil, errors.New("broker: a server certificate is required")
	}
	if o.TLS.ClientCAs == nil {
		return nil, errors.New("broker: the CA of the client certificates (ClientCAs) is required")
	}
	log := o.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	tc := o.TLS.Clone()
	tc.ClientAuth = tls.RequireAndVerifyClientCert
	if tc.MinVersion < tls.VersionTLS12 {
		tc.MinVersion = tls.VersionTLS12
	}
	caps := mqtt.NewDefaultServerCapabilities()
	caps.MaximumMessageExpiryInterval = 7 * 24 * 3600 // commands for a kiosk offline for days
	caps.MaximumSessionExpiryInterval = 30 * 24 * 3600
	srv := mqtt.New(&mqtt.Options{
		Capabilities:           caps,
		Logger:                 log.With("part", "broker"),
		InlineClient:           false,
		SysTopicResendInterval: 0,
	})
	services := map[string]bool{}
	for _, s := range o.Services {
		services[s] = true
	}
	if err := srv.AddHook(&authHook{srv: srv, services: services, serviceCA: o.ServiceCA, revoked: o.Revoked, onKiosk: o.OnKioskConnect, log: log}, nil); err != nil {
		return nil, err
	}
	raw, err := net.Listen("tcp", o.Listen)
	if err != nil {
		return nil, fmt.Errorf("broker listen %s: %w", o.Listen, err)
	}
	ln := &listener{id: "tls", ln: tls.NewListener(raw, tc), log: log}
	if err := srv.AddListener(ln); err != nil {
		raw.Close()
		return nil, err
	}
	b := &Broker{srv: srv, ln: ln, log: log, revoked: o.Revoked, done: make(chan struct{})}
	go func() {
		defer close(b.done)
		if err := srv.Serve(); err != nil {
			log.Error("broker stopped", "err", err)
		}
	}()
	return b, nil
}

// Addr is the address the broker listens on.
func (b *Broker) Addr() net.Addr { return b.ln.ln.Addr() }

// URL is the broker's URL for clients ("tls://host:port").
func (b *Broker) URL() string { return "tls://" + b.Addr().String() }

// Close disconnects every client and stops the broker.
func (b *Broker) Close() error {
	err := b.srv.Close()
	<-b.done
	return err
}

// Connected is how many clients are connected now (mochi counts them
// atomically; a plain read would race with a connection coming or going).
func (b *Broker) Connected() int64 { return atomic.LoadInt64(&b.srv.Info.ClientsConnected) }

// DisconnectRevoked disconnects every connected kiosk whose certificate
// is now revoked (call it when a new revocation list took effect) and
// returns how many. Their Last Will is published as for any lost kiosk.
func (b *Broker) DisconnectRevoked() int {
	if b.revoked == nil {
		return 0
	}
	n := 0
	for _, cl := range b.srv.Clients.GetAll() {
		if cl.Net.Conn == nil || cl.Closed() {
			continue
		}
		leaf, ok := leafOf(cl.Net.Conn)
		if !ok || !b.revoked.Revoked(leaf) {
			continue
		}
		b.log.Warn("broker: revoked kiosk disconnected", "cn", leaf.Subject.CommonName, "serial", leaf.SerialNumber.Text(16))
		_ = b.srv.DisconnectClient(cl, packets.ErrNotAuthorized)
		n++
	}
	return n
}

// leafOf is the verified client certificate of a TLS connection.
func leafOf(c net.Conn) (*x509.Certificate, bool) {
	tc, ok := c.(*tls.Conn)
	if !ok {
		return nil, false
	}
	cs := tc.ConnectionState()
	if len(cs.VerifiedChains) == 0 || len(cs.VerifiedChains[0]) == 0 {
		return nil, false
	}
	return cs.VerifiedChains[0][0], true
}

// identity is the verified common name of a TLS client's certificate and
// the root it chains to.
func identity(c net.Conn) (string, *x509.Certificate, bool) {
	tc, ok := c.(*tls.Conn)
	if !ok {
		return "", nil, false
	}
	cs := tc.ConnectionState()
	if !cs.HandshakeComplete || len(cs.VerifiedChains) == 0 || len(cs.VerifiedChains[0]) == 0 {
		return "", nil, false
	}
	chain := cs.VerifiedChains[0]
	return chain[0].Subject.CommonName, chain[len(chain)-1], true
}

// service is the prefix of the identities kept for the fleet service's
// clients (a kiosk id cannot contain a space).
const service = "service "

// authHook authenticates by certificate and keeps each kiosk to its topics.
type authHook struct {
	mqtt.HookBase
	srv       *mqtt.Server
	services  map[string]bool
	serviceCA *x509.Certificate
	revoked   Revocations
	onKiosk   func(string, *x509.Certificate)
	log       *slog.Logger
}

func (h *authHook) ID() string { return "govkiosk-cert-acl" }

func (h *authHook) Provides(b byte) bool {
	return bytes.Contains([]byte{mqtt.OnConnect, mqtt.OnConnectAuthenticate, mqtt.OnSessionEstablished, mqtt.OnACLCheck}, []byte{b})
}

// OnSessionEstablished checks the list once more now that the client is
// among the connected ones: a list that took effect while it was
// connecting (after OnConnect, before DisconnectRevoked could see it)
// drops it here.
func (h *authHook) OnSessionEstablished(cl *mqtt.Client, _ packets.Packet) {
	if h.revoked == nil {
		return
	}
	if leaf, ok := leafOf(cl.Net.Conn); ok && h.revoked.Revoked(leaf) {
		h.log.Warn("broker: kiosk revoked while connecting disconnected", "cn", leaf.Subject.CommonName)
		_ = h.srv.DisconnectClient(cl, packets.ErrNotAuthorized)
	}
}

// OnConnect refuses a client whose certificate is revoked with CONNACK
// "banned", before any session of its is taken up.
func (h *authHook) OnConnect(cl *mqtt.Client, pk packets.Packet) error {
	if h.revoked == nil {
		return nil
	}
	leaf, ok := leafOf(cl.Net.Conn)
	if !ok || !h.revoked.Revoked(leaf) {
		return nil
	}
	h.log.Warn("broker: revoked kiosk refused", "cn", leaf.Subject.CommonName, "serial", leaf.SerialNumber.Text(16), "remote", cl.Net.Remote)
	if err := h.srv.SendConnack(cl, packets.ErrBanned, false, nil); err != nil {
		return err
	}
	return packets.ErrBanned
}

// OnConnectAuthenticate takes the client's identity from its certificate
// (the username the client sent is replaced by it) and refuses a kiosk
// whose client id is not its own, or whose Last Will is outside its topics.
func (h *authHook) OnConnectAuthenticate(cl *mqtt.Client, pk packets.Packet) bool {
	cn, root, ok := identity(cl.Net.Conn)
	if !ok {
		h.log.Warn("broker: connection without a verified client certificate refused", "remote", cl.Net.Remote)
		return false
	}
	if (h.serviceCA != nil && root.Equal(h.serviceCA)) || (h.serviceCA == nil && h.services[cn]) {
		cl.Properties.Username = []byte(service + cn)
		return true
	}
	cl.Properties.Username = []byte(cn)
	if !fleetwire.ValidKioskID(cn) || cl.ID != cn {
		h.log.Warn("broker: kiosk refused: client id is not its certificate's name", "cn", cn, "clientId", cl.ID)
		return false
	}
	if pk.Connect.WillFlag && !ownTopic(cn, pk.Connect.WillTopic) {
		h.log.Warn("broker: kiosk refused: last will outside its topics", "cn", cn, "topic", pk.Connect.WillTopic)
		return false
	}
	if h.onKiosk != nil {
		if leaf, ok := leafOf(cl.Net.Conn); ok {
			h.onKiosk(cn, leaf)
		}
	}
	return true
}

// OnACLCheck allows a kiosk its own topics only.
func (h *authHook) OnACLCheck(cl *mqtt.Client, topic string, write bool) bool {
	id := string(cl.Properties.Username)
	if strings.HasPrefix(id, service) {
		return true
	}
	if ownTopic(id, topic) {
		return true
	}
	h.log.Warn("broker: topic refused", "kiosk", id, "topic", topic, "write", write)
	return false
}

func ownTopic(kioskID, topic string) bool {
	return kioskID != "" && strings.HasPrefix(topic, fleetwire.Prefix+kioskID+"/")
}

// listener serves an already listening TLS listener to mochi.
type listener struct {
	id  string
	ln  net.Listener
	log *slog.Logger
}

var _ listeners.Listener = (*listener)(nil)

func (l *listener) ID() string              { return l.id }
func (l *listener) Address() string         { return l.ln.Addr().String() }
func (l *listener) Protocol() string        { return "tls" }
func (l *listener) Init(*slog.Logger) error { return nil }
func (l *listener) Close(closeClients listeners.CloseFn) {
	closeClients(l.id)
	l.ln.Close()
}

// Serve accepts connections until the listener closes; the TLS handshake
// runs in each connection's own goroutine, bounded, so a slow client does
// not hold up the others.
func (l *listener) Serve(establish listeners.EstablishFn) {
	for {
		c, err := l.ln.Accept()
		if err != nil {
			return
		}
		go func() {
			tc := c.(*tls.Conn)
			_ = tc.SetDeadline(time.Now().Add(30 * time.Second))
			if err := tc.Handshake(); err != nil {
				l.log.Debug("broker: TLS handshake failed", "remote", c.RemoteAddr(), "err", err)
				c.Close()
				return
			}
			_ = tc.SetDeadline(time.Time{})
			if err := establish(l.id, c); err != nil && !errors.Is(err, packets.ErrBadUsernameOrPassword) {
				l.log.Debug("broker: client ended", "remote", c.RemoteAddr(), "err", err)
			}
		}()
	}
}
