// Package service wires the fleet service's MQTT side: the embedded broker
// (or none, with an external one such as mosquitto or EMQX) and the hub
// that records into the store and sends commands. cmd/fleet and the demo
// run it.
package service

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"time"

	"govkiosk/fleet"
	"govkiosk/fleet/broker"
	"govkiosk/fleet/crl"
	"govkiosk/fleet/hub"
	"govkiosk/fleet/pki"
)

// Options configure the service.
type Options struct {
	// BrokerURL is an external broker (tls://host:8883); empty: the
	// embedded broker listens on MQTTListen.
	BrokerURL  string
	MQTTListen string
	// ServerCert is the embedded broker's certificate.
	ServerCert *tls.Certificate
	// KioskCAs verify the kiosks' device certificates (embedded broker).
	KioskCAs *x509.CertPool
	// BrokerCAs verify an external broker's certificate.
	BrokerCAs *x509.CertPool
	// ClientCert is the service's identity at an external broker (the
	// ACL's fleet-service user). With the embedded broker the service
	// makes its own, from a CA that lives only in the process.
	ClientCert *tls.Certificate
	Store      fleet.Store
	// CRL, when set, is the enrollment CA's revocation list: the service
	// keeps it fresh (CRL.Run) for as long as it runs, the embedded
	// broker refuses the kiosks it names and drops those a new list names;
	// an external broker reads the file it keeps (fleet/mosquitto).
	CRL *crl.List
	// CommandExpiry: how long a command waits for an offline kiosk.
	CommandExpiry time.Duration
	StartTimeout  time.Duration // default 30s
	Log           *slog.Logger
}

// Service is the running MQTT side of the fleet service.
type Service struct {
	Hub    *hub.Hub
	Broker *broker.Broker // nil with an external broker
	url    *url.URL
	cancel context.CancelFunc
	done   chan struct{}
}

