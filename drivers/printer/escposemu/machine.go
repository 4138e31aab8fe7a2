package escposemu

import (
	"fmt"
	"image"

	"github.com/makiuchi-d/gozxing"
	"github.com/makiuchi-d/gozxing/qrcode"
	"github.com/makiuchi-d/gozxing/qrcode/decoder"
)

// PaperDots is the default head width: 80 mm paper, 576 dots (58 mm
// paper is 384).
const PaperDots = 576

const (
	defaultLineDots   = 30  // ESC 2: about 1/6 inch
	maxRasterRowBytes = 255 // GS v 0 limits; larger headers are garbage
	maxRasterRows     = 4095
	maxPendingBytes   = 1 << 23
	maxQRData         = 7089
	maxJobRows        = 1 << 16 // a job longer than ~8 m is cut by the emulator
	maxHeld           = 1 << 17 // operations held while the printer cannot print
)

// heldOp is one thing the mechanism will do when it can print again: feed
// a row (row may be nil: blank), cut, or answer (a GS ( H process ID, which
// the printer sends only once everything before it is printed).
type heldOp struct {
	row   []byte
	cut   bool
	reply []byte
}

// machine is the printer's command interpreter. It is pure: bytes in,
// replies, paper and cuts out; the emulator adds the pty and the files.
type machine struct {
	st      State
	width   int // head width in dots
	runOut  int // rows left before the paper ends; 0 = never
	pending []byte
	held    []heldOp // print data received while the printer could not print
	asb     bool     // GS a: automatic status back on
	torn    int      // partial receipts torn off when a new roll went in
	noPID   bool     // GS ( H not supported
	mute    int      // DLE EOT queries left unanswered (a printer too busy to answer in time)

	rows     [][]byte // printed paper since the last cut, PaperDots wide, 1 = black
	lineDots int
	align    byte // ESC a: 0 left, 1 centre, 2 right
	text     int  // printable bytes on the current line

	qrData   []byte
	qrModule int
	qrLevel  decoder.ErrorCorrectionLevel

	cuts    []*image.Gray // finished jobs
	unknown int           // bytes skipped as unknown
	notes   []string      // things worth a log line
}

func newMachine() *machine { return newMachineWidth(PaperDots) }

func newMachineWidth(width int) *machine {
	if width < 8 {
		width = PaperDots
	}
	m := &machine{width: width}
	m.reset()
	return m
}

// reset is ESC @: settings back to defaults; paper already printed stays.
func (m *machine) reset() {
	m.lineDots = defaultLineDots
	m.align = 0
	m.text = 0
	m.qrData = nil
	m.qrModule = 3
	m.qrLevel = decoder.ErrorCorrectionLevel_L
}

// canPrint reports whether the mechanism moves paper now.
func (m *machine) canPrint() bool {
	return !m.st.PaperOut && !m.st.CoverOpen && !m.st.Offline && !m.st.Error
}

// setState changes the sensors. Loading paper after it ran out tears off
// what was printed but not cut (the end of the old roll); when the printer
// can print again, the held data is printed. It returns the bytes the
// printer sends: held process IDs and automatic status.
func (m *machine) setState(s State) []byte {
	was := m.st
	m.st = s
	if was.PaperOut && !s.PaperOut && len(m.rows) > 0 {
		m.torn++
		m.note("paper loaded: %d uncut rows torn off", len(m.rows))
		m.rows = m.rows[:0]
	}
	reply := m.resume()
	if m.asb && m.st != was {
		reply = append(reply, m.asbBytes()...)
	}
	return reply
}

// resume prints what was held, if the printer can print.
func (m *machine) resume() []byte {
	if !m.canPrint() || len(m.held) == 0 {
		return nil
	}
	held := m.held
	m.held = nil
	var reply []byte
	for _, op := range held {
		switch {
		case op.cut:
			m.cut()
		case op.reply != nil:
			reply = append(reply, m.answerInOrder(op.reply)...)
		default:
			m.addRow(op.row)
		}
	}
	return reply
}

func (m *machine) hold(op heldOp) {
	if len(m.held) >= maxHeld {
		m.note("print buffer full: data dropped")
		return
	}
	m.held = append(m.held, op)
}

// answerInOrder returns r now, or holds it until the data before it is
// printed.
func (m *machine) answerInOrder(r []byte) []byte {
	if !m.canPrint() || len(m.held) > 0 {
		m.hold(heldOp{reply: r})
		return nil
	}
	return r
}

