//go:build demo

package main

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"image"
	_ "image/jpeg"
	_ "image/png"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/crypto/bcrypt"
	"periph.io/x/conn/v3/gpio"

	backendclient "govkiosk/backend-client"
	"govkiosk/backend-client/api"
	"govkiosk/backend-client/portaladmin"
	"govkiosk/drivers/device"
	"govkiosk/drivers/printer/escposemu"
	"govkiosk/drivers/qrreader"
	"govkiosk/drivers/qrreader/imageremu"
	"govkiosk/drivers/scanner"
	"govkiosk/drivers/sensors/sensorstest"
	"govkiosk/fleet"
	"govkiosk/fleet/console"
	"govkiosk/fleet/crl"
	"govkiosk/fleet/exporter"
	"govkiosk/fleet/pki"
	fleetservice "govkiosk/fleet/service"
	fleetstore "govkiosk/fleet/store"
	"govkiosk/fleet/techauth"
	"govkiosk/kiosk/config"
	"govkiosk/portal"
	"govkiosk/provisioning"
)

// demo is the simulated world around a kiosk: the ESC/POS printer and the QR
// imager on pseudo-terminals, SANE's test scanner, fake GPIO pins and, unless
// another portal is named, the reference portal in-process.
type demo struct {
	cfg        config.Config
	receiptDir string
	printer    *escposemu.Emulator
	imager     *imageremu.Emulator
	camera     *qrreader.Frames
	pins       demoPins // fake GPIO pins, handed to the sensors driver
	portal     *portal.Server
	stopPortal context.CancelFunc // ends the embedded portal's serving
	fleet      *fleetservice.Service
	fleetStore *fleetstore.Store
	tech       *techauth.Issuer // the demo fleet's technician tokens
	crl        *crl.List        // the embedded portal's revocation list, as the demo fleet keeps it
	// fleetConsole serves the fleet's staff console and /metrics on
	// loopback; staffPassword is its demo user's, new each run.
	fleetConsole  *http.Server
	consoleURL    string
	staffPassword string
}

// openDemo starts the demo world for run.
func openDemo(ctx context.Context, o demoOptions, log *slog.Logger) (demoWorld, error) {
	d, err := startDemo(ctx, o, log)
	if err != nil {
		return demoWorld{}, err
	}
	token := "the one the portal printed at start"
	if d.portal != nil {
		token = d.portal.AdminToken()
	}
	banner := fmt.Sprintf("govkiosk demo\n  kiosk UI:        the launch URL below, once; a new one: curl -X POST http://%s/demo/launch\n"+
		"  citizen phone:   %s/phone\n  portal console:  %s/\n"+
		"  admin token:     %s\n                   (the phone and the console ask for it once, at %s/login)\n"+
		"  receipts (PNG):  %s\n  health, metrics: http://%s/healthz  /metrics\n"+
		"  fleet:           %s (embedded broker, SQLite store); what it recorded: curl http://%s/demo/fleet; a command: curl -d name=selftest http://%s/demo/fleet\n"+
		"  fleet console:   %s  (user %s, password %s; new each run)  metrics: %smetrics\n",
		d.cfg.OpsListen, d.cfg.PortalURL, d.cfg.PortalURL, token, d.cfg.PortalURL, d.receiptDir, d.cfg.OpsListen,
		d.cfg.Fleet.Broker, d.cfg.OpsListen, d.cfg.OpsListen, d.consoleURL, demoStaffUser, d.staffPassword, d.consoleURL)
	return demoWorld{cfg: d.cfg, ops: d.Handler(), readers: []qrreader.Reader{d.camera}, banner: banner, pins: d.pins, close: d.Close}, nil
}

