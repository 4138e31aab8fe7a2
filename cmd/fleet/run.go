package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"govkiosk/backend-client/api"
	"govkiosk/backend-client/portaladmin"
	"govkiosk/fleet"
	"govkiosk/fleet/console"
	"govkiosk/fleet/crl"
	"govkiosk/fleet/exporter"
	"govkiosk/fleet/memstore"
	"govkiosk/fleet/service"
	"govkiosk/fleet/store"
	"govkiosk/fleet/updates"
)

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "tech-token" {
		return runTechToken(args[1:], stdout, stderr)
	}
	fs := flag.NewFlagSet("fleet", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		brokerURL  = fs.String("broker", "embedded", "MQTT broker: embedded, or an external broker's URL (tls://mqtt.example:8883: mosquitto, EMQX)")
		mqttListen = fs.String("mqtt-listen", "0.0.0.0:8883", "embedded broker: TLS listen address for the kiosks")
		tlsCert    = fs.String("tls-cert", "", "embedded broker: its server certificate (PEM)")
		tlsKey     = fs.String("tls-key", "", "embedded broker: its server key (PEM)")
		kioskCA    = fs.String("kiosk-ca", "", "the CA (PEM) that issues the kiosks' device certificates: the embedded broker trusts it, and the revocation list must be signed by it")
		brokerCA   = fs.String("broker-ca", "", "external broker: the CA (PEM) of its certificate (default: the system's roots)")
		clientCert = fs.String("client-cert", "", "external broker: the service's client certificate (PEM; its name is the ACL's fleet-service user)")
		clientKey  = fs.String("client-key", "", "external broker: the service's client key (PEM)")
		storeDSN   = fs.String("store", "", "store: postgres://user@host/db, sqlite:///path/fleet.db, a SQLite file path, or memory (nothing survives a restart); default: fleet.db in --data")
		dataDir    = fs.String("data", "/var/lib/govkiosk-fleet", "directory of the default SQLite store")
		retention  = fs.Duration("retention", store.DefaultKeep, "how long history (events, snapshots, presence, answered commands) is kept")
		listen     = fs.String("listen", "127.0.0.1:8070", "HTTP address: /healthz, /metrics (Prometheus) and the staff console")
		usersFile  = fs.String("users", "", "console staff: a file of name:bcrypt-hash lines (htpasswd -B); without it the console is not served")
		amURL      = fs.String("alertmanager", "", "Alertmanager's URL (http://host:9093): the console shows its open alerts")
		offlineAft = fs.Duration("offline-after", exporter.DefaultOpts.OfflineAfter, "how long a kiosk may be offline before KioskOffline fires (exported to the alert rules)")
		release    = fs.String("release", "", "the version the fleet should run (version drift is any other); default: the version most kiosks run")
		updatesDir = fs.String("updates", "", "the TUF update repository whose staged rollouts the fleet advances or halts on the kiosks' update states (empty: none)")
		updateKeys = fs.String("update-keys", "", "with --updates: directory of the online signing keys targets.key, snapshot.key, timestamp.key")
		rolloutEv  = fs.Duration("rollout-every", 10*time.Minute, "with --updates: how often the rollout planner runs")
		secure     = fs.Bool("secure-cookie", false, "mark the console's session cookie Secure (when served behind HTTPS)")
		cmdExpiry  = fs.Duration("command-expiry", 24*time.Hour, "how long a command waits for an offline kiosk")
		logLevel   = fs.String("log-level", "info", "debug, info, warn or error")

		crlURL       = fs.String("crl-url", "", "the enrollment CA's revocation list (portal + "+api.PathCRL+"), signed by --kiosk-ca; default: from --portal-admin; revoked kiosks are refused by the broker")
		crlFile      = fs.String("crl-file", "", "where the last good revocation list is kept (PEM; mosquitto's crlfile); default: crl.pem in --data")
		crlInterval  = fs.Duration("crl-interval", crl.DefaultInterval, "how often the revocation list is fetched")
		portalCA     = fs.String("portal-ca", "", "the CA (PEM) of the portal's HTTPS certificate, for --crl-url and --portal-admin (default: the system's roots)")
		portalAdmin  = fs.String("portal-admin", "", "the portal's URL (https://portal.example) for the console's Enroll a kiosk page and Revoke/Retire buttons")
		portalTokenF = fs.String("portal-admin-token-file", "", "with --portal-admin: a file holding the portal's admin token")
		offices      = fs.String("offices", "", "comma-separated office codes a kiosk may be enrolled for, besides those of the registry")
		operators    = fs.String("operators", "", "comma-separated console users (of --users) with the operator role: they may enroll, revoke and retire kiosks")
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
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))

	o := service.Options{MQTTListen: *mqttListen, CommandExpiry: *cmdExpiry, Log: log}
	var problems []error
	bad := func(format string, a ...any) { problems = append(problems, fmt.Errorf(format, a...)) }
	if *brokerURL == "embedded" {
		if *tlsCert == "" || *tlsKey == "" || *kioskCA == "" {
			bad("the embedded broker needs --tls-cert, --tls-key and --kiosk-ca")
		} else {
			cert, err := tls.LoadX509KeyPair(*tlsCert, *tlsKey)
			if err != nil {
				bad("--tls-cert/--tls-key: %v", err)
			}
			o.ServerCert = &cert
			if o.KioskCAs, err = loadPool(*kioskCA); err != nil {
				bad("--kiosk-ca: %v", err)
			}
		}
	} else {
		o.BrokerURL = *brokerURL
		if *clientCert == "" || *clientKey == "" {
			bad("an external broker needs --client-cert and --client-key")
		} else {
			cert, err := tls.LoadX509KeyPair(*clientCert, *clientKey)
			if err != nil {
				bad("--client-cert/--client-key: %v", err)
			}
			o.ClientCert = &cert
		}
		if *brokerCA != "" {
			var err error
			if o.BrokerCAs, err = loadPool(*brokerCA); err != nil {
				bad("--broker-ca: %v", err)
			}
		}
	}
	var kioskCACert *x509.Certificate
	if *kioskCA != "" {
		var err error
		if kioskCACert, err = loadCert(*kioskCA); err != nil {
			bad("--kiosk-ca: %v", err)
		}
	}
	portalHTTP := &http.Client{Timeout: 30 * time.Second}
	if *portalCA != "" {
		pool, err := loadPool(*portalCA)
		if err != nil {
			bad("--portal-ca: %v", err)
		}
		portalHTTP.Transport = &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}
	}
	var admin *portaladmin.Client
	if *portalAdmin != "" {
		if *portalTokenF == "" {
			bad("--portal-admin needs --portal-admin-token-file")
		} else if tok, err := portaladmin.ReadToken(*portalTokenF); err != nil {
			bad("--portal-admin-token-file: %v", err)
		} else if admin, err = portaladmin.New(*portalAdmin, tok, portalHTTP); err != nil {
			bad("--portal-admin: %v", err)
		}
		if *crlURL == "" && admin != nil {
			*crlURL = admin.URL(api.PathCRL)
		}
	}
	if *crlURL != "" && *kioskCA == "" {
		bad("--crl-url (or --portal-admin) needs --kiosk-ca: the CA that signs the revocation list")
	}
	if *crlInterval <= 0 {
		bad("--crl-interval %v: want a positive duration", *crlInterval)
	}
	if *operators != "" && *usersFile == "" {
		bad("--operators needs --users")
	}
	var users console.Users
	if *usersFile != "" {
		var err error
		if users, err = console.LoadUsers(*usersFile); err != nil {
			bad("--users: %v", err)
		}
	}
	var keys updates.Keys
	if *updatesDir != "" {
		if *updateKeys == "" {
			bad("--updates needs --update-keys")
		} else {
			var err error
			if keys, err = readOnlineKeys(*updateKeys); err != nil {
				bad("--update-keys: %v", err)
			}
		}
		if *rolloutEv <= 0 {
			bad("--rollout-every %v: want a positive duration", *rolloutEv)
		}
	}
	if *retention <= 0 {
		bad("--retention %v: want a positive duration", *retention)
	}
	for _, op := range splitList(*operators) {
		if _, ok := users[op]; !ok && users != nil {
			bad("--operators: %s is not a user of --users", op)
		}
	}
	if len(problems) > 0 {
		return errors.Join(problems...)
	}
	if *crlURL != "" {
		if *crlFile == "" {
			if err := os.MkdirAll(*dataDir, 0o750); err != nil {
				return fmt.Errorf("--data: %w", err)
			}
			*crlFile = filepath.Join(*dataDir, "crl.pem")
		}
		list, err := crl.New(crl.Options{URL: *crlURL, CA: kioskCACert, File: *crlFile, Interval: *crlInterval,
			Client: portalHTTP, Log: log.With("part", "crl")})
		if err != nil {
			return fmt.Errorf("--crl-file: %w", err)
		}
		o.CRL = list
	} else {
		log.Warn("no --crl-url (or --portal-admin): revoked kiosks are not refused by the broker")
	}
	st, err := openStore(ctx, *storeDSN, *dataDir)
	if err != nil {
		return fmt.Errorf("--store: %w", err)
	}
	defer st.Close()
	o.Store = st

	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return fmt.Errorf("--listen: %w", err)
	}
	defer ln.Close()
	svc, err := service.Start(ctx, o)
	if err != nil {
		return err
	}
	defer svc.Close()

	var con http.Handler
	if users != nil {
		co := console.Options{Store: st, Commander: svc.Hub, Users: users, AlertmanagerURL: *amURL,
			SecureCookie: *secure, Offices: splitList(*offices), Operators: splitList(*operators), Logger: log.With("part", "console")}
		if admin != nil {
			co.Portal = admin
		}
		if o.CRL != nil {
			co.RefreshCRL = o.CRL.Refresh
		}
		c, err := console.New(co)
		if err != nil {
			return err
		}
		con = c
	} else {
		log.Warn("no --users: the staff console is not served")
	}
	eo := &exporter.Opts{OfflineAfter: *offlineAft, Release: *release, Logger: log.With("part", "exporter")}
	if o.CRL != nil {
		eo.Extra = append(eo.Extra, o.CRL.WriteMetrics)
	}
	exp := exporter.New(st, eo)

	rctx, rcancel := context.WithCancel(ctx)
	rdone := make(chan struct{})
	go func() {
		defer close(rdone)
		store.Retention{Keep: *retention, Log: log.With("part", "retention")}.Run(rctx, st)
	}()
	defer func() { rcancel(); <-rdone }()
	if *updatesDir != "" {
		dir := *dataDir
		if err := os.MkdirAll(dir, 0o750); err != nil {
			return fmt.Errorf("--data: %w", err)
		}
		ro := &rollouts{repoDir: *updatesDir, keys: keys, plan: updates.DefaultPlan, store: st,
			progressFile: filepath.Join(dir, "rollout-progress.json"), log: log.With("part", "rollout")}
		udone := make(chan struct{})
		go func() { defer close(udone); ro.run(rctx, *rolloutEv) }()
		defer func() { rcancel(); <-udone }()
	}

	srv := &http.Server{Handler: handler(st, exp.Handler(), con), ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	consoleAt := "none (no --users)"
	if con != nil {
		consoleAt = fmt.Sprintf("http://%s/", ln.Addr())
	}
	fmt.Fprintf(stdout, "fleet service ready: broker %s, http://%s/healthz, metrics http://%s/metrics, console %s\n", svc.BrokerURL(), ln.Addr(), ln.Addr(), consoleAt)
	select {
	case <-ctx.Done():
	case err := <-errc:
		return err
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return srv.Shutdown(sctx)
}

// loadCert reads the first certificate of a PEM file.
func loadCert(path string) (*x509.Certificate, error) {
	rest, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	for {
		var blk *pem.Block
		if blk, rest = pem.Decode(rest); blk == nil {
			return nil, fmt.Errorf("%s: no PEM certificate", path)
		}
		if blk.Type == "CERTIFICATE" {
			return x509.ParseCertificate(blk.Bytes)
		}
	}
}

// splitList splits a comma-separated flag, dropping blanks.
func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

func loadPool(path string) (*x509.CertPool, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	p := x509.NewCertPool()
	if !p.AppendCertsFromPEM(b) {
		return nil, fmt.Errorf("%s: no PEM certificate", path)
	}
	return p, nil
}

// openStore opens the store a --store value names: memory, a DSN for
// store.Open, or (empty) a SQLite file in the data directory.
func openStore(ctx context.Context, dsn, dataDir string) (fleet.Store, error) {
	switch dsn {
	case "memory":
		return memstore.New(), nil
	case "":
		if err := os.MkdirAll(dataDir, 0o750); err != nil {
			return nil, fmt.Errorf("--data: %w", err)
		}
		dsn = filepath.Join(dataDir, "fleet.db")
	}
	return store.Open(ctx, dsn)
}

// handler serves /healthz with the fleet's counts, /metrics for
// Prometheus, and the staff console (with its login) at the rest, if any.
func handler(store fleet.Store, metrics, con http.Handler) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", metrics)
	if con != nil {
		mux.Handle("/", con)
	}
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		_, total, err := store.Kiosks(r.Context(), fleet.Filter{Limit: 1})
		if err != nil {
			http.Error(w, "store unavailable", http.StatusServiceUnavailable)
			return
		}
		_, online, _ := store.Kiosks(r.Context(), fleet.Filter{Status: "online", Limit: 1})
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]int{"kiosks": total, "online": online})
	})
	return mux
}