// asbBytes is the four-byte automatic status (GS a).
func (m *machine) asbBytes() []byte {
	b := []byte{0x10, 0, 0, 0}
	if !m.canPrint() {
		b[0] |= 0x08
	}
	if m.st.CoverOpen {
		b[0] |= 0x20
	}
	if m.st.Error {
		b[1] |= 0x08
	}
	if m.st.PaperLow || m.st.PaperOut {
		b[2] |= 0x03
	}
	if m.st.PaperOut {
		b[2] |= 0x0c
	}
	return b
}

// feed consumes b and returns the bytes the printer answers. Commands cut
// short at the end of b wait in m.pending for the next call.
func (m *machine) feed(b []byte) (reply []byte) {
	was := m.st
	defer func() {
		if m.asb && m.st != was {
			reply = append(reply, m.asbBytes()...)
		}
	}()
	m.pending = append(m.pending, b...)
	buf := m.pending
	i := 0
	for i < len(buf) {
		n, r := m.step(buf[i:])
		if n == 0 { // incomplete command: wait for more bytes
			break
		}
		reply = append(reply, r...)
		i += n
	}
	rest := len(buf) - i
	if rest > maxPendingBytes { // cannot happen with the limits in step; belt and braces
		m.note("dropped %d pending bytes", rest)
		rest, i = 0, len(buf)
	}
	m.pending = append(m.pending[:0], buf[i:]...)
	return reply
}

func (m *machine) note(format string, args ...any) {
	if len(m.notes) < 64 {
		m.notes = append(m.notes, fmt.Sprintf(format, args...))
	}
}

func (m *machine) skipUnknown(n int, what string) (int, []byte) {
	m.unknown += n
	m.note("unknown %s", what)
	return n, nil
}

// step interprets one command at the start of b and returns its length (0
// when b holds only part of it) and any reply.
func (m *machine) step(b []byte) (int, []byte) {
	need := func(n int) bool { return len(b) >= n }
	switch c := b[0]; c {
	case 0x0a: // LF
		m.printLine()
		return 1, nil
	case 0x0d, 0x09, 0x00: // CR, HT, NUL
		return 1, nil
	case 0x0c: // FF: print and eject the page
		m.printLine()
		return 1, nil
	case 0x18: // CAN
		m.text = 0
		return 1, nil
	case 0x10: // DLE
		return m.dle(b)
	case 0x1b:
		if !need(2) {
			return 0, nil
		}
		return m.esc(b)
	case 0x1d:
		if !need(2) {
			return 0, nil
		}
		return m.gs(b)
	case 0x1c:
		if !need(2) {
			return 0, nil
		}
		return m.fs(b)
	default:
		if c < 0x20 || c == 0x7f {
			return m.skipUnknown(1, fmt.Sprintf("control byte %#02x", c))
		}
		m.text++ // printable text; drawn crudely at LF
		return 1, nil
	}
}

func (m *machine) dle(b []byte) (int, []byte) {
	if len(b) < 2 {
		return 0, nil
	}
	switch b[1] {
	case 0x04: // DLE EOT n
		if len(b) < 3 {
			return 0, nil
		}
		if r, ok := m.statusByte(b[2]); ok {
			if m.mute > 0 {
				m.mute--
				return 3, nil
			}
			return 3, []byte{r}
		}
		return m.skipUnknown(3, "DLE EOT n")
	case 0x05: // DLE ENQ n
		if len(b) < 3 {
			return 0, nil
		}
		if b[2] == 2 { // recover, clearing the buffers
			m.clearHeld()
		}
		return 3, nil
	case 0x14: // DLE DC4 fn ...
		if len(b) < 3 {
			return 0, nil
		}
		n := 5 // fn 1 (pulse) and 2 (power off)
		switch b[2] {
		case 7:
			n = 4
		case 8:
			n = 10
		}
		if len(b) < n {
			return 0, nil
		}
		if b[2] == 8 {
			if string(b[3:10]) != string([]byte{1, 3, 20, 1, 6, 2, 8}) {
				return m.skipUnknown(n, "DLE DC4 8 with bad parameters")
			}
			m.clearHeld()
		}
		return n, nil
	}
	return m.skipUnknown(1, "DLE")
}

// clearHeld drops the print data waiting for paper (DLE DC4 8, DLE ENQ 2).
func (m *machine) clearHeld() {
	if len(m.held) > 0 {
		m.note("buffer cleared: %d held operations dropped", len(m.held))
	}
	m.held = nil
}

