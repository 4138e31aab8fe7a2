// Package display drives the touchscreen's backlight through sysfs
// (class/backlight/*/brightness, max_brightness, bl_power).
package display

import (
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

// Display is the first backlight found under sysRoot.
type Display struct {
	log *slog.Logger
	now func() time.Time
	dir string // sysRoot/class/backlight/NAME, "" when none
}

// New finds the first backlight, in name order, under
// sysRoot/class/backlight (sysRoot is normally /sys). Without one the
// display reports noDevice and its setters return ErrNoDevice.
func New(sysRoot string, log *slog.Logger) *Display {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	d := &Display{log: log.With("device", "display"), now: time.Now}
	entries, _ := filepath.Glob(filepath.Join(sysRoot, "class", "backlight", "*"))
	sort.Strings(entries)
	for _, e := range entries {
		// sysfs entries are symlinks to directories: Stat follows them.
		if fi, err := os.Stat(filepath.Join(e, "max_brightness")); err == nil && fi.Mode().IsRegular() {
			d.dir = e
			break
		}
	}
	if d.dir == "" {
		d.log.Warn("no backlight found", "root", sysRoot)
	} else {
		d.log.Info("backlight found", "name", filepath.Base(d.dir))
	}
	return d
}

// Status is online when a backlight exists, noDevice otherwise.
func (d *Display) Status() device.Status {
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
