// Package config is kiosk.json: the controller's settings (kiosk.Config) and,
// beside them, every device driver's own options, decoded and validated at
// once, and the one place devices are opened from them (Open), shared by the
// kiosk program and kioskctl's self-test.
//
// The file is flat: the controller's keys and the device sections sit side by
// side at the top level:
//
//	{"kioskId": "...", "portalUrl": "...", ...,
//	 "printer":  {"port": "/dev/govkiosk-printer", "cut": "partial", "autoStatusBack": true},
//	 "scanner":  {"device": "fujitsu:fi-7160:1234", "dpi": 200},
//	 "qrReader": {"port": "/dev/govkiosk-imager"},
//	 "sensors":  {"doorPin": "GPIO17", "ledPin": "GPIO27"},
//	 "display":  {"backlight": "intel_backlight"}}
//
// Each section is the driver's Opts type with its JSON tags, so every knob a
// driver has is reachable from the file, and its defaults live in the driver
// (DefaultOpts) and nowhere else. A device whose section names no port or
// device is not fitted.
//
// A second printer (or scanner) model is a new driver package implementing
// kiosk.Printer (kiosk.DocumentScanner) plus one field in Devices and one case
// in Open.
package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"

	"govkiosk/drivers/display"
	"govkiosk/drivers/printer"
	"govkiosk/drivers/qrreader"
	"govkiosk/drivers/scanner"
	"govkiosk/drivers/sensors"
	"govkiosk/kiosk"
	"govkiosk/kiosk/update"
	"govkiosk/kiosk/voice"
)

// Config is the whole of kiosk.json.
type Config struct {
	kiosk.Config
	Devices
	Update update.Settings `json:"update"` // signed updates; no url: off
	// Voice is voice guidance, the office's choice: off unless
	// {"voice": {"enabled": true}}; then espeak-ng must be installed and
	// every offered language needs a voice.
	Voice voice.Opts `json:"voice"`
}

// Devices are the device sections of kiosk.json, each the driver's options.
type Devices struct {
	Printer  printer.Opts        `json:"printer"`  // no port: no printer
	Scanner  scanner.Opts        `json:"scanner"`  // no device: no scanner
	QRReader qrreader.SerialOpts `json:"qrReader"` // no port: no serial imager
	Sensors  sensors.Opts        `json:"sensors"`  // no pins: the sensors report noDevice
	Display  display.Opts        `json:"display"`  // sysRoot from the top level unless set here
}

// Load reads, defaults and validates the config file at path. Unknown keys
// are refused: a misspelt knob would otherwise be silently ignored.
func Load(path string) (Config, error) {
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

// SetDefaults fills the controller's settings the file leaves out. Device
// options are left as written: each driver fills its own defaults when it is
// opened, so they have one home.
func (c *Config) SetDefaults() { c.Config.SetDefaults() }

// DeviceOptions are the device sections as Open takes them: the display
// reads the kiosk's sysRoot and the scanner scans into the kiosk's private
// directory (kiosk.Config.TempDir), unless their own sections name others.
func (c Config) DeviceOptions() Devices {
	d := c.Devices
	if d.Display.SysRoot == "" {
		d.Display.SysRoot = c.SysRoot
	}
	if d.Scanner.TempDir == "" {
		d.Scanner.TempDir = c.TempDir()
	}
	return d
}

// Validate reports every problem at once, the controller's and each fitted
// device's (checked by the driver's own WithDefaults).
func (c Config) Validate() error {
	return errors.Join(c.Config.Validate(), c.devicesValid())
}

// devicesValid checks every fitted device's section and the update and
// voice settings.
func (c Config) devicesValid() error {
	var errs []error
	if c.Printer.Port != "" {
		errs = append(errs, section("printer", func() error { _, err := c.Printer.WithDefaults(); return err }))
	}
	if c.Scanner.Device != "" {
		errs = append(errs, section("scanner", func() error { _, err := c.Scanner.WithDefaults(); return err }))
	}
	if c.QRReader.Port != "" {
		errs = append(errs, section("qrReader", func() error { _, err := c.QRReader.WithDefaults(); return err }))
	}
	errs = append(errs,
		section("sensors", func() error { _, err := c.Sensors.WithDefaults(); return err }),
		section("display", func() error { _, err := c.Display.WithDefaults(); return err }),
		section("update", c.Update.Validate),
		section("voice", func() error {
			o, err := c.Voice.WithDefaults()
			if !o.Enabled {
				return err
			}
			for _, l := range c.Languages {
				if o.Voices[l] == "" {
					err = errors.Join(err, fmt.Errorf("voices: no voice for the offered language %q", l))
				}
			}
			return err
		}))
	return errors.Join(errs...)
}

func section(name string, check func() error) error {
	if err := check(); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	return nil
}

// ErrNotProvisioned is a kiosk.json that is missing, or that holds only
// device settings (no kioskId and no portalUrl): the kiosk is not set up
// yet (LoadSetup).
var ErrNotProvisioned = errors.New("the kiosk is not set up yet")

// LoadSetup reads the config file at path like Load, except that a kiosk
// not set up yet (a missing file, or one with device settings only, as a
// technician or the package writes it before enrollment) gives
// ErrNotProvisioned with what the file has: its device sections and
// listen addresses, validated, defaults applied, and dataDir defaulting to
// the file's directory. Enrollment keeps those settings and writes the
// kiosk's identity beside them.
func LoadSetup(path string) (Config, error) {
	b, err := os.ReadFile(path)
	var c Config
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return Config{}, fmt.Errorf("read config: %w", err)
	default:
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&c); err != nil {
			return Config{}, fmt.Errorf("decode config %s: %w", path, err)
		}
		if c.KioskID != "" || c.PortalURL != "" {
			return Load(path)
		}
	}
	c.SetDefaults()
	if c.DataDir == "" {
		abs, err := filepath.Abs(filepath.Dir(path))
		if err != nil {
			return Config{}, fmt.Errorf("config %s: %w", path, err)
		}
		c.DataDir = abs
	}
	errs := []error{c.devicesValid()}
	for name, addr := range map[string]string{"listen": c.Listen, "opsListen": c.OpsListen} {
		if host, _, err := net.SplitHostPort(addr); err != nil || !kiosk.IsLoopback(host) {
			errs = append(errs, fmt.Errorf("%s %q must be a loopback host:port", name, addr))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return Config{}, fmt.Errorf("config %s: %w", path, err)
	}
	return c, ErrNotProvisioned
}

// DevicesOnly is c without the kiosk's identity: the device sections, the
// addresses, the data directory and the filesystem roots, what a kiosk
// not set up yet has (LoadSetup). A decommissioned kiosk keeps these.
func (c Config) DevicesOnly() Config {
	var d Config
	d.Devices = c.Devices
	d.Voice = c.Voice
	d.Listen, d.OpsListen, d.DataDir, d.SysRoot = c.Listen, c.OpsListen, c.DataDir, c.SysRoot
	return d
}
