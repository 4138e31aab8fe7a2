// Package sensors reads the cabinet's tamper/door switch and drives its
// status LED through periph.io GPIO, and reads the board temperature from
// sysfs.
package sensors

import (
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
	"periph.io/x/conn/v3/gpio/gpiotest"
	"periph.io/x/host/v3"

	"govkiosk/drivers/device"
)

// ErrNoDevice is returned when the pins are not there.
var ErrNoDevice = errors.New("sensors: no device")

// Config names the pins as gpioreg knows them (e.g. "GPIO17").
type Config struct {
	DoorPin string // input; High = door open (the switch pulls it Low when closed)
	LEDPin  string // output; High = LED on
}

// Sensors is the door switch and status LED.
type Sensors struct {
	log     *slog.Logger
	now     func() time.Time
	door    gpio.PinIO
	led     gpio.PinIO
	missing string // why the device is absent; "" when present
}

// Open initialises periph's host drivers and looks the pins up. It never
// fails: a machine without GPIO, or without the configured pins, gives
// Sensors whose Status is noDevice.
func Open(cfg Config, log *slog.Logger) *Sensors {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Sensors{log: log.With("device", "sensors"), now: time.Now}
	if _, err := host.Init(); err != nil {
		// Pins registered by other means (fakes) may still be there.
		s.log.Warn("periph host init failed", "err", err)
	}
	s.door = lookup(cfg.DoorPin)
	s.led = lookup(cfg.LEDPin)
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
	return s
}

func lookup(name string) gpio.PinIO {
	if name == "" {
		return nil
	}
	return gpioreg.ByName(name)
}

// Status is online while the pins are there. An open door is still online
// but asks for maintenance; absent pins are noDevice.
func (s *Sensors) Status() device.Status {
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

// RegisterFakes registers two gpiotest pins in gpioreg under the given names,
// for the demo and tests: the door starts Low (closed), the LED Low (off).
// door.Out(gpio.High) opens the door, door.Out(gpio.Low) closes it;
// led.Read() shows the LED.
func RegisterFakes(doorName, ledName string) (door, led *gpiotest.Pin, err error) {
	door = &gpiotest.Pin{N: doorName, Num: -1, Fn: "In", L: gpio.Low}
	led = &gpiotest.Pin{N: ledName, Num: -1, Fn: "Out", L: gpio.Low}
	if err := gpioreg.Register(door); err != nil {
		return nil, nil, fmt.Errorf("sensors: register fake door pin: %w", err)
	}
	if err := gpioreg.Register(led); err != nil {
		_ = gpioreg.Unregister(doorName)
		return nil, nil, fmt.Errorf("sensors: register fake LED pin: %w", err)
	}
	return door, led, nil
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
