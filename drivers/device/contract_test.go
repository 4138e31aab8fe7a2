package device_test

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"govkiosk/drivers/device"
	"govkiosk/drivers/display"
	"govkiosk/drivers/printer"
	"govkiosk/drivers/qrreader"
	"govkiosk/drivers/scanner"
	"govkiosk/drivers/sensors"
)

// Every driver's options are reachable from kiosk.json: each field has a
// JSON tag; clocks, pins and other values a file cannot hold are "-";
// durations are device.Duration so a file says "5s", not nanoseconds; and
// the defaults survive a JSON round trip unchanged.
func TestDriverOptsAreJSON(t *testing.T) {
	for name, opts := range map[string]any{
		"printer":         printer.DefaultOpts,
		"scanner":         scanner.DefaultOpts,
		"qrreader.Serial": qrreader.DefaultSerialOpts,
		"qrreader.Frames": qrreader.DefaultFramesOpts,
		"sensors":         sensors.DefaultOpts,
		"display":         display.DefaultOpts,
	} {
		typ := reflect.TypeOf(opts)
		for i := range typ.NumField() {
			f := typ.Field(i)
			tag, ok := f.Tag.Lookup("json")
			switch {
			case !ok || tag == "":
				t.Errorf("%s: %s has no json tag", name, f.Name)
			case f.Type.Kind() == reflect.Func || f.Type.Kind() == reflect.Interface:
				if tag != "-" {
					t.Errorf("%s: %s (%s) must be json:\"-\"", name, f.Name, f.Type)
				}
			case f.Type == reflect.TypeOf(time.Duration(0)):
				t.Errorf("%s: %s is a time.Duration; use device.Duration", name, f.Name)
			case tag == "-":
				t.Errorf("%s: %s is a plain value hidden from kiosk.json", name, f.Name)
			case strings.Split(tag, ",")[0] == "":
				t.Errorf("%s: %s has no JSON name", name, f.Name)
			}
		}
		b, err := json.Marshal(opts)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		back := reflect.New(typ)
		if err := json.Unmarshal(b, back.Interface()); err != nil {
			t.Fatalf("%s: %s: %v", name, b, err)
		}
		if !reflect.DeepEqual(back.Elem().Interface(), opts) {
			t.Errorf("%s: defaults changed in JSON: %s", name, b)
		}
	}
}

// The drivers satisfy the one device contract. (Each package also guards
// this at compile time; this keeps the list of drivers in one place.)
var _ = []device.Device{
	(*printer.Printer)(nil),
	(*scanner.Scanner)(nil),
	(*qrreader.Serial)(nil),
	(*qrreader.Frames)(nil),
	(*sensors.Sensors)(nil),
	(*display.Display)(nil),
}

func TestDuration(t *testing.T) {
	var v struct {
		D device.Duration `json:"d"`
	}
	if err := json.Unmarshal([]byte(`{"d":"1m30s"}`), &v); err != nil || v.D.Duration != 90*time.Second {
		t.Fatalf("decode: %v, %v", v.D, err)
	}
	b, err := json.Marshal(v)
	if err != nil || string(b) != `{"d":"1m30s"}` {
		t.Fatalf("encode: %s, %v", b, err)
	}
	for _, bad := range []string{`{"d":90}`, `{"d":"soon"}`} {
		if err := json.Unmarshal([]byte(bad), &v); err == nil {
			t.Errorf("%s decoded", bad)
		}
	}
	var d device.Duration
	if err := d.UnmarshalText([]byte("250ms")); err != nil || d.Duration != 250*time.Millisecond {
		t.Fatalf("text: %v, %v", d, err)
	}
	if txt, _ := d.MarshalText(); string(txt) != "250ms" {
		t.Errorf("MarshalText = %s", txt)
	}
}
