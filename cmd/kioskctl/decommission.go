package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"time"

	backendclient "govkiosk/backend-client"
	"govkiosk/kiosk/config"
	"govkiosk/kiosk/outbox"
	"govkiosk/provisioning"
)

const decommissionUsage = `
  kioskctl decommission --config DIR/kiosk.json [--yes] [--offline]
      Retire this kiosk: refused while applications wait in its outbox; the
      portal is told (its certificates are revoked at once), then the device
      key, the certificates, the portal's keys and the kiosk's data are
      wiped. kiosk.json keeps only the device settings, so the kiosk starts
      in setup mode. Stop the kiosk service first. Without --yes it asks.
      A portal that cannot be reached wipes nothing, unless --offline: then
      it wipes and the fleet must retire the kiosk.
`

func runDecommission(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("decommission", flag.ContinueOnError)
	path := fs.String("config", "", "path of kiosk.json (required)")
	yes := fs.Bool("yes", false, "do not ask for confirmation")
	offline := fs.Bool("offline", false, "wipe even when the portal cannot be reached (the fleet must then retire the kiosk)")
	timeout := fs.Duration("timeout", 30*time.Second, "time allowed for the portal")
	if err := parseFlags(fs, args, stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if *path == "" {
		return errors.New("decommission: --config is required")
	}
	cfg, err := config.Load(*path)
	if err != nil {
		return err
	}
	if !*yes {
		fmt.Fprintf(stdout, "This removes kiosk %s's identity. It will not serve citizens again until it is set up anew.\nType the kiosk ID to go on: ", cfg.KioskID)
		line, _ := bufio.NewReader(stdin).ReadString('\n')
		if strings.TrimSpace(line) != cfg.KioskID {
			return errors.New("decommission: not confirmed; nothing was changed")
		}
	}
	key, err := provisioning.LoadOrCreateKey(cfg.DataDir)
	if err != nil {
		return err
	}
	hc, err := provisioning.PortalClient(cfg.DataDir, key, cfg.AllowInsecureLoopback, *timeout)
	if err != nil {
		return err
	}
	undelivered := func() (int, error) {
		rcpt, err := provisioning.LoadPortalAgeRecipient(cfg.DataDir)
		if err != nil {
			return 0, err
		}
		r, err := outbox.ParseRecipient(rcpt)
		if err != nil {
			return 0, err
		}
		ob, err := outbox.Open(outbox.Options{Dir: filepath.Join(cfg.DataDir, "outbox"), Recipient: r,
			Log: slog.New(slog.DiscardHandler), Limits: outbox.DefaultLimits})
		if err != nil {
			return 0, err
		}
		defer ob.Close()
		return ob.Backlog()
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	told, err := provisioning.Decommission(ctx, provisioning.DecommissionOptions{
		Config: cfg, Portal: backendclient.New(cfg.PortalURL, hc, cfg.KioskID, key), Undelivered: undelivered, Offline: *offline,
	})
	if errors.Is(err, provisioning.ErrPortalUnreachable) {
		return fmt.Errorf("decommission: %w (give --offline to wipe anyway; the fleet must then retire kiosk %s)", err, cfg.KioskID)
	}
	if err != nil {
		return fmt.Errorf("decommission: %w", err)
	}
	if !told {
		_, err = fmt.Fprintf(stdout, "kiosk %s wiped offline: the portal was not told. The fleet must retire kiosk %s (console: Revoke, or the admin API's retire).\n", cfg.KioskID, cfg.KioskID)
		return err
	}
	_, err = fmt.Fprintf(stdout, "kiosk %s decommissioned: the portal retired it and its identity is wiped; it starts in setup mode.\n", cfg.KioskID)
	return err
}
