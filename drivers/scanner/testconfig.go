package scanner

import (
	"fmt"
	"os"
	"path/filepath"
)

// TestDevice is the device name WriteTestConfig's configuration provides.
const TestDevice = "test:0"

// testConf configures SANE's test backend (man sane-test) as one A4
// scanner: geometry_max raised from 200 mm so that br_x/br_y can be A4
// (210×297 mm), 8-bit grey at 150 dpi, and a grid picture so that pages
// and thumbnails are not blank. The ADF ("--source 'Automatic Document
// Feeder'") gives 10 sheets per scanimage run and then SANE_STATUS_NO_DOCS.
const testConf = `# SANE test backend, written by govkiosk scanner.WriteTestConfig
number_of_devices 1
mode Gray
depth 8
hand-scanner false
three-pass false
three-pass-order RGB
resolution_min 1.0
resolution_max 1200.0
resolution_quant 1.0
resolution 150.0
test-picture "Grid"
invert-endianess false
read-limit false
read-limit-size 1
read-delay false
read-delay-duration 1000
read-status-code "Default"
fuzzy-parameters false
ppl-loss 0
non-blocking false
select-fd false
enable-test-options false
geometry_min 0.0
geometry_max 300.0
geometry_quant 1.0
tl_x 0.0
tl_y 0.0
br_x 210.0
br_y 297.0
`

// WriteTestConfig writes dll.conf (listing only the test backend) and
// test.conf (A4 geometry) into dir, creating it. Point Opts.ConfigDir at
// dir and use Device TestDevice.
func WriteTestConfig(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("scanner: test config dir: %w", err)
	}
	files := []struct{ name, body string }{
		{"dll.conf", "# SANE backends for the govkiosk demo/tests\ntest\n"},
		{"test.conf", testConf},
	}
	for _, f := range files {
		if err := os.WriteFile(filepath.Join(dir, f.name), []byte(f.body), 0o644); err != nil {
			return fmt.Errorf("scanner: writing %s: %w", f.name, err)
		}
	}
	return nil
}
