package main

import (
	"context"
	"crypto"
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
	"sync"
	"time"

	"github.com/cenkalti/backoff/v5"
	"golang.org/x/sync/errgroup"
	"golang.org/x/sys/unix"
	"periph.io/x/conn/v3/gpio"

	backendclient "govkiosk/backend-client"
	"govkiosk/backend-client/api"
	"govkiosk/backend-client/identity"
	"govkiosk/backend-client/tus"
	"govkiosk/drivers/device"
	"govkiosk/drivers/qrreader"
	"govkiosk/drivers/sensors"
	"govkiosk/kiosk"
	"govkiosk/kiosk/config"
	"govkiosk/kiosk/health"
	"govkiosk/kiosk/logring"
	"govkiosk/kiosk/outbox"
	"govkiosk/kiosk/supervise"
	"govkiosk/kiosk/voice"
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
		setupMode    = fs.Bool("setup", false, "with --config: a kiosk not set up yet (no kiosk.json, or device settings only) starts in setup mode and enrolls by the code held to its QR reader")
		demoMode     = fs.Bool("demo", false, "simulated devices and an embedded reference portal (binaries built with `make demo`)")
		listen       = fs.String("listen", "127.0.0.1:8080", "touch UI address (loopback only); with --config, given only to override the file")
		opsListen    = fs.String("ops-listen", "127.0.0.1:9100", "health and metrics address (loopback only); with --config, given only to override the file")
		dataDir      = fs.String("data", "demo-data", "demo: data folder")
		portalURL    = fs.String("portal", "", "demo: use this portal instead of the embedded one")
		portalAddr   = fs.String("portal-listen", "127.0.0.1:8090", "demo: embedded portal address")
		token        = fs.String("enroll-token", "", "demo with --portal: one-time enrollment token")
		fingerprint  = fs.String("ca-fingerprint", "", "demo with --portal: the portal enrollment CA's fingerprint (sha256:HEX; optional for a plain-http loopback portal)")
		browser      = fs.Bool("browser", false, "open Chromium in kiosk mode when a display is present")
		browserSock  = fs.String("browser-socket", "", "serve launch URLs and session ends to `kioskctl browser` on this unix socket (the appliance: /run/govkiosk/browser.sock)")
		submitWait   = fs.Duration("submit-wait", 10*time.Second, "how long a citizen waits for the portal before a provisional receipt")
		voiceOn      = fs.Bool("voice", false, "demo: voice guidance (espeak-ng), as an office turns on with kiosk.json's voice section")
		startTimeout = fs.Duration("start-timeout", defaultStartTimeout, "bound on each start-up step: enrollment, the embedded portal, opening a device")
		logLevel     = fs.String("log-level", "info", "debug, info, warn or error")
		idle         = fs.Duration("idle-timeout", 0, "demo: idle time before the countdown (default from config, 120s)")
		countdown    = fs.Duration("idle-countdown", 0, "demo: countdown before the wipe (default from config, 30s)")
		office       = fs.String("office", "QN-TK", "demo: the office the embedded portal enrolls the kiosk in: QN-TK (Tam Kỳ, Vietnam) or BKK-BR (Bang Rak, Bangkok)")
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
	// The last log lines are kept in memory for the fleet's logs command.
	ring := logring.New(logLines)
	log := slog.New(ring.Handler(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}), max(level, slog.LevelInfo)))

	var (
		cfg     config.Config
		demoOps http.Handler
		readers []qrreader.Reader
		banner  string
		pins    demoPins
	)
	switch {
	case *demoMode && *configPath != "":
		return errors.New("give --config FILE or --demo, not both")
	case *demoMode && *setupMode:
		return errors.New("--setup goes with --config DIR/kiosk.json, not --demo")
	case *demoMode:
		dw, err := openDemo(ctx, demoOptions{
			dataDir: *dataDir, listen: *listen, opsListen: *opsListen,
			portalURL: *portalURL, portalListen: *portalAddr, enrollToken: *token, caFingerprint: *fingerprint,
			idleTimeout: *idle, idleCountdown: *countdown, startTimeout: *startTimeout, voice: *voiceOn, office: *office,
		}, log)
		if err != nil {
			return err
		}
		defer dw.close()
		cfg, demoOps, readers, banner, pins = dw.cfg, dw.ops, dw.readers, dw.banner, dw.pins
	case *configPath != "":
		if err := refuseDemoFlags(fs); err != nil {
			return err
		}
		return runConfigured(ctx, *configPath, fs, *setupMode, serveOptions{
			log: log, ring: ring, stdout: stdout, browser: *browser,
			launcher: *browserSock, submitWait: *submitWait, startTimeout: *startTimeout,
		})
	case *setupMode:
		return errors.New("--setup goes with --config DIR/kiosk.json")
	default:
		return errors.New("give --config FILE (see `kioskctl provision`) or --demo")
	}
	return serve(ctx, cfg, serveOptions{
		readers: readers, pins: pins, log: log, ring: ring, stdout: stdout, banner: banner, demoOps: demoOps, browser: *browser,
		launcher: *browserSock, submitWait: *submitWait, startTimeout: *startTimeout,
	})
}

