package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"sync"

	backendclient "govkiosk/backend-client"
	"govkiosk/kiosk"
	"govkiosk/kiosk/config"
	"govkiosk/kiosk/outbox"
	"govkiosk/provisioning"
)

// errDecommissioned ends serve once service mode retired the kiosk at the
// portal: run then wipes it, its parts closed, and goes into setup mode.
var errDecommissioned = errors.New("the kiosk was decommissioned")

// decommission is service mode's Decommission: the portal retires the
// kiosk (refused while the outbox holds anything undelivered), then the
// kiosk stops serving to be wiped.
type decommission struct {
	cfg  config.Config
	pc   *backendclient.Client
	ob   *outbox.Outbox
	once sync.Once
	done chan struct{}
}

func newDecommission(cfg config.Config, pc *backendclient.Client, ob *outbox.Outbox) *decommission {
	return &decommission{cfg: cfg, pc: pc, ob: ob, done: make(chan struct{})}
}

func (d *decommission) retire(ctx context.Context, technicianCode string) error {
	_, err := provisioning.Retire(ctx, provisioning.DecommissionOptions{
		Config: d.cfg, Portal: d.pc, Undelivered: d.ob.Backlog, TechnicianCode: technicianCode,
	})
	if errors.Is(err, provisioning.ErrPortalUnreachable) {
		return fmt.Errorf("%w: %w", kiosk.ErrPortalAway, err)
	}
	if err != nil {
		return err
	}
	d.once.Do(func() { close(d.done) })
	return nil
}

// retired reports whether the portal retired the kiosk.
func (d *decommission) retired() bool {
	select {
	case <-d.done:
		return true
	default:
		return false
	}
}

// wait returns errDecommissioned once the kiosk is retired, nil when ctx
// ends first.
func (d *decommission) wait(ctx context.Context) error {
	select {
	case <-d.done:
		return errDecommissioned
	case <-ctx.Done():
		return nil
	}
}

// runConfigured runs the kiosk of configPath: in setup mode first when it
// is not set up yet and setup is allowed, then serving; a kiosk
// decommissioned in service mode is wiped once its parts are closed and,
// with setup allowed, goes back to setup mode in the same process.
func runConfigured(ctx context.Context, configPath string, fs *flag.FlagSet, setup bool, o serveOptions) error {
	for {
		if setup {
			if err := setupIfNeeded(ctx, configPath, fs, o); err != nil || ctx.Err() != nil {
				return err
			}
		}
		cfg, err := loadConfig(configPath, fs)
		if err != nil {
			return err
		}
		err = serve(ctx, cfg, o)
		if !errors.Is(err, errDecommissioned) {
			return err
		}
		if err := provisioning.Wipe(cfg); err != nil {
			return fmt.Errorf("decommissioned at the portal, but the wipe failed (run kioskctl decommission --offline): %w", err)
		}
		o.log.Warn("decommissioned: the kiosk's identity is wiped", "kiosk", cfg.KioskID)
		if !setup {
			return errors.New("the kiosk was decommissioned and wiped; start it with --setup to enroll it again")
		}
	}
}
