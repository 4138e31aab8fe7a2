// Package sensors reads the cabinet's tamper/door switch and drives its
// status LED through periph.io GPIO, and reads the board temperature from
// sysfs. WatchDoor reports the door opening and closing as it happens, by
// reading the pin every DoorPoll (edge interrupts are not on every board's
// GPIO, nor through sysfs everywhere).
//
// # Shape
//
// Like every driver: Opts (JSON tags for kiosk.json, DefaultOpts), Open(o
// *Opts, log) (*Sensors, error) with nil Opts meaning DefaultOpts, and
// Status(ctx), String() and Close() of device.Device. Real pins are looked
// up by name in periph's registry after host.Init; tests and the demo hand
// in pins of their own through Opts.Door and Opts.LED (see the sensorstest
// package), so nothing fake is ever registered in the process-wide
// registry.
//
// # Another board
//
// A board whose GPIO periph drives needs only the pin names in Opts. Sensors
// on another bus (I2C, a vendor controller) are a new package with its own
// Opts and Open, the same Status/String/Close behind a
// `var _ device.Device = ...` guard and DoorOpen/SetLED; the kiosk's
// configuration gets one field for its Opts and the place that opens
// devices one case.
package sensors

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpioreg"
	"periph.io/x/host/v3"

	"govkiosk/drivers/device"
)

// ErrNoDevice is returned when the pins are not there.
var ErrNoDevice = errors.New("sensors: no device")

// Opts names the pins as gpioreg knows them (e.g. "GPIO17"), or hands pins
// in directly.
type Opts struct {
	DoorPin  string          `json:"doorPin,omitempty"` // input; High = door open (the switch pulls it Low when closed)
	LEDPin   string          `json:"ledPin,omitempty"`  // output; High = LED on
	DoorPoll device.Duration `json:"doorPoll,omitzero"` // how often WatchDoor reads the door, 10ms..5s [200ms]

	Door gpio.PinIO       `json:"-"` // used instead of looking DoorPin up (tests, demo)
	LED  gpio.PinIO       `json:"-"` // used instead of looking LEDPin up
	Now  func() time.Time `json:"-"` // clock for status times [time.Now]
}

// DefaultOpts are the defaults Open fills zero fields from: no pins, so
// sensors report noDevice until the configuration names them.
var DefaultOpts = Opts{DoorPoll: device.D(200 * time.Millisecond)}

// WithDefaults fills zero fields from DefaultOpts and checks the result.
func (o Opts) WithDefaults() (Opts, error) {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.DoorPoll.Duration == 0 {
		o.DoorPoll = DefaultOpts.DoorPoll
	}
	var errs []error
	if o.Door == nil && o.LED == nil && o.DoorPin != "" && o.DoorPin == o.LEDPin {
		errs = append(errs, fmt.Errorf("sensors: door and LED are both pin %s", o.DoorPin))
	}
	if p := o.DoorPoll.Duration; p < 10*time.Millisecond || p > 5*time.Second {
		errs = append(errs, fmt.Errorf("sensors: doorPoll %v out of range 10ms..5s", o.DoorPoll))
	}
	return o, errors.Join(errs...)
}

// Sensors is the door switch and status LED.
type Sensors struct {
	cfg     Opts
	log     *slog.Logger
	now     func() time.Time
	door    gpio.PinIO
	led     gpio.PinIO
	missing string // why the device is absent; "" when present
}

var _ device.Device = (*Sensors)(nil)

// Open initialises periph's host drivers and finds the pins (o.Door and
// o.LED when given, else by name). Only options that cannot be right are an
// error: a machine without GPIO, or without the configured pins, gives
// Sensors whose Status is noDevice.
func Open(o *Opts, log *slog.Logger) (*Sensors, error) {
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
	s := &Sensors{cfg: cfg, log: log.With("device", "sensors"), now: cfg.Now}
	if cfg.Door == nil || cfg.LED == nil {
		if _, err := host.Init(); err != nil {
			s.log.Warn("periph host init failed", "err", err)
		}
	}
	s.door, s.led = cfg.Door, cfg.LED
	if s.door == nil {
		s.door = lookup(cfg.DoorPin)
	}
	if s.led == nil {
		s.led = lookup(cfg.LEDPin)
	}
	switch {
	case s.door == nil:
		s.missing = fmt.Sprintf("door pin %q not found", cfg.DoorPin)
	case s.led == nil:
		s.missing = fmt.Sprintf("LED pin %q not found", cfg.LEDPin)
	}
	if s.missing == "" {
		// PullNoChange: the board (device tree or an external resistor)
		// sets the pull; sysfs GPIO cannot set one anyway.
		if err := s.door.In(gpio.PullNoChange, gpio.NoEdge); err != nil {
			s.missing = fmt.Sprintf("door pin %s as input: %v", s.door.Name(), err)
		} else if err := s.led.Out(gpio.Low); err != nil {
			s.missing = fmt.Sprintf("LED pin %s as output: %v", s.led.Name(), err)
		}
	}
	if s.missing != "" {
		s.door, s.led = nil, nil
		s.log.Warn("sensors unavailable", "reason", s.missing)
	} else {
		s.log.Info("sensors ready", "door", s.door.Name(), "led", s.led.Name())
	}
	return s, nil
}