// statusByte answers DLE EOT n per the ESC/POS bit layout.
func (m *machine) statusByte(n byte) (byte, bool) {
	r := byte(0x12)
	switch n {
	case 1:
		if !m.canPrint() {
			r |= 0x08
		}
	case 2:
		if m.st.CoverOpen {
			r |= 0x04
		}
		if m.st.PaperOut {
			r |= 0x20
		}
		if m.st.Error {
			r |= 0x40
		}
	case 3:
	case 4:
		if m.st.PaperLow || m.st.PaperOut {
			r |= 0x0c
		}
		if m.st.PaperOut {
			r |= 0x60
		}
	default:
		return 0, false
	}
	return r, true
}

// escParams lists ESC commands by the number of parameter bytes they take.
var escParams = map[byte]int{
	' ': 1, '!': 1, '%': 1, '-': 1, '2': 0, '3': 1, '<': 0, '=': 1, '?': 1,
	'E': 1, 'G': 1, 'M': 1, 'R': 1, 'S': 0, 'T': 1, 'U': 1, 'V': 1, 'a': 1,
	'{': 1, 't': 1, 'r': 1, '$': 2, '\\': 2, 'p': 3, 'L': 0, 'W': 8,
	'c': 2, 'u': 1, 'v': 0, 'J': 1, 'K': 1, 'd': 1, 'e': 1, 'i': 0, 'm': 0,
}

func (m *machine) esc(b []byte) (int, []byte) {
	cmd := b[1]
	switch cmd {
	case '@':
		m.reset()
		return 2, nil
	case '*': // ESC * m nL nH d: bit image, skipped
		if len(b) < 5 {
			return 0, nil
		}
		n := int(b[3]) | int(b[4])<<8
		if b[2] == 32 || b[2] == 33 {
			n *= 3
		}
		if len(b) < 5+n {
			return 0, nil
		}
		m.note("ESC * bit image skipped")
		return 5 + n, nil
	}
	p, ok := escParams[cmd]
	if !ok {
		return m.skipUnknown(2, fmt.Sprintf("ESC %#02x", cmd))
	}
	if len(b) < 2+p {
		return 0, nil
	}
	switch cmd {
	case '2':
		m.lineDots = defaultLineDots
	case '3':
		m.lineDots = int(b[2])
	case 'a':
		n := b[2]
		if n >= '0' {
			n -= '0'
		}
		if n <= 2 {
			m.align = n
		}
	case 'd': // print and feed n lines
		m.printLine()
		m.addBlank(int(b[2]) * m.lineDots)
	case 'e': // reverse feed: not emulated
	case 'J': // feed n dots
		m.printLine()
		m.addBlank(int(b[2]))
	case 'i', 'm': // old partial cut
		m.cut()
	}
	return 2 + p, nil
}

var gsParams = map[byte]int{
	'!': 1, 'B': 1, 'H': 1, 'I': 1, 'L': 2, 'P': 2, 'W': 2, 'b': 1,
	'f': 1, 'h': 1, 'r': 1, 'w': 1, 'x': 1, '/': 1, ':': 0, '^': 3, 'E': 1,
}

func (m *machine) gs(b []byte) (int, []byte) {
	cmd := b[1]
	switch cmd {
	case 'v':
		return m.raster(b)
	case 'V':
		return m.cutCmd(b)
	case '(':
		return m.gsParen(b)
	case 'a': // GS a n: automatic status back; the first report comes at once
		if len(b) < 3 {
			return 0, nil
		}
		m.asb = b[2] != 0
		if m.asb {
			return 3, m.asbBytes()
		}
		return 3, nil
	case 'k': // barcode: skipped
		if len(b) < 3 {
			return 0, nil
		}
		if b[2] <= 6 { // NUL-terminated data
			for i := 3; i < len(b); i++ {
				if b[i] == 0 {
					m.note("barcode skipped")
					return i + 1, nil
				}
			}
			if len(b) > 3+255 {
				return m.skipUnknown(3, "unterminated barcode")
			}
			return 0, nil
		}
		if len(b) < 4 {
			return 0, nil
		}
		if len(b) < 4+int(b[3]) {
			return 0, nil
		}
		m.note("barcode skipped")
		return 4 + int(b[3]), nil
	case '*': // GS * x y d: define downloaded image
		if len(b) < 4 {
			return 0, nil
		}
		n := 4 + int(b[2])*int(b[3])*8
		if len(b) < n {
			return 0, nil
		}
		return n, nil
	}
	p, ok := gsParams[cmd]
	if !ok {
		return m.skipUnknown(2, fmt.Sprintf("GS %#02x", cmd))
	}
	if len(b) < 2+p {
		return 0, nil
	}
	return 2 + p, nil
}

