package base45

import (
	"bytes"
	"errors"
	"testing"
)

// Examples from RFC 9285, sections 4.3 and 4.4, and the edges of the ranges.
func TestRFCExamples(t *testing.T) {
	for _, tc := range []struct {
		raw, enc string
	}{
		{"AB", "BB8"},
		{"Hello!!", "%69 VD92EX0"},
		{"base-45", "UJCLQE7W581"},
		{"ietf!", "QED8WEX0"},
		{"", ""},
		{"\x00", "00"},
		{"\x00\x00", "000"},
		{"\xff", "U5"},
		{"\xff\xff", "FGW"},
	} {
		if got := Encode([]byte(tc.raw)); got != tc.enc {
			t.Errorf("Encode(%q) = %q, want %q", tc.raw, got, tc.enc)
		}
		got, err := Decode([]byte(tc.enc))
		if err != nil || !bytes.Equal(got, []byte(tc.raw)) {
			t.Errorf("Decode(%q) = %q, %v; want %q", tc.enc, got, err, tc.raw)
		}
		if n := EncodedLen(len(tc.raw)); n != len(tc.enc) {
			t.Errorf("EncodedLen(%d) = %d, want %d", len(tc.raw), n, len(tc.enc))
		}
	}
}

func TestDecodeInvalid(t *testing.T) {
	for _, s := range []string{
		"0",        // 3k+1 characters
		"BB8A",     // 3k+1 characters
		"GGW",      // 16*1 + 16*45 + 32*2025 = 65536: one over
		":::",      // 44 + 44*45 + 44*2025 = 91124
		"V5",       // 31 + 5*45 = 256: one over for a final pair
		"::",       // 44 + 44*45 = 2024
		"bb8",      // lower case is not in the alphabet
		"BB8\n",    // a terminator left on the payload
		"BB\x008",  // NUL
		"BB8\xc3A", // a UTF-8 lead byte
		"AB=",      // '=' is not in the alphabet
	} {
		got, err := Decode([]byte(s))
		if !errors.Is(err, ErrInvalid) {
			t.Errorf("Decode(%q) = %q, %v; want ErrInvalid", s, got, err)
		}
	}
}

func TestRoundTripAllBytes(t *testing.T) {
	src := make([]byte, 0, 512)
	for i := range 256 {
		src = append(src, byte(i), byte(255-i))
	}
	for n := range len(src) + 1 {
		enc := Encode(src[:n])
		for i := range len(enc) {
			if values[enc[i]] == 0xff {
				t.Fatalf("Encode produced %q, outside the alphabet", enc[i])
			}
		}
		dec, err := Decode([]byte(enc))
		if err != nil || !bytes.Equal(dec, src[:n]) {
			t.Fatalf("round trip of %d bytes: %v", n, err)
		}
	}
}

func FuzzDecode(f *testing.F) {
	for _, s := range []string{"BB8", "%69 VD92EX0", "UJCLQE7W581", "QED8WEX0", "GGW", "FGW", "U5", "V5", "0", ""} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, s []byte) {
		dec, err := Decode(s)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %v does not wrap ErrInvalid", err)
			}
			return
		}
		if len(dec) > len(s)*2/3+1 {
			t.Fatalf("decoded %d bytes from %d characters", len(dec), len(s))
		}
		// Valid Base45 is canonical: re-encoding gives the input back.
		if enc := Encode(dec); enc != string(s) {
			t.Fatalf("Encode(Decode(%q)) = %q", s, enc)
		}
	})
}
