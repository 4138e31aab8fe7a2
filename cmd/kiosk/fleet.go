package main

// The kiosk's fleet link: the health monitor's snapshots and the changes
// between them feed it, and remote commands reach the kiosk's parts
// through fleetKiosk.

import (
	"bytes"
	"context"
	"crypto/x509"
	"fmt"
	"log/slog"
	"net/url"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"govkiosk/backend-client/api"
	fleetclient "govkiosk/backend-client/fleet"
	"govkiosk/backend-client/fleetwire"
	"govkiosk/drivers/device"
	"govkiosk/kiosk"
	"govkiosk/kiosk/config"
	"govkiosk/kiosk/logring"
	"govkiosk/kiosk/outbox"
	"govkiosk/provisioning"
)

// logLines is how many log lines the kiosk keeps for the fleet's logs
// command.
const logLines = 500

// openFleet opens the fleet link of cfg, or nil when no broker is set.
// Its TLS presents the certificate dc holds at each connection: a renewed
// one from the next reconnection on.
func openFleet(cfg config.Config, dc *provisioning.DeviceCert, k fleetclient.Kiosk, log *slog.Logger) (*fleetclient.Client, error) {
	f := cfg.Fleet
	if f.Broker == "" {
		log.Info("no fleet broker configured: presence, events and remote commands are off")
		return nil, nil
	}
	var extra []string
	if f.CAFile != "" {
		extra = append(extra, f.CAFile)
	}
	tc, err := provisioning.DeviceTLSFor(cfg.DataDir, dc, extra...)
	if err != nil {
		return nil, fmt.Errorf("fleet link: %w", err)
	}
	u, err := url.Parse(f.Broker)
	if err != nil {
		return nil, fmt.Errorf("fleet broker: %w", err)
	}
	c, err := fleetclient.Open(fleetclient.Options{
		KioskID: cfg.KioskID, Broker: u, TLS: tc, Dir: filepath.Join(cfg.DataDir, "fleet"), Kiosk: k,
		Log: log, WillDelay: f.WillDelay.Duration, KeepAlive: f.KeepAlive.Duration, SnapshotInterval: f.SnapshotInterval.Duration,
	})
	if err != nil {
		return nil, err
	}
	return c, nil
}

// outOfServicer is what watchDoor switches: the controller, or serviceState.
type outOfServicer interface{ SetOutOfService(out bool) }

// fleetFeed turns the monitor's heartbeats into fleet snapshots and the
// warnings that appear or clear between two of them into events.
type fleetFeed struct {
	c        *fleetclient.Client
	extra    func() (needsAttention int, catalogue string, outOfService bool) // read at each heartbeat
	counts   func() (sessions uint64, ratings []uint64)                       // read at each heartbeat; nil: none
	cert     func() *x509.Certificate                                         // the device certificate now; nil: none
	log      *slog.Logger
	mu       sync.Mutex
	previous []string
	started  bool
}

func (f *fleetFeed) heartbeat(hb api.Heartbeat) {
	na, cat, oos := f.extra()
	s := fleetwire.Snapshot{
		At: fleetwire.Unix(hb.At), Seq: hb.Seq, Version: hb.Version, Catalogue: cat, Backlog: hb.Backlog,
		NeedsAttention: na, DiskFreeMB: hb.DiskFree >> 20, TemperatureC: float32(hb.TemperatureC),
		OutOfService: oos, Warnings: slices.Clone(hb.Warnings), UpdateState: hb.UpdateState,
		UpdateFailed: hb.UpdateFailed,
	}
	if f.counts != nil {
		s.Sessions, s.Ratings = f.counts()
	}
	if f.cert != nil {
		s.CertNotAfter = fleetwire.Unix(f.cert().NotAfter)
	}
	for _, d := range hb.Devices {
		s.Devices = append(s.Devices, fleetwire.Device{Name: d.Device, State: string(d.State), Media: d.Media, Action: string(d.Action)})
	}
	if err := f.c.SetSnapshot(s); err != nil {
		f.log.Warn("fleet snapshot not kept", "err", err)
	}
	f.mu.Lock()
	prev, started := f.previous, f.started
	f.previous, f.started = s.Warnings, true
	f.mu.Unlock()
	if !started {
		return // the first snapshot is the state, not news
	}
	for _, w := range s.Warnings {
		if !slices.Contains(prev, w) {
			f.event(w, "")
		}
	}
	for _, w := range prev {
		if !slices.Contains(s.Warnings, w) {
			f.event("cleared", w)
		}
	}
}

