package escposemu

import (
	"bytes"
	"image"
	"strings"
	"testing"

	"github.com/makiuchi-d/gozxing"
	"github.com/makiuchi-d/gozxing/qrcode"
)

func raster(xBytes int, rows ...[]byte) []byte {
	b := []byte{0x1d, 'v', '0', 0, byte(xBytes), byte(xBytes >> 8), byte(len(rows)), byte(len(rows) >> 8)}
	for _, r := range rows {
		b = append(b, r...)
	}
	return b
}

func black(img *image.Gray, x, y int) bool { return img.GrayAt(x, y).Y == 0 }

func TestStatusBytes(t *testing.T) {
	tests := []struct {
		name       string
		st         State
		s1, s2, s4 byte
	}{
		{"ready", State{}, 0x12, 0x12, 0x12},
		{"paper low", State{PaperLow: true}, 0x12, 0x12, 0x1e},
		{"paper out", State{PaperOut: true}, 0x1a, 0x32, 0x7e},
		{"cover open", State{CoverOpen: true}, 0x1a, 0x16, 0x12},
		{"offline", State{Offline: true}, 0x1a, 0x12, 0x12},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := newMachine()
			m.st = tc.st
			got := m.feed([]byte{0x10, 0x04, 1, 0x10, 0x04, 2, 0x10, 0x04, 4, 0x10, 0x04, 9})
			if want := []byte{tc.s1, tc.s2, tc.s4}; !bytes.Equal(got, want) {
				t.Errorf("replies % x, want % x", got, want)
			}
		})
	}
}

func TestRasterAndCut(t *testing.T) {
	tests := []struct {
		name      string
		cut       []byte
		extraRows int
	}{
		{"GS V 0", []byte{0x1d, 'V', 0}, 0},
		{"GS V 1", []byte{0x1d, 'V', 1}, 0},
		{"GS V 48", []byte{0x1d, 'V', 48}, 0},
		{"GS V 49", []byte{0x1d, 'V', 49}, 0},
		{"GS V 65 n", []byte{0x1d, 'V', 65, 7}, 7},
		{"GS V 66 n", []byte{0x1d, 'V', 66, 3}, 3},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := newMachine()
			in := append([]byte{0x1b, '@'}, raster(2, []byte{0x80, 0x01}, []byte{0x00, 0xff})...)
			in = append(in, 0x1b, 'd', 2) // two lines of 30 dots
			in = append(in, tc.cut...)
			if r := m.feed(in); len(r) != 0 {
				t.Errorf("unexpected reply % x", r)
			}
			if len(m.cuts) != 1 {
				t.Fatalf("%d cuts", len(m.cuts))
			}
			img := m.cuts[0]
			if want := image.Rect(0, 0, PaperDots, 2+60+tc.extraRows); img.Bounds() != want {
				t.Fatalf("bounds %v, want %v", img.Bounds(), want)
			}
			for _, p := range []image.Point{{0, 0}, {15, 0}, {8, 1}, {15, 1}} {
				if !black(img, p.X, p.Y) {
					t.Errorf("%v white", p)
				}
			}
			for _, p := range []image.Point{{1, 0}, {7, 1}, {16, 0}, {0, 2}} {
				if black(img, p.X, p.Y) {
					t.Errorf("%v black", p)
				}
			}
			if m.unknown != 0 {
				t.Errorf("%d unknown bytes", m.unknown)
			}
		})
	}
}

