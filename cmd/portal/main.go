// Command portal runs the govkiosk reference portal: the portal API, the
// national-ID test provider, the enrollment CA and the fleet console. The
// console and admin API need the admin token (printed once at start, or
// --admin-token-file); the simulated citizen phone is served only with
// --phone-simulator (demo); beyond loopback it serves only HTTPS.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"govkiosk/backend-client/api"
	"govkiosk/portal"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "portal:", err)
		os.Exit(1)
	}
}

// listFlag collects a repeatable flag that also takes comma lists.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }

func (l *listFlag) Set(v string) error {
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			*l = append(*l, s)
		}
	}
	return nil
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("portal", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		opts      portal.Options
		redirects listFlag
		tokens    listFlag
	)
	fs.StringVar(&opts.Listen, "listen", "127.0.0.1:8090", "address to listen on (always HTTPS but with --plain-http, which is loopback only)")
	adminTokenFile := fs.String("admin-token-file", "", "file holding the admin token for the console and admin API (at least 32 characters; default: a random token, printed once)")
	fs.BoolVar(&opts.PhoneSimulator, "phone-simulator", false, "demo: serve the simulated citizen phone at /phone (its user acts as any test citizen)")
	fs.DurationVar(&opts.RateLimits.CodeGap, "code-gap", portal.DefaultRateLimits.CodeGap, "least time between two confirmation codes to one citizen (negative: none)")
	fs.IntVar(&opts.RateLimits.CodesPerCitizen, "codes-per-citizen", portal.DefaultRateLimits.CodesPerCitizen, "most confirmation codes to one citizen in the code window (15 min)")
	fs.StringVar(&opts.DataDir, "data", "portal-data", "data directory: database, documents, keys")
	fs.StringVar(&opts.OfficeCode, "office", "QN-TK", "the office kiosks enrolled here belong to: a profile of the catalogue (QN-TK Tam Kỳ, BKK-BR Bang Rak)")
	fs.StringVar(&opts.PublicURL, "public-url", "", "base URL kiosks and phones use (default https://LISTEN)")
	fs.StringVar(&opts.TLSCertFile, "tls-cert", "", "server certificate chain (PEM) from a public or national CA; default: one the enrollment CA issues, which kiosks pin")
	fs.StringVar(&opts.TLSKeyFile, "tls-key", "", "private key (PEM) of --tls-cert")
	fs.BoolVar(&opts.PlainHTTP, "plain-http", false, "demos and tests: plain http instead of HTTPS, on a loopback --listen only")
	fs.Var(&redirects, "kiosk-redirect", "OIDC redirect URI allowed for client govkiosk (repeatable or comma list)")
	fs.Var(&tokens, "enroll-token", "one-time enrollment token to accept (repeatable or comma list; default: one is issued)")
	fs.BoolVar(&opts.AllowUnenrolled, "allow-unenrolled", false, "demo: accept heartbeats and packets from kiosks that have not enrolled")
	fs.StringVar(&opts.FleetBroker, "fleet-broker", "", "the fleet broker enrolling kiosks join (tls://host:8883), signed into the enrollment answer")
	fs.StringVar(&opts.FleetTechKey, "fleet-tech-key", "", "the fleet's technician-code key enrolling kiosks pin (ed25519:BASE64, from fleet tech-token --public-key)")
	fs.DurationVar(&opts.DeviceCertTTL, "device-cert-ttl", api.DefaultDeviceCertTTL, "lifetime of the device certificates the enrollment CA issues (kiosks renew when a third is left)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments: %q", fs.Args())
	}
	if opts.DeviceCertTTL < time.Hour {
		return fmt.Errorf("--device-cert-ttl %v: at least 1h", opts.DeviceCertTTL)
	}
	if len(redirects) == 0 {
		redirects = listFlag{"http://127.0.0.1:8080/auth/callback"}
	}
	opts.KioskRedirectURIs = redirects
	opts.EnrollTokens = tokens
	if *adminTokenFile != "" {
		b, err := os.ReadFile(*adminTokenFile)
		if err != nil {
			return fmt.Errorf("admin token: %w", err)
		}
		opts.AdminToken = strings.TrimSpace(string(b))
	}
	opts.Log = slog.New(slog.NewTextHandler(stderr, nil))

	s, url, err := portal.Start(ctx, opts)
	if err != nil {
		return err
	}
	if len(tokens) == 0 {
		t, err := s.IssueEnrollToken()
		if err != nil {
			return err
		}
		tokens = append(tokens, t)
	}
	fmt.Fprintf(stdout, "portal: %s\n", url)
	fmt.Fprintf(stdout, "console: %s/login\n", url)
	if *adminTokenFile == "" {
		fmt.Fprintf(stdout, "admin token: %s\n", s.AdminToken()) // shown once; it is not stored
	}
	if opts.PhoneSimulator {
		fmt.Fprintf(stdout, "phone simulator: %s/phone (log in with the admin token)\n", url)
	}
	fmt.Fprintf(stdout, "OIDC issuer: %s/idp (client govkiosk; redirects %s)\n", url, strings.Join(redirects, ", "))
	fmt.Fprintf(stdout, "enrollment CA fingerprint: %s (kioskctl provision --ca-fingerprint)\n", s.CAFingerprint())
	for _, t := range tokens {
		fmt.Fprintf(stdout, "enrollment token: %s\n", t)
	}
	fmt.Fprintf(stdout, "enrollment codes for an office: the console's \"Enroll a kiosk\", or POST %s%s\n", url, api.PathAdminEnrollTokens)
	<-s.Done()
	return nil
}
