package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"govkiosk/fleet"
	"govkiosk/fleet/memstore"
	"govkiosk/fleet/service"
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
		kioskCA    = fs.String("kiosk-ca", "", "embedded broker: the CA (PEM) that issues the kiosks' device certificates")
		brokerCA   = fs.String("broker-ca", "", "external broker: the CA (PEM) of its certificate (default: the system's roots)")
		clientCert = fs.String("client-cert", "", "external broker: the service's client certificate (PEM; its name is the ACL's fleet-service user)")
		clientKey  = fs.String("client-key", "", "external broker: the service's client key (PEM)")
		storeDSN   = fs.String("store", "memory", "store: memory (nothing survives a restart)")
		listen     = fs.String("listen", "127.0.0.1:8070", "HTTP address: /healthz and the fleet's read API")
		cmdExpiry  = fs.Duration("command-expiry", 24*time.Hour, "how long a command waits for an offline kiosk")
		logLevel   = fs.String("log-level", "info", "debug, info, warn or error")
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
	var store fleet.Store
	switch *storeDSN {
	case "memory":
		store = memstore.New()
	default:
		bad("--store %q: only memory is available", *storeDSN)
	}
	if len(problems) > 0 {
		return errors.Join(problems...)
	}
	defer store.Close()
	o.Store = store

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

	srv := &http.Server{Handler: handler(store), ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	fmt.Fprintf(stdout, "fleet service ready: broker %s, http://%s/healthz\n", svc.BrokerURL(), ln.Addr())
	select {
	case <-ctx.Done():
	case err := <-errc:
		return err
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return srv.Shutdown(sctx)
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

// handler serves /healthz with the fleet's counts; loopback by default
// (the staff console, with its login, is served apart).
func handler(store fleet.Store) http.Handler {
	mux := http.NewServeMux()
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
