package sensors_test

import (
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"testing"
	"time"

	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpioreg"
	"periph.io/x/conn/v3/gpio/gpiotest"

	"govkiosk/drivers/device"
	"govkiosk/drivers/sensors"
	"govkiosk/drivers/sensors/sensorstest"
)

// fakes are a door and LED pin handed in through Opts, named after the test.
func fakes(t *testing.T) (door, led *gpiotest.Pin, o *sensors.Opts) {
	t.Helper()
	door, led = sensorstest.Pins("TEST_DOOR_"+t.Name(), "TEST_LED_"+t.Name())
	return door, led, sensorstest.Opts(door, led)
}

func open(t *testing.T, o *sensors.Opts) *sensors.Sensors {
	t.Helper()
	s, err := sensors.Open(o, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Error(err)
		}
	})
	return s
}

func TestDoorAndLED(t *testing.T) {
	door, led, cfg := fakes(t)
	s := open(t, cfg)
	if got, want := s.String(), "sensors(door="+door.N+",led="+led.N+")"; got != want {
		t.Errorf("String = %q, want %q", got, want)
	}
	if st := s.Status(context.Background()); st.Device != "sensors" || st.State != device.Online || st.Detail != "" || st.Action != device.ActionNone {
		t.Fatalf("closed door: status %+v", st)
	}
	tests := []struct {
		name   string
		level  gpio.Level
		open   bool
		detail string
		action device.Action
	}{
		{"door opened", gpio.High, true, "door open", device.ActionMaintenance},
		{"door closed", gpio.Low, false, "", device.ActionNone},
		{"door opened again", gpio.High, true, "door open", device.ActionMaintenance},
	}
	for _, tc := range tests {
		if err := door.Out(tc.level); err != nil {
			t.Fatal(err)
		}
		open, err := s.DoorOpen()
		if err != nil || open != tc.open {
			t.Fatalf("%s: DoorOpen = %v, %v", tc.name, open, err)
		}
		st := s.Status(context.Background())
		if st.State != device.Online || st.Detail != tc.detail || st.Action != tc.action {
			t.Fatalf("%s: status %+v", tc.name, st)
		}
	}

	for _, on := range []bool{true, false, true} {
		if err := s.SetLED(on); err != nil {
			t.Fatal(err)
		}
		if got := led.Read() == gpio.High; got != on {
			t.Fatalf("SetLED(%v): LED pin is %v", on, led.Read())
		}
	}
}

// Pins handed in are never put in periph's registry; real pins are still
// found there by name.
func TestPinsByNameAndHandedIn(t *testing.T) {
	door, led, cfg := fakes(t)
	open(t, cfg)
	open(t, cfg) // a second set of the same pins: nothing global to clash
	if gpioreg.ByName(door.N) != nil || gpioreg.ByName(led.N) != nil {
		t.Fatal("handed-in fakes ended up in gpioreg")
	}
	rdoor := &gpiotest.Pin{N: "REG_DOOR_" + t.Name(), Num: -1, L: gpio.Low}
	rled := &gpiotest.Pin{N: "REG_LED_" + t.Name(), Num: -1, L: gpio.Low}
	for _, p := range []*gpiotest.Pin{rdoor, rled} {
		if err := gpioreg.Register(p); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = gpioreg.Unregister(p.N) })
	}
	s := open(t, &sensors.Opts{DoorPin: rdoor.N, LEDPin: rled.N})
	if st := s.Status(context.Background()); st.State != device.Online {
		t.Fatalf("pins by name: status %+v", st)
	}
	if err := s.SetLED(true); err != nil || rled.Read() != gpio.High {
		t.Fatalf("SetLED on a pin by name: %v, pin %v", err, rled.Read())
	}
	if _, err := sensors.Open(&sensors.Opts{DoorPin: "GPIO17", LEDPin: "GPIO17"}, nil); err == nil {
		t.Error("door and LED on one pin was accepted")
	}
}