// raster handles GS v 0 m xL xH yL yH d.
func (m *machine) raster(b []byte) (int, []byte) {
	if len(b) < 8 {
		return 0, nil
	}
	if b[2] != '0' && b[2] != 0 {
		return m.skipUnknown(2, "GS v without 0")
	}
	mode := b[3]
	xb := int(b[4]) | int(b[5])<<8
	y := int(b[6]) | int(b[7])<<8
	if mode > 3 && !(mode >= '0' && mode <= '3') || xb > maxRasterRowBytes || y > maxRasterRows {
		return m.skipUnknown(2, "GS v 0 with bad header")
	}
	n := 8 + xb*y
	if len(b) < n {
		return 0, nil
	}
	m.printLine()
	data := b[8:n]
	sx, sy := 1, 1 // modes 1..3 double width and/or height
	switch mode & 0x03 {
	case 1:
		sx = 2
	case 2:
		sy = 2
	case 3:
		sx, sy = 2, 2
	}
	if xb*8*sx > m.width {
		m.note("raster %d dots wide on %d-dot paper: clipped", xb*8*sx, m.width)
	}
	for r := 0; r < y; r++ {
		row := make([]byte, m.width)
		for x := 0; x < xb*8; x++ {
			if data[r*xb+x/8]&(0x80>>(x%8)) == 0 {
				continue
			}
			for k := 0; k < sx; k++ {
				if px := x*sx + k; px < m.width {
					row[px] = 1
				}
			}
		}
		for k := 0; k < sy; k++ {
			m.addRow(row)
		}
	}
	return n, nil
}

// cutCmd handles GS V m [n].
func (m *machine) cutCmd(b []byte) (int, []byte) {
	if len(b) < 3 {
		return 0, nil
	}
	switch b[2] {
	case 0, 1, 48, 49:
		m.printLine()
		m.cut()
		return 3, nil
	case 65, 66, 97, 98, 103, 104:
		if len(b) < 4 {
			return 0, nil
		}
		m.printLine()
		m.addBlank(int(b[3]))
		m.cut()
		return 4, nil
	}
	return m.skipUnknown(3, "GS V mode")
}

// gsParen handles GS ( fn pL pH ...: GS ( k QR codes and the GS ( H
// process ID are emulated, the others skipped.
func (m *machine) gsParen(b []byte) (int, []byte) {
	if len(b) < 5 {
		return 0, nil
	}
	n := 5 + (int(b[3]) | int(b[4])<<8)
	if len(b) < n {
		return 0, nil
	}
	switch {
	case b[2] == 'k' && n >= 7 && b[5] == 49:
		m.qr(b[6], b[7:n])
	case b[2] == 'k':
		m.note("GS ( k for a symbol other than QR skipped")
	case b[2] == 'H' && n == 11 && b[5] == 48 && b[6] == 48 && !m.noPID:
		r := []byte{0x37, 0x22, b[7], b[8], b[9], b[10], 0}
		for _, d := range b[7:11] {
			if d < '0' || d > '9' {
				return m.skipUnknown(n, "GS ( H process ID not digits")
			}
		}
		m.printLine()
		return n, m.answerInOrder(r)
	case b[2] == 'H':
		return m.skipUnknown(n, "GS ( H function")
	}
	return n, nil
}

// qr runs GS ( k cn=49 function fn with its parameters.
func (m *machine) qr(fn byte, p []byte) {
	switch fn {
	case 67: // module size
		if len(p) >= 1 && p[0] >= 1 && p[0] <= 16 {
			m.qrModule = int(p[0])
		}
	case 69: // error correction level
		if len(p) >= 1 {
			switch p[0] {
			case 48:
				m.qrLevel = decoder.ErrorCorrectionLevel_L
			case 49:
				m.qrLevel = decoder.ErrorCorrectionLevel_M
			case 50:
				m.qrLevel = decoder.ErrorCorrectionLevel_Q
			case 51:
				m.qrLevel = decoder.ErrorCorrectionLevel_H
			}
		}
	case 80: // store: m=48, then the data
		if len(p) >= 1 && len(p)-1 <= maxQRData {
			m.qrData = append(m.qrData[:0], p[1:]...)
		}
	case 81: // print the stored symbol
		m.printQR()
	}
}