func TestFragmentedInput(t *testing.T) {
	in := []byte{0x1b, '@', 0x1b, 'a', 1, 'H', 'i', 0x0a}
	in = append(in, raster(1, []byte{0xaa}, []byte{0x55})...)
	in = append(in, qrCommands("frag")...)
	in = append(in, 0x10, 0x04, 1, 0x1d, 'V', 66, 0, 0x10, 0x04, 4)
	whole := newMachine()
	wr := whole.feed(in)
	split := newMachine()
	var sr []byte
	for _, b := range in {
		sr = append(sr, split.feed([]byte{b})...)
	}
	if !bytes.Equal(wr, sr) || !bytes.Equal(wr, []byte{0x12, 0x12}) {
		t.Errorf("replies whole % x, split % x", wr, sr)
	}
	if len(whole.cuts) != 1 || len(split.cuts) != 1 || !bytes.Equal(whole.cuts[0].Pix, split.cuts[0].Pix) {
		t.Fatalf("cuts differ: %d vs %d", len(whole.cuts), len(split.cuts))
	}
	// The text line is drawn crudely: some ink in its 24 rows.
	ink := 0
	for _, v := range whole.cuts[0].Pix[:24*PaperDots] {
		if v == 0 {
			ink++
		}
	}
	if ink == 0 {
		t.Error("text line left no mark")
	}
}

func qrCommands(payload string) []byte {
	n := len(payload) + 3
	b := []byte{
		0x1d, '(', 'k', 4, 0, 49, 65, 50, 0, // model 2
		0x1d, '(', 'k', 3, 0, 49, 67, 6, // module 6 dots
		0x1d, '(', 'k', 3, 0, 49, 69, 49, // level M
		0x1d, '(', 'k', byte(n), byte(n >> 8), 49, 80, 48,
	}
	b = append(b, payload...)
	return append(b, 0x1d, '(', 'k', 3, 0, 49, 81, 48)
}

func TestQRPrint(t *testing.T) {
	m := newMachine()
	payload := "https://example.test/track?id=QN-2025-000123"
	in := append([]byte{0x1b, 'a', 1, 0x1b, 'J', 24}, qrCommands(payload)...)
	m.feed(append(in, 0x1b, 'J', 24, 0x1d, 'V', 0))
	if len(m.cuts) != 1 {
		t.Fatalf("%d cuts", len(m.cuts))
	}
	bmp, err := gozxing.NewBinaryBitmapFromImage(m.cuts[0])
	if err != nil {
		t.Fatal(err)
	}
	res, err := qrcode.NewQRCodeReader().Decode(bmp, nil)
	if err != nil {
		t.Fatalf("decode printed QR: %v", err)
	}
	if res.GetText() != payload {
		t.Errorf("QR says %q", res.GetText())
	}
	if lvl := res.GetResultMetadata()[gozxing.ResultMetadataType_ERROR_CORRECTION_LEVEL]; lvl != "M" {
		t.Errorf("error correction level %v, want M as asked", lvl)
	}
}

func TestPaperRunsOut(t *testing.T) {
	rows := make([][]byte, 30)
	for i := range rows {
		rows[i] = []byte{0xff}
	}
	job := append(raster(1, rows...), 0x1d, 'V', 0)
	job = append(job, 0x1d, '(', 'H', 6, 0, 48, 48, '0', '0', '4', '2') // process ID after the cut
	job = append(job, 0x10, 0x04, 4, 0x10, 0x04, 2)

	t.Run("held data comes out after the refill", func(t *testing.T) {
		m := newMachine()
		m.runOut = 10
		r := m.feed(job)
		// Real-time status is answered; the process ID is not: the job
		// is not printed.
		if !bytes.Equal(r, []byte{0x7e, 0x32}) {
			t.Errorf("replies after run-out % x", r)
		}
		if len(m.rows) != 10 || len(m.cuts) != 0 || len(m.held) != 20+2 {
			t.Errorf("%d rows, %d cuts, %d held", len(m.rows), len(m.cuts), len(m.held))
		}
		// New roll: the 10 printed rows are torn off with the old roll;
		// the 20 held rows print, the cut and the process ID follow.
		r = m.setState(State{})
		if !bytes.Equal(r, []byte{0x37, 0x22, '0', '0', '4', '2', 0}) {
			t.Errorf("process ID after refill: % x", r)
		}
		if m.torn != 1 || len(m.cuts) != 1 || m.cuts[0].Bounds().Dy() != 20 {
			t.Errorf("torn %d, cuts %d", m.torn, len(m.cuts))
		}
	})
	t.Run("host cleared the buffer", func(t *testing.T) {
		m := newMachine()
		m.runOut = 10
		m.feed(job)
		m.feed([]byte{0x10, 0x14, 8, 1, 3, 20, 1, 6, 2, 8})
		if len(m.held) != 0 {
			t.Fatalf("%d still held", len(m.held))
		}
		if r := m.setState(State{}); len(r) != 0 || len(m.cuts) != 0 || m.torn != 1 {
			t.Errorf("after refill: reply % x, %d cuts, torn %d", r, len(m.cuts), m.torn)
		}
	})
	t.Run("cover open holds, closing resumes", func(t *testing.T) {
		m := newMachine()
		m.st.CoverOpen = true
		if r := m.feed(job); !bytes.Equal(r, []byte{0x12, 0x16}) {
			t.Errorf("replies % x", r)
		}
		r := m.setState(State{})
		if len(m.cuts) != 1 || m.cuts[0].Bounds().Dy() != 30 || len(r) != 7 || m.torn != 0 {
			t.Errorf("after closing: %d cuts, reply % x, torn %d", len(m.cuts), r, m.torn)
		}
	})
}