// startDemo builds the simulated world. Each step that waits on something
// (the embedded portal, enrollment) is bounded by o.startTimeout; on any
// failure what was started is stopped again.
func startDemo(ctx context.Context, o demoOptions, log *slog.Logger) (*demo, error) {
	if o.startTimeout <= 0 {
		o.startTimeout = defaultStartTimeout
	}
	root, err := filepath.Abs(o.dataDir)
	if err != nil {
		return nil, err
	}
	kioskDir := filepath.Join(root, "kiosk")
	saneDir := filepath.Join(root, "sane")
	d := &demo{receiptDir: filepath.Join(root, "receipts")}
	for _, dir := range []string{kioskDir, saneDir, d.receiptDir} {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("demo data folder: %w", err)
		}
	}
	started := false
	defer func() {
		if !started {
			d.Close()
		}
	}()

	portalURL, token, fingerprint := o.portalURL, o.enrollToken, o.caFingerprint
	if portalURL == "" {
		// The portal serves until d.Close, not merely until start-up ends.
		pctx, stop := context.WithCancel(context.WithoutCancel(ctx))
		d.stopPortal = stop
		type startedPortal struct {
			srv *portal.Server
			url string
		}
		sp, err := device.Within(ctx, o.startTimeout, func() (startedPortal, error) {
			srv, url, err := portal.Start(pctx, portal.Options{
				Listen:            o.portalListen,
				PlainHTTP:         true, // the kiosk's browser and the phone page open it without a CA to trust
				DataDir:           filepath.Join(root, "portal"),
				KioskRedirectURIs: []string{"http://" + o.listen + "/auth/callback"},
				PhoneSimulator:    true, // the demo's citizen phone, behind the admin token
				OfficeCode:        o.office,
				TrackingPrefix:    trackingPrefix(o.office),
				Log:               log.With("part", "portal"),
			})
			return startedPortal{srv, url}, err
		}, func(late startedPortal) { stop() })
		if err != nil {
			return nil, fmt.Errorf("embedded portal (--portal-listen %s): %w", o.portalListen, err)
		}
		srv := sp.srv
		portalURL = sp.url
		d.portal = srv
		if token, err = srv.IssueEnrollToken(); err != nil {
			return nil, fmt.Errorf("embedded portal: %w", err)
		}
		fingerprint = srv.CAFingerprint()
	}

	if d.printer, err = escposemu.Start(d.receiptDir, log.With("sim", "printer")); err != nil {
		return nil, fmt.Errorf("printer emulator: %w", err)
	}
	if d.imager, err = imageremu.Start(log.With("sim", "imager")); err != nil {
		return nil, fmt.Errorf("imager emulator: %w", err)
	}
	if d.camera, err = qrreader.OpenFrames(&qrreader.FramesOpts{Debounce: device.D(2 * time.Second)}, log); err != nil {
		return nil, fmt.Errorf("camera: %w", err)
	}
	if err := scanner.WriteTestConfig(saneDir); err != nil {
		return nil, fmt.Errorf("sane test config: %w", err)
	}
	door, led := sensorstest.Pins("KIOSK_DOOR", "KIOSK_LED")
	d.pins = demoPins{door: door, led: led}
	sysRoot := filepath.Join(root, "sys")
	if err := writeFakeSys(sysRoot); err != nil {
		return nil, fmt.Errorf("fake sysfs: %w", err)
	}

	// Device settings change every run (new pseudo-terminals); the identity
	// from enrollment is kept across runs.
	var base config.Config
	base.Printer.Port = d.printer.PortPath()
	base.QRReader.Port = d.imager.PortPath()
	base.Scanner.Device = "test"
	base.Scanner.ConfigDir = saneDir
	base.Sensors.DoorPin, base.Sensors.LEDPin = "KIOSK_DOOR", "KIOSK_LED"

	cfgPath := filepath.Join(kioskDir, "kiosk.json")
	cfg, err := config.Load(cfgPath)
	if err != nil || cfg.PortalURL != portalURL || (d.portal != nil && cfg.OfficeCode != o.office) {
		if token == "" {
			return nil, errors.New("--portal needs --enroll-token for a kiosk that is not provisioned yet")
		}
		enroller := backendclient.New(portalURL, provisioning.EnrollmentClient(fingerprint, true, o.startTimeout), "", nil)
		ectx, cancel := context.WithTimeout(ctx, o.startTimeout)
		cfg, err = provisioning.Provision(ectx, enroller, provisioning.ProvisionOptions{
			DataDir: kioskDir, PortalURL: portalURL, Token: token, CAFingerprint: fingerprint, AllowInsecureLoopback: true,
			Listen: o.listen, OpsListen: o.opsListen, Base: base,
		})
		// The client's own timeout is the same length and, on a loaded
		// machine, may fire first: either is the deadline.
		var ne net.Error
		timedOut := ectx.Err() == context.DeadlineExceeded || errors.As(err, &ne) && ne.Timeout()
		cancel()
		switch {
		case err != nil && timedOut:
			return nil, fmt.Errorf("enroll the demo kiosk with the portal %s: no answer within %v (--start-timeout)", portalURL, o.startTimeout)
		case err != nil:
			return nil, fmt.Errorf("enroll the demo kiosk with the portal %s: %w", portalURL, err)
		}
	}
	cfg.Devices = base.Devices
	cfg.AllowInsecureLoopback = true // the demo's portal may be plain http on this machine
	cfg.Listen, cfg.OpsListen, cfg.SysRoot = o.listen, o.opsListen, sysRoot
	cfg.IdleTimeout.Duration, cfg.IdleCountdown.Duration = o.idleTimeout, o.idleCountdown
	if err := d.startFleet(ctx, &cfg, kioskDir, o.startTimeout, log); err != nil {
		return nil, err
	}
	cfg.Voice.Enabled = o.voice
	cfg.SetDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("demo config: %w", err)
	}
	d.cfg = cfg
	started = true
	return d, nil
}