func lookup(name string) gpio.PinIO {
	if name == "" {
		return nil
	}
	return gpioreg.ByName(name)
}

// String names the pins, e.g. "sensors(door=GPIO17,led=GPIO27)".
func (s *Sensors) String() string {
	name := func(p gpio.PinIO, cfg string) string {
		if p != nil {
			return p.Name()
		}
		return cfg
	}
	return "sensors(door=" + name(s.door, s.cfg.DoorPin) + ",led=" + name(s.led, s.cfg.LEDPin) + ")"
}

// Close switches the LED off and halts both pins.
func (s *Sensors) Close() error {
	if s.door == nil || s.led == nil {
		return nil
	}
	var errs []error
	if err := s.led.Out(gpio.Low); err != nil {
		errs = append(errs, err)
	}
	errs = append(errs, s.led.Halt(), s.door.Halt())
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("sensors: close: %w", err)
	}
	return nil
}

// Status is online while the pins are there. An open door is still online
// but asks for maintenance; absent pins are noDevice. Reading a pin does
// not block, so ctx is not consulted.
func (s *Sensors) Status(context.Context) device.Status {
	st := device.Status{Device: "sensors", State: device.Online, At: s.now()}
	if s.missing != "" {
		st.State, st.Action, st.Detail = device.NoDevice, device.ActionMaintenance, s.missing
		return st
	}
	if open, _ := s.DoorOpen(); open {
		st.Action, st.Detail = device.ActionMaintenance, "door open"
	}
	return st
}

// DoorOpen reports whether the cabinet door is open (its pin reads High).
func (s *Sensors) DoorOpen() (bool, error) {
	if s.door == nil {
		return false, ErrNoDevice
	}
	return s.door.Read() == gpio.High, nil
}

// WatchDoor calls changed with the door's state (true: open) at once and
// then each time it changes, reading the pin every DoorPoll, until ctx ends
// (nil). Without a door pin it returns ErrNoDevice at once.
func (s *Sensors) WatchDoor(ctx context.Context, changed func(open bool)) error {
	if s.door == nil {
		return ErrNoDevice
	}
	t := time.NewTicker(s.cfg.DoorPoll.Duration)
	defer t.Stop()
	for last, first := false, true; ; {
		if open := s.door.Read() == gpio.High; first || open != last {
			changed(open)
			last, first = open, false
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// SetLED switches the status LED.
func (s *Sensors) SetLED(on bool) error {
	if s.led == nil {
		return ErrNoDevice
	}
	l := gpio.Low
	if on {
		l = gpio.High
	}
	if err := s.led.Out(l); err != nil {
		return fmt.Errorf("sensors: set LED %s: %w", s.led.Name(), err)
	}
	return nil
}

// Temperature is the hottest thermal zone under sysRoot (normally /sys), in
// degrees Celsius, from class/thermal/thermal_zone*/temp (millidegrees).
// Zones that cannot be read are skipped; none readable is an error.
func Temperature(sysRoot string) (float64, error) {
	paths, err := filepath.Glob(filepath.Join(sysRoot, "class", "thermal", "thermal_zone*", "temp"))
	if err != nil {
		return 0, fmt.Errorf("sensors: temperature: %w", err)
	}
	var (
		best  float64
		found bool
		errs  []error
	)
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		milli, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", p, err))
			continue
		}
		c := float64(milli) / 1000
		if !found || c > best {
			best, found = c, true
		}
	}
	if !found {
		return 0, fmt.Errorf("sensors: no readable thermal zone under %s: %w", sysRoot, errors.Join(append(errs, ErrNoDevice)...))
	}
	return best, nil
}
