package printer

import (
	"testing"

	"govkiosk/drivers/device"
)

func TestDecodeStatus(t *testing.T) {
	tests := []struct {
		name    string
		answers []byte
		state   device.State
		media   string
		action  device.Action
		paper   bool
		cover   bool
	}{
		{"ready", []byte{0x12, 0x12, 0x12}, device.Online, device.PaperFull, device.ActionNone, false, false},
		{"near end", []byte{0x12, 0x12, 0x1e}, device.Online, device.PaperLow, device.ActionNone, false, false},
		{"paper out", []byte{0x1a, 0x32, 0x7e}, device.UserError, device.PaperOut, device.ActionClear, true, false},
		{"paper-end stop only", []byte{0x1a, 0x32, 0x12}, device.UserError, device.PaperOut, device.ActionClear, true, false},
		{"cover open", []byte{0x1a, 0x16, 0x12}, device.UserError, device.PaperFull, device.ActionClear, false, true},
		{"offline", []byte{0x1a, 0x12, 0x12}, device.Offline, device.PaperFull, device.ActionReset, false, false},
		{"error", []byte{0x1a, 0x52, 0x12}, device.HardwareError, device.PaperFull, device.ActionReset, false, false},
		{"no answer", nil, device.NoDevice, "", device.ActionMaintenance, false, false},
		{"partial answer", []byte{0x12}, device.HardwareError, "", device.ActionReset, false, false},
		{"bad fixed bits", []byte{0x12, 0xff, 0x12}, device.HardwareError, "", device.ActionReset, false, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st, bits := decodeStatus(tc.answers)
			if st.Device != "printer" || st.State != tc.state || st.Media != tc.media || st.Action != tc.action {
				t.Errorf("status = %+v, want state %s media %q action %q", st, tc.state, tc.media, tc.action)
			}
			if got := bits.answered && bits.paperOut(); got != tc.paper {
				t.Errorf("paperOut = %v, want %v", got, tc.paper)
			}
			if got := bits.answered && bits.coverOpen(); got != tc.cover {
				t.Errorf("coverOpen = %v, want %v", got, tc.cover)
			}
		})
	}
}

func FuzzDecodeStatus(f *testing.F) {
	for _, s := range [][]byte{nil, {0x12, 0x12, 0x12}, {0x1a, 0x32, 0x7e}, {0xff}, {0x12, 0x16, 0x1e, 0x00}} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, answers []byte) {
		st, bits := decodeStatus(answers)
		if st.Device != "printer" {
			t.Fatalf("device %q", st.Device)
		}
		switch st.State {
		case device.Online, device.Offline, device.UserError, device.HardwareError, device.NoDevice:
		default:
			t.Fatalf("unexpected state %q", st.State)
		}
		if st.Usable() && (st.Media == device.PaperOut || bits.coverOpen()) {
			t.Fatalf("usable printer with paper out or cover open: %+v", st)
		}
		if st.Usable() && st.Action != device.ActionNone {
			t.Fatalf("usable printer asks for action: %+v", st)
		}
		if err := refuse(st, bits); (err == nil) != st.Usable() {
			t.Fatalf("refuse = %v for %+v", err, st)
		}
	})
}
