package config

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"govkiosk/drivers/device"
	"govkiosk/drivers/printer"
	"govkiosk/drivers/printer/escposemu"
)

const good = `{"kioskId":"KIOSK-0001","portalUrl":"https://portal.gov.example","dataDir":"/var/lib/govkiosk",
  "oidc":{"issuer":"https://portal.gov.example/idp","clientId":"govkiosk","redirectUrl":"http://127.0.0.1:8080/auth/callback"},
  "idleTimeout":"90s"}`

func write(t *testing.T, s string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "kiosk.json")
	if err := os.WriteFile(p, []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLoadValidates(t *testing.T) {
	c, err := Load(write(t, good))
	if err != nil {
		t.Fatal(err)
	}
	if c.IdleTimeout.Duration != 90*time.Second || c.IdleCountdown.Duration != 30*time.Second || c.SysRoot != "/sys" {
		t.Fatalf("defaults: %+v", c)
	}
	// Device defaults are the drivers' own, not copied here.
	p, err := c.Printer.WithDefaults()
	if err != nil || p.WidthDots != device.Width80mm || p.Baud != printer.DefaultOpts.Baud {
		t.Fatalf("printer defaults %+v, %v", p, err)
	}
	if c.Update.Enabled() {
		t.Errorf("updates on without an update url: %+v", c.Update)
	}
	if d := c.DeviceOptions(); d.Display.SysRoot != "/sys" {
		t.Fatalf("display sysRoot %q, want the kiosk's", d.Display.SysRoot)
	}
	for name, bad := range map[string]string{
		"public listen":     strings.Replace(good, `"idleTimeout"`, `"listen":"0.0.0.0:8080","idleTimeout"`, 1),
		"unknown field":     strings.Replace(good, `"idleTimeout"`, `"colour":"red","idleTimeout"`, 1),
		"unknown knob":      strings.Replace(good, `"idleTimeout"`, `"printer":{"port":"/dev/x","cutter":"yes"},"idleTimeout"`, 1),
		"bad portal":        strings.Replace(good, `https://portal.gov.example"`, `ftp://x"`, 1),
		"short idle":        strings.Replace(good, `"90s"`, `"2s"`, 1),
		"bad duration":      strings.Replace(good, `"90s"`, `90`, 1),
		"printer width":     strings.Replace(good, `"idleTimeout"`, `"printer":{"port":"/dev/x","widthDots":4},"idleTimeout"`, 1),
		"printer QR level":  strings.Replace(good, `"idleTimeout"`, `"printer":{"port":"/dev/x","qrLevel":"Z"},"idleTimeout"`, 1),
		"scanner dpi":       strings.Replace(good, `"idleTimeout"`, `"scanner":{"device":"test","dpi":5},"idleTimeout"`, 1),
		"imager debounce":   strings.Replace(good, `"idleTimeout"`, `"qrReader":{"port":"/dev/x","debounce":"-1s"},"idleTimeout"`, 1),
		"one pin for both":  strings.Replace(good, `"idleTimeout"`, `"sensors":{"doorPin":"GPIO1","ledPin":"GPIO1"},"idleTimeout"`, 1),
		"backlight escapes": strings.Replace(good, `"idleTimeout"`, `"display":{"backlight":"../x"},"idleTimeout"`, 1),
		"update url":        strings.Replace(good, `"idleTimeout"`, `"update":{"url":"file:///tuf"},"idleTimeout"`, 1),
		"update interval":   strings.Replace(good, `"idleTimeout"`, `"update":{"url":"https://fleet.example/tuf","interval":"1s"},"idleTimeout"`, 1),
	} {
		if _, err := Load(write(t, bad)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// Every printer knob is reachable from kiosk.json and reaches the driver
// as written: the file's section is the driver's own options.
func TestPrinterKnobsReachTheDriver(t *testing.T) {
	emu, err := escposemu.Start(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer emu.Close()
	js := strings.Replace(good, `"idleTimeout"`, `"printer":{"port":"`+emu.PortPath()+`","widthDots":384,"bandRows":64,
	  "cut":"partial","feedDots":40,"qrModule":4,"qrLevel":"Q","autoStatusBack":true,"noProcessId":true,
	  "writeTimeout":"2s","pollInterval":"3s"},"idleTimeout"`, 1)
	c, err := Load(write(t, js))
	if err != nil {
		t.Fatal(err)
	}
	s, err := Open(context.Background(), c.DeviceOptions(), OpenOptions{Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(5 * time.Second)
	if s.Printer == nil {
		t.Fatalf("printer not opened: %v", s.Problem(NamePrinter))
	}
	o := s.Printer.(*printer.Printer).Opts()
	if o.WidthDots != 384 || o.BandRows != 64 || o.Cut != printer.CutPartial || o.FeedDots != 40 || o.QRModule != 4 ||
		o.QRLevel != "Q" || !o.AutoStatusBack || !o.NoProcessID || o.WriteTimeout.Duration != 2*time.Second || o.PollInterval.Duration != 3*time.Second {
		t.Fatalf("driver options %+v", o)
	}
	if s.ReceiptWidthDots != 384 {
		t.Fatalf("receipt width %d, want the printer's 384", s.ReceiptWidthDots)
	}
	if st := s.Checkers()[NamePrinter](context.Background()); st.State != device.Online {
		t.Fatalf("printer status %+v", st)
	}
}

// A printer that is not there is reported, not fatal; devices not fitted
// report noDevice; every device has a checker.
func TestOpenReportsWhatIsMissing(t *testing.T) {
	var d Devices
	d.Printer.Port = filepath.Join(t.TempDir(), "ttyGONE")
	d.Display.SysRoot = t.TempDir()
	s, err := Open(context.Background(), d, OpenOptions{Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(5 * time.Second)
	if s.Printer != nil || s.Problem(NamePrinter) == nil {
		t.Fatalf("printer %v, problem %v", s.Printer, s.Problem(NamePrinter))
	}
	checks := s.Checkers()
	for _, name := range Names {
		if checks[name] == nil {
			t.Fatalf("no checker for %s", name)
		}
	}
	st := checks[NamePrinter](context.Background())
	if st.State != device.NoDevice || !strings.Contains(st.Detail, "ttyGONE") {
		t.Fatalf("missing printer status %+v", st)
	}
	if st := checks[NameScanner](context.Background()); st.State != device.NoDevice || st.Detail != "" {
		t.Fatalf("unfitted scanner status %+v", st)
	}
	if s.ScanDPI != 150 || s.ReceiptWidthDots != device.Width80mm {
		t.Fatalf("defaults from the drivers: dpi %d, width %d", s.ScanDPI, s.ReceiptWidthDots)
	}
}

// TestPlainHTTPRefused: the kiosk talks to its portal and provider over
// TLS. A kiosk.json that points either at a plain-http address is refused,
// unless the address is loopback and the file says allowInsecureLoopback
// (the demo and tests, whose portal runs on the same machine).
func TestPlainHTTPRefused(t *testing.T) {
	const tmpl = `{"kioskId":"KIOSK-0001","portalUrl":"PORTAL","dataDir":"/var/lib/govkiosk",INSECURE
  "oidc":{"issuer":"ISSUER","clientId":"govkiosk","redirectUrl":"http://127.0.0.1:8080/auth/callback"}}`
	for _, tc := range []struct {
		name, portal, issuer string
		insecure, ok         bool
	}{
		{"https", "https://portal.gov.example", "https://portal.gov.example/idp", false, true},
		{"http portal on the network", "http://portal.gov.example", "https://portal.gov.example/idp", false, false},
		{"http provider on the network", "https://portal.gov.example", "http://portal.gov.example/idp", false, false},
		{"http portal on the network, insecure switch set", "http://portal.gov.example", "https://portal.gov.example/idp", true, false},
		{"http on a LAN address, insecure switch set", "http://192.168.1.10:8090", "http://192.168.1.10:8090/idp", true, false},
		{"http on loopback without the insecure switch", "http://127.0.0.1:8090", "http://127.0.0.1:8090/idp", false, false},
		{"http on loopback, insecure switch set", "http://127.0.0.1:8090", "http://127.0.0.1:8090/idp", true, true},
		{"http on localhost, insecure switch set", "http://localhost:8090", "http://localhost:8090/idp", true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			insecure := ""
			if tc.insecure {
				insecure = `"allowInsecureLoopback":true,`
			}
			js := strings.NewReplacer("PORTAL", tc.portal, "ISSUER", tc.issuer, "INSECURE", insecure).Replace(tmpl)
			_, err := Load(write(t, js))
			if tc.ok && err != nil {
				t.Fatalf("refused: %v", err)
			}
			if !tc.ok && (err == nil || !strings.Contains(err.Error(), "https")) {
				t.Fatalf("accepted or refused for another reason: %v", err)
			}
		})
	}
}
