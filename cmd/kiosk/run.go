package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	backendclient "govkiosk/backend-client"
	"govkiosk/backend-client/identity"
	"govkiosk/backend-client/tus"
	"govkiosk/drivers/device"
	"govkiosk/drivers/display"
	"govkiosk/drivers/printer"
	"govkiosk/drivers/qrreader"
	"govkiosk/drivers/scanner"
	"govkiosk/drivers/sensors"
	"govkiosk/kiosk"
	"govkiosk/kiosk/health"
	"govkiosk/kiosk/outbox"
	"govkiosk/provisioning"
	"govkiosk/ui"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("kiosk", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		configPath = fs.String("config", "", "kiosk.json written by `kioskctl provision`")
		demoMode   = fs.Bool("demo", false, "simulated devices and an embedded reference portal")
		listen     = fs.String("listen", "127.0.0.1:8080", "touch UI address (loopback only)")
		opsListen  = fs.String("ops-listen", "127.0.0.1:9100", "health and metrics address (loopback only)")
		dataDir    = fs.String("data", "demo-data", "demo: data folder")
		portalURL  = fs.String("portal", "", "demo: use this portal instead of the embedded one")
		portalAddr = fs.String("portal-listen", "127.0.0.1:8090", "demo: embedded portal address")
		token      = fs.String("enroll-token", "", "demo with --portal: one-time enrollment token")
		browser    = fs.Bool("browser", false, "open Chromium in kiosk mode when a display is present")
		submitWait = fs.Duration("submit-wait", 10*time.Second, "how long a citizen waits for the portal before a provisional receipt")
		logLevel   = fs.String("log-level", "info", "debug, info, warn or error")
		idle       = fs.Duration("idle-timeout", 0, "demo: idle time before the countdown (default from config, 120s)")
		countdown  = fs.Duration("idle-countdown", 0, "demo: countdown before the wipe (default from config, 30s)")
	)
	if err := fs.Parse(args); err != nil {
		return err
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		return fmt.Errorf("--log-level: %w", err)
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))

	var (
		cfg      kiosk.Config
		demoOps  http.Handler
		readers  []qrreader.Reader
		sensOpts sensors.Opts
		err      error
	)
	switch {
	case *demoMode:
		var d *demo
		d, err = startDemo(ctx, demoOptions{
			dataDir: *dataDir, listen: *listen, opsListen: *opsListen,
			portalURL: *portalURL, portalListen: *portalAddr, enrollToken: *token,
			idleTimeout: *idle, idleCountdown: *countdown,
		}, log)
		if err != nil {
			return err
		}
		defer d.Close()
		cfg, demoOps, readers, sensOpts = d.cfg, d.Handler(), []qrreader.Reader{d.camera}, d.sensors
		fmt.Fprintf(stdout, "govkiosk demo\n  kiosk UI:        http://%s/\n  citizen phone:   %s/phone\n  portal console:  %s/\n  receipts (PNG):  %s\n  health, metrics: http://%s/healthz  /metrics\n",
			cfg.Listen, cfg.PortalURL, cfg.PortalURL, d.receiptDir, cfg.OpsListen)
	case *configPath != "":
		cfg, err = kiosk.LoadConfig(*configPath)
		if err != nil {
			return err
		}
	default:
		return errors.New("give --config FILE (see `kioskctl provision`) or --demo")
	}
	return serve(ctx, cfg, serveOptions{readers: readers, sensors: sensOpts, log: log, stdout: stdout, demoOps: demoOps, browser: *browser, submitWait: *submitWait})
}

type serveOptions struct {
	readers    []qrreader.Reader // besides the serial imager: camera frames
	sensors    sensors.Opts      // pins handed in (the demo's fakes); the names come from the config
	log        *slog.Logger
	stdout     io.Writer
	demoOps    http.Handler
	browser    bool
	submitWait time.Duration
}

