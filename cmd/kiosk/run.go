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

	"github.com/cenkalti/backoff/v5"
	"golang.org/x/sync/errgroup"

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

const (
	// defaultStartTimeout bounds each start-up step that waits on something
	// outside the process: enrollment, the embedded portal, opening a device.
	defaultStartTimeout = 30 * time.Second
	// shutdownTimeout bounds the final flush: HTTP shutdown, closing the
	// outbox and the devices.
	shutdownTimeout = 5 * time.Second
)

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("kiosk", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		configPath   = fs.String("config", "", "kiosk.json written by `kioskctl provision`")
		demoMode     = fs.Bool("demo", false, "simulated devices and an embedded reference portal (binaries built with `make demo`)")
		listen       = fs.String("listen", "127.0.0.1:8080", "touch UI address (loopback only); with --config, given only to override the file")
		opsListen    = fs.String("ops-listen", "127.0.0.1:9100", "health and metrics address (loopback only); with --config, given only to override the file")
		dataDir      = fs.String("data", "demo-data", "demo: data folder")
		portalURL    = fs.String("portal", "", "demo: use this portal instead of the embedded one")
		portalAddr   = fs.String("portal-listen", "127.0.0.1:8090", "demo: embedded portal address")
		token        = fs.String("enroll-token", "", "demo with --portal: one-time enrollment token")
		browser      = fs.Bool("browser", false, "open Chromium in kiosk mode when a display is present")
		submitWait   = fs.Duration("submit-wait", 10*time.Second, "how long a citizen waits for the portal before a provisional receipt")
		startTimeout = fs.Duration("start-timeout", defaultStartTimeout, "bound on each start-up step: enrollment, the embedded portal, opening a device")
		logLevel     = fs.String("log-level", "info", "debug, info, warn or error")
		idle         = fs.Duration("idle-timeout", 0, "demo: idle time before the countdown (default from config, 120s)")
		countdown    = fs.Duration("idle-countdown", 0, "demo: countdown before the wipe (default from config, 30s)")
	)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		return fmt.Errorf("--log-level: %w", err)
	}
	if *startTimeout <= 0 {
		return fmt.Errorf("--start-timeout %v must be positive", *startTimeout)
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))

	var (
		cfg      kiosk.Config
		demoOps  http.Handler
		readers  []qrreader.Reader
		banner   string
		sensOpts sensors.Opts
		err      error
	)
	switch {
	case *demoMode && *configPath != "":
		return errors.New("give --config FILE or --demo, not both")
	case *demoMode:
		dw, err := openDemo(ctx, demoOptions{
			dataDir: *dataDir, listen: *listen, opsListen: *opsListen,
			portalURL: *portalURL, portalListen: *portalAddr, enrollToken: *token,
			idleTimeout: *idle, idleCountdown: *countdown, startTimeout: *startTimeout,
		}, log)
		if err != nil {
			return err
		}
		defer dw.close()
		cfg, demoOps, readers, banner, sensOpts = dw.cfg, dw.ops, dw.readers, dw.banner, dw.sensors
	case *configPath != "":
		if err := refuseDemoFlags(fs); err != nil {
			return err
		}
		if cfg, err = loadConfig(*configPath, fs); err != nil {
			return err
		}
	default:
		return errors.New("give --config FILE (see `kioskctl provision`) or --demo")
	}
	return serve(ctx, cfg, serveOptions{
		readers: readers, sensors: sensOpts, log: log, stdout: stdout, banner: banner, demoOps: demoOps, browser: *browser,
		submitWait: *submitWait, startTimeout: *startTimeout,
	})
}