// loadConfig reads the config file and applies --listen and --ops-listen
// over it, but only those given on the command line (a flag left at its
// default never overrides the file), then validates the result again.
func loadConfig(path string, fs *flag.FlagSet) (config.Config, error) {
	cfg, err := config.Load(path)
	if err != nil {
		return config.Config{}, err
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
		return config.Config{}, fmt.Errorf("config %s with %v: %w", path, given, err)
	}
	return cfg, nil
}

// demoFlags are the flags only the demo reads.
var demoFlags = map[string]bool{
	"data": true, "portal": true, "portal-listen": true, "enroll-token": true, "ca-fingerprint": true,
	"idle-timeout": true, "idle-countdown": true, "voice": true, "office": true,
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
	caFingerprint                        string
	idleTimeout, idleCountdown           time.Duration
	startTimeout                         time.Duration
	voice                                bool   // voice guidance on
	office                               string // the embedded portal's office code (a catalogue office profile)
}

// demoWorld is what run needs of the demo (demo.go, built with -tags demo;
// demo_off.go otherwise).
type demoWorld struct {
	cfg     config.Config
	ops     http.Handler // mounted under /demo/ on the ops port
	readers []qrreader.Reader
	banner  string   // what to open, printed on stdout
	pins    demoPins // the simulated cabinet's door and LED
	close   func()
}

// demoPins are the simulated cabinet's GPIO pins (nil outside the demo:
// the pins are looked up by the names in the config).
type demoPins struct{ door, led gpio.PinIO }

type serveOptions struct {
	readers      []qrreader.Reader // besides the serial imager: camera frames
	pins         demoPins          // pins handed in (the demo's fakes); otherwise the names in the config
	log          *slog.Logger
	ring         *logring.Ring // the log's last lines (nil: none kept)
	stdout       io.Writer
	banner       string // printed on stdout once the kiosk is ready
	demoOps      http.Handler
	browser      bool
	submitWait   time.Duration
	startTimeout time.Duration      // bounds opening each device
	launcher     string             // unix socket where kioskctl browser (the touchscreen's unit) gets launch URLs and session ends
	notify       supervise.Notifier // reaches the service manager (nil: systemd's NOTIFY_SOCKET)
}

// screen is how the touchscreen's browser reaches the UI, which answers
// only the browser that opens a launch URL first: Chromium the kiosk runs
// itself (--browser), `kioskctl browser` asking on the launcher socket
// (--browser-socket), or whoever is shown the launch URL printed when
// ready. Setup mode and serving both open one.
type screen struct {
	browser   string       // the browser binary the kiosk runs; "": none
	launchURL string       // printed when there is no browser of the kiosk's own
	ln        net.Listener // the launcher socket; nil: none
}

func (o serveOptions) openScreen(uiSrv *ui.Server, log *slog.Logger) (screen, error) {
	var s screen
	if o.browser {
		s.browser = findBrowser(log)
	}
	if s.browser == "" {
		u, err := uiSrv.LaunchURL()
		if err != nil {
			return screen{}, err
		}
		s.launchURL = u
	}
	if o.launcher != "" {
		ln, err := listenUnix(o.launcher)
		if err != nil {
			return screen{}, fmt.Errorf("browser socket (--browser-socket): %w", err)
		}
		s.ln = ln
	}
	return s, nil
}

func (s screen) close() {
	if s.ln != nil {
		s.ln.Close()
	}
}

