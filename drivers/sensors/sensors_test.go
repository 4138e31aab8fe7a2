package sensors

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"testing"

	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpioreg"
	"periph.io/x/conn/v3/gpio/gpiotest"

	"govkiosk/drivers/device"
)

func registerFakes(t *testing.T) (door, led *gpiotest.Pin, cfg Config) {
	t.Helper()
	cfg = Config{DoorPin: "TEST_DOOR_" + t.Name(), LEDPin: "TEST_LED_" + t.Name()}
	door, led, err := RegisterFakes(cfg.DoorPin, cfg.LEDPin)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = gpioreg.Unregister(cfg.DoorPin)
		_ = gpioreg.Unregister(cfg.LEDPin)
	})
	return door, led, cfg
}

func TestDoorAndLED(t *testing.T) {
	door, led, cfg := registerFakes(t)
	s := Open(cfg, nil)
	if st := s.Status(); st.Device != "sensors" || st.State != device.Online || st.Detail != "" || st.Action != device.ActionNone {
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
		st := s.Status()
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

func TestRegisterFakesTwiceFails(t *testing.T) {
	_, _, cfg := registerFakes(t)
	if _, _, err := RegisterFakes(cfg.DoorPin, cfg.LEDPin); err == nil {
		t.Fatal("registering the same pin names twice succeeded")
	}
	// The first registration still works.
	if st := Open(cfg, nil).Status(); st.State != device.Online {
		t.Fatalf("status %+v", st)
	}
}

func TestOpenMissingPins(t *testing.T) {
	_, _, fakes := registerFakes(t)
	tests := []struct {
		name string
		cfg  Config
	}{
		{"both missing", Config{DoorPin: "NO_SUCH_DOOR", LEDPin: "NO_SUCH_LED"}},
		{"door missing", Config{DoorPin: "NO_SUCH_DOOR", LEDPin: fakes.LEDPin}},
		{"LED missing", Config{DoorPin: fakes.DoorPin, LEDPin: "NO_SUCH_LED"}},
		{"not configured", Config{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := Open(tc.cfg, nil)
			st := s.Status()
			if st.Device != "sensors" || st.State != device.NoDevice || st.Detail == "" {
				t.Fatalf("status %+v", st)
			}
			if _, err := s.DoorOpen(); !errors.Is(err, ErrNoDevice) {
				t.Fatalf("DoorOpen: %v", err)
			}
			if err := s.SetLED(true); !errors.Is(err, ErrNoDevice) {
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
			got, err := Temperature(root)
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
