package display

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"govkiosk/drivers/device"
)

// fixture lays out sysRoot/class/backlight/NAME as real sysfs does: NAME is a
// symlink to a device directory holding the attributes.
func fixture(t *testing.T, backlights map[string]string) string {
	t.Helper()
	root := t.TempDir()
	class := filepath.Join(root, "class", "backlight")
	if err := os.MkdirAll(class, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, maxB := range backlights {
		dev := filepath.Join(root, "devices", "platform", name)
		if err := os.MkdirAll(dev, 0o755); err != nil {
			t.Fatal(err)
		}
		for attr, v := range map[string]string{"max_brightness": maxB, "brightness": maxB, "bl_power": "0", "actual_brightness": maxB} {
			if err := os.WriteFile(filepath.Join(dev, attr), []byte(v+"\n"), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.Symlink(dev, filepath.Join(class, name)); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func readAttr(t *testing.T, root, name, attr string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, "class", "backlight", name, attr))
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

func TestSetBrightness(t *testing.T) {
	tests := []struct {
		maxB    string
		percent int
		want    string
	}{
		{"255", 100, "255"},
		{"255", 0, "0"},
		{"255", 50, "128"},
		{"255", 1, "3"},
		{"7", 1, "1"}, // rounds to 0 but stays visible
		{"7", 40, "3"},
		{"96000", 75, "72000"},
	}
	for _, tc := range tests {
		root := fixture(t, map[string]string{"panel": tc.maxB})
		d := mustOpen(t, root)
		if err := d.SetBrightness(tc.percent); err != nil {
			t.Fatalf("max %s, %d%%: %v", tc.maxB, tc.percent, err)
		}
		if got := readAttr(t, root, "panel", "brightness"); got != tc.want {
			t.Errorf("max %s, %d%%: brightness %s, want %s", tc.maxB, tc.percent, got, tc.want)
		}
	}
}

func TestSetBrightnessOutOfRange(t *testing.T) {
	root := fixture(t, map[string]string{"panel": "100"})
	d := mustOpen(t, root)
	for _, p := range []int{-1, 101} {
		if err := d.SetBrightness(p); err == nil {
			t.Errorf("SetBrightness(%d) succeeded", p)
		}
	}
	if got := readAttr(t, root, "panel", "brightness"); got != "100" {
		t.Fatalf("brightness changed to %s", got)
	}
}

func TestFirstBacklightUsed(t *testing.T) {
	root := fixture(t, map[string]string{"intel_backlight": "1000", "acpi_video0": "10"})
	d := mustOpen(t, root)
	if err := d.SetBrightness(50); err != nil {
		t.Fatal(err)
	}
	if got := readAttr(t, root, "acpi_video0", "brightness"); got != "5" {
		t.Fatalf("acpi_video0 brightness %s, want 5", got)
	}
	if got := readAttr(t, root, "intel_backlight", "brightness"); got != "1000" {
		t.Fatalf("intel_backlight touched: %s", got)
	}
}

func TestBlankAndStatus(t *testing.T) {
	root := fixture(t, map[string]string{"panel": "255"})
	d := mustOpen(t, root)
	if st := d.Status(context.Background()); st.Device != "display" || st.State != device.Online || st.Detail != "" {
		t.Fatalf("status %+v", st)
	}
	steps := []struct {
		blank  bool
		want   string
		detail string
	}{
		{true, "4", "blanked"},
		{false, "0", ""},
		{true, "4", "blanked"},
	}
	for _, s := range steps {
		if err := d.Blank(s.blank); err != nil {
			t.Fatal(err)
		}
		if got := readAttr(t, root, "panel", "bl_power"); got != s.want {
			t.Fatalf("Blank(%v): bl_power %s, want %s", s.blank, got, s.want)
		}
		if st := d.Status(context.Background()); st.State != device.Online || st.Detail != s.detail {
			t.Fatalf("Blank(%v): status %+v", s.blank, st)
		}
	}
}

func TestNoBacklight(t *testing.T) {
	tests := []struct {
		name string
		root func(t *testing.T) string
	}{
		{"no class dir", func(t *testing.T) string { return t.TempDir() }},
		{"empty class dir", func(t *testing.T) string { return fixture(t, nil) }},
		{"entry without attributes", func(t *testing.T) string {
			root := fixture(t, nil)
			if err := os.Mkdir(filepath.Join(root, "class", "backlight", "broken"), 0o755); err != nil {
				t.Fatal(err)
			}
			return root
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := mustOpen(t, tc.root(t))
			if st := d.Status(context.Background()); st.Device != "display" || st.State != device.NoDevice {
				t.Fatalf("status %+v", st)
			}
			if err := d.SetBrightness(50); !errors.Is(err, ErrNoDevice) {
				t.Fatalf("SetBrightness: %v", err)
			}
			if err := d.Blank(true); !errors.Is(err, ErrNoDevice) {
				t.Fatalf("Blank: %v", err)
			}
		})
	}
}

func TestWriteErrorReported(t *testing.T) {
	root := fixture(t, map[string]string{"panel": "255"})
	d := mustOpen(t, root)
	if err := os.Remove(filepath.Join(root, "class", "backlight", "panel", "bl_power")); err != nil {
		t.Fatal(err)
	}
	if err := d.Blank(true); err == nil {
		t.Fatal("Blank succeeded without bl_power")
	}
	if _, err := os.Stat(filepath.Join(root, "class", "backlight", "panel", "bl_power")); err == nil {
		t.Fatal("Blank created bl_power")
	}
}

func mustOpen(t *testing.T, root string) *Display {
	t.Helper()
	d, err := Open(&Opts{SysRoot: root}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

// Opts.Backlight picks a backlight by name; String names the one in use;
// a name that is not a plain name is refused.
func TestBacklightByName(t *testing.T) {
	root := fixture(t, map[string]string{"intel_backlight": "1000", "acpi_video0": "10"})
	d, err := Open(&Opts{SysRoot: root, Backlight: "intel_backlight"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if d.String() != "display(intel_backlight)" {
		t.Errorf("String = %q", d.String())
	}
	if err := d.SetBrightness(50); err != nil {
		t.Fatal(err)
	}
	if got := readAttr(t, root, "intel_backlight", "brightness"); got != "500" {
		t.Fatalf("intel_backlight brightness %s, want 500", got)
	}
	if got := readAttr(t, root, "acpi_video0", "brightness"); got != "10" {
		t.Fatalf("acpi_video0 touched: %s", got)
	}
	if d, _ := Open(&Opts{SysRoot: root, Backlight: "absent"}, nil); d.Status(context.Background()).State != device.NoDevice || d.String() != "display(none)" {
		t.Errorf("absent backlight: %v %+v", d, d.Status(context.Background()))
	}
	for _, bad := range []string{"../x", "*", "."} {
		if _, err := Open(&Opts{SysRoot: root, Backlight: bad}, nil); err == nil {
			t.Errorf("backlight %q accepted", bad)
		}
	}
}
