package main

// The construction of self-test checks from the config. The devices are
// opened the way the kiosk opens them (config.Open), so the self-test sees
// what the kiosk would.

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"govkiosk/drivers/device"
	"govkiosk/kiosk/config"
	"govkiosk/provisioning"
)

// buildChecks opens the configured devices and returns one check per
// device the config fits, then the portal, and a function closing the
// devices. Devices the config leaves empty are not checked (the display only
// when its backlight is named: a screen without one has nothing to check).
func buildChecks(ctx context.Context, cfg config.Config, hc *http.Client, log *slog.Logger) ([]provisioning.Check, func(), error) {
	devs, err := config.Open(ctx, cfg.DeviceOptions(), config.OpenOptions{Log: log, Timeout: provisioning.CheckTimeout})
	if err != nil {
		return nil, nil, err
	}
	status := devs.Checkers()
	var checks []provisioning.Check
	fitted := map[string]bool{
		config.NamePrinter:  cfg.Printer.Port != "",
		config.NameScanner:  cfg.Scanner.Device != "",
		config.NameQRReader: cfg.QRReader.Port != "",
		config.NameSensors:  cfg.Sensors.DoorPin != "" || cfg.Sensors.LEDPin != "",
		config.NameDisplay:  cfg.Display.Backlight != "",
	}
	for _, name := range config.Names {
		if !fitted[name] {
			continue
		}
		if name == config.NameQRReader {
			// The imager's driver connects in its run loop, which the
			// self-test does not start: check that the port opens instead.
			checks = append(checks, provisioning.SerialPortCheck(name, cfg.QRReader.Port, cfg.QRReader.Baud, time.Now))
			continue
		}
		checks = append(checks, provisioning.Check{Name: name, Run: func(ctx context.Context) device.Status { return status[name](ctx) }})
	}
	checks = append(checks, provisioning.PortalCheck(cfg.PortalURL, hc, time.Now))
	return checks, func() { devs.Close(provisioning.CheckTimeout) }, nil
}
