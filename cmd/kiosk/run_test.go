package main

import (
	"bytes"
	"context"
	"image/png"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"govkiosk/drivers/device"
	"govkiosk/drivers/display"
	"govkiosk/drivers/sensors"
	"govkiosk/kiosk/receipt"
)

func TestRunRefusesBadArguments(t *testing.T) {
	for name, args := range map[string][]string{
		"nothing":        {},
		"bad log level":  {"--demo", "--log-level", "loud"},
		"missing config": {"--config", filepath.Join(t.TempDir(), "none.json")},
		"unknown flag":   {"--colour"},
	} {
		var out, errOut bytes.Buffer
		if err := run(context.Background(), args, &out, &errOut); err == nil {
			t.Errorf("%s: run accepted %v", name, args)
		}
	}
}

func TestDemoControls(t *testing.T) {
	if _, err := os.Stat("/usr/bin/scanimage"); err != nil {
		t.Skip("sane-utils is not installed (make deps installs it)")
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	d, err := startDemo(ctx, demoOptions{
		dataDir: t.TempDir(), listen: "127.0.0.1:18080", opsListen: "127.0.0.1:19100", portalListen: "127.0.0.1:0",
	}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if d.cfg.KioskID == "" || d.cfg.Printer.Port == "" || d.cfg.QRReader.Port == "" || d.cfg.Scanner.Device != "test" {
		t.Fatalf("demo config not provisioned with simulated devices: %+v", d.cfg)
	}
	disp, err := display.Open(&display.Opts{SysRoot: d.cfg.SysRoot}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if st := disp.Status(context.Background()); st.State != device.Online {
		t.Fatalf("demo backlight: %+v", st)
	}
	if c, err := sensors.Temperature(d.cfg.SysRoot); err != nil || c != 41.5 {
		t.Fatalf("demo temperature %v, %v", c, err)
	}
	h := d.Handler()
	post := func(path, ctype string, body []byte) int {
		w := httptest.NewRecorder()
		r := httptest.NewRequest(http.MethodPost, path, bytes.NewReader(body))
		r.Header.Set("Content-Type", ctype)
		h.ServeHTTP(w, r)
		return w.Code
	}
	// A camera frame with a QR code comes out of the camera reader.
	qr, err := receipt.QRCode("http://127.0.0.1:8090/t/QN-2026-000001", 300)
	if err != nil {
		t.Fatal(err)
	}
	var frame bytes.Buffer
	png.Encode(&frame, qr)
	if code := post("/demo/frame", "image/png", frame.Bytes()); code != http.StatusNoContent {
		t.Fatalf("frame with a QR: %d", code)
	}
	select {
	case s := <-d.camera.Scans():
		if string(s.Data) != "http://127.0.0.1:8090/t/QN-2026-000001" {
			t.Fatalf("camera read %q", s.Data)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no scan from the camera frame")
	}
	if code := post("/demo/frame", "image/png", []byte("not an image")); code != http.StatusBadRequest {
		t.Fatalf("garbage frame: %d", code)
	}
	if code := post("/demo/printer", "application/x-www-form-urlencoded", []byte("paper=jam")); code != http.StatusBadRequest {
		t.Fatalf("unknown paper state: %d", code)
	}
	if code := post("/demo/printer", "application/x-www-form-urlencoded", []byte("paper=out")); code != http.StatusNoContent {
		t.Fatalf("paper out: %d", code)
	}
	if code := post("/demo/qr", "text/plain", nil); code != http.StatusBadRequest {
		t.Fatalf("empty QR: %d", code)
	}
	if !strings.HasPrefix(d.cfg.PortalURL, "http://127.0.0.1:") {
		t.Fatalf("portal URL %q", d.cfg.PortalURL)
	}
}
