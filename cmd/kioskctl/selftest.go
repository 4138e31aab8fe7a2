package main

import (
	"context"
	"errors"
	"flag"
	"io"
	"log/slog"
	"time"

	"govkiosk/kiosk/config"
	"govkiosk/provisioning"
)

var errSelfTestFailed = errors.New("self-test failed")

func runSelfTest(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("selftest", flag.ContinueOnError)
	path := fs.String("config", "", "path of kiosk.json (required)")
	asJSON := fs.Bool("json", false, "write the report as JSON")
	verbose := fs.Bool("v", false, "log driver messages to stderr")
	if err := parseFlags(fs, args, stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if *path == "" {
		return errors.New("selftest: --config is required")
	}
	cfg, err := config.Load(*path)
	if err != nil {
		return err
	}
	level := slog.LevelWarn
	if *verbose {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	key, err := provisioning.LoadOrCreateKey(cfg.DataDir)
	if err != nil {
		return err
	}
	hc, err := provisioning.PortalClient(cfg.DataDir, key, cfg.AllowInsecureLoopback, provisioning.CheckTimeout)
	if err != nil {
		return err
	}

	checks, closeDevices, err := buildChecks(ctx, cfg, hc, log)
	if err != nil {
		return err
	}
	defer closeDevices()
	rep := provisioning.SelfTest(ctx, cfg.KioskID, checks, time.Now)
	if dc, err := provisioning.LoadDeviceCert(cfg.DataDir, key); err == nil {
		rep.CertNotAfter = dc.Leaf().NotAfter
	}
	if *asJSON {
		err = rep.WriteJSON(stdout)
	} else {
		err = rep.WriteText(stdout)
	}
	if err != nil {
		return err
	}
	if !rep.OK {
		return errSelfTestFailed
	}
	return nil
}
