package printer

import (
	"strings"

	"govkiosk/drivers/device"
)

// Status byte bits (ESC/POS DLE EOT). Every answer has bit 1 and bit 4 set
// and bits 0 and 7 clear.
const (
	fixedMask = 0x93
	fixedBits = 0x12

	s1Offline = 0x08 // n=1: printer status

	s2CoverOpen = 0x04 // n=2: offline cause
	s2PaperStop = 0x20
	s2Error     = 0x40

	s4NearEnd  = 0x0c // n=4: roll paper sensor
	s4PaperEnd = 0x60
)

func validStatusByte(b byte) bool { return b&fixedMask == fixedBits }

// statusBits are the three answers (printer, offline cause, paper sensor).
type statusBits struct {
	answered     bool
	s1, s2, s4   byte
	bad, missing bool
}

func (b statusBits) paperOut() bool  { return b.s4&s4PaperEnd != 0 || b.s2&s2PaperStop != 0 }
func (b statusBits) coverOpen() bool { return b.s2&s2CoverOpen != 0 }

// decodeStatus turns the answers to DLE EOT 1, 2 and 4 (in that order; fewer
// when the printer stopped answering) into the device status model.
func decodeStatus(answers []byte) (device.Status, statusBits) {
	st := device.Status{Device: "printer"}
	var b statusBits
	if len(answers) == 0 {
		st.State, st.Action, st.Detail = device.NoDevice, device.ActionMaintenance, "no answer to DLE EOT"
		return st, b
	}
	for _, a := range answers {
		if !validStatusByte(a) {
			b.bad = true
		}
	}
	if len(answers) < 3 {
		b.missing = true
	}
	if b.bad || b.missing {
		st.State, st.Action, st.Detail = device.HardwareError, device.ActionReset, "incomplete or malformed status"
		return st, b
	}
	b.answered = true
	b.s1, b.s2, b.s4 = answers[0], answers[1], answers[2]

	var detail []string
	switch {
	case b.paperOut():
		st.Media = device.PaperOut
		detail = append(detail, "paper out")
	case b.s4&s4NearEnd != 0:
		st.Media = device.PaperLow
		detail = append(detail, "paper near end")
	default:
		st.Media = device.PaperFull
	}
	if b.coverOpen() {
		detail = append(detail, "cover open")
	}
	switch {
	case b.paperOut() || b.coverOpen():
		st.State, st.Action = device.UserError, device.ActionClear
	case b.s2&s2Error != 0:
		st.State, st.Action = device.HardwareError, device.ActionReset
		detail = append(detail, "printer error")
	case b.s1&s1Offline != 0:
		st.State, st.Action = device.Offline, device.ActionReset
		detail = append(detail, "offline")
	default:
		st.State = device.Online
	}
	st.Detail = strings.Join(detail, ", ")
	return st, b
}
