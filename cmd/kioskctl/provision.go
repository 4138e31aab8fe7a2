package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"time"

	"govkiosk/kiosk/config"
	"govkiosk/provisioning"
)

func runProvision(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("provision", flag.ContinueOnError)
	portal := fs.String("portal", "", "base URL of the portal API (required)")
	token := fs.String("token", "", "one-time enrollment token from the portal (required)")
	fingerprint := fs.String("ca-fingerprint", "", "the portal enrollment CA's fingerprint, sha256:HEX, printed with the token (required)")
	dataDir := fs.String("data-dir", "", "kiosk data directory for keys, certificates and kiosk.json (required)")
	listen := fs.String("listen", "127.0.0.1:8080", "touch UI address (loopback)")
	opsListen := fs.String("ops-listen", "127.0.0.1:9100", "/healthz and /metrics address (loopback)")
	var base config.Config
	fs.StringVar(&base.Printer.Port, "printer-port", "", "receipt printer serial device, e.g. /dev/ttyUSB0 (empty: none)")
	fs.IntVar(&base.Printer.WidthDots, "printer-width", 576, "printer width in dots: 576 (80 mm) or 384 (58 mm)")
	fs.StringVar(&base.Scanner.Device, "scanner-device", "", "SANE device name, e.g. test:0 (empty: none)")
	fs.StringVar(&base.Scanner.ConfigDir, "scanner-config-dir", "", "SANE_CONFIG_DIR for the scanner (empty: the system's)")
	fs.StringVar(&base.QRReader.Port, "qr-port", "", "QR reader serial device, e.g. /dev/ttyACM0 (empty: none)")
	fs.StringVar(&base.Sensors.DoorPin, "door-pin", "", "door switch GPIO name (empty: none)")
	fs.StringVar(&base.Sensors.LEDPin, "led-pin", "", "status LED GPIO name (empty: none)")
	timeout := fs.Duration("timeout", 30*time.Second, "time allowed for enrollment")
	insecure := fs.Bool("allow-insecure-loopback", false, "demos and tests only: accept a portal at a plain-http loopback URL")
	if err := parseFlags(fs, args, stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if *portal == "" || *token == "" || *dataDir == "" {
		return errors.New("provision: --portal, --token and --data-dir are required")
	}

	key, err := provisioning.LoadOrCreateKey(*dataDir)
	if err != nil {
		return err
	}
	hc := provisioning.EnrollmentClient(*fingerprint, *insecure, *timeout)
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	cfg, err := provisioning.Provision(ctx, newEnroller(*portal, hc, key), provisioning.ProvisionOptions{
		DataDir: *dataDir, PortalURL: *portal, Token: *token, CAFingerprint: *fingerprint, AllowInsecureLoopback: *insecure,
		Listen: *listen, OpsListen: *opsListen, Base: base,
	})
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(stdout, "kiosk ID: %s\nconfig:   %s\n", cfg.KioskID, filepath.Join(cfg.DataDir, provisioning.ConfigFile))
	return err
}
