package main

import (
	"context"
	"crypto/ecdsa"
	"errors"
	"flag"
	"fmt"
	"path/filepath"
	"time"

	backendclient "govkiosk/backend-client"
	"govkiosk/backend-client/api"
	"govkiosk/drivers/device"
	"govkiosk/kiosk"
	"govkiosk/kiosk/config"
	"govkiosk/kiosk/supervise"
	"govkiosk/provisioning"
	"govkiosk/ui"
)

// Setup mode: `kiosk --config DIR/kiosk.json --setup` on a kiosk whose
// kiosk.json is missing or holds device settings only (config.LoadSetup)
// drives the screen and the QR reader alone, with no citizen flow: the
// technician holds the enrollment code to the reader, the kiosk enrolls
// (provisioning.Provision, the code's office checked), runs its self-test,
// and once the technician touches Start, setup ends and run goes on, in
// the same process, to load the kiosk.json the enrollment wrote and serve
// citizens. The touchscreen's launcher sees its stream end and opens the
// browser again at the serving kiosk's launch URL.

// runSetup runs setup mode until the kiosk is enrolled and started, or
// ctx ends (both nil: the caller tells them apart by ctx).
func runSetup(ctx context.Context, cfg config.Config, configPath string, o serveOptions) error {
	log := o.log.With("part", "setup")
	if o.startTimeout <= 0 {
		o.startTimeout = defaultStartTimeout
	}
	want := filepath.Join(cfg.DataDir, provisioning.ConfigFile)
	if abs, err := filepath.Abs(configPath); err != nil || abs != want {
		return fmt.Errorf("setup: --config %s must be the kiosk.json of the data directory (%s): enrollment writes it there", configPath, want)
	}
	uiLn, err := listen("touch UI", "--listen", cfg.Listen)
	if err != nil {
		return err
	}
	defer uiLn.Close()

	devs, err := config.Open(ctx, cfg.DeviceOptions(), config.OpenOptions{Log: log, Timeout: o.startTimeout, Door: o.pins.door, LED: o.pins.led})
	if err != nil {
		return err
	}
	defer devs.Close(shutdownTimeout)
	if devs.QRReader == nil {
		log.Warn("setup mode without a QR reader (kiosk.json has no qrReader port): use kioskctl provision")
	}

	st := kiosk.NewSetup(kiosk.SetupDeps{
		Log:    log,
		Reason: provisioning.EnrollFailure,
		Enroll: func(ctx context.Context, code api.EnrollCode) (string, string, error) {
			return enrollByCode(ctx, cfg, code, o.startTimeout)
		},
		SelfTest: func(ctx context.Context) []kiosk.SetupCheck { return setupSelfTest(ctx, cfg, devs, o.startTimeout) },
	})
	defer st.Wait()
	uiSrv, err := ui.NewSetup(st, ui.Options{Log: log.With("part", "ui"), Listen: cfg.Listen})
	if err != nil {
		return err
	}
	scr, err := o.openScreen(uiSrv, log)
	if err != nil {
		return err
	}
	defer scr.close()

	sup := o.supervisor(log, supervise.Probe{Name: "touch UI", Check: uiAnswers("http://" + cfg.Listen + "/")})

	sctx, endSetup := context.WithCancel(ctx)
	defer endSetup()
	g := newGroup(sctx)
	g.goRun("watchdog", sup.Run)
	g.goRun("setup", func(gctx context.Context) error {
		select {
		case <-st.Done():
			endSetup()
		case <-gctx.Done():
		}
		return nil
	})
	if devs.QRReader != nil {
		g.goRun("qr reader", devs.QRReader.Run)
		g.goRun("scans", func(gctx context.Context) error {
			for {
				select {
				case <-gctx.Done():
					return gctx.Err()
				case s, ok := <-devs.QRReader.Scans():
					if !ok {
						return errors.New("the QR reader stopped sending scans")
					}
					st.Scan(gctx, s.Data)
				}
			}
		})
	}
	g.serveHTTP("touch UI", uiLn, uiSrv, log)
	log.Info("kiosk in setup mode: not set up yet", "ui", "http://"+cfg.Listen+"/", "data", cfg.DataDir)
	scr.run(g, uiSrv, cfg, o.stdout, "kiosk setup mode", log)
	sup.Ready("setup mode: hold the enrollment code to the reader")
	err = g.wait()
	if err != nil {
		return err
	}
	if ctx.Err() != nil {
		sup.Stopping()
		return nil // a clean stop; run sees ctx done and does not go on
	}
	log.Info("setup done: starting the kiosk")
	return nil
}

