package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"govkiosk/kiosk/atomicfile"
	"govkiosk/kiosk/config"
	"govkiosk/packaging/chromium"
)

const policyUsage = `
  kioskctl chromium-policy --config DIR/kiosk.json [--login-origin URL]... [--out FILE]
      The touchscreen's Chromium policy for this kiosk: the shipped lockdown
      with only the kiosk UI and the identity provider's login origin (from
      oidc.issuer, plus each --login-origin) allowed. Run as root with
      --out /etc/chromium/policies/managed/govkiosk.json, then restart
      govkiosk-browser.service.
`

// origins is a repeatable flag.
type origins []string

func (o *origins) String() string     { return strings.Join(*o, ",") }
func (o *origins) Set(s string) error { *o = append(*o, s); return nil }

func runChromiumPolicy(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("chromium-policy", flag.ContinueOnError)
	path := fs.String("config", "", "path of kiosk.json (required)")
	out := fs.String("out", "", "write the policy here (default: stdout)")
	var extra origins
	fs.Var(&extra, "login-origin", "another origin the provider's login pages are served from (repeatable)")
	if err := parseFlags(fs, args, stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if *path == "" {
		return errors.New("chromium-policy: --config is required")
	}
	cfg, err := config.Load(*path)
	if err != nil {
		return err
	}
	policy, err := chromium.Policy("http://"+cfg.Listen, append([]string{cfg.OIDC.Issuer}, extra...)...)
	if err != nil {
		return fmt.Errorf("chromium-policy: %w", err)
	}
	if *out == "" {
		_, err = stdout.Write(policy)
		return err
	}
	if err := os.MkdirAll(filepath.Dir(*out), 0o755); err != nil {
		return err
	}
	return atomicfile.Write(*out, policy, 0o644)
}