// run serves the launcher socket, starts the kiosk's browser and prints,
// after what ("kiosk ready"), where the UI is.
func (s screen) run(g *group, uiSrv *ui.Server, cfg config.Config, stdout io.Writer, what string, log *slog.Logger) {
	if s.ln != nil {
		g.serveHTTP("browser launcher", s.ln, uiSrv.LauncherHandler(), log)
	}
	if s.browser != "" {
		g.goRun("browser", func(ctx context.Context) error {
			return runBrowser(ctx, s.browser, uiSrv.LaunchURL, cfg.TempDir(), log)
		})
		fmt.Fprintf(stdout, "%s: the kiosk's browser shows http://%s/\n", what, cfg.Listen)
	} else {
		fmt.Fprintf(stdout, "%s: open %s once, in the kiosk's browser\n", what, s.launchURL)
	}
}

// supervisor tells the service manager READY, WATCHDOG while every probe
// answers, and STOPPING; setup mode and serving both run one.
func (o serveOptions) supervisor(log *slog.Logger, probes ...supervise.Probe) *supervise.Supervisor {
	notify := o.notify
	if notify == nil {
		notify = supervise.Systemd
	}
	watchdog, err := supervise.WatchdogInterval()
	if err != nil {
		log.Warn("watchdog interval from systemd unreadable: no watchdog pings", "err", err)
	}
	return supervise.New(supervise.Options{Notify: notify, Interval: watchdog, Log: log.With("part", "supervise"), Probes: probes})
}

