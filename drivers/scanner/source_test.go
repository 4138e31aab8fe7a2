package scanner

import (
	"context"
	"errors"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"govkiosk/drivers/device"
)

// A duplex source the device does not offer (Debian's SANE test backend
// has only Flatbed and Automatic Document Feeder) is reported by Status,
// naming what the device does offer, and a scan fails with
// ErrSourceNotOffered instead of a generic failure.
func TestSourceNotOffered(t *testing.T) {
	if _, err := exec.LookPath("scanimage"); err != nil {
		t.Fatal("scanimage missing: install sane-utils (make deps)")
	}
	cfgDir := filepath.Join(t.TempDir(), "sane.d")
	if err := WriteTestConfig(cfgDir); err != nil {
		t.Fatal(err)
	}
	s := mustOpen(t, Opts{Device: TestDevice, ConfigDir: cfgDir, DPI: 50, Source: "ADF Duplex", TempDir: t.TempDir()}, nil)
	st := s.Status(context.Background())
	if st.State != device.HardwareError || st.Action != device.ActionMaintenance ||
		!strings.Contains(st.Detail, `"ADF Duplex" not offered`) || !strings.Contains(st.Detail, "Automatic Document Feeder") {
		t.Errorf("status %+v, want a hardware error naming the offered sources", st)
	}
	_, err := s.ScanBatch(context.Background(), 2)
	if !errors.Is(err, ErrSourceNotOffered) {
		t.Errorf("scan: %v, want ErrSourceNotOffered", err)
	}
	// The offered source scans.
	ok := mustOpen(t, Opts{Device: TestDevice, ConfigDir: cfgDir, DPI: 50, TempDir: t.TempDir()}, nil)
	if st := ok.Status(context.Background()); st.State != device.Online {
		t.Errorf("status with the ADF source: %+v", st)
	}
}

func TestOfferedSources(t *testing.T) {
	for out, want := range map[string]string{
		"    --source Flatbed|Automatic Document Feeder [Flatbed]\n":          "Flatbed|Automatic Document Feeder",
		"  --mode Gray\n  --source ADF Front|ADF Back|ADF Duplex [ADF Front]": "ADF Front|ADF Back|ADF Duplex",
		"  --mode Gray|Color [Gray]\n":                                        "",
	} {
		if got := strings.Join(offeredSources(out), "|"); got != want {
			t.Errorf("offeredSources(%q) = %q, want %q", out, got, want)
		}
	}
}
