package kiosk

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"path/filepath"
	"strings"
	"time"

	"govkiosk/backend-client/fleetwire"
	"govkiosk/drivers/device"
	"govkiosk/kiosk/lang"
)

// Config is the controller's part of kiosk.json: who the kiosk is, where its
// portal and provider are, how it talks to citizens. The file as a whole,
// with every driver's options beside these, is kiosk/config.Config, which
// embeds this one; the controller never sees a driver's options.
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
		// ACRValues are the levels of assurance (acr) a login must reach,
		// strongest first, from enrollment; empty: the provider's own.
		ACRValues []string `json:"acrValues,omitempty"`
	} `json:"oidc"`

	// AllowInsecureLoopback lets portalUrl and oidc.issuer be plain http
	// on a loopback address: the demo and tests only, whose portal runs on
	// the same machine. Otherwise both must be https, and the kiosk pins
	// the portal CA it stored at enrollment.
	AllowInsecureLoopback bool `json:"allowInsecureLoopback,omitempty"`

	Languages     []string `json:"languages"`     // offered, first is the default
	IdleTimeout   Duration `json:"idleTimeout"`   // default 120s
	IdleCountdown Duration `json:"idleCountdown"` // default 30s
	Heartbeat     Duration `json:"heartbeat"`     // default 60s

	// Fleet is the link to the fleet service's MQTT broker (presence,
	// events, snapshots, remote commands); no broker: no link.
	Fleet FleetConfig `json:"fleet,omitzero"`

	SysRoot string `json:"sysRoot"` // sysfs root for the display and thermal zones ["/sys"]; tests use a fixture tree
}

// FleetConfig is the kiosk's fleet link (backend-client/fleet). Zero
// durations take the link's defaults.
type FleetConfig struct {
	Broker string `json:"broker,omitempty"` // tls://host:8883
	// CAFile is a CA (PEM) the broker's certificate may chain to, besides
	// the portal CA pinned at enrollment.
	CAFile           string   `json:"caFile,omitempty"`
	WillDelay        Duration `json:"willDelay,omitzero"`        // offline shown after this long without the link [60s]
	KeepAlive        Duration `json:"keepAlive,omitzero"`        // MQTT keep-alive [120s]
	SnapshotInterval Duration `json:"snapshotInterval,omitzero"` // an unchanged snapshot is sent this often [1h]
	// TechKey is the fleet's technician-token key ("ed25519:BASE64", from
	// `fleet tech-token --public-key`): with it, a technician token held to
	// the QR reader while the cabinet door is open enters service mode.
	// Without it there is no service mode.
	TechKey string `json:"techKey,omitempty"`
}

// TempDir is the kiosk's private directory (0700, under DataDir) for the
// files personal data must pass through: scanned pages on their way from
// the scanner, the receipt on its way to MuPDF. Nothing else goes in it; it
// is emptied when the kiosk starts and each file in it is overwritten
// before it is removed. A tmpfs mounted there keeps them off the disk. ""
// when DataDir is not set.
func (c Config) TempDir() string {
	if c.DataDir == "" {
		return ""
	}
	return filepath.Join(c.DataDir, "tmp")
}

// Duration is a time.Duration written as "120s" in JSON; the same type as
// the drivers' options use.
type Duration = device.Duration

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
	if err := c.CheckServerURL(c.PortalURL); err != nil {
		bad("portalUrl: %v", err)
	}
	for name, addr := range map[string]string{"listen": c.Listen, "opsListen": c.OpsListen} {
		host, _, err := net.SplitHostPort(addr)
		if err != nil {
			bad("%s %q: %v", name, addr, err)
			continue
		}
		if !IsLoopback(host) {
			bad("%s %q must be a loopback address", name, addr)
		}
	}
	if c.OIDC.Issuer == "" || c.OIDC.ClientID == "" || c.OIDC.RedirectURL == "" {
		bad("oidc issuer, clientId and redirectUrl are required")
	} else if err := c.CheckServerURL(c.OIDC.Issuer); err != nil {
		bad("oidc issuer: %v", err)
	}
	for _, l := range c.Languages {
		if !lang.Supported(l) {
			bad("language %q is not one of %s", l, strings.Join(lang.Codes(), ", "))
		}
	}
	if c.IdleTimeout.Duration < 10*time.Second {
		bad("idleTimeout %v is shorter than 10s", c.IdleTimeout)
	}
	if f := c.Fleet; f.Broker != "" {
		if u, err := url.Parse(f.Broker); err != nil || u.Scheme != "tls" || u.Host == "" || u.Port() == "" {
			bad("fleet broker %q is not a tls://host:port URL", f.Broker)
		}
		if f.WillDelay.Duration < 0 || f.KeepAlive.Duration < 0 || f.SnapshotInterval.Duration < 0 {
			bad("fleet durations must not be negative")
		}
		if f.KeepAlive.Duration != 0 && (f.KeepAlive.Duration < 5*time.Second || f.KeepAlive.Duration > 18*time.Hour) {
			bad("fleet keepAlive %v is not between 5s and 18h", f.KeepAlive)
		}
	} else if f.CAFile != "" {
		bad("fleet caFile without a fleet broker")
	}
	if f := c.Fleet; f.TechKey != "" {
		if _, err := fleetwire.ParseTechKey(f.TechKey); err != nil {
			bad("fleet techKey: %v", err)
		}
	}
	return errors.Join(errs...)
}

// CheckServerURL checks the URL of a server the kiosk talks to (the
// portal, the ID provider): https, or plain http on a loopback host when
// AllowInsecureLoopback is set.
func (c Config) CheckServerURL(s string) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%q is not an http(s) URL", s)
	}
	if u.Scheme == "http" && !(c.AllowInsecureLoopback && IsLoopback(u.Hostname())) {
		return fmt.Errorf("%q must be https (plain http only on a loopback address, with allowInsecureLoopback, for demos and tests)", s)
	}
	return nil
}

// IsLoopback reports whether host (a name or an IP address, without port)
// is this machine: localhost or a loopback address.
func IsLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
