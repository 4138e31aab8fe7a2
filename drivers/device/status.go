// Package device holds the one status model every kiosk device reports,
// after XFS4IoT: a state, a media state, and the action a person must take.
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
