// Package device is the contract between the kiosk and its drivers, in
// neutral types no driver owns:
//
//   - the one status model every device reports, after XFS4IoT: a state, a
//     media state, and the action a person must take (Status);
//   - what every driver is (Device: Status(ctx), String(), Close()), which
//     each driver package guards at compile time;
//   - what flows through the devices: scanned pages (Page), print jobs
//     (PrintPart), and the receipt paper's geometry (DotsPerMM, Width80mm,
//     Width58mm);
//   - the faults callers test with errors.Is (ErrScannerJammed,
//     ErrPaperOut, ...), which every model's driver wraps;
//   - Duration, the text-encoded duration of driver options and kiosk.json.
//
// Every driver has one shape: `type Opts struct` with a JSON tag on every
// knob (clocks and handed-in hardware are json:"-"), `var DefaultOpts`,
// and `Open(o *Opts, log *slog.Logger) (*T, error)`, nil Opts meaning the
// defaults. A new model of a device class is a new package of that shape;
// the kiosk reaches it through its own small interfaces over these types.
package device

import "time"

// State is the device's overall condition.
type State string

const (
	Online        State = "online"
	Offline       State = "offline"
	NoDevice      State = "noDevice"
	HardwareError State = "hardwareError"
	UserError     State = "userError"
	Busy          State = "busy"
)

// Media states. Printers use the paper ones, scanners the scanner ones.
const (
	PaperFull   = "full"
	PaperLow    = "low"
	PaperOut    = "out"
	PaperJammed = "jammed"

	ScannerReady     = "ready"
	ScannerJammed    = "jammed"
	ScannerCoverOpen = "coverOpen"
	ScannerEmpty     = "empty"
)

// Action is what somebody has to do to bring the device back.
type Action string

const (
	ActionNone        Action = ""
	ActionReset       Action = "reset"
	ActionClear       Action = "clear"
	ActionMaintenance Action = "maintenance"
)

// Status is one device's report. Detail is for technicians and logs; it never
// holds personal data.
type Status struct {
	Device string    `json:"device"` // printer, scanner, qrreader, sensors, display
	State  State     `json:"state"`
	Media  string    `json:"media,omitempty"`
	Action Action    `json:"action,omitempty"`
	Detail string    `json:"detail,omitempty"`
	At     time.Time `json:"at"`
}

// Usable reports whether the device can serve a citizen now.
func (s Status) Usable() bool {
	return s.State == Online || s.State == Busy
}
