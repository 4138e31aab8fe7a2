package escposemu

import (
	"bytes"
	"image"
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
	m.feed(append(append([]byte{0x1b, 'a', 1}, qrCommands(payload)...), 0x1d, 'V', 0))
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
}

func TestPaperRunsOut(t *testing.T) {
	m := newMachine()
	m.runOut = 10
	rows := make([][]byte, 30)
	for i := range rows {
		rows[i] = []byte{0xff}
	}
	r := m.feed(append(raster(1, rows...), 0x1d, 'V', 0, 0x10, 0x04, 4, 0x10, 0x04, 2))
	if !bytes.Equal(r, []byte{0x7e, 0x32}) {
		t.Errorf("status after run-out % x", r)
	}
	if len(m.rows) != 10 || len(m.cuts) != 0 {
		t.Errorf("%d rows, %d cuts; want 10 rows kept and no cut", len(m.rows), len(m.cuts))
	}
	// Paper loaded again: the next cut delivers what was printed.
	m.st = State{}
	m.feed([]byte{0x1d, 'V', 0})
	if len(m.cuts) != 1 || m.cuts[0].Bounds().Dy() != 10 {
		t.Errorf("after reload: %d cuts", len(m.cuts))
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
	f.Fuzz(func(t *testing.T, in []byte, split int) {
		m := newMachine()
		m.runOut = 500
		if split < 0 || split > len(in) {
			split = len(in) / 2
		}
		m.feed(in[:split])
		m.feed(in[split:])
		m.feed([]byte{0x1d, 'V', 0})
		if len(m.pending) > maxPendingBytes {
			t.Fatalf("pending %d bytes", len(m.pending))
		}
		if len(m.rows) > maxJobRows {
			t.Fatalf("%d rows", len(m.rows))
		}
		for _, c := range m.cuts {
			if c.Bounds().Dx() != PaperDots {
				t.Fatalf("cut %v", c.Bounds())
			}
		}
	})
}