func TestProcessIDInOrder(t *testing.T) {
	m := newMachine()
	r := m.feed(append(raster(1, []byte{0xff}), 0x1d, '(', 'H', 6, 0, 48, 48, '9', '8', '7', '6'))
	if !bytes.Equal(r, []byte{0x37, 0x22, '9', '8', '7', '6', 0}) {
		t.Errorf("reply % x", r)
	}
	if r := m.feed([]byte{0x1d, '(', 'H', 6, 0, 48, 48, 'x', '8', '7', '6'}); len(r) != 0 || m.unknown == 0 {
		t.Errorf("bad process ID answered % x", r)
	}
}

func TestAutomaticStatusBack(t *testing.T) {
	m := newMachine()
	if r := m.feed([]byte{0x1d, 'a', 0x0f}); !bytes.Equal(r, []byte{0x10, 0, 0, 0}) {
		t.Errorf("first report % x", r)
	}
	tests := []struct {
		st   State
		want []byte
	}{
		{State{PaperLow: true}, []byte{0x10, 0, 0x03, 0}},
		{State{PaperOut: true}, []byte{0x18, 0, 0x0f, 0}},
		{State{CoverOpen: true}, []byte{0x38, 0, 0, 0}},
		{State{Error: true}, []byte{0x18, 0x08, 0, 0}},
		{State{Error: true}, nil}, // no change, no report
	}
	for _, tc := range tests {
		if r := m.setState(tc.st); !bytes.Equal(r, tc.want) {
			t.Errorf("%+v: % x, want % x", tc.st, r, tc.want)
		}
	}
	// Paper running out while printing is reported too.
	m.setState(State{})
	m.runOut = 2
	if r := m.feed(raster(1, []byte{1}, []byte{2}, []byte{3})); !bytes.Equal(r, []byte{0x18, 0, 0x0f, 0}) {
		t.Errorf("run-out report % x", r)
	}
	m.feed([]byte{0x1d, 'a', 0})
	if r := m.setState(State{}); len(r) != 0 {
		t.Errorf("report after GS a 0: % x", r)
	}
}

func TestNarrowPaperAndRender(t *testing.T) {
	in := append([]byte{0x1b, '@'}, raster(60, make([]byte, 60))...) // 480 dots on 384-dot paper
	in = append(in, 0x1b, 'a', 1)
	in = append(in, qrCommands("58mm")...)
	in = append(in, 0x1b, 'J', 40, 0x1d, 'V', 48, 0x1b, 'J', 5, 0x10, 0x04, 1, 0x1b, 0xfe)
	r := Render(in, 384)
	if len(r.Pages) != 1 || r.Pages[0].Bounds().Dx() != 384 {
		t.Fatalf("pages %d", len(r.Pages))
	}
	if r.Uncut == nil || r.Uncut.Bounds().Dy() != 5 {
		t.Errorf("uncut %v", r.Uncut)
	}
	if !bytes.Equal(r.Replies, []byte{0x12}) || r.Unknown != 2 {
		t.Errorf("replies % x, unknown %d", r.Replies, r.Unknown)
	}
	clipped := false
	for _, n := range r.Notes {
		clipped = clipped || strings.Contains(n, "clipped")
	}
	if !clipped {
		t.Errorf("notes %q lack the clipped raster", r.Notes)
	}
	bmp, _ := gozxing.NewBinaryBitmapFromImage(r.Pages[0])
	if res, err := qrcode.NewQRCodeReader().Decode(bmp, nil); err != nil || res.GetText() != "58mm" {
		t.Errorf("QR on 58 mm paper: %v", err)
	}
}

