package main

import (
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"govkiosk/kiosk/config"
	"govkiosk/kiosk/update"
)

// The kiosk counts a trial's start before anything else: a version that
// has started too often without passing its checks is rolled back at once,
// and the kiosk stops with update.ErrRestart (exit status 75) so systemd
// starts the previous release. Without an update url, or in a build with
// no release version, there is no updater.
func TestStartUpdater(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	root := t.TempDir()
	for _, v := range []string{"1.0.0", "2.0.0"} {
		os.MkdirAll(filepath.Join(root, "releases", v), 0o755)
		os.WriteFile(filepath.Join(root, "releases", v, "kiosk"), []byte("#!/bin/sh\n"), 0o755)
	}
	os.Symlink("releases/2.0.0", filepath.Join(root, "current"))
	os.MkdirAll(filepath.Join(root, "update"), 0o700)
	os.WriteFile(filepath.Join(root, "update", "state.json"),
		[]byte(`{"format":1,"phase":"trial","version":"1.0.0","trial":"2.0.0","boots":3}`), 0o600)

	var cfg config.Config
	cfg.DataDir, cfg.KioskID = root, "K-1"
	old := version
	defer func() { version = old }()

	version = "2.0.0"
	if u, err := startUpdater(cfg, log); u != nil || err != nil {
		t.Fatalf("without an update url: %v, %v; want no updater", u, err)
	}
	cfg.Update.URL = "https://fleet.example/tuf"
	version = "dev"
	if u, err := startUpdater(cfg, log); u != nil || err != nil {
		t.Fatalf("a development build: %v, %v; want no updater", u, err)
	}
	version = "2.0.0"
	if _, err := startUpdater(cfg, log); !errors.Is(err, update.ErrRestart) {
		t.Fatalf("the fourth start of a trial: %v; want ErrRestart", err)
	}
	if cur, _ := (update.Layout{Root: root}).CurrentVersion(); cur != "1.0.0" {
		t.Errorf("current is %s after the rollback, want 1.0.0", cur)
	}
	version = "1.0.0"
	u, err := startUpdater(cfg, log)
	if err != nil || u == nil {
		t.Fatalf("start of the rolled-back-to version: %v, %v", u, err)
	}
	if st, failed := u.UpdateState(); st != "rolledBack" || failed != "2.0.0" {
		t.Errorf("update state %q, %q; want rolledBack 2.0.0", st, failed)
	}
}
