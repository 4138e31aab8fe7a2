package main

// Service mode's wiring: the technician token verifier pinned to the
// fleet's key, the devices, the outbox, the test print, the self-test and
// the fleet events.

import (
	"context"
	"crypto/x509"
	"errors"
	"log/slog"
	"net/http"
	"path/filepath"
	"time"

	fleetclient "govkiosk/backend-client/fleet"

	"govkiosk/backend-client/fleetwire"
	"govkiosk/kiosk"
	"govkiosk/kiosk/config"
	"govkiosk/kiosk/health"
	"govkiosk/provisioning"
)

// serviceTick is how often service mode checks its timeout.
const serviceTick = 5 * time.Second

// serviceWiring is what openService needs from run.
type serviceWiring struct {
	cfg     config.Config
	devs    *config.Set
	ob      kiosk.ServiceOutbox
	fk      *fleetKiosk
	mon     *health.Monitor
	event   func(kind, detail string) // nil without a fleet link
	version string
	catalog func() string
	log     *slog.Logger

	// The network test: the kiosk's portal client, the fleet link (nil:
	// none configured) and the last heartbeat the portal took.
	portal        *http.Client
	deviceCert    func() *x509.Certificate // the certificate in use now (renewal swaps it)
	fleetLink     kiosk.FleetLink
	lastHeartbeat func() time.Time
	// decommission retires the kiosk (serve wires it: decommission.go).
	decommission func(ctx context.Context, technicianCode string) error
}

// openService returns the kiosk's service mode, or nil when kiosk.json pins
// no technician key (fleet.techKey).
func openService(w serviceWiring) (*kiosk.Service, error) {
	if w.cfg.Fleet.TechKey == "" {
		w.log.Info("no technician key pinned (fleet.techKey): no service mode, the open door only stops the kiosk")
		return nil, nil
	}
	pub, err := fleetwire.ParseTechKey(w.cfg.Fleet.TechKey) // validated with the config
	if err != nil {
		return nil, err
	}
	ver, err := provisioning.NewTechVerifier(pub, w.cfg.OfficeCode, filepath.Join(w.cfg.DataDir, "tech-tokens-used.json"), time.Now)
	if err != nil {
		return nil, err
	}
	status := w.devs.Checkers()
	var devices []kiosk.ServiceDevice
	for _, name := range config.Names {
		f, ok := status[name]
		if !ok {
			continue
		}
		d := kiosk.ServiceDevice{Name: name, Status: f}
		if name == config.NameScanner && w.devs.Scanner != nil {
			if c, ok := w.devs.Scanner.(interface{ ClearFault() }); ok {
				d.Clear = c.ClearFault
			}
		}
		devices = append(devices, d)
	}
	d := kiosk.ServiceDeps{
		Log: w.log, Verifier: ver, PortalURL: w.cfg.PortalURL, Devices: devices, Outbox: w.ob,
		SelfTest: w.fk.SelfTest, Report: w.event, Version: w.version, Catalogue: w.catalog, Logs: w.fk.Logs,
		Refresh: func(ctx context.Context) { w.mon.Refresh(ctx); w.mon.SendNow() },
		Net: kiosk.NetDeps{
			Portal: w.portal, DeviceCert: w.deviceCert, Fleet: w.fleetLink, LastHeartbeat: w.lastHeartbeat,
		},
		Decommission: w.decommission,
	}
	if p := w.devs.Printer; p != nil {
		width := w.devs.ReceiptWidthDots
		d.TestPrint = func(ctx context.Context, code string) (string, error) {
			parts, err := kiosk.TestReceipt(code, width)
			if err != nil {
				return "", err
			}
			return p.Print(ctx, parts...)
		}
	}
	if sc := w.devs.Scanner; sc != nil {
		d.TestScan = func(ctx context.Context) ([]byte, error) {
			pages, err := sc.ScanBatch(ctx, 1)
			if err != nil {
				return nil, err
			}
			if len(pages) == 0 {
				return nil, errors.New("the scanner fed no page")
			}
			return pages[0].PNG, nil
		}
	}
	return kiosk.NewService(d)
}

// AddServicePIN gives service mode a PIN from the fleet
// (fleetclient.ServicePINs).
func (k *fleetKiosk) AddServicePIN(p fleetwire.ServicePIN) error {
	if k.mode == nil {
		return errors.New("service mode is off on this kiosk: no technician key pinned (fleet.techKey)")
	}
	return k.mode.AddServicePIN(p)
}

var _ fleetclient.ServicePINs = (*fleetKiosk)(nil)

// doorSwitch tells both the kiosk's service state and service mode that
// the cabinet door moved.
type doorSwitch struct {
	state *serviceState
	mode  *kiosk.Service // nil: no service mode
}

func (d doorSwitch) SetOutOfService(open bool) {
	d.state.SetOutOfService(open)
	if d.mode != nil {
		d.mode.SetDoor(open)
	}
}

var _ outOfServicer = doorSwitch{}

// scanTo hands a code to service mode first, while the door is open, and
// otherwise to the citizen's flow.
func scanTo(ctx context.Context, mode *kiosk.Service, ctrl *kiosk.Controller, data []byte) {
	if mode != nil && mode.HandleScan(data) {
		return
	}
	ctrl.HandleScan(ctx, data)
}
