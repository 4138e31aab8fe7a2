package printer

import (
	"bytes"
	"image"
	"testing"

	"govkiosk/drivers/device"
	"govkiosk/drivers/printer/escposemu"
)

func TestInbound(t *testing.T) {
	pid := func(s string) event { var e event; e.kind = evProcessID; copy(e.pid[:], s); return e }
	asb := func(a, b, c, d byte) event { return event{kind: evASB, asb: [4]byte{a, b, c, d}} }
	st := func(b byte) event { return event{kind: evStatus, b: b} }
	junk := func(b byte) event { return event{kind: evGarbage, b: b} }
	tests := []struct {
		name string
		in   []byte
		want []event
	}{
		{"DLE EOT answers", []byte{0x12, 0x1e, 0x7e}, []event{st(0x12), st(0x1e), st(0x7e)}},
		{"ASB then answer", []byte{0x10, 0x00, 0x03, 0x00, 0x12}, []event{asb(0x10, 0, 3, 0), st(0x12)}},
		{"ASB paper out", []byte{0x18, 0x00, 0x0f, 0x00}, []event{asb(0x18, 0, 0x0f, 0)}},
		{"process ID whose digits look like status", []byte{0x37, 0x22, '2', '2', '3', '2', 0x00, 0x16}, []event{pid("2232"), st(0x16)}},
		{"garbage", []byte{0x00, 0xff, 0x11, 0x13}, []event{junk(0), junk(0xff), junk(0x11), junk(0x13)}},
		{"broken ASB resyncs", []byte{0x10, 0x00, 0x12}, []event{junk(0x10), junk(0x00), st(0x12)}},
		{"broken process ID resyncs", []byte{0x37, 0x22, '1', 0x12}, []event{junk(0x37), junk(0x22), junk('1'), st(0x12)}},
		{"lone 37h", []byte{0x37, 0x12}, []event{junk(0x37), st(0x12)}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var whole inbound
			got := whole.push(tc.in, nil)
			if !equalEvents(got, tc.want) {
				t.Errorf("events %+v, want %+v", got, tc.want)
			}
			// Byte by byte gives the same.
			var split inbound
			var got2 []event
			for _, b := range tc.in {
				got2 = split.push([]byte{b}, got2)
			}
			if !equalEvents(got2, tc.want) {
				t.Errorf("split: events %+v", got2)
			}
		})
	}
}

func equalEvents(a, b []event) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestDecodeASB(t *testing.T) {
	tests := []struct {
		asb   [4]byte
		state device.State
		media string
	}{
		{[4]byte{0x10, 0, 0, 0}, device.Online, device.PaperFull},
		{[4]byte{0x10, 0, 0x03, 0}, device.Online, device.PaperLow},
		{[4]byte{0x18, 0, 0x0f, 0}, device.UserError, device.PaperOut},
		{[4]byte{0x38, 0, 0, 0}, device.UserError, device.PaperFull},
		{[4]byte{0x18, 0x08, 0, 0}, device.HardwareError, device.PaperFull},
		{[4]byte{0x18, 0, 0, 0}, device.Offline, device.PaperFull},
	}
	for _, tc := range tests {
		st := decodeASB(tc.asb)
		if st.State != tc.state || st.Media != tc.media {
			t.Errorf("% x: %+v", tc.asb, st)
		}
	}
}

// FuzzInbound: any byte stream, split anywhere, gives the same events,
// every byte is accounted for, and the parser holds at most one message.
func FuzzInbound(f *testing.F) {
	f.Add([]byte{0x12, 0x10, 0, 3, 0, 0x37, 0x22, '1', '2', '3', '4', 0, 0xff}, 3)
	f.Add([]byte{0x37, 0x37, 0x22, 0x10, 0x10, 0x00}, 1)
	f.Fuzz(func(t *testing.T, in []byte, split int) {
		if split < 0 || split > len(in) {
			split = len(in) / 2
		}
		var a, b inbound
		ea := a.push(in, nil)
		eb := b.push(in[:split], nil)
		eb = b.push(in[split:], eb)
		if !equalEvents(ea, eb) || !bytes.Equal(a.buf, b.buf) {
			t.Fatalf("split at %d changes the events", split)
		}
		if len(a.buf) > 6 {
			t.Fatalf("%d bytes pending", len(a.buf))
		}
		n := len(a.buf)
		for _, e := range ea {
			switch e.kind {
			case evStatus, evGarbage:
				n++
			case evASB:
				n += 4
			case evProcessID:
				n += 7
			default:
				t.Fatalf("event kind %d", e.kind)
			}
		}
		if n != len(in) {
			t.Fatalf("%d bytes in, %d accounted for", len(in), n)
		}
	})
}

// FuzzEncodeRoundTrip: any bitmap the driver encodes comes out of the
// emulator's parser dot for dot, on both paper widths.
func FuzzEncodeRoundTrip(f *testing.F) {
	f.Add([]byte{0xff, 0x00, 0xaa}, uint8(3), false)
	f.Add([]byte{0x10, 0x04, 0x01, 0x1d, 0x56}, uint8(1), true)
	f.Fuzz(func(t *testing.T, bits []byte, band uint8, narrow bool) {
		width := 576
		if narrow {
			width = 384
		}
		h := min(len(bits), 64) + 1
		img := image.NewGray(image.Rect(0, 0, width, h))
		fill(img.Pix, 255)
		for i, b := range bits[:h-1] {
			for k := 0; k < 8; k++ {
				if b&(0x80>>k) != 0 {
					img.Pix[i*img.Stride+(i*37+k*53)%width] = 0
				}
			}
		}
		img.Pix[(h-1)*img.Stride] = 0 // keep the last row from being trimmed
		cfg := Opts{WidthDots: width, BandRows: int(band)%MaxBandRows + 1, FeedDots: 8}
		enc, err := Encode(cfg, Part{Image: img})
		if err != nil {
			t.Fatal(err)
		}
		r := escposemu.Render(enc.Data, width)
		if len(r.Pages) != 1 || r.Unknown != 0 {
			t.Fatalf("%d pages, %d unknown", len(r.Pages), r.Unknown)
		}
		page := r.Pages[0]
		if page.Bounds().Dy() != enc.Rows {
			t.Fatalf("%d rows on paper, Encode says %d", page.Bounds().Dy(), enc.Rows)
		}
		for y := 0; y < h; y++ {
			if !bytes.Equal(page.Pix[y*page.Stride:y*page.Stride+width], img.Pix[y*img.Stride:y*img.Stride+width]) {
				t.Fatalf("row %d differs", y)
			}
		}
	})
}
