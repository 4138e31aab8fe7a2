package kiosk

// The service screen's network test: on the technician's request, one real
// request to the portal with the kiosk's own mutual-TLS client (its
// latency, its HTTP status or the plain reason it failed, the portal's
// server certificate dates), the device certificate's expiry, the fleet
// link's state and the last heartbeat the portal took. Each probe has a
// deadline (NetTimeout); no lock is held while it runs, and the screen
// shows a copy of the result.

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"syscall"
	"time"

	"govkiosk/backend-client/api"
)

// DefaultNetTimeout bounds one network probe.
const DefaultNetTimeout = 5 * time.Second

// CertWarnDays: the device certificate is shown as a warning when it has
// fewer days left than this.
const CertWarnDays = 10

// Why a portal probe failed, in words a technician acts on.
const (
	NetDNS         = "dns"         // the portal's name does not resolve
	NetRefused     = "refused"     // nothing listens at the portal's address
	NetTimeout     = "timeout"     // no answer within the deadline
	NetUnreachable = "unreachable" // no route to the portal
	NetTLS         = "tls"         // the TLS handshake failed (certificate, CA, clock)
	NetOther       = "other"
)

// Fleet link states of a NetReport.
const (
	FleetOff  = "off"  // no fleet broker configured
	FleetUp   = "up"   // connected
	FleetDown = "down" // configured, not connected
)

// FleetLink is what the network test reads of the fleet link
// (backend-client/fleet.Client.Link).
type FleetLink interface {
	Link() (up bool, since time.Time)
}

// NetDeps wire the network test; a zero NetDeps hides the section.
type NetDeps struct {
	// Portal is the kiosk's client to the portal (mutual TLS, the CA
	// pinned); nil: no portal probe.
	Portal *http.Client
	// DeviceCert returns the device certificate in use now (it is
	// renewed); nil or a nil answer: not shown.
	DeviceCert func() *x509.Certificate
	Fleet      FleetLink // nil: no fleet link configured
	// LastHeartbeat is when the portal last took a heartbeat (zero: none
	// since the kiosk started).
	LastHeartbeat func() time.Time
	Timeout       time.Duration // per probe [DefaultNetTimeout]
}

// NetReport is one network test, as the service screen shows it.
type NetReport struct {
	At time.Time // zero: no test yet

	PortalURL     string
	PortalOK      bool          // the portal answered (any status below 500)
	PortalStatus  int           // its HTTP status, 0 when it did not answer
	PortalLatency time.Duration // until the answer's headers, or the failure
	PortalReason  string        // Net* when it did not answer
	ServerFrom    time.Time     // the portal's server certificate (zero over plain http)
	ServerUntil   time.Time

	DeviceUntil    time.Time // the device certificate's notAfter (zero: unknown)
	DeviceDaysLeft int
	DeviceWarn     bool // fewer than CertWarnDays left, or expired

	Fleet      string    // FleetOff, FleetUp or FleetDown
	FleetSince time.Time // since when up or down

	LastHeartbeat time.Time
}

// TestNetwork runs the network test now and keeps its report for the
// screen.
func (s *Service) TestNetwork(ctx context.Context) error {
	id, err := s.touch()
	if err != nil {
		return err
	}
	rep := s.probeNetwork(ctx)
	s.mu.Lock()
	if s.active {
		s.net, s.notice = rep, ""
	}
	s.changedLocked()
	s.mu.Unlock()
	what := "network test: portal "
	if rep.PortalOK {
		what += "answered in " + rep.PortalLatency.Round(time.Millisecond).String()
	} else {
		what += "not reached (" + rep.PortalReason + ")"
	}
	what += ", fleet " + rep.Fleet
	s.action(id, what)
	return nil
}

// probeNetwork measures everything, each probe within its deadline.
func (s *Service) probeNetwork(ctx context.Context) NetReport {
	n := s.d.Net
	timeout := n.Timeout
	if timeout <= 0 {
		timeout = DefaultNetTimeout
	}
	r := NetReport{At: s.d.Now(), PortalURL: s.d.PortalURL, Fleet: FleetOff}
	if n.Portal != nil && s.d.PortalURL != "" {
		s.probePortal(ctx, n.Portal, timeout, &r)
	}
	if n.DeviceCert != nil {
		if c := n.DeviceCert(); c != nil {
			r.DeviceUntil = c.NotAfter
			left := c.NotAfter.Sub(r.At)
			r.DeviceDaysLeft = int(left / (24 * time.Hour))
			r.DeviceWarn = left < CertWarnDays*24*time.Hour
		}
	}
	if n.Fleet != nil {
		up, since := n.Fleet.Link()
		r.Fleet, r.FleetSince = FleetDown, since
		if up {
			r.Fleet = FleetUp
		}
	}
	if n.LastHeartbeat != nil {
		r.LastHeartbeat = n.LastHeartbeat()
	}
	return r
}

func (s *Service) probePortal(ctx context.Context, hc *http.Client, timeout time.Duration, r *NetReport) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	u := strings.TrimSuffix(s.d.PortalURL, "/") + api.PathCatalogue
	req, err := http.NewRequestWithContext(ctx, http.MethodHead, u, nil)
	if err != nil {
		r.PortalReason = NetOther
		s.d.Log.Warn("service: network test: bad portal URL", "err", err)
		return
	}
	start := time.Now()
	resp, err := hc.Do(req)
	r.PortalLatency = time.Since(start)
	if err != nil {
		r.PortalReason = netReason(err)
		s.d.Log.Warn("service: network test: portal not reached", "reason", r.PortalReason, "err", err)
		return
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	r.PortalStatus = resp.StatusCode
	r.PortalOK = resp.StatusCode < 500
	if resp.TLS != nil && len(resp.TLS.PeerCertificates) > 0 {
		c := resp.TLS.PeerCertificates[0]
		r.ServerFrom, r.ServerUntil = c.NotBefore, c.NotAfter
	}
}

// netReason says in one word why a request did not get an answer.
func netReason(err error) string {
	var dns *net.DNSError
	var certErr *tls.CertificateVerificationError
	var unknownCA x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	var invalid x509.CertificateInvalidError
	var alert tls.AlertError
	var record tls.RecordHeaderError
	var ne net.Error
	switch {
	case errors.As(err, &dns):
		if dns.IsTimeout {
			return NetTimeout
		}
		return NetDNS
	case errors.Is(err, syscall.ECONNREFUSED):
		return NetRefused
	case errors.Is(err, syscall.ENETUNREACH), errors.Is(err, syscall.EHOSTUNREACH):
		return NetUnreachable
	case errors.As(err, &certErr), errors.As(err, &unknownCA), errors.As(err, &hostErr), errors.As(err, &invalid),
		errors.As(err, &alert), errors.As(err, &record):
		return NetTLS
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return NetTimeout
	}
	return NetOther
}