// enrollByCode enrolls the kiosk with the portal the code names, keeping
// cfg's device settings, and returns its id and office.
func enrollByCode(ctx context.Context, cfg config.Config, code api.EnrollCode, timeout time.Duration) (string, string, error) {
	key, err := provisioning.LoadOrCreateKey(cfg.DataDir)
	if err != nil {
		return "", "", err
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	hc := provisioning.EnrollmentClient(code.CAFingerprint, cfg.AllowInsecureLoopback, timeout)
	base := cfg
	base.AllowInsecureLoopback = false // Provision sets it from the options
	got, err := provisioning.Provision(ctx, backendclient.New(code.PortalURL, hc, "", key), provisioning.ProvisionOptions{
		DataDir: cfg.DataDir, AllowInsecureLoopback: cfg.AllowInsecureLoopback,
		Listen: cfg.Listen, OpsListen: cfg.OpsListen, Base: base,
	}.WithCode(code))
	if err != nil {
		return "", "", err
	}
	return got.KioskID, got.OfficeCode, nil
}

// setupSelfTest is the self-test right after enrollment: every fitted
// device, as the open device set reports it, and the portal over the
// kiosk's own mutual-TLS client.
func setupSelfTest(ctx context.Context, cfg config.Config, devs *config.Set, timeout time.Duration) []kiosk.SetupCheck {
	fitted := map[string]bool{
		config.NamePrinter:  cfg.Printer.Port != "",
		config.NameScanner:  cfg.Scanner.Device != "",
		config.NameQRReader: cfg.QRReader.Port != "",
		config.NameSensors:  cfg.Sensors.DoorPin != "" || cfg.Sensors.LEDPin != "",
		config.NameDisplay:  cfg.Display.Backlight != "",
	}
	status := devs.Checkers()
	var checks []provisioning.Check
	for _, name := range config.Names {
		if fitted[name] {
			checks = append(checks, provisioning.Check{Name: name, Run: func(ctx context.Context) device.Status { return status[name](ctx) }})
		}
	}
	enrolled, err := config.Load(filepath.Join(cfg.DataDir, provisioning.ConfigFile))
	if err == nil {
		var key *ecdsa.PrivateKey
		if key, err = provisioning.LoadOrCreateKey(enrolled.DataDir); err == nil {
			hc, herr := provisioning.PortalClient(enrolled.DataDir, key, enrolled.AllowInsecureLoopback, timeout)
			if err = herr; err == nil {
				checks = append(checks, provisioning.PortalCheck(enrolled.PortalURL, hc, time.Now))
			}
		}
	}
	rep := provisioning.SelfTest(ctx, enrolled.KioskID, checks, time.Now)
	out := make([]kiosk.SetupCheck, 0, len(rep.Results)+1)
	for _, r := range rep.Results {
		out = append(out, kiosk.SetupCheck{Name: r.Name, OK: r.OK, State: string(r.Status.State), Detail: r.Status.Detail})
	}
	if err != nil {
		out = append(out, kiosk.SetupCheck{Name: "portal", State: string(device.HardwareError), Detail: err.Error()})
	}
	return out
}

// setupIfNeeded runs setup mode when the kiosk at configPath is not set up
// yet; --listen and --ops-listen given on the command line apply to it.
// It returns nil at once for a kiosk set up already.
func setupIfNeeded(ctx context.Context, configPath string, fs *flag.FlagSet, o serveOptions) error {
	cfg, err := config.LoadSetup(configPath)
	if err == nil {
		return nil
	}
	if !errors.Is(err, config.ErrNotProvisioned) {
		return err
	}
	fs.Visit(func(f *flag.Flag) {
		switch f.Name {
		case "listen":
			cfg.Listen = f.Value.String()
		case "ops-listen":
			cfg.OpsListen = f.Value.String()
		}
	})
	return runSetup(ctx, cfg, configPath, o)
}
