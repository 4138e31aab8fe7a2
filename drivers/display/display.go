// Package display drives the touchscreen's backlight through sysfs
// (class/backlight/*/brightness, max_brightness, bl_power).
//
// # Shape
//
// Like every driver: Opts (JSON tags for kiosk.json, DefaultOpts), Open(o
// *Opts, log) (*Display, error) with nil Opts meaning DefaultOpts, and
// Status(ctx), String() and Close() of device.Device. The sysfs root is an
// option, so tests point it at a fixture tree.
//
// # Another display
//
// A panel whose backlight the kernel exposes under class/backlight needs
// nothing new (Opts.Backlight picks one by name). One driven another way
// (DDC/CI, a vendor tool) is a new package with its own Opts and Open, the
// same Status/String/Close behind a `var _ device.Device = ...` guard and
// SetBrightness/Blank; the kiosk's configuration gets one field for its
// Opts and the place that opens devices one case.
package display

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"govkiosk/drivers/device"
)

// ErrNoDevice is returned when there is no backlight.
var ErrNoDevice = errors.New("display: no backlight")

// bl_power values (FB_BLANK_UNBLANK and FB_BLANK_POWERDOWN).
const (
	blPowerOn  = "0"
	blPowerOff = "4"
)

// Opts says where to find the backlight.
type Opts struct {
	SysRoot   string `json:"sysRoot,omitempty"`   // sysfs mount ["/sys"]; tests use a fixture tree
	Backlight string `json:"backlight,omitempty"` // name under class/backlight; "" = the first in name order

	Now func() time.Time `json:"-"` // clock for status times [time.Now]
}

// DefaultOpts are the defaults Open fills zero fields from.
var DefaultOpts = Opts{SysRoot: "/sys"}

// WithDefaults fills zero fields from DefaultOpts and checks the result.
func (o Opts) WithDefaults() (Opts, error) {
	if o.SysRoot == "" {
		o.SysRoot = DefaultOpts.SysRoot
	}
	if o.Backlight == "" {
		o.Backlight = DefaultOpts.Backlight
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if strings.ContainsAny(o.Backlight, "/*?[") || o.Backlight == ".." || o.Backlight == "." {
		return o, fmt.Errorf("display: backlight name %q is not a plain name", o.Backlight)
	}
	return o, nil
}

// Display is one backlight under the sysfs root.
type Display struct {
	log *slog.Logger
	now func() time.Time
	dir string // sysRoot/class/backlight/NAME, "" when none
}

var _ device.Device = (*Display)(nil)

// Open finds the backlight o names, or the first one in name order, under
// SysRoot/class/backlight. Without one the display reports noDevice and its
// setters return ErrNoDevice; only invalid options are an error.
func Open(o *Opts, log *slog.Logger) (*Display, error) {
	cfg := DefaultOpts
	if o != nil {
		cfg = *o
	}
	cfg, err := cfg.WithDefaults()
	if err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	d := &Display{log: log.With("device", "display"), now: cfg.Now}
	pattern := "*"
	if cfg.Backlight != "" {
		pattern = cfg.Backlight
	}
	entries, _ := filepath.Glob(filepath.Join(cfg.SysRoot, "class", "backlight", pattern))
	sort.Strings(entries)
	for _, e := range entries {
		// sysfs entries are symlinks to directories: Stat follows them.
		if fi, err := os.Stat(filepath.Join(e, "max_brightness")); err == nil && fi.Mode().IsRegular() {
			d.dir = e
			break
		}
	}
	if d.dir == "" {
		d.log.Warn("no backlight found", "root", cfg.SysRoot, "name", cfg.Backlight)
	} else {
		d.log.Info("backlight found", "name", filepath.Base(d.dir))
	}
	return d, nil
}

// String names the backlight, e.g. "display(intel_backlight)", or
// "display(none)" without one.
func (d *Display) String() string {
	if d.dir == "" {
		return "display(none)"
	}
	return "display(" + filepath.Base(d.dir) + ")"
}

// Close holds nothing open: every setter opens and closes its attribute.
func (d *Display) Close() error { return nil }

// Status is online when a backlight exists, noDevice otherwise. Reading
// sysfs does not block, so ctx is not consulted.
func (d *Display) Status(context.Context) device.Status {
	st := device.Status{Device: "display", State: device.Online, At: d.now()}
	if d.dir == "" {
		st.State, st.Detail = device.NoDevice, "no backlight"
		return st
	}
	if b, err := os.ReadFile(filepath.Join(d.dir, "bl_power")); err == nil && strings.TrimSpace(string(b)) != blPowerOn {
		st.Detail = "blanked"
	}
	return st
}

// SetBrightness sets the backlight to percent (0–100) of its maximum.
// Any percent above 0 gives at least the lowest visible step.
func (d *Display) SetBrightness(percent int) error {
	if d.dir == "" {
		return ErrNoDevice
	}
	if percent < 0 || percent > 100 {
		return fmt.Errorf("display: brightness %d%% out of range 0-100", percent)
	}
	b, err := os.ReadFile(filepath.Join(d.dir, "max_brightness"))
	if err != nil {
		return fmt.Errorf("display: read max_brightness: %w", err)
	}
	maxB, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || maxB <= 0 {
		return fmt.Errorf("display: bad max_brightness %q", strings.TrimSpace(string(b)))
	}
	v := (maxB*percent + 50) / 100
	if percent > 0 && v == 0 {
		v = 1
	}
	return d.write("brightness", strconv.Itoa(v))
}

// Blank turns the backlight off (on=true, bl_power 4) or back on
// (on=false, bl_power 0).
func (d *Display) Blank(on bool) error {
	if d.dir == "" {
		return ErrNoDevice
	}
	v := blPowerOn
	if on {
		v = blPowerOff
	}
	return d.write("bl_power", v)
}

// write writes an existing sysfs attribute; it never creates one.
func (d *Display) write(attr, value string) error {
	f, err := os.OpenFile(filepath.Join(d.dir, attr), os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		return fmt.Errorf("display: %s: %w", attr, err)
	}
	if _, err := f.WriteString(value + "\n"); err != nil {
		f.Close()
		return fmt.Errorf("display: write %s: %w", attr, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("display: write %s: %w", attr, err)
	}
	return nil
}
