package qrreader

import (
	"bytes"
	"errors"
	"image"
	"image/color"
	"testing"

	"github.com/makiuchi-d/gozxing"
	"github.com/makiuchi-d/gozxing/qrcode"
)

// encodeBytes renders payload as a QR symbol whose data the encoder puts
// in the mode it picks for content under charset (ISO-8859-1 carries any
// bytes verbatim in byte mode).
func encodeBytes(t testing.TB, content, charset string, size int) *image.Gray {
	t.Helper()
	hints := map[gozxing.EncodeHintType]interface{}{
		gozxing.EncodeHintType_CHARACTER_SET: charset,
		gozxing.EncodeHintType_MARGIN:        4,
	}
	m, err := qrcode.NewQRCodeWriter().Encode(content, gozxing.BarcodeFormat_QR_CODE, size, size, hints)
	if err != nil {
		t.Fatal(err)
	}
	img := image.NewGray(image.Rect(0, 0, m.GetWidth(), m.GetHeight()))
	for y := range m.GetHeight() {
		for x := range m.GetWidth() {
			if !m.Get(x, y) {
				img.SetGray(x, y, color.Gray{Y: 255})
			}
		}
	}
	return img
}

// latin1 spells bytes as runes 0..255 for an ISO-8859-1 encoder.
func latin1(b []byte) string {
	r := make([]rune, len(b))
	for i, c := range b {
		r[i] = rune(c)
	}
	return string(r)
}

func TestDecodePayloadModes(t *testing.T) {
	cose := []byte{0xd2, 0x84, 0x43, 0xa1, 0x01, 0x26, 0xa0, 0x58, 0x1a, 0x00, 0xff, 0xfe, 0x80, 0xc3, 0x28, 0x0a, 0x0d}
	allBytes := make([]byte, 256)
	for i := range allBytes {
		allBytes[i] = byte(i)
	}
	tests := []struct {
		name     string
		content  string
		charset  string
		want     []byte
		wantText string // "" means string(want)
	}{
		{"binary (CBOR/COSE-like) in byte mode", latin1(cose), "ISO-8859-1", cose, "-"},
		{"all 256 byte values", latin1(allBytes), "ISO-8859-1", allBytes, "-"},
		{"UTF-8 text with ECI", "Dịch vụ công — ✓", "UTF-8", []byte("Dịch vụ công — ✓"), ""},
		{"numeric", "0123456789012345", "ISO-8859-1", []byte("0123456789012345"), ""},
		{"alphanumeric", "HS-2025-000123 $%*+./:", "ISO-8859-1", []byte("HS-2025-000123 $%*+./:"), ""},
		{"kanji mode is Shift_JIS", "漢字テスト", "Shift_JIS", []byte("\x8a\xbf\x8e\x9a\x83\x65\x83\x58\x83\x67"), "漢字テスト"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res, err := Decode(encodeBytes(t, tc.content, tc.charset, 300))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(res.Payload, tc.want) {
				t.Errorf("payload % x, want % x", res.Payload, tc.want)
			}
			got, err := DecodeImage(encodeBytes(t, tc.content, tc.charset, 300))
			if err != nil || !bytes.Equal(got, tc.want) {
				t.Errorf("DecodeImage = % x, %v; want % x", got, err, tc.want)
			}
			switch tc.wantText {
			case "-": // binary: any text interpretation will do
			case "":
				if res.Text != string(tc.want) {
					t.Errorf("text %q, want %q", res.Text, tc.want)
				}
			default:
				if res.Text != tc.wantText {
					t.Errorf("text %q, want %q", res.Text, tc.wantText)
				}
			}
		})
	}
}

func TestPayloadBytesMalformed(t *testing.T) {
	// Version 1-L holds 19 data codewords.
	tests := []struct {
		name      string
		codewords []byte
		ec        string
	}{
		{"unknown capacity", make([]byte, 18), "L"},
		{"bad EC level", make([]byte, 19), "X"},
		{"unknown mode 0x6", append([]byte{0x60}, make([]byte, 18)...), "L"},
		{"byte count beyond data", append([]byte{0x4f, 0xf0}, make([]byte, 17)...), "L"},
		{"numeric group over 999", append([]byte{0x10, 0x0f, 0xfe}, make([]byte, 16)...), "L"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got, err := payloadBytes(tc.codewords, tc.ec); !errors.Is(err, errBitstream) {
				t.Fatalf("payloadBytes = % x, %v; want errBitstream", got, err)
			}
		})
	}
	// A terminator right away is an empty payload.
	if got, err := payloadBytes(make([]byte, 19), "L"); err != nil || len(got) != 0 {
		t.Fatalf("empty symbol: % x, %v", got, err)
	}
}