// serve wires the packages together and runs until ctx is done.
func serve(ctx context.Context, cfg kiosk.Config, o serveOptions) error {
	log := o.log.With("kiosk", cfg.KioskID)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	key, err := provisioning.LoadOrCreateKey(cfg.DataDir)
	if err != nil {
		return err
	}
	portalKey, err := provisioning.LoadPortalKey(cfg.DataDir)
	if err != nil {
		return fmt.Errorf("portal key (is the kiosk provisioned?): %w", err)
	}
	hc := &http.Client{Timeout: 60 * time.Second}
	pc := backendclient.New(cfg.PortalURL, hc, cfg.KioskID, key)
	// No tus checksums: a checksummed PATCH is all-or-nothing, so every cut
	// of a weak link throws its chunk away, while age's authenticated
	// encryption and the signed SHA-256 of each document already catch any
	// corruption at finalise (bench/upload measures both ways).
	pc.SetUploadConfig(tus.Config{NoChecksum: true})

	ageRecipient, err := provisioning.LoadPortalAgeRecipient(cfg.DataDir)
	if err != nil {
		return err
	}
	recipient, err := outbox.ParseRecipient(ageRecipient)
	if err != nil {
		return err
	}
	ob, err := outbox.Open(outbox.Options{
		Dir: filepath.Join(cfg.DataDir, "outbox"), Log: log.With("part", "outbox"), Recipient: recipient,
		Limits: outbox.DefaultLimits, IsPermanent: backendclient.IsPermanent,
	})
	if err != nil {
		return err
	}
	defer ob.Close()
	go ob.Run(ctx, pc)

	cat := kiosk.NewCatalogue(cfg.DataDir, portalKey, backendclient.VerifyCatalogue, log.With("part", "catalogue"))
	go refreshCatalogue(ctx, cat, pc, log)

	// Devices. A missing device is reported, never fatal: the kiosk offers what it can.
	var prn kiosk.Printer
	printerStatus := func(context.Context) device.Status {
		return device.Status{Device: "printer", State: device.NoDevice, At: time.Now()}
	}
	if cfg.Printer.Port != "" {
		p, err := printer.Open(&printer.Opts{Port: cfg.Printer.Port, Baud: cfg.Printer.Baud, WidthDots: cfg.Printer.WidthDots, BandRows: cfg.Printer.BandRows}, log)
		if err != nil {
			log.Warn("printer not available", "err", err)
		} else {
			defer p.Close()
			go p.Run(ctx) // idle status polling: paper near end is seen before it runs out
			prn, printerStatus = p, p.Status
		}
	}
	var scn kiosk.DocumentScanner
	scannerStatus := func(context.Context) device.Status {
		return device.Status{Device: "scanner", State: device.NoDevice, At: time.Now()}
	}
	if cfg.Scanner.Device != "" {
		s, err := scanner.Open(&scanner.Opts{Device: cfg.Scanner.Device, ConfigDir: cfg.Scanner.ConfigDir, Source: cfg.Scanner.Source, DPI: cfg.Scanner.DPI}, log)
		if err != nil {
			log.Warn("scanner not available", "err", err)
		} else {
			defer s.Close()
			scn, scannerStatus = s, s.Status
		}
	}
	sensOpts := o.sensors // the demo hands in fake pins
	sensOpts.DoorPin, sensOpts.LEDPin = cfg.Sensors.DoorPin, cfg.Sensors.LEDPin
	sens, err := sensors.Open(&sensOpts, log)
	if err != nil {
		return err
	}
	defer sens.Close()
	disp, err := display.Open(&display.Opts{SysRoot: cfg.SysRoot}, log)
	if err != nil {
		return err
	}
	defer disp.Close()

	login := identity.New(identity.Config{
		Issuer: cfg.OIDC.Issuer, ClientID: cfg.OIDC.ClientID, RedirectURL: cfg.OIDC.RedirectURL,
		HTTPClient: &http.Client{Timeout: 15 * time.Second}, Log: log.With("part", "identity"),
	})
	ctrl := kiosk.NewController(kiosk.Deps{
		Config: cfg, Log: log.With("part", "session"), Signer: key,
		Login: login, Portal: pc, Outbox: ob, Printer: prn, Scanner: scn, Catalogue: cat,
		SubmitWait: o.submitWait,
		// Technician mode is the cabinet door open: only then is a
		// provisioning code read; the technician's tooling takes it from there.
		Technician: func() bool { open, err := sens.DoorOpen(); return err == nil && open },
		Provision: func(ctx context.Context, payload []byte) {
			log.Info("provisioning code scanned in technician mode", "bytes", len(payload))
		},
	})
	go ctrl.RunIdle(ctx)

	qrStatus := func(context.Context) device.Status {
		return device.Status{Device: "qrreader", State: device.NoDevice, At: time.Now()}
	}
	readers := o.readers
	if cfg.QRReader.Port != "" {
		qr, err := qrreader.OpenSerial(&qrreader.SerialOpts{
			Port: cfg.QRReader.Port, Baud: cfg.QRReader.Baud, MaxLen: cfg.QRReader.MaxLen, Debounce: cfg.QRReader.Debounce,
		}, log)
		if err != nil {
			return err
		}
		defer qr.Close()
		go qr.Run(ctx)
		readers = append(readers, qr)
		qrStatus = qr.Status
	}
	for _, r := range readers {
		go func() {
			for {
				select {
				case <-ctx.Done():
					return
				case s := <-r.Scans():
					ctrl.HandleScan(ctx, s.Data)
				}
			}
		}()
	}

	mon := health.New(health.Options{
		KioskID: cfg.KioskID, Version: version,
		Checkers: map[string]health.Checker{
			"printer":  printerStatus,
			"scanner":  scannerStatus,
			"qrreader": qrStatus,
			"sensors":  sens.Status,
			"display":  disp.Status,
		},
		Backlog: ob.Backlog, DiskPath: cfg.DataDir, SysRoot: cfg.SysRoot,
		Send: pc.Heartbeat, Interval: cfg.Heartbeat.Duration, Log: log.With("part", "health"),
		Warnings: func() []string {
			p, err := ob.Pressure()
			if err != nil {
				return []string{"outbox-unreadable"}
			}
			return p.Reasons
		},
	})
	mon.Refresh(ctx)
	go mon.Run(ctx)

	uiSrv, err := ui.New(ctrl, log.With("part", "ui"))
	if err != nil {
		return err
	}
	ops := http.NewServeMux()
	ops.Handle("/", mon.Handler())
	if o.demoOps != nil {
		ops.Handle("/demo/", o.demoOps)
	}
	errc := make(chan error, 2)
	uiHTTP, err := listenAndServe(ctx, cfg.Listen, uiSrv, errc)
	if err != nil {
		return err
	}
	opsHTTP, err := listenAndServe(ctx, cfg.OpsListen, ops, errc)
	if err != nil {
		return err
	}
	log.Info("kiosk ready", "ui", "http://"+cfg.Listen+"/", "ops", "http://"+cfg.OpsListen+"/healthz", "version", version)
	fmt.Fprintf(o.stdout, "kiosk ready: open http://%s/\n", cfg.Listen)
	if o.browser {
		openBrowser(ctx, "http://"+cfg.Listen+"/", log)
	}

	select {
	case <-ctx.Done():
	case err = <-errc:
	}
	shut, done := context.WithTimeout(context.Background(), 5*time.Second)
	defer done()
	uiHTTP.Shutdown(shut)
	opsHTTP.Shutdown(shut)
	return err
}