// serve wires the packages together and runs them until ctx is done or one
// of them fails. Cancellation is a clean stop (nil); a subsystem's error
// stops the others and is returned. The final flush is bounded by
// shutdownTimeout.
func serve(ctx context.Context, cfg config.Config, o serveOptions) (err error) {
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
	// A version on trial counts this start before anything else can fail.
	upd, err := startUpdater(cfg, log)
	if err != nil {
		return err
	}

	key, err := provisioning.LoadOrCreateKey(cfg.DataDir)
	if err != nil {
		return err
	}
	portalKey, err := provisioning.LoadPortalKey(cfg.DataDir)
	if err != nil {
		return fmt.Errorf("portal key (is the kiosk provisioned?): %w", err)
	}
	if err := emptyPrivateDir(cfg.TempDir(), log); err != nil {
		return err
	}
	// Everything to the portal and the provider's back channel goes over
	// TLS pinned to the portal CA, with the device certificate.
	// The device certificate is held where every TLS connection reads it
	// (the portal's, the fleet broker's): renewal swaps it without a restart.
	deviceCert, err := provisioning.LoadDeviceCert(cfg.DataDir, key)
	if err != nil {
		return err
	}
	hc, err := provisioning.PortalClientFor(cfg.DataDir, deviceCert, cfg.AllowInsecureLoopback, 60*time.Second)
	if err != nil {
		return err
	}
	loginHC := *hc
	loginHC.Timeout = 15 * time.Second
	pc := backendclient.New(cfg.PortalURL, hc, cfg.KioskID, key)
	pc.SetPortalKey(portalKey) // the outbox deletes a packet only on the portal's signed acknowledgement
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
	defer func() { err = errors.Join(err, device.CloseWithin(log, "outbox", shutdownTimeout, ob.Close)) }()

	cat := kiosk.NewCatalogue(cfg.DataDir, portalKey, backendclient.VerifyCatalogue, log.With("part", "catalogue"), nil)

	// Devices. A missing printer or scanner is reported, never fatal: the
	// kiosk offers what it can.
	devs, err := config.Open(ctx, cfg.DeviceOptions(), config.OpenOptions{
		Log: log, Timeout: o.startTimeout, Door: o.pins.door, LED: o.pins.led,
	})
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, devs.Close(shutdownTimeout)) }()
	sens := devs.Sensors

	login := identity.New(loginConfig(cfg, key, &loginHC, log.With("part", "identity")))
	km := health.NewKioskMetrics() // the controller counts, /metrics serves
	ctrl := kiosk.NewController(kiosk.Deps{
		Metrics: km,
		Config:  cfg.Config, Log: log.With("part", "session"), Signer: key,
		Login: login, Portal: pc, Outbox: ob, Catalogue: cat,
		Printer: devs.Printer, Scanner: devs.Scanner, // nil interfaces when absent
		SubmitWait: o.submitWait, ReceiptWidthDots: devs.ReceiptWidthDots, ScanDPI: devs.ScanDPI, ScanDuplex: devs.ScanDuplex,
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

	// The fleet link: the monitor's snapshots feed it, its commands reach
	// the outbox, the catalogue, the devices and the controller.
	if o.ring == nil {
		o.ring = logring.New(1)
	}
	svc := &serviceState{ctrl: ctrl, log: log.With("part", "service")}
	fk := &fleetKiosk{
		ob: ob, cat: cat, src: pc, devs: devs, kioskID: cfg.KioskID, ring: o.ring, svc: svc, cert: deviceCert.Leaf, log: log.With("part", "fleet"),
	}
	fc, err := openFleet(cfg, deviceCert, fk, log.With("part", "fleet"))
	if err != nil {
		return err
	}
	// A revoked kiosk learns it from whichever request the portal refuses
	// first: a heartbeat (within a minute) or its renewal.
	var revoke func()
	send := func(ctx context.Context, hb api.Heartbeat) error {
		err := pc.Heartbeat(ctx, hb)
		if errors.Is(err, backendclient.ErrKioskRevoked) && revoke != nil {
			revoke()
		}
		return err
	}
	if fc != nil {
		feed := &fleetFeed{c: fc, cert: deviceCert.Leaf, log: log.With("part", "fleet"), extra: func() (int, string, bool) {
			return needsAttention(ob), cat.Version(), svc.outOfService() || ctrl.Step() == kiosk.StepOutOfService // the door, the fleet, or revoked
		}, counts: km.FleetCounts}
		portalSend := send
		send = func(ctx context.Context, hb api.Heartbeat) error {
			feed.heartbeat(hb)
			return portalSend(ctx, hb)
		}
	}

	readers := o.readers
	if devs.QRReader != nil {
		readers = append(readers, devs.QRReader)
	}

	mon := health.New(health.Options{
		KioskID: cfg.KioskID, Version: version, Kiosk: km,
		Checkers: checkers(devs),
		Backlog:  ob.Backlog, DiskPath: cfg.DataDir,
		Temperature: func() (float64, error) { return sensors.Temperature(cfg.SysRoot) },
		Send:        send, Interval: cfg.Heartbeat.Duration, Log: log.With("part", "health"),
		Sequence: health.OpenSequence(filepath.Join(cfg.DataDir, "heartbeat.seq"), log.With("part", "health")),
		Warnings: func() []string {
			w := cat.Warnings()
			p, err := ob.Pressure()
			if err != nil {
				return append(w, "outbox-unreadable")
			}
			return append(w, p.Reasons...)
		},
		UpdateState: updateState(upd),
	})
	mon.Refresh(ctx) // bounded by the monitor's check timeout
	if upd != nil {
		wireUpdater(upd, cfg, ctrl, mon, hc, func(ctx context.Context) error { _, err := pc.SignedCatalogue(ctx); return err })
	}

	// Service mode: the technician's screens while the cabinet door is open.
	decom := newDecommission(cfg, pc, ob)
	sw := serviceWiring{cfg: cfg, devs: devs, ob: ob, fk: fk, mon: mon, version: version, catalog: cat.Version, log: log.With("part", "service"),
		portal: hc, deviceCert: deviceCert.Leaf, lastHeartbeat: mon.LastDelivered, decommission: decom.retire}
	if fc != nil {
		sw.fleetLink = fc
		sw.event = func(kind, detail string) {
			if err := fc.Event(kind, "", detail); err != nil {
				log.Warn("fleet event not queued", "kind", kind, "err", err)
			}
		}
	}
	mode, err := openService(sw)
	if err != nil {
		return err
	}
	fk.mode = mode // before the fleet link runs
	km.SetCertNotAfter(deviceCert.Leaf().NotAfter)
	// The revoked event reaches the fleet only while the broker still lets
	// the kiosk in: when the revocation list got there first (a revocation
	// from the fleet console), it stays in the queue.
	revoke = sync.OnceFunc(func() {
		log.Error("the portal refuses this kiosk as revoked or retired: out of service for good")
		ctrl.SetRevoked()
		if sw.event != nil {
			sw.event("revoked", "the portal refuses this kiosk as revoked or retired")
		}
	})
	renewal := provisioning.NewRenewal(provisioning.RenewalOptions{
		DataDir: cfg.DataDir, Cert: deviceCert, Portal: pc, Log: log.With("part", "certificate"),
		Renewed: func(notAfter time.Time) {
			km.SetCertNotAfter(notAfter)
			hc.CloseIdleConnections() // the next requests present the new certificate
		},
		Revoked: revoke,
	})

	var speaker *voice.Speaker
	if cfg.Voice.Enabled {
		if speaker, err = voice.New(cfg.Voice); err != nil {
			return fmt.Errorf("voice: %w", err)
		}
	}
	uiSrv, err := ui.New(ctrl, ui.Options{Log: log.With("part", "ui"), Listen: cfg.Listen, Voice: speaker, Service: mode})
	if err != nil {
		return err
	}
	ops := http.NewServeMux()
	ops.Handle("/", mon.Handler())
	if o.demoOps != nil {
		ops.Handle("/demo/", o.demoOps)
		ops.Handle("POST /demo/launch", demoLaunch(uiSrv))
	}

	scr, err := o.openScreen(uiSrv, log)
	if err != nil {
		return err
	}
	defer scr.close()

	// The service manager hears READY once everything below runs, WATCHDOG
	// only while the controller and the UI answer, STOPPING at shutdown.
	sup := o.supervisor(log,
		supervise.Probe{Name: "controller", Check: func(context.Context) error { ctrl.Step(); return nil }}, // takes the controller's lock
		supervise.Probe{Name: "touch UI", Check: uiAnswers("http://" + cfg.Listen + "/")},
	)

	// Everything is open: run the subsystems until one fails or ctx ends.
	g := newGroup(ctx)
	g.goRun("watchdog", sup.Run)
	g.goRun("stopping", func(ctx context.Context) error {
		<-ctx.Done()
		if !decom.retired() { // a decommissioned kiosk goes on in setup mode
			sup.Stopping()
		}
		return nil
	})
	g.goRun("outbox", func(ctx context.Context) error { ob.Run(ctx, km.MeterSender(pc)); return nil })
	g.goRun("catalogue refresh", func(ctx context.Context) error { refreshCatalogue(ctx, cat, pc, log); return nil })
	g.goRun("idle timer", ctrl.RunIdle)
	if devs.Printer != nil {
		g.goRun("printer", devs.Printer.Run) // idle status polling: paper near end is seen before it runs out
	}
	if devs.QRReader != nil {
		g.goRun("qr reader", devs.QRReader.Run)
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
					scanTo(ctx, mode, ctrl, s.Data)
				}
			}
		})
	}
	g.goRun("health", func(ctx context.Context) error { mon.Run(ctx); return nil })
	g.goRun("certificate renewal", renewal.Run)
	g.goRun("decommission", decom.wait) // ends the kiosk with errDecommissioned once retired
	g.goRun("door", func(ctx context.Context) error { return watchDoor(ctx, sens, doorSwitch{svc, mode}, mon, log) })
	if mode != nil {
		g.goRun("service mode", func(ctx context.Context) error { mode.Run(ctx, serviceTick); return nil })
	}
	if fc != nil {
		g.goRun("fleet link", fc.Run) // ErrRestart ends the kiosk: main exits for systemd to restart it
	}
	if upd != nil {
		g.goRun("updater", upd.Run) // ends with update.ErrRestart to start the switched release
	}
	g.serveHTTP("touch UI", uiLn, uiSrv, log)
	g.serveHTTP("ops", opsLn, ops, log)
	log.Info("kiosk ready", "ui", "http://"+cfg.Listen+"/", "ops", "http://"+cfg.OpsListen+"/healthz", "version", version)
	scr.run(g, uiSrv, cfg, o.stdout, o.banner+"kiosk ready", log)
	sup.Ready("ready")
	return g.wait()
}