// loadConfig reads the config file and applies --listen and --ops-listen
// over it, but only those given on the command line (a flag left at its
// default never overrides the file), then validates the result again.
func loadConfig(path string, fs *flag.FlagSet) (kiosk.Config, error) {
	cfg, err := kiosk.LoadConfig(path)
	if err != nil {
		return kiosk.Config{}, err
	}
	fileListen := cfg.Listen
	var given []string
	fs.Visit(func(f *flag.Flag) {
		switch f.Name {
		case "listen":
			cfg.Listen = f.Value.String()
		case "ops-listen":
			cfg.OpsListen = f.Value.String()
		default:
			return
		}
		given = append(given, "--"+f.Name)
	})
	if len(given) == 0 {
		return cfg, nil
	}
	// The login callback provisioning derived from the file's UI address
	// follows the UI to its new address.
	if cfg.Listen != fileListen && cfg.OIDC.RedirectURL == "http://"+fileListen+"/auth/callback" {
		cfg.OIDC.RedirectURL = "http://" + cfg.Listen + "/auth/callback"
	}
	if err := cfg.Validate(); err != nil {
		return kiosk.Config{}, fmt.Errorf("config %s with %v: %w", path, given, err)
	}
	return cfg, nil
}

// demoFlags are the flags only the demo reads.
var demoFlags = map[string]bool{
	"data": true, "portal": true, "portal-listen": true, "enroll-token": true,
	"idle-timeout": true, "idle-countdown": true,
}

// refuseDemoFlags reports demo-only flags given with --config, which would
// otherwise be silently ignored.
func refuseDemoFlags(fs *flag.FlagSet) error {
	var given []string
	fs.Visit(func(f *flag.Flag) {
		if demoFlags[f.Name] {
			given = append(given, "--"+f.Name)
		}
	})
	if len(given) > 0 {
		return fmt.Errorf("%v apply only to --demo; with --config these settings come from the file", given)
	}
	return nil
}

// demoOptions are the demo's command-line settings.
type demoOptions struct {
	dataDir, listen, opsListen           string
	portalURL, portalListen, enrollToken string
	idleTimeout, idleCountdown           time.Duration
	startTimeout                         time.Duration
}

// demoWorld is what run needs of the demo (demo.go, built with -tags demo;
// demo_off.go otherwise).
type demoWorld struct {
	cfg     kiosk.Config
	ops     http.Handler // mounted under /demo/ on the ops port
	readers []qrreader.Reader
	banner  string       // what to open, printed on stdout
	sensors sensors.Opts // the fake GPIO pins
	close   func()
}

type serveOptions struct {
	readers      []qrreader.Reader // besides the serial imager: camera frames
	sensors      sensors.Opts      // pins handed in (the demo's fakes); the names come from the config
	log          *slog.Logger
	stdout       io.Writer
	banner       string // printed on stdout once the kiosk is ready
	demoOps      http.Handler
	browser      bool
	submitWait   time.Duration
	startTimeout time.Duration // bounds opening each device
}

