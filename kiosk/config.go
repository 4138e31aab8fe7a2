package kiosk

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"
	"time"

	"govkiosk/drivers/device"
	"govkiosk/kiosk/lang"
)

// Config is the kiosk's one configuration file, decoded and validated at once.
type Config struct {
	KioskID    string            `json:"kioskId"`
	OfficeCode string            `json:"officeCode"`
	OfficeName map[string]string `json:"officeName"`
	PortalURL  string            `json:"portalUrl"` // base URL of the portal API
	DataDir    string            `json:"dataDir"`   // outbox, keys, config; wiped of personal data per session
	Listen     string            `json:"listen"`    // touch UI, loopback only
	OpsListen  string            `json:"opsListen"` // /healthz and /metrics, loopback only

	OIDC struct {
		Issuer      string `json:"issuer"`
		ClientID    string `json:"clientId"`
		RedirectURL string `json:"redirectUrl"` // the kiosk's loopback callback
	} `json:"oidc"`

	Languages     []string `json:"languages"`     // offered, first is the default
	IdleTimeout   Duration `json:"idleTimeout"`   // default 120s
	IdleCountdown Duration `json:"idleCountdown"` // default 30s
	Heartbeat     Duration `json:"heartbeat"`     // default 60s

	Printer struct {
		Port      string `json:"port"` // serial device, e.g. /dev/ttyUSB0; empty: no printer
		Baud      int    `json:"baud"`
		WidthDots int    `json:"widthDots"` // 576 for 80 mm, 384 for 58 mm
		BandRows  int    `json:"bandRows"`  // GS v 0 band height, at most 960
	} `json:"printer"`

	Scanner struct {
		Device    string `json:"device"`    // SANE device name, e.g. "test:0"
		ConfigDir string `json:"configDir"` // SANE_CONFIG_DIR, empty for the system's
		Source    string `json:"source"`    // e.g. "Automatic Document Feeder"
		DPI       int    `json:"dpi"`
	} `json:"scanner"`

	QRReader struct {
		Port     string   `json:"port"` // serial device of the 2D imager; empty: none
		Baud     int      `json:"baud"`
		MaxLen   int      `json:"maxLen"`
		Debounce Duration `json:"debounce"`
	} `json:"qrReader"`

	Sensors struct {
		DoorPin string `json:"doorPin"` // gpioreg name, e.g. "GPIO17"
		LEDPin  string `json:"ledPin"`
	} `json:"sensors"`

	SysRoot string `json:"sysRoot"` // "/sys", configurable for tests
}

// Duration is a time.Duration written as "120s" in JSON; the same type as
// the drivers' options use.
type Duration = device.Duration

// LoadConfig reads, defaults and validates the config file at path.
func LoadConfig(path string) (Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("read config: %w", err)
	}
	var c Config
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return Config{}, fmt.Errorf("decode config %s: %w", path, err)
	}
	c.SetDefaults()
	if err := c.Validate(); err != nil {
		return Config{}, fmt.Errorf("config %s: %w", path, err)
	}
	return c, nil
}

// SetDefaults fills what the file may leave out.
func (c *Config) SetDefaults() {
	if c.Listen == "" {
		c.Listen = "127.0.0.1:8080"
	}
	if c.OpsListen == "" {
		c.OpsListen = "127.0.0.1:9100"
	}
	if len(c.Languages) == 0 {
		c.Languages = lang.Codes()
	}
	if c.IdleTimeout.Duration == 0 {
		c.IdleTimeout.Duration = 120 * time.Second
	}
	if c.IdleCountdown.Duration == 0 {
		c.IdleCountdown.Duration = 30 * time.Second
	}
	if c.Heartbeat.Duration == 0 {
		c.Heartbeat.Duration = 60 * time.Second
	}
	if c.Printer.Baud == 0 {
		c.Printer.Baud = 115200
	}
	if c.Printer.WidthDots == 0 {
		c.Printer.WidthDots = 576
	}
	if c.Printer.BandRows == 0 {
		c.Printer.BandRows = 256
	}
	if c.Scanner.Source == "" {
		c.Scanner.Source = "Automatic Document Feeder"
	}
	if c.Scanner.DPI == 0 {
		c.Scanner.DPI = 150
	}
	if c.QRReader.Baud == 0 {
		c.QRReader.Baud = 9600
	}
	if c.QRReader.MaxLen == 0 {
		c.QRReader.MaxLen = 4096
	}
	if c.QRReader.Debounce.Duration == 0 {
		c.QRReader.Debounce.Duration = 2 * time.Second
	}
	if c.SysRoot == "" {
		c.SysRoot = "/sys"
	}
}

// Validate reports every problem at once.
func (c Config) Validate() error {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	if c.KioskID == "" {
		bad("kioskId is empty")
	}
	if c.DataDir == "" {
		bad("dataDir is empty")
	}
	if u, err := url.Parse(c.PortalURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		bad("portalUrl %q is not an http(s) URL", c.PortalURL)
	}
	for name, addr := range map[string]string{"listen": c.Listen, "opsListen": c.OpsListen} {
		host, _, err := net.SplitHostPort(addr)
		if err != nil {
			bad("%s %q: %v", name, addr, err)
			continue
		}
		if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
			bad("%s %q must be a loopback address", name, addr)
		}
	}
	if c.OIDC.Issuer == "" || c.OIDC.ClientID == "" || c.OIDC.RedirectURL == "" {
		bad("oidc issuer, clientId and redirectUrl are required")
	}
	for _, l := range c.Languages {
		if !lang.Supported(l) {
			bad("language %q is not one of %s", l, strings.Join(lang.Codes(), ", "))
		}
	}
	if c.IdleTimeout.Duration < 10*time.Second {
		bad("idleTimeout %v is shorter than 10s", c.IdleTimeout)
	}
	if c.Printer.WidthDots != 576 && c.Printer.WidthDots != 384 {
		bad("printer widthDots %d must be 576 (80 mm) or 384 (58 mm)", c.Printer.WidthDots)
	}
	if c.Printer.BandRows < 1 || c.Printer.BandRows > 960 {
		bad("printer bandRows %d must be 1..960", c.Printer.BandRows)
	}
	if c.Scanner.DPI < 75 || c.Scanner.DPI > 600 {
		bad("scanner dpi %d must be 75..600", c.Scanner.DPI)
	}
	return errors.Join(errs...)
}