// startFleet starts the embedded fleet service (its MQTT broker on a free
// loopback port, the hub recording into memory) and points the kiosk at
// it: the broker's certificate is from a CA of the demo's own, which the
// kiosk trusts besides the portal CA; the broker takes the kiosk's device
// certificate from the portal's enrollment CA.
func (d *demo) startFleet(ctx context.Context, cfg *config.Config, kioskDir string, timeout time.Duration, log *slog.Logger) error {
	ca, err := pki.NewCA("govkiosk demo fleet CA", 30*24*time.Hour)
	if err != nil {
		return err
	}
	caFile, err := ca.WritePEM(kioskDir, "fleet-ca.pem")
	if err != nil {
		return fmt.Errorf("demo fleet CA: %w", err)
	}
	server, err := ca.Server("127.0.0.1")
	if err != nil {
		return err
	}
	portalCA, err := os.ReadFile(filepath.Join(kioskDir, provisioning.PortalCAFile))
	if err != nil {
		return fmt.Errorf("demo fleet: %w", err)
	}
	kioskCAs := x509.NewCertPool()
	if !kioskCAs.AppendCertsFromPEM(portalCA) {
		return errors.New("demo fleet: no portal CA certificate")
	}
	if d.fleetStore, err = fleetstore.Open(ctx, filepath.Join(kioskDir, "fleet.db")); err != nil {
		return fmt.Errorf("demo fleet store: %w", err)
	}
	// The embedded portal's revocation list: the broker refuses the kiosks
	// revoked or retired there (the fleet console's buttons).
	if d.portal != nil {
		blk, _ := pem.Decode(portalCA)
		if blk == nil {
			return errors.New("demo fleet: no portal CA certificate")
		}
		enrollCA, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			return fmt.Errorf("demo fleet: portal CA: %w", err)
		}
		if d.crl, err = crl.New(crl.Options{URL: cfg.PortalURL + api.PathCRL, CA: enrollCA,
			File: filepath.Join(kioskDir, "fleet-crl.pem"), Log: log.With("part", "fleet-crl")}); err != nil {
			return fmt.Errorf("demo fleet: %w", err)
		}
	}
	d.fleet, err = fleetservice.Start(ctx, fleetservice.Options{
		MQTTListen: "127.0.0.1:0", ServerCert: &server, KioskCAs: kioskCAs, Store: d.fleetStore, CRL: d.crl,
		StartTimeout: timeout, Log: log.With("part", "fleet-service"),
	})
	if err != nil {
		return fmt.Errorf("embedded fleet service: %w", err)
	}
	cfg.Fleet.Broker, cfg.Fleet.CAFile = d.fleet.BrokerURL(), caFile
	// Technician tokens: the demo fleet signs them, the kiosk pins its key.
	if d.tech, err = techauth.Open(filepath.Join(kioskDir, "demo-fleet-tech.key"), nil, nil); err != nil {
		return fmt.Errorf("demo fleet: %w", err)
	}
	cfg.Fleet.TechKey = d.tech.PublicKeyText()
	return d.startConsole(log, cfg.PortalURL, cfg.OfficeCode)
}

// demoStaffUser is the fleet console's demo staff member.
const demoStaffUser = "staff"

// startConsole serves the fleet's staff console and /metrics on a free
// loopback port, with one staff member whose password is new each run
// (printed in the banner).
func (d *demo) startConsole(log *slog.Logger, portalURL, office string) error {
	d.staffPassword = rand.Text()[:12]
	hash, err := bcrypt.GenerateFromPassword([]byte(d.staffPassword), bcrypt.DefaultCost)
	if err != nil {
		return err
	}
	co := console.Options{Store: d.fleetStore, Commander: d.fleet.Hub,
		Users: console.Users{demoStaffUser: hash}, Logger: log.With("part", "fleet-console")}
	eo := &exporter.Opts{}
	if d.portal != nil {
		// The demo staff member is an operator: enroll, revoke, retire.
		admin, err := portaladmin.New(portalURL, d.portal.AdminToken(), nil)
		if err != nil {
			return err
		}
		co.Portal, co.RefreshCRL, co.Offices, co.Operators = admin, d.crl.Refresh, []string{office}, []string{demoStaffUser}
		eo.Extra = append(eo.Extra, d.crl.WriteMetrics)
	}
	con, err := console.New(co)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("demo fleet console: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", exporter.New(d.fleetStore, eo).Handler())
	mux.Handle("/", con)
	d.fleetConsole = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	d.consoleURL = "http://" + ln.Addr().String() + "/"
	go d.fleetConsole.Serve(ln)
	return nil
}