// serve wires the packages together and runs them until ctx is done or one
// of them fails. Cancellation is a clean stop (nil); a subsystem's error
// stops the others and is returned. The final flush is bounded by
// shutdownTimeout.
func serve(ctx context.Context, cfg kiosk.Config, o serveOptions) (err error) {
	log := o.log.With("kiosk", cfg.KioskID)
	if o.startTimeout <= 0 {
		o.startTimeout = defaultStartTimeout
	}

	// Take both addresses first: a busy port is the likeliest start-up
	// failure, and nothing has been opened yet that would need undoing.
	uiLn, err := listen("touch UI", "--listen", cfg.Listen)
	if err != nil {
		return err
	}
	defer uiLn.Close()
	opsLn, err := listen("ops (health, metrics)", "--ops-listen", cfg.OpsListen)
	if err != nil {
		return err
	}
	defer opsLn.Close()

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
	// Deferred closes run after the subsystems below have been joined.
	defer func() { err = errors.Join(err, closeWithin(log, "outbox", shutdownTimeout, ob.Close)) }()

	cat := kiosk.NewCatalogue(cfg.DataDir, portalKey, backendclient.VerifyCatalogue, log.With("part", "catalogue"))

	// Devices. A missing device is reported, never fatal: the kiosk offers what it can.
	var (
		prn    kiosk.Printer
		prnRun func(context.Context) error
	)
	printerStatus := func(context.Context) device.Status {
		return device.Status{Device: "printer", State: device.NoDevice, At: time.Now()}
	}
	if cfg.Printer.Port != "" {
		p, err := within(ctx, o.startTimeout, func() (*printer.Printer, error) {
			return printer.Open(&printer.Opts{Port: cfg.Printer.Port, Baud: cfg.Printer.Baud, WidthDots: cfg.Printer.WidthDots, BandRows: cfg.Printer.BandRows}, log)
		}, func(p *printer.Printer) { p.Close() })
		if err != nil {
			log.Warn("printer not available", "err", err)
		} else {
			defer closeWithin(log, "printer", shutdownTimeout, p.Close)
			// idle status polling: paper near end is seen before it runs out
			prn, printerStatus, prnRun = p, p.Status, p.Run
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
	// The controller's background work (the wipe's token revocation) is
	// joined before the outbox closes, within the shutdown bound.
	defer func() {
		cctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
		defer cancel()
		if cerr := ctrl.Close(cctx); cerr != nil {
			log.Warn("controller background work not finished at shutdown", "err", cerr)
		}
	}()

	qrStatus := func(context.Context) device.Status {
		return device.Status{Device: "qrreader", State: device.NoDevice, At: time.Now()}
	}
	readers := o.readers
	var qr *qrreader.Serial
	if cfg.QRReader.Port != "" {
		var err error
		qr, err = qrreader.OpenSerial(&qrreader.SerialOpts{
			Port: cfg.QRReader.Port, Baud: cfg.QRReader.Baud, MaxLen: cfg.QRReader.MaxLen, Debounce: cfg.QRReader.Debounce,
		}, log)
		if err != nil {
			return err
		}
		defer qr.Close()
		readers = append(readers, qr)
		qrStatus = qr.Status
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
	mon.Refresh(ctx) // bounded by the monitor's check timeout

	uiSrv, err := ui.New(ctrl, log.With("part", "ui"))
	if err != nil {
		return err
	}
	ops := http.NewServeMux()
	ops.Handle("/", mon.Handler())
	if o.demoOps != nil {
		ops.Handle("/demo/", o.demoOps)
	}

	// Everything is open: run the subsystems until one fails or ctx ends.
	g := newGroup(ctx)
	g.goRun("outbox", func(ctx context.Context) error { ob.Run(ctx, pc); return nil })
	g.goRun("catalogue refresh", func(ctx context.Context) error { refreshCatalogue(ctx, cat, pc, log); return nil })
	g.goRun("idle timer", ctrl.RunIdle)
	if prnRun != nil {
		g.goRun("printer", prnRun)
	}
	if qr != nil {
		g.goRun("qr reader", qr.Run)
	}
	for _, r := range readers {
		g.goRun("scans", func(ctx context.Context) error {
			for {
				select {
				case <-ctx.Done():
					return ctx.Err()
				case s, ok := <-r.Scans():
					if !ok {
						log.Warn("a QR reader stopped sending scans")
						return nil
					}
					ctrl.HandleScan(ctx, s.Data)
				}
			}
		})
	}
	g.goRun("health", func(ctx context.Context) error { mon.Run(ctx); return nil })
	g.serveHTTP("touch UI", uiLn, uiSrv, log)
	g.serveHTTP("ops", opsLn, ops, log)

	log.Info("kiosk ready", "ui", "http://"+cfg.Listen+"/", "ops", "http://"+cfg.OpsListen+"/healthz", "version", version)
	fmt.Fprintf(o.stdout, "%skiosk ready: open http://%s/\n", o.banner, cfg.Listen)
	if o.browser {
		openBrowser(g.ctx, "http://"+cfg.Listen+"/", log)
	}
	return g.wait()
}

// listen takes addr for the server named what, set with flagName.
func listen(what, flagName, addr string) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("%s (%s): %w", what, flagName, err)
	}
	return ln, nil
}

// group runs the kiosk's subsystems: the first real error cancels the
// others and is what wait returns; cancellation of the parent is not an
// error.
type group struct {
	ctx      context.Context // canceled when the parent is or a subsystem fails
	g        *errgroup.Group
	shutdown time.Duration // bound on each HTTP server's shutdown
}

func newGroup(ctx context.Context) *group {
	g, gctx := errgroup.WithContext(ctx)
	return &group{ctx: gctx, g: g, shutdown: shutdownTimeout}
}

// goRun runs f in the group. An error f returns because the group's context
// was canceled counts as a clean stop; any other stops the kiosk, named.
func (g *group) goRun(name string, f func(context.Context) error) {
	g.g.Go(func() error {
		err := f(g.ctx)
		if err == nil || (g.ctx.Err() != nil && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded))) {
			return nil
		}
		return fmt.Errorf("%s: %w", name, err)
	})
}

