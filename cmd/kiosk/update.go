package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"

	"govkiosk/drivers/device"
	"govkiosk/kiosk"
	"govkiosk/kiosk/config"
	"govkiosk/kiosk/health"
	"govkiosk/kiosk/update"
)

// restartExitCode (EX_TEMPFAIL) is the kiosk's exit status when it stops to
// start again: the fleet asked for a restart, or the current link now names
// another release (an update or a rollback);
// the systemd unit restarts it (Restart=on-failure, or
// RestartForceExitStatus=75).
const restartExitCode = 75

// startUpdater makes the updater when kiosk.json has an update URL and
// counts this start of a version on trial, before anything else can fail.
// Updates need a release version (main.version, set at build time); a
// development build runs without them. Only a rollback that must restart
// stops the kiosk; any other problem of the updater is logged.
func startUpdater(cfg config.Config, log *slog.Logger) (*update.Updater, error) {
	if !cfg.Update.Enabled() {
		return nil, nil
	}
	log = log.With("part", "update")
	if !update.ValidVersion(version) {
		log.Warn("updates are configured but this build has no release version; updates off", "version", version)
		return nil, nil
	}
	opts := update.Options{Root: cfg.DataDir, Version: version, KioskID: cfg.KioskID, Log: log}
	cfg.Update.Apply(&opts)
	u, err := update.New(opts)
	if err != nil {
		log.Error("updates off", "err", err)
		return nil, nil
	}
	if _, err := u.Start(); errors.Is(err, update.ErrRestart) {
		return nil, err
	} else if err != nil {
		log.Error("update state", "err", err)
	}
	return u, nil
}

// wireUpdater gives the updater what it needs of the running kiosk: no
// download or switch while a citizen is at the screen, the repository
// reached like the portal (its CA pinned, the device certificate), and
// the checks a new version passes before it is committed: its devices
// report no hardware error, the touch UI answers, the portal answers an
// authenticated request (portal). Reaching the fleet is checked the same
// way once the kiosk has a fleet client.
func wireUpdater(u *update.Updater, cfg config.Config, ctrl *kiosk.Controller, mon *health.Monitor, hc *http.Client, portal func(context.Context) error) {
	uc := *hc
	uc.Timeout = 0 // a bundle takes long on a weak link; the updater cuts stalls itself
	u.Wire(update.Runtime{
		Busy:   func() bool { return ctrl.Step() != kiosk.StepAttract },
		Client: &uc,
		Checks: []update.Check{
			{Name: "selftest", Run: func(ctx context.Context) error {
				for _, d := range mon.Refresh(ctx).Devices {
					if d.State == device.HardwareError {
						return fmt.Errorf("%s reports a hardware error", d.Device)
					}
				}
				return nil
			}},
			{Name: "ui", Run: func(ctx context.Context) error {
				req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+cfg.Listen+"/", nil)
				if err != nil {
					return err
				}
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					return err
				}
				resp.Body.Close()
				if resp.StatusCode >= 500 {
					return fmt.Errorf("touch UI answers %s", resp.Status)
				}
				return nil
			}},
			{Name: "portal", Run: func(ctx context.Context) error {
				return portal(ctx)
			}},
		},
	})
}

// updateState reports the updater's state in the kiosk's heartbeat; nil
// without updates.
func updateState(u *update.Updater) func() (string, string) {
	if u == nil {
		return nil
	}
	return u.UpdateState
}
