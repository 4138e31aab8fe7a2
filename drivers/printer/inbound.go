package printer

import "govkiosk/drivers/device"

// What a printer sends back, told apart by their fixed bits:
//
//   - DLE EOT answers: one byte, bits 1 and 4 set, bits 0 and 7 clear
//     (mask 0x93 = 0x12);
//   - automatic status back (GS a): four bytes, the first with bit 4 set and
//     bits 0, 1 and 7 clear (mask 0x93 = 0x10), the next three with bits 4
//     and 7 clear (mask 0x90 = 0);
//   - the process ID answer to GS ( H: 37h 22h, four digits, 00h.
//
// Anything else (noise on the line, XON/XOFF, answers to commands we never
// send) is counted as garbage and skipped.
const (
	asbEnable = 0x0f // GS a n: report drawer, online, error and paper changes

	asb1Offline   = 0x08
	asb1CoverOpen = 0x20
	asb2Error     = 0x08 | 0x04 // unrecoverable or autocutter error
	asb3NearEnd   = 0x03
	asb3PaperEnd  = 0x0c
)

type eventKind int

const (
	evStatus    eventKind = iota + 1 // a DLE EOT answer
	evASB                            // four automatic status bytes
	evProcessID                      // the GS ( H answer
	evGarbage                        // one byte that fits nothing
)

type event struct {
	kind eventKind
	b    byte    // evStatus, evGarbage
	asb  [4]byte // evASB
	pid  [4]byte // evProcessID
}

// inbound splits the printer's byte stream into events. It keeps at most
// six bytes of an unfinished message between calls to push.
type inbound struct {
	buf []byte
}

// push adds bytes and returns the events they complete.
func (in *inbound) push(p []byte, out []event) []event {
	for _, b := range p {
		out = in.byte1(b, out)
	}
	return out
}

func (in *inbound) byte1(b byte, out []event) []event {
	if len(in.buf) == 0 {
		switch {
		case b == 0x37:
			in.buf = append(in.buf, b)
		case b&0x93 == 0x12:
			out = append(out, event{kind: evStatus, b: b})
		case b&0x93 == 0x10:
			in.buf = append(in.buf, b)
		default:
			out = append(out, event{kind: evGarbage, b: b})
		}
		return out
	}
	if in.buf[0] == 0x37 { // process ID: 37 22 d d d d 00
		k := len(in.buf)
		ok := (k == 1 && b == 0x22) || (k >= 2 && k <= 5 && b >= '0' && b <= '9') || (k == 6 && b == 0)
		if !ok {
			return in.resync(b, out)
		}
		in.buf = append(in.buf, b)
		if len(in.buf) == 7 {
			var e event
			e.kind = evProcessID
			copy(e.pid[:], in.buf[2:6])
			in.buf = in.buf[:0]
			out = append(out, e)
		}
		return out
	}
	// Automatic status back.
	if b&0x90 != 0 {
		return in.resync(b, out)
	}
	in.buf = append(in.buf, b)
	if len(in.buf) == 4 {
		var e event
		e.kind = evASB
		copy(e.asb[:], in.buf)
		in.buf = in.buf[:0]
		out = append(out, e)
	}
	return out
}

// resync drops the first byte of an unfinished message as garbage and reads
// the rest again, b last.
func (in *inbound) resync(b byte, out []event) []event {
	rest := append(append([]byte(nil), in.buf[1:]...), b)
	out = append(out, event{kind: evGarbage, b: in.buf[0]})
	in.buf = in.buf[:0]
	for _, r := range rest {
		out = in.byte1(r, out)
	}
	return out
}

// decodeASB turns automatic status bytes into the status model, like
// decodeStatus does for DLE EOT answers.
func decodeASB(a [4]byte) device.Status {
	st := device.Status{Device: "printer", State: device.Online, Media: device.PaperFull}
	paperOut := a[2]&asb3PaperEnd != 0
	switch {
	case paperOut:
		st.Media, st.Detail = device.PaperOut, "paper out"
	case a[2]&asb3NearEnd != 0:
		st.Media, st.Detail = device.PaperLow, "paper near end"
	}
	cover := a[0]&asb1CoverOpen != 0
	if cover {
		st.Detail = joinDetail(st.Detail, "cover open")
	}
	switch {
	case paperOut || cover:
		st.State, st.Action = device.UserError, device.ActionClear
	case a[1]&asb2Error != 0:
		st.State, st.Action = device.HardwareError, device.ActionReset
		st.Detail = joinDetail(st.Detail, "printer error")
	case a[0]&asb1Offline != 0:
		st.State, st.Action = device.Offline, device.ActionReset
		st.Detail = joinDetail(st.Detail, "offline")
	}
	return st
}

func joinDetail(a, b string) string {
	if a == "" {
		return b
	}
	return a + ", " + b
}