// serveHTTP serves h on ln until the group ends, then shuts the server down
// within g.shutdown (closing what is still open after that).
func (g *group) serveHTTP(name string, ln net.Listener, h http.Handler, log *slog.Logger) {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, BaseContext: func(net.Listener) context.Context { return g.ctx }}
	g.goRun(name+" server", func(context.Context) error {
		if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			return err
		}
		return nil
	})
	g.g.Go(func() error {
		<-g.ctx.Done()
		shut, cancel := context.WithTimeout(context.Background(), g.shutdown)
		defer cancel()
		if err := srv.Shutdown(shut); err != nil {
			log.Warn("server did not shut down in time; closing its connections", "server", name, "within", g.shutdown, "err", err)
			srv.Close()
		}
		return nil
	})
}

// wait waits for every subsystem and returns the first real error, or nil
// when the kiosk was stopped by its context.
func (g *group) wait() error {
	return g.g.Wait()
}

// closeWithin calls closeFn, waiting at most d: a device or database that
// hangs on close must not keep the process from exiting.
func closeWithin(log *slog.Logger, name string, d time.Duration, closeFn func() error) error {
	done := make(chan error, 1)
	go func() { done <- closeFn() }()
	select {
	case err := <-done:
		if err != nil {
			log.Warn("close failed", "part", name, "err", err)
		}
		return err
	case <-time.After(d):
		log.Warn("close did not finish in time; leaving it", "part", name, "within", d)
		return fmt.Errorf("%s: not closed within %v", name, d)
	}
}

// within runs open, which takes no context, for at most d (or until ctx
// ends): a device or peer that hangs costs a bounded wait. What open
// returns after the caller gave up is handed to discard.
func within[T any](ctx context.Context, d time.Duration, open func() (T, error), discard func(T)) (T, error) {
	type result struct {
		v   T
		err error
	}
	done := make(chan result, 1)
	go func() {
		v, err := open()
		done <- result{v, err}
	}()
	t := time.NewTimer(d)
	defer t.Stop()
	giveUp := func(why error) (T, error) {
		go func() {
			if r := <-done; r.err == nil && discard != nil {
				discard(r.v)
			}
		}()
		var zero T
		return zero, why
	}
	select {
	case r := <-done:
		return r.v, r.err
	case <-t.C:
		return giveUp(fmt.Errorf("no answer within %v (--start-timeout)", d))
	case <-ctx.Done():
		return giveUp(ctx.Err())
	}
}

// refreshCatalogue keeps the catalogue fresh: quickly retried while it fails
// (see catalogueRetry), then every ten minutes.
func refreshCatalogue(ctx context.Context, cat *kiosk.Catalogue, src kiosk.CatalogueSource, log *slog.Logger) {
	retry := catalogueRetry()
	for {
		wait := 10 * time.Minute
		if err := cat.Refresh(ctx, src); err != nil {
			wait = retry.NextBackOff()
			log.Warn("catalogue refresh failed", "err", err, "retry_in", wait)
		} else {
			retry.Reset()
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

// catalogueRetry paces catalogue refreshes that fail: 2 s doubling to 5 min,
// from 2 s again after a success, without jitter (kiosks fail at different
// points of their ten-minute cycles, so their retries are spread already).
func catalogueRetry() backoff.ExponentialBackOff {
	b := backoff.ExponentialBackOff{InitialInterval: 2 * time.Second, MaxInterval: 5 * time.Minute, Multiplier: 2}
	b.Reset()
	return b
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
