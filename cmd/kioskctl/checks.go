package main

// The construction of self-test checks from the config: the only file of
// kioskctl that knows the drivers' constructors.

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"time"

	"govkiosk/drivers/device"
	"govkiosk/drivers/printer"
	"govkiosk/drivers/scanner"
	"govkiosk/drivers/sensors"
	"govkiosk/kiosk"
	"govkiosk/provisioning"
)

// buildChecks returns one check per configured device, then the portal.
// Devices the config leaves empty are not checked.
func buildChecks(cfg kiosk.Config, hc *http.Client, log *slog.Logger) []provisioning.Check {
	var checks []provisioning.Check
	if cfg.Printer.Port != "" {
		checks = append(checks, provisioning.Check{Name: "printer", Run: func(ctx context.Context) device.Status {
			p, err := printer.Open(&printer.Opts{
				Port: cfg.Printer.Port, Baud: cfg.Printer.Baud,
				WidthDots: cfg.Printer.WidthDots, BandRows: cfg.Printer.BandRows,
			}, log)
			if err != nil {
				return openFailed("printer", err)
			}
			defer p.Close()
			return p.Status(ctx)
		}})
	}
	if cfg.Scanner.Device != "" {
		checks = append(checks, provisioning.Check{Name: "scanner", Run: func(ctx context.Context) device.Status {
			s, err := scanner.Open(&scanner.Opts{
				Device: cfg.Scanner.Device, ConfigDir: cfg.Scanner.ConfigDir,
				Source: cfg.Scanner.Source, DPI: cfg.Scanner.DPI,
			}, log)
			if err != nil {
				return openFailed("scanner", err)
			}
			defer s.Close()
			return s.Status(ctx)
		}})
	}
	if cfg.QRReader.Port != "" {
		checks = append(checks, provisioning.SerialPortCheck("qrreader", cfg.QRReader.Port, cfg.QRReader.Baud, time.Now))
	}
	if cfg.Sensors.DoorPin != "" || cfg.Sensors.LEDPin != "" {
		checks = append(checks, provisioning.Check{Name: "sensors", Run: func(ctx context.Context) device.Status {
			s, err := sensors.Open(&sensors.Opts{DoorPin: cfg.Sensors.DoorPin, LEDPin: cfg.Sensors.LEDPin}, log)
			if err != nil {
				return openFailed("sensors", err)
			}
			defer s.Close()
			return s.Status(ctx)
		}})
	}
	return append(checks, provisioning.PortalCheck(cfg.PortalURL, hc, time.Now))
}

func openFailed(name string, err error) device.Status {
	st := device.Status{Device: name, State: device.HardwareError, Action: device.ActionMaintenance,
		Detail: fmt.Sprintf("open: %v", err), At: time.Now()}
	if errors.Is(err, fs.ErrNotExist) {
		st.State = device.NoDevice
	}
	return st
}