func TestOpenMissingPins(t *testing.T) {
	door, led, _ := fakes(t)
	tests := []struct {
		name string
		cfg  *sensors.Opts
	}{
		{"both missing", &sensors.Opts{DoorPin: "NO_SUCH_DOOR", LEDPin: "NO_SUCH_LED"}},
		{"door missing", &sensors.Opts{DoorPin: "NO_SUCH_DOOR", LED: led}},
		{"LED missing", &sensors.Opts{Door: door, LEDPin: "NO_SUCH_LED"}},
		{"not configured", &sensors.Opts{}},
		{"nil options", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := open(t, tc.cfg)
			st := s.Status(context.Background())
			if st.Device != "sensors" || st.State != device.NoDevice || st.Detail == "" {
				t.Fatalf("status %+v", st)
			}
			if _, err := s.DoorOpen(); !errors.Is(err, sensors.ErrNoDevice) {
				t.Fatalf("DoorOpen: %v", err)
			}
			if err := s.SetLED(true); !errors.Is(err, sensors.ErrNoDevice) {
				t.Fatalf("SetLED: %v", err)
			}
		})
	}
}

func TestTemperature(t *testing.T) {
	tests := []struct {
		name    string
		zones   map[string]string // zone dir -> temp file content ("" = no file)
		want    float64
		wantErr bool
	}{
		{"one zone", map[string]string{"thermal_zone0": "45000\n"}, 45, false},
		{"max of zones", map[string]string{"thermal_zone0": "38500\n", "thermal_zone1": "61250\n", "thermal_zone2": "52000"}, 61.25, false},
		{"negative", map[string]string{"thermal_zone0": "-5500\n"}, -5.5, false},
		{"bad zone skipped", map[string]string{"thermal_zone0": "garbage\n", "thermal_zone1": "40000\n"}, 40, false},
		{"zone without temp skipped", map[string]string{"thermal_zone0": "", "thermal_zone1": "41000\n"}, 41, false},
		{"cooling devices ignored", map[string]string{"cooling_device0": "99000\n", "thermal_zone0": "30000\n"}, 30, false},
		{"no zones", map[string]string{}, 0, true},
		{"only bad zones", map[string]string{"thermal_zone0": "n/a\n"}, 0, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			base := filepath.Join(root, "class", "thermal")
			if err := os.MkdirAll(base, 0o755); err != nil {
				t.Fatal(err)
			}
			for zone, content := range tc.zones {
				dir := filepath.Join(base, zone)
				if err := os.MkdirAll(dir, 0o755); err != nil {
					t.Fatal(err)
				}
				if content != "" {
					if err := os.WriteFile(filepath.Join(dir, "temp"), []byte(content), 0o644); err != nil {
						t.Fatal(err)
					}
				}
			}
			got, err := sensors.Temperature(root)
			if tc.wantErr {
				if err == nil {
					t.Fatalf("Temperature = %v, want an error", got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if math.Abs(got-tc.want) > 1e-9 {
				t.Fatalf("Temperature = %v, want %v", got, tc.want)
			}
		})
	}
}

// WatchDoor reports the state at once and then every change, within a few
// polls; without a door pin it refuses at once.
func TestWatchDoor(t *testing.T) {
	door, _, cfg := fakes(t)
	cfg.DoorPoll = device.D(10 * time.Millisecond)
	s := open(t, cfg)
	ctx, cancel := context.WithCancel(context.Background())
	changes := make(chan bool, 8)
	done := make(chan error, 1)
	go func() { done <- s.WatchDoor(ctx, func(open bool) { changes <- open }) }()
	for i, want := range []bool{false, true, false, true} {
		if i > 0 {
			level := gpio.Low
			if want {
				level = gpio.High
			}
			door.Out(level)
		}
		select {
		case got := <-changes:
			if got != want {
				t.Fatalf("change %d: open=%v, want %v", i, got, want)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("change %d (open=%v) not reported", i, want)
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("WatchDoor after cancel: %v", err)
	}
	select {
	case extra := <-changes:
		t.Fatalf("a change reported that did not happen: %v", extra)
	default:
	}
	if err := open(t, &sensors.Opts{}).WatchDoor(context.Background(), func(bool) {}); !errors.Is(err, sensors.ErrNoDevice) {
		t.Fatalf("WatchDoor without a door pin: %v", err)
	}
	if _, err := sensors.Open(&sensors.Opts{DoorPoll: device.D(time.Minute)}, nil); err == nil {
		t.Error("a door read once a minute was accepted")
	}
}