// demoLaunch answers a new one-time launch URL, for the demo user's browser
// (a restarted browser needs one: the UI answers only the browser that used
// the newest). Only on loopback names, so a page rebinding a name of its own
// to the ops port cannot read one.
func demoLaunch(uiSrv *ui.Server) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if host, _, _ := net.SplitHostPort(r.Host); host != "127.0.0.1" && host != "localhost" && host != "::1" {
			http.Error(w, "misdirected request", http.StatusMisdirectedRequest)
			return
		}
		u, err := uiSrv.LaunchURL()
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		fmt.Fprintln(w, u)
	})
}

// emptyPrivateDir readies the kiosk's private directory (kiosk.Config.TempDir)
// for the files personal data passes through: whatever a crash left in it is
// overwritten and removed, and it is made private to the kiosk. It may be a
// tmpfs mount point, so it is emptied, never removed itself.
func emptyPrivateDir(dir string, log *slog.Logger) error {
	ents, err := os.ReadDir(dir)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("private directory: %w", err)
	}
	for _, e := range ents {
		if err := device.RemoveScrubbed(filepath.Join(dir, e.Name())); err != nil {
			return fmt.Errorf("private directory: %w", err)
		}
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("private directory: %w", err)
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return fmt.Errorf("private directory: %w", err)
	}
	if len(ents) > 0 {
		log.Info("private directory emptied", "dir", dir, "entries", len(ents))
	}
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err == nil && st.Type != unix.TMPFS_MAGIC {
		log.Info("the private directory is not a tmpfs: scans and receipts touch the disk, overwritten before removal", "dir", dir)
	}
	return nil
}

