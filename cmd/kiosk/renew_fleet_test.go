package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"log/slog"
	"math/big"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	backendclient "govkiosk/backend-client"
	"govkiosk/backend-client/api"
	"govkiosk/fleet/broker"
	"govkiosk/fleet/crl"
	"govkiosk/fleet/fleettest"
	"govkiosk/fleet/hub"
	"govkiosk/fleet/memstore"
	"govkiosk/fleet/pki"
	"govkiosk/kiosk"
	"govkiosk/portal"
	"govkiosk/provisioning"
)

// fleetSide is an embedded fleet broker whose kiosks' CA is a real
// portal's enrollment CA, with that portal's revocation list (refreshed
// only when the test says so), and a record of the certificate each kiosk
// connected with.
type fleetSide struct {
	broker   *broker.Broker
	brokerCA string // PEM file of the broker's own CA, for the kiosk's Fleet.CAFile
	list     *crl.List
	log      *syncBuffer
	// clientTLS is a client of the broker's own CA named cn (services).
	clientTLS func(cn string) *tls.Config

	mu      sync.Mutex
	serials []*big.Int // of every kiosk let in, in order
}

func startFleetSide(t *testing.T, srv *portal.Server, portalURL string, services ...string) *fleetSide {
	t.Helper()
	blk, _ := pem.Decode([]byte(srv.CAPEM()))
	if blk == nil {
		t.Fatal("the portal's CA is not PEM")
	}
	kioskCA, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(kioskCA)
	list, err := crl.New(crl.Options{URL: portalURL + api.PathCRL, CA: kioskCA, Interval: time.Hour,
		Client: &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := list.Refresh(context.Background()); err != nil {
		t.Fatalf("the portal's first revocation list: %v", err)
	}
	brokerCA, err := pki.NewCA("fleet broker CA", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	server, err := brokerCA.Server("127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	caFile, err := brokerCA.WritePEM(dir, "fleet-ca.pem")
	if err != nil {
		t.Fatal(err)
	}
	clients := roots.Clone()
	clients.AddCert(brokerCA.Cert) // the service's own clients (services)
	f := &fleetSide{brokerCA: caFile, list: list, log: &syncBuffer{}}
	f.broker, err = broker.Start(broker.Options{Listen: "127.0.0.1:0", Revoked: list, Services: services,
		TLS: &tls.Config{Certificates: []tls.Certificate{server}, ClientCAs: clients},
		Log: slog.New(slog.NewTextHandler(f.log, &slog.HandlerOptions{Level: slog.LevelDebug})),
		OnKioskConnect: func(_ string, cert *x509.Certificate) {
			f.mu.Lock()
			f.serials = append(f.serials, cert.SerialNumber)
			f.mu.Unlock()
		}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		f.broker.Close()
		if t.Failed() {
			t.Logf("broker log:\n%s", f.log.String())
		}
	})
	list.OnUpdate(func() { f.broker.DisconnectRevoked() })
	f.clientTLS = func(cn string) *tls.Config {
		c, err := brokerCA.Client(cn, nil)
		if err != nil {
			t.Fatal(err)
		}
		return &tls.Config{Certificates: []tls.Certificate{c}, RootCAs: brokerCA.Pool(), MinVersion: tls.VersionTLS12}
	}
	return f
}

// lastSerial is the serial of the certificate the last kiosk let in
// presented, and how many were let in.
func (f *fleetSide) lastSerial() (*big.Int, int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.serials) == 0 {
		return nil, 0
	}
	return f.serials[len(f.serials)-1], len(f.serials)
}

// A renewed device certificate reaches the fleet broker: the kiosk's
// fleet link (openFleet, as the kiosk opens it) joins a broker trusting
// the real portal's enrollment CA with the certificate it enrolled with
// (serial A); the renewal loop gets serial B from the portal; the link is
// cut, and the kiosk comes back presenting B (seen at the broker's side,
// not in the kiosk's TLS config). Then the portal revokes the kiosk: the
// new list names B too, and the broker drops the kiosk and refuses B.
func TestRenewedCertificateReachesFleetBroker(t *testing.T) {
	srv, _, cfg := enrolledLongAgo(t)
	f := startFleetSide(t, srv, cfg.PortalURL)
	proxy := fleettest.NewProxy(t, f.broker.Addr().String())
	cfg.Fleet.Broker = proxy.URL().String()
	cfg.Fleet.CAFile = f.brokerCA
	cfg.Fleet.KeepAlive = kiosk.Duration{Duration: 5 * time.Second}

	key, err := provisioning.LoadOrCreateKey(cfg.DataDir)
	if err != nil {
		t.Fatal(err)
	}
	dc, err := provisioning.LoadDeviceCert(cfg.DataDir, key)
	if err != nil {
		t.Fatal(err)
	}
	serialA := dc.Leaf().SerialNumber
	logBuf := &syncBuffer{}
	log := slog.New(slog.NewTextHandler(logBuf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	fc, err := openFleet(cfg, dc, nil, log)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	fdone := make(chan struct{})
	go func() { fc.Run(ctx); close(fdone) }()
	defer func() { cancel(); <-fdone }()
	defer func() {
		if t.Failed() {
			t.Logf("kiosk log:\n%s", logBuf.String())
		}
	}()

	fleettest.WaitFor(t, 10*time.Second, "the kiosk at the broker with its first certificate", func() bool {
		s, _ := f.lastSerial()
		return fc.Connected() && s != nil
	})
	if s, _ := f.lastSerial(); s.Cmp(serialA) != 0 {
		t.Fatalf("the broker saw serial %s, want the enrolled certificate's %s", s, serialA)
	}

	// The renewal loop, with the kiosk's own portal client: the portal's
	// clock stood 21 days back at enrollment, so today is the certificate's
	// day 21 and the portal renews it.
	hc, err := provisioning.PortalClientFor(cfg.DataDir, dc, false, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	renewed := make(chan time.Time, 1)
	renewal := provisioning.NewRenewal(provisioning.RenewalOptions{
		DataDir: cfg.DataDir, Cert: dc, Portal: backendclient.New(cfg.PortalURL, hc, cfg.KioskID, key), Log: log,
		Now:     func() time.Time { return time.Now() },
		Renewed: func(notAfter time.Time) { renewed <- notAfter },
		Revoked: func() { t.Error("the portal refused the renewal as revoked") },
	})
	rdone := make(chan struct{})
	go func() { renewal.Run(ctx); close(rdone) }()
	defer func() { cancel(); <-rdone }()
	select {
	case <-renewed:
	case <-time.After(15 * time.Second):
		t.Fatal("waited 15s for the renewal at day 21")
	}
	serialB := dc.Leaf().SerialNumber
	if serialB.Cmp(serialA) == 0 {
		t.Fatal("the renewal kept the serial")
	}
	if s, n := f.lastSerial(); n != 1 || s.Cmp(serialA) != 0 {
		t.Fatalf("before the link dropped: %d connections, last serial %s; want 1, %s", n, s, serialA)
	}

	// The link drops and the first reconnection gets through: the kiosk
	// comes back with what the holder has now, in a full handshake, not
	// by resuming the TLS session it made with the old certificate (which
	// would carry that certificate's identity to the broker).
	proxy.Drop()
	fleettest.WaitFor(t, 15*time.Second, "the kiosk back at the broker", func() bool {
		_, n := f.lastSerial()
		return n >= 2 && fc.Connected()
	})
	if s, _ := f.lastSerial(); s.Cmp(serialB) != 0 {
		t.Fatalf("after the reconnection the broker saw serial %s, want the renewed certificate's %s (the old one is %s)", s, serialB, serialA)
	}

	// Revoked at the portal: the list the fleet fetches names every
	// certificate of the kiosk, B included; the broker drops the kiosk and
	// refuses B when it comes back.
	revoke(t, srv, cfg)
	if err := f.list.Refresh(ctx); err != nil {
		t.Fatalf("the revocation list after the revocation: %v", err)
	}
	if !f.list.Revoked(dc.Leaf()) {
		t.Fatal("the portal's new list does not name the renewed certificate")
	}
	fleettest.WaitFor(t, 10*time.Second, "the broker to drop the revoked kiosk", func() bool { return !fc.Connected() })
	wantRefused := "serial=" + serialB.Text(16)
	fleettest.WaitFor(t, 15*time.Second, "the broker to refuse the renewed certificate as revoked", func() bool {
		for _, l := range strings.Split(f.log.String(), "\n") {
			if strings.Contains(l, "revoked kiosk refused") && strings.Contains(l, wantRefused) {
				return true
			}
		}
		return false
	})
	if _, n := f.lastSerial(); n != 2 {
		t.Errorf("%d kiosk connections let in, want 2 (none after the revocation)", n)
	}
	if fc.Connected() {
		t.Error("the revoked kiosk is connected")
	}
}

// A kiosk the portal revoked tells the fleet: its heartbeat is refused,
// it goes out of service and sends a "revoked" event, which the fleet
// service records. That works because the kiosk learns it from the portal
// (within a heartbeat) before the fleet's revocation list reaches the
// broker; once it has, the broker drops the kiosk and refuses it, and an
// event not yet sent stays in the kiosk's queue (see the README's
// revocation notes).
func TestRevokedKioskTellsTheFleet(t *testing.T) {
	srv, cfgPath, cfg := enrolledAgo(t, 0)
	f := startFleetSide(t, srv, cfg.PortalURL, fleettest.ServiceName)
	st := memstore.New()
	h, err := hub.New(hub.Options{Broker: mustURL(t, f.broker.URL()), TLS: f.clientTLS(fleettest.ServiceName), Store: st})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	hdone := make(chan struct{})
	go func() { h.Run(ctx); close(hdone) }()
	defer func() { cancel(); <-hdone }()
	rctx, rcancel := context.WithTimeout(ctx, 10*time.Second)
	defer rcancel()
	if err := h.Ready(rctx); err != nil {
		t.Fatal(err)
	}

	var m map[string]any
	b, err := os.ReadFile(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	m["heartbeat"] = "1s"
	m["fleet"] = map[string]any{"broker": f.broker.URL(), "caFile": f.brokerCA}
	b, _ = json.Marshal(m)
	if err := os.WriteFile(cfgPath, b, 0o600); err != nil {
		t.Fatal(err)
	}
	k := startServing(t, cfgPath)
	if page := k.launch("kiosk ready:"); !strings.Contains(page, `data-step="attract"`) {
		t.Fatalf("not serving:\n%s", page)
	}
	k.waitFor(15*time.Second, "the kiosk at the fleet broker", func() bool { _, n := f.lastSerial(); return n > 0 })

	revoke(t, srv, cfg)
	k.screenShows(`data-testid="revoked"`)
	k.waitFor(15*time.Second, `the fleet to record the kiosk's "revoked" event`, func() bool {
		return hasEvent(ctx, st, cfg.KioskID, "revoked")
	})

	// Now the list reaches the broker: the kiosk is dropped and refused.
	if err := f.list.Refresh(ctx); err != nil {
		t.Fatalf("the revocation list after the revocation: %v", err)
	}
	k.waitFor(15*time.Second, "the broker to drop and refuse the revoked kiosk", func() bool {
		return f.broker.Connected() == 1 && strings.Contains(f.log.String(), "revoked kiosk")
	})
}

// hasEvent reports whether the fleet store recorded an event of kind from
// kioskID.
func hasEvent(ctx context.Context, st *memstore.Store, kioskID, kind string) bool {
	ev, _ := st.Events(ctx, kioskID, time.Time{}, 0)
	for _, x := range ev {
		if x.Kind == kind {
			return true
		}
	}
	return false
}

func mustURL(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}