// fleetHandler shows what the embedded fleet service recorded of the kiosk
// (GET) and sends it a command as staff user "demo" (POST name=…&args=…).
func (d *demo) fleetHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /demo/fleet", func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		v, _ := d.fleetStore.Kiosk(ctx, d.cfg.KioskID)
		ev, _ := d.fleetStore.Events(ctx, d.cfg.KioskID, time.Time{}, 0)
		cmds, _ := d.fleetStore.Commands(ctx, d.cfg.KioskID, 20)
		w.Header().Set("Content-Type", "application/json")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		enc.Encode(map[string]any{"kiosk": v, "events": ev, "commands": cmds})
	})
	mux.HandleFunc("POST /demo/fleet", func(w http.ResponseWriter, r *http.Request) {
		c, err := d.fleet.Hub.Send(r.Context(), fleet.Command{KioskID: d.cfg.KioskID, Name: r.FormValue("name"), Args: r.FormValue("args"), By: "demo"})
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(c)
	})
	return mux
}

// trackingPrefix is the start of an office's tracking numbers: its code up
// to the first dash ("QN" for QN-TK, "BKK" for BKK-BR).
func trackingPrefix(office string) string {
	p, _, _ := strings.Cut(office, "-")
	return p
}

// writeFakeSys lays out the few sysfs files the kiosk reads — a backlight
// and a thermal zone — the way node_exporter tests point at a fixture root.
func writeFakeSys(root string) error {
	files := map[string]string{
		"class/backlight/panel/brightness":     "80\n",
		"class/backlight/panel/max_brightness": "100\n",
		"class/backlight/panel/bl_power":       "0\n",
		"class/thermal/thermal_zone0/temp":     "41500\n",
	}
	for name, content := range files {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// Handler serves the demo's controls on the ops port: scan a QR code with the
// imager, show a camera frame, change the printer's paper state, open and
// close the cabinet door.
func (d *demo) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /demo/qr", func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(io.LimitReader(r.Body, 8<<10))
		if err != nil || len(b) == 0 {
			http.Error(w, "send the QR payload as the body", http.StatusBadRequest)
			return
		}
		if err := d.imager.Scan(b); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("POST /demo/frame", func(w http.ResponseWriter, r *http.Request) {
		img, _, err := image.Decode(io.LimitReader(r.Body, 32<<20))
		if err != nil {
			http.Error(w, "send a PNG or JPEG camera frame as the body", http.StatusBadRequest)
			return
		}
		if !d.camera.Submit(img) {
			http.Error(w, "no new QR code in that frame", http.StatusUnprocessableEntity)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("POST /demo/printer", func(w http.ResponseWriter, r *http.Request) {
		var s escposemu.State
		switch r.FormValue("paper") {
		case "low":
			s.PaperLow = true
		case "out":
			s.PaperOut = true
		case "cover":
			s.CoverOpen = true
		case "offline":
			s.Offline = true
		case "ok", "":
		default:
			http.Error(w, "paper=ok|low|out|cover|offline", http.StatusBadRequest)
			return
		}
		d.printer.SetState(s)
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("POST /demo/door", func(w http.ResponseWriter, r *http.Request) {
		level := gpio.Low
		switch r.FormValue("door") {
		case "open":
			level = gpio.High
		case "closed":
		default:
			http.Error(w, "door=open|closed", http.StatusBadRequest)
			return
		}
		if err := d.pins.door.Out(level); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	// A technician token from the demo fleet, held to the imager (or with
	// scan=no only printed): with the door open it enters service mode.
	mux.HandleFunc("POST /demo/tech-token", func(w http.ResponseWriter, r *http.Request) {
		office := r.FormValue("office")
		if office == "" {
			office = d.cfg.OfficeCode
		}
		p, _, err := d.tech.Issue(office, "demo-technician", 0)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if r.FormValue("scan") != "no" {
			if err := d.imager.Scan([]byte(p)); err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, p)
	})
	mux.Handle("/demo/fleet", d.fleetHandler())
	mux.HandleFunc("GET /demo/receipts", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		for _, j := range d.printer.Jobs() {
			fmt.Fprintln(w, j)
		}
	})
	return mux
}

// Close stops the emulators and the embedded portal, waiting a bounded time
// for the portal to finish its requests and close its database. It is safe
// on a demo that was only partly started.
func (d *demo) Close() {
	if d.fleetConsole != nil {
		d.fleetConsole.Close()
	}
	if d.fleet != nil {
		d.fleet.Close()
	}
	if d.fleetStore != nil {
		d.fleetStore.Close()
	}
	if d.printer != nil {
		d.printer.Close()
	}
	if d.imager != nil {
		d.imager.Close()
	}
	if d.stopPortal != nil {
		d.stopPortal()
	}
	if d.portal != nil {
		select {
		case <-d.portal.Done():
		case <-time.After(shutdownTimeout + time.Second):
			d.portal.Close()
		}
	}
}