// Start starts the broker (if embedded) and the hub, and waits until the
// hub is subscribed.
func Start(ctx context.Context, o Options) (_ *Service, err error) {
	if o.Store == nil {
		return nil, errors.New("fleet service: no store")
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.StartTimeout <= 0 {
		o.StartTimeout = 30 * time.Second
	}
	s := &Service{done: make(chan struct{})}
	clientTLS := &tls.Config{MinVersion: tls.VersionTLS12}
	if o.BrokerURL == "" {
		if o.ServerCert == nil || o.KioskCAs == nil {
			return nil, errors.New("fleet service: the embedded broker needs a server certificate and the kiosks' CA")
		}
		own, err := pki.NewCA("govkiosk fleet service (in process)", 10*365*24*time.Hour)
		if err != nil {
			return nil, err
		}
		cert, err := own.Client("fleet-service", nil)
		if err != nil {
			return nil, err
		}
		clients := o.KioskCAs.Clone()
		clients.AddCert(own.Cert)
		b, err := broker.Start(broker.Options{
			Listen: o.MQTTListen, Log: o.Log,
			TLS:       &tls.Config{Certificates: []tls.Certificate{*o.ServerCert}, ClientCAs: clients},
			ServiceCA: own.Cert,
			Revoked:   revocations(o.CRL),
			OnKioskConnect: func(id string, cert *x509.Certificate) {
				learnOffice(o.Store, o.Log, id, cert)
			},
		})
		if err != nil {
			return nil, err
		}
		s.Broker = b
		if o.CRL != nil {
			o.CRL.OnUpdate(func() {
				if n := b.DisconnectRevoked(); n > 0 {
					o.Log.Info("fleet service: revoked kiosks disconnected", "count", n)
				}
			})
		}
		defer func() {
			if err != nil {
				b.Close()
			}
		}()
		// The hub reaches the embedded broker on loopback and checks it is
		// the broker this process started.
		roots := x509.NewCertPool()
		leaf := o.ServerCert.Leaf
		if leaf == nil {
			if leaf, err = x509.ParseCertificate(o.ServerCert.Certificate[0]); err != nil {
				return nil, err
			}
		}
		roots.AddCert(leaf)
		clientTLS.RootCAs = roots
		clientTLS.Certificates = []tls.Certificate{cert}
		clientTLS.InsecureSkipVerify = true // verified below: exactly the broker's own certificate
		clientTLS.VerifyPeerCertificate = func(raw [][]byte, _ [][]*x509.Certificate) error {
			if len(raw) == 0 || !leaf.Equal(mustParse(raw[0])) {
				return errors.New("fleet service: the embedded broker's certificate is not the one it was given")
			}
			return nil
		}
		if s.url, err = url.Parse("tls://" + loopback(b)); err != nil {
			return nil, err
		}
	} else {
		if o.ClientCert == nil {
			return nil, errors.New("fleet service: an external broker needs the service's client certificate")
		}
		if s.url, err = url.Parse(o.BrokerURL); err != nil || s.url.Host == "" || (s.url.Scheme != "tls" && s.url.Scheme != "ssl" && s.url.Scheme != "mqtts") {
			return nil, fmt.Errorf("fleet service: broker %q: want tls://host:port", o.BrokerURL)
		}
		clientTLS.RootCAs = o.BrokerCAs // nil: the system's roots
		clientTLS.Certificates = []tls.Certificate{*o.ClientCert}
	}
	h, err := hub.New(hub.Options{Broker: s.url, TLS: clientTLS, Store: o.Store, Log: o.Log.With("part", "hub"), CommandExpiry: o.CommandExpiry})
	if err != nil {
		return nil, err
	}
	s.Hub = h
	rctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s.cancel = cancel
	crlDone := make(chan struct{})
	go func() {
		defer close(crlDone)
		if o.CRL != nil {
			o.CRL.Run(rctx)
		}
	}()
	go func() {
		defer close(s.done)
		defer func() { <-crlDone }()
		if err := h.Run(rctx); err != nil {
			o.Log.Error("fleet hub stopped", "err", err)
		}
	}()
	wctx, wcancel := context.WithTimeout(ctx, o.StartTimeout)
	defer wcancel()
	if err := h.Ready(wctx); err != nil {
		cancel()
		<-s.done
		return nil, err
	}
	return s, nil
}

// learnOffice records the office a kiosk's device certificate names (the
// enrollment CA puts it in the subject's organizational unit) in the
// registry, for a kiosk the registry knows no office of.
func learnOffice(st fleet.Store, log *slog.Logger, id string, cert *x509.Certificate) {
	if len(cert.Subject.OrganizationalUnit) == 0 || cert.Subject.OrganizationalUnit[0] == "" {
		return
	}
	office := cert.Subject.OrganizationalUnit[0]
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	v, err := st.Kiosk(ctx, id)
	switch {
	case errors.Is(err, fleet.ErrNotFound):
		v = fleet.KioskView{KioskInfo: fleet.KioskInfo{KioskID: id}}
	case err != nil:
		log.Warn("fleet service: read the registry", "kiosk", id, "err", err)
		return
	}
	if v.Office != "" || v.Retired {
		return
	}
	info := v.KioskInfo
	info.Office = office
	if err := st.PutKiosk(ctx, info); err != nil {
		log.Warn("fleet service: record the kiosk's office", "kiosk", id, "err", err)
	}
}

// revocations is the list as the broker's interface, nil when there is
// none (a nil *crl.List in an interface would not be nil).
func revocations(l *crl.List) broker.Revocations {
	if l == nil {
		return nil
	}
	return l
}

func mustParse(der []byte) *x509.Certificate {
	c, err := x509.ParseCertificate(der)
	if err != nil {
		return &x509.Certificate{}
	}
	return c
}

// loopback is the embedded broker's address as reached from this process.
func loopback(b *broker.Broker) string {
	addr := b.Addr().String()
	if host, port, err := net.SplitHostPort(addr); err == nil && net.ParseIP(host) != nil && net.ParseIP(host).IsUnspecified() {
		return net.JoinHostPort("127.0.0.1", port)
	}
	return addr
}

// BrokerURL is the broker kiosks are pointed at (the embedded one's
// address, or the external URL).
func (s *Service) BrokerURL() string { return s.url.String() }

// Close stops the hub and the embedded broker.
func (s *Service) Close() error {
	s.cancel()
	<-s.done
	if s.Broker != nil {
		return s.Broker.Close()
	}
	return nil
}
