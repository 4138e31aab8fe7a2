//go:build demo

package main

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
)

// TestDemoOffice: --office picks which office profile the demo kiosk is
// enrolled in, and switching it in the same data folder enrolls the kiosk
// again, in the other office; an office without a profile stops the demo
// with a message naming it.
func TestDemoOffice(t *testing.T) {
	ctx := context.Background()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	dir := t.TempDir()
	for _, tc := range []struct{ office, name string }{
		{"BKK-BR", "สำนักงานเขตบางรัก กรุงเทพมหานคร"},
		{"QN-TK", "ศูนย์บริการภาครัฐเมืองตามกี่"},
	} {
		d, err := startDemo(ctx, demoOptions{dataDir: dir, listen: freePort(t), opsListen: freePort(t), portalListen: "127.0.0.1:0", office: tc.office}, log)
		if err != nil {
			t.Fatalf("--office %s: %v", tc.office, err)
		}
		cfg := d.cfg
		d.Close()
		if cfg.OfficeCode != tc.office || cfg.OfficeName["th"] != tc.name {
			t.Errorf("--office %s: kiosk enrolled in %s (%q)", tc.office, cfg.OfficeCode, cfg.OfficeName["th"])
		}
	}
	_, err := startDemo(ctx, demoOptions{dataDir: t.TempDir(), listen: freePort(t), opsListen: freePort(t), portalListen: "127.0.0.1:0", office: "HN-01"}, log)
	if err == nil || !strings.Contains(err.Error(), `office "HN-01" has no profile`) {
		t.Errorf("--office HN-01: %v", err)
	}
}