func (m *machine) printQR() {
	if len(m.qrData) == 0 {
		m.note("QR print with no data")
		return
	}
	hints := map[gozxing.EncodeHintType]any{
		gozxing.EncodeHintType_ERROR_CORRECTION: m.qrLevel,
		gozxing.EncodeHintType_MARGIN:           0,
		gozxing.EncodeHintType_CHARACTER_SET:    "ISO-8859-1", // bytes as sent
	}
	bm, err := qrcode.NewQRCodeWriter().Encode(string(m.qrData), gozxing.BarcodeFormat_QR_CODE, 0, 0, hints)
	if err != nil {
		m.note("QR encode failed: %v", err)
		return
	}
	m.printLine()
	size := bm.GetWidth()
	mod := m.qrModule
	for size*mod > m.width && mod > 1 {
		mod--
	}
	left := m.offset(size * mod)
	for y := 0; y < size; y++ {
		row := make([]byte, m.width)
		for x := 0; x < size; x++ {
			if !bm.Get(x, y) {
				continue
			}
			for k := 0; k < mod; k++ {
				if px := left + x*mod + k; px >= 0 && px < m.width {
					row[px] = 1
				}
			}
		}
		for k := 0; k < mod; k++ {
			m.addRow(row)
		}
	}
}

// offset is where a w-dot wide object starts under the current alignment.
func (m *machine) offset(w int) int {
	switch m.align {
	case 1:
		return max((m.width-w)/2, 0)
	case 2:
		return max(m.width-w, 0)
	}
	return 0
}

func (m *machine) fs(b []byte) (int, []byte) {
	switch b[1] {
	case '&', '.':
		return 2, nil
	case '!', '-', 'C', 'S':
		if len(b) < 3 {
			return 0, nil
		}
		return 3, nil
	case 'p':
		if len(b) < 4 {
			return 0, nil
		}
		return 4, nil
	case '(':
		if len(b) < 5 {
			return 0, nil
		}
		n := 5 + (int(b[3]) | int(b[4])<<8)
		if len(b) < n {
			return 0, nil
		}
		return n, nil
	}
	return m.skipUnknown(2, fmt.Sprintf("FS %#02x", b[1]))
}

// printLine prints pending text crudely: one small box per character.
func (m *machine) printLine() {
	if m.text == 0 {
		return
	}
	const cw, ch = 12, 24
	chars := min(m.text, m.width/cw)
	m.text = 0
	left := m.offset(chars * cw)
	for y := 0; y < ch; y++ {
		row := make([]byte, m.width)
		if y >= 4 && y < 20 {
			for c := 0; c < chars; c++ {
				x0 := left + c*cw + 2
				for x := x0; x < x0+8 && x < m.width; x++ {
					if y == 4 || y == 19 || x == x0 || x == x0+7 {
						row[x] = 1
					}
				}
			}
		}
		m.addRow(row)
	}
	m.addBlank(max(m.lineDots-ch, 0))
}

func (m *machine) addBlank(n int) {
	for i := 0; i < n; i++ {
		m.addRow(nil)
	}
}

// addRow moves the paper one dot row, printing row (nil = blank). While
// the printer cannot print, the row waits in the buffer.
func (m *machine) addRow(row []byte) {
	if !m.canPrint() || len(m.held) > 0 {
		m.hold(heldOp{row: row})
		return
	}
	if len(m.rows) >= maxJobRows {
		m.note("job longer than %d rows: cut", maxJobRows)
		m.cut()
	}
	m.rows = append(m.rows, row)
	if m.runOut > 0 {
		m.runOut--
		if m.runOut == 0 {
			m.st.PaperOut = true
			m.note("paper ran out")
		}
	}
}

// cut ends the current job: the printed paper becomes an image.
func (m *machine) cut() {
	if !m.canPrint() || len(m.held) > 0 {
		m.hold(heldOp{cut: true})
		return
	}
	if len(m.rows) == 0 {
		return
	}
	m.cuts = append(m.cuts, m.paper())
	m.rows = m.rows[:0]
}

// paper renders the rows since the last cut, black on white.
func (m *machine) paper() *image.Gray {
	img := image.NewGray(image.Rect(0, 0, m.width, len(m.rows)))
	for i := range img.Pix {
		img.Pix[i] = 255
	}
	for y, row := range m.rows {
		for x, v := range row {
			if v != 0 {
				img.Pix[y*img.Stride+x] = 0
			}
		}
	}
	return img
}