func TestGarbageSkipped(t *testing.T) {
	tests := []struct {
		name    string
		in      []byte
		unknown bool
	}{
		{"unknown ESC", []byte{0x1b, 0xfe}, true},
		{"unknown GS", []byte{0x1d, 0x01}, true},
		{"raster header too big", []byte{0x1d, 'v', '0', 0, 0xff, 0xff, 0xff, 0xff}, true},
		{"bad cut mode", []byte{0x1d, 'V', 7}, true},
		{"control bytes", []byte{0x01, 0x02, 0x7f}, true},
		{"text and known settings", []byte{'a', 'b', 0x1b, 'E', 1, 0x1b, '!', 0, 0x1d, '!', 0x11}, false},
		{"DLE DC4 8 with bad parameters", []byte{0x10, 0x14, 8, 0, 0, 0, 0, 0, 0, 0}, true},
		{"GS ( H unknown function", []byte{0x1d, '(', 'H', 2, 0, 0x31, 0}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := newMachine()
			in := append(append([]byte(nil), tc.in...), 0x10, 0x04, 1)
			r := m.feed(in)
			if (m.unknown > 0) != tc.unknown {
				t.Errorf("unknown = %d", m.unknown)
			}
			// The parser is back in step: the status query after the
			// garbage is answered.
			if len(r) == 0 || r[len(r)-1] != 0x12 {
				t.Errorf("no status answer after garbage: % x", r)
			}
		})
	}
}

func FuzzMachine(f *testing.F) {
	f.Add([]byte{0x1b, '@', 0x10, 0x04, 1}, 2)
	f.Add(append(raster(2, []byte{0xff, 0x00}), 0x1d, 'V', 0), 5)
	f.Add(append(qrCommands("hello"), 0x1d, 'V', 66, 10), 9)
	f.Add([]byte{0x1d, '(', 'k', 0xff, 0xff}, 1)
	f.Add([]byte{0x1b, '*', 33, 0xff, 0xff}, 3)
	f.Add([]byte{0x1d, 'a', 0x0f, 0x1d, '(', 'H', 6, 0, 48, 48, '1', '2', '3', '4', 0x10, 0x14, 8, 1, 3, 20, 1, 6, 2, 8}, 4)
	f.Add([]byte{0x10, 0x05, 2, 0x10, 0x14, 7, 1, 0x1b, 'J', 200}, 384)
	f.Fuzz(func(t *testing.T, in []byte, split int) {
		width := PaperDots
		if split%2 == 0 {
			width = 384
		}
		m := newMachineWidth(width)
		m.runOut = 500
		if split < 0 || split > len(in) {
			split = len(in) / 2
		}
		m.feed(in[:split])
		m.setState(State{}) // a refill in the middle
		m.feed(in[split:])
		m.feed([]byte{0x1d, 'V', 0})
		if len(m.held) > maxHeld {
			t.Fatalf("%d held", len(m.held))
		}
		if len(m.pending) > maxPendingBytes {
			t.Fatalf("pending %d bytes", len(m.pending))
		}
		if len(m.rows) > maxJobRows {
			t.Fatalf("%d rows", len(m.rows))
		}
		for _, c := range m.cuts {
			if c.Bounds().Dx() != width {
				t.Fatalf("cut %v", c.Bounds())
			}
		}
	})
}