func (f *fleetFeed) event(kind, detail string) {
	if err := f.c.Event(kind, "", detail); err != nil {
		f.log.Warn("fleet event not queued", "kind", kind, "err", err)
	}
}

// serviceState keeps the kiosk out of service while the cabinet door is open or
// the fleet asked so, and back in service only when neither holds.
type serviceState struct {
	ctrl outOfServicer
	log  *slog.Logger

	mu           sync.Mutex
	door, remote bool
}

// SetOutOfService is the cabinet door's side: open takes the kiosk out of
// service (watchDoor).
func (s *serviceState) SetOutOfService(open bool) {
	s.mu.Lock()
	s.door = open
	out := s.door || s.remote
	s.mu.Unlock()
	s.ctrl.SetOutOfService(out)
}

func (s *serviceState) setRemote(out bool, message string) {
	s.mu.Lock()
	s.remote = out
	all := s.door || s.remote
	s.mu.Unlock()
	if out {
		s.log.Warn("out of service at the fleet's request", "message", message)
	} else {
		s.log.Info("back in service at the fleet's request")
	}
	s.ctrl.SetOutOfService(all)
}

func (s *serviceState) outOfService() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.door || s.remote
}

// fleetKiosk carries out the fleet's commands on this kiosk.
type fleetKiosk struct {
	ob      *outbox.Outbox
	cat     *kiosk.Catalogue
	src     kiosk.CatalogueSource
	devs    *config.Set
	kioskID string
	ring    *logring.Ring
	svc     *serviceState
	mode    *kiosk.Service           // service mode, for PINs from the fleet; nil: none
	cert    func() *x509.Certificate // the device certificate now; nil: none
	log     *slog.Logger
}

var _ fleetclient.Kiosk = (*fleetKiosk)(nil)

func (k *fleetKiosk) Requeue(_ context.Context, id string) error {
	e, ok, err := k.ob.Get(id)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("no packet %s in the outbox", id)
	}
	if e.State != outbox.StateNeedsAttention {
		return fmt.Errorf("packet %s is %s, not needsAttention", id, e.State)
	}
	if err := k.ob.Requeue(id); err != nil {
		return err
	}
	k.ob.Kick()
	return nil
}

func (k *fleetKiosk) RefreshCatalogue(ctx context.Context) error { return k.cat.Refresh(ctx, k.src) }

func (k *fleetKiosk) SelfTest(ctx context.Context) (string, bool) {
	status := k.devs.Checkers()
	var checks []provisioning.Check
	for _, name := range config.Names {
		if f, ok := status[name]; ok {
			checks = append(checks, provisioning.Check{Name: name, Run: func(ctx context.Context) device.Status { return f(ctx) }})
		}
	}
	rep := provisioning.SelfTest(ctx, k.kioskID, checks, time.Now)
	if k.cert != nil {
		rep.CertNotAfter = k.cert().NotAfter
	}
	var b bytes.Buffer
	if err := rep.WriteText(&b); err != nil {
		return err.Error(), false
	}
	return b.String(), rep.OK
}

func (k *fleetKiosk) Logs(n int) []string { return k.ring.Last(n) }

func (k *fleetKiosk) SetOutOfService(out bool, message string) { k.svc.setRemote(out, message) }

// needsAttention counts the packets parked for a person.
func needsAttention(ob *outbox.Outbox) int {
	es, err := ob.List()
	if err != nil {
		return 0
	}
	n := 0
	for _, e := range es {
		if e.State == outbox.StateNeedsAttention {
			n++
		}
	}
	return n
}