// watchDoor takes the kiosk out of service while the cabinet door is open:
// as it opens, any citizen's session is wiped and a heartbeat carrying the
// door-open warning goes to the portal at once, not at the next interval;
// as it closes, the kiosk is back in service and says so. Without a door
// sensor there is nothing to watch.
func watchDoor(ctx context.Context, sens *sensors.Sensors, ctrl outOfServicer, mon *health.Monitor, log *slog.Logger) error {
	started := false
	err := sens.WatchDoor(ctx, func(open bool) {
		ctrl.SetOutOfService(open)
		if open || started { // a door closed at start is no news
			mon.SendNow()
		}
		started = true
	})
	if errors.Is(err, sensors.ErrNoDevice) {
		log.Warn("no door sensor: an opened cabinet does not stop the kiosk")
		return nil
	}
	return err
}

// loginConfig is the citizens' login at the national ID provider: the kiosk
// is a confidential client that signs its private_key_jwt assertions with
// its device key, named by its kiosk ID (the key the portal enrolled), and
// requires the levels of assurance it was given at enrollment.
func loginConfig(cfg config.Config, key crypto.Signer, hc *http.Client, log *slog.Logger) identity.Config {
	return identity.Config{
		Issuer: cfg.OIDC.Issuer, ClientID: cfg.OIDC.ClientID, RedirectURL: cfg.OIDC.RedirectURL,
		HTTPClient: hc, Log: log,
		Signer: key, KeyID: cfg.KioskID, ACRValues: cfg.OIDC.ACRValues,
	}
}

// uiAnswers is the watchdog's probe of the touch UI: any HTTP answer (it
// refuses every client but its browser) means it serves.
func uiAnswers(u string) func(ctx context.Context) error {
	hc := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	return func(ctx context.Context) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodHead, u, nil)
		if err != nil {
			return err
		}
		resp, err := hc.Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
		return nil
	}
}

// listenUnix takes the unix socket at path, replacing one a crash left
// behind, readable and writable by the owner and group only (the browser's
// user is in the kiosk's group).
func listenUnix(path string) (net.Listener, error) {
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, err
	}
	if err := os.Chmod(path, 0o660); err != nil {
		ln.Close()
		return nil, err
	}
	return ln, nil
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

// findBrowser is the Chromium to open in kiosk mode, or "" when there is no
// display or no Chromium.
func findBrowser(log *slog.Logger) string {
	if os.Getenv("DISPLAY") == "" && os.Getenv("WAYLAND_DISPLAY") == "" {
		log.Info("no display: not opening a browser")
		return ""
	}
	bin, err := exec.LookPath("chromium")
	if err != nil {
		log.Info("chromium not found: open the launch URL yourself")
		return ""
	}
	return bin
}

// runBrowser keeps Chromium open in kiosk mode until ctx ends, each time at
// a fresh launch URL: a browser that exits is opened again, and its new
// launch shuts out whatever held the old cookie.
func runBrowser(ctx context.Context, bin string, launch func() (string, error), profiles string, log *slog.Logger) error {
	for {
		u, err := launch()
		if err != nil {
			return err
		}
		profile, err := os.MkdirTemp(profiles, "browser-")
		if err != nil {
			return fmt.Errorf("browser profile: %w", err)
		}
		// Autoplay: the Listen button without script reloads the screen
		// with its instruction's audio playing.
		cmd := exec.CommandContext(ctx, bin, "--kiosk", "--no-first-run", "--disable-background-networking",
			"--disable-component-update", "--disable-sync", "--autoplay-policy=no-user-gesture-required", "--user-data-dir="+profile, u)
		err = cmd.Run()
		os.RemoveAll(profile)
		if ctx.Err() != nil {
			return nil
		}
		log.Warn("the kiosk's browser exited; opening it again", "err", err)
		t := time.NewTimer(2 * time.Second)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
	}
}

// checkers are the health monitor's device checks.
func checkers(devs *config.Set) map[string]health.Checker {
	m := map[string]health.Checker{}
	for name, f := range devs.Checkers() {
		m[name] = f
	}
	return m
}