func listenAndServe(ctx context.Context, addr string, h http.Handler, errc chan<- error) (*http.Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen %s: %w", addr, err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, BaseContext: func(net.Listener) context.Context { return ctx }}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			errc <- err
		}
	}()
	return srv, nil
}

// refreshCatalogue keeps the catalogue fresh: quickly retried while it fails,
// then every ten minutes.
func refreshCatalogue(ctx context.Context, cat *kiosk.Catalogue, src kiosk.CatalogueSource, log *slog.Logger) {
	wait := 2 * time.Second
	for {
		if err := cat.Refresh(ctx, src); err != nil {
			log.Warn("catalogue refresh failed", "err", err, "retry_in", wait)
			wait = min(wait*2, 5*time.Minute)
		} else {
			wait = 10 * time.Minute
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// openBrowser starts Chromium in kiosk mode when there is a display.
func openBrowser(ctx context.Context, url string, log *slog.Logger) {
	if os.Getenv("DISPLAY") == "" && os.Getenv("WAYLAND_DISPLAY") == "" {
		log.Info("no display: not opening a browser")
		return
	}
	bin, err := exec.LookPath("chromium")
	if err != nil {
		log.Info("chromium not found: open the UI yourself", "url", url)
		return
	}
	profile, err := os.MkdirTemp("", "govkiosk-browser-")
	if err != nil {
		return
	}
	cmd := exec.CommandContext(ctx, bin, "--kiosk", "--no-first-run", "--disable-background-networking",
		"--disable-component-update", "--disable-sync", "--user-data-dir="+profile, url)
	if err := cmd.Start(); err != nil {
		log.Warn("could not start chromium", "err", err)
		return
	}
	go func() { cmd.Wait(); os.RemoveAll(profile) }()
}
