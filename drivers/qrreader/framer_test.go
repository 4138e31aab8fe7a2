package qrreader

import (
	"bytes"
	"testing"
)

func TestFramer(t *testing.T) {
	long := bytes.Repeat([]byte("x"), 9)
	tests := []struct {
		name          string
		maxLen        int
		chunks        []string
		want          []string
		wantDiscarded int
	}{
		{"CR", 8, []string{"abc\r"}, []string{"abc"}, 0},
		{"LF", 8, []string{"abc\n"}, []string{"abc"}, 0},
		{"CRLF once", 8, []string{"abc\r\ndef\r\n"}, []string{"abc", "def"}, 0},
		{"CRLF split across reads", 8, []string{"abc\r", "\ndef\r"}, []string{"abc", "def"}, 0},
		{"LFCR is two terminators, empty skipped", 8, []string{"a\n\rb\r"}, []string{"a", "b"}, 0},
		{"empty lines skipped", 8, []string{"\r\n\r\n\n\rabc\r\r"}, []string{"abc"}, 0},
		{"code split across reads", 8, []string{"ab", "c", "de\r"}, []string{"abcde"}, 0},
		{"several codes in one read", 8, []string{"one\rtwo\nthree\r\nfour"}, []string{"one", "two", "three"}, 0},
		{"unterminated waits", 8, []string{"abc"}, nil, 0},
		{"exactly maxLen kept", 4, []string{"abcd\r"}, []string{"abcd"}, 0},
		{"over-long discarded whole", 8, []string{string(long) + "\rok\r"}, []string{"ok"}, 1},
		{"over-long across reads discarded to its end", 8, []string{"12345", "6789", "abcdef", "\nok\r"}, []string{"ok"}, 1},
		{"two over-long lines", 2, []string{"abc\rdef\rgh\r"}, []string{"gh"}, 2},
		{"binary kept exactly", 8, []string{"\x00\xff\xfe", "\x80\x1b\r"}, []string{"\x00\xff\xfe\x80\x1b"}, 0},
		{"invalid UTF-8 kept", 8, []string{"\xc3\x28\xa0\r"}, []string{"\xc3\x28\xa0"}, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := NewFramer(tc.maxLen)
			var got []string
			for _, c := range tc.chunks {
				for _, p := range f.Feed([]byte(c)) {
					got = append(got, string(p))
				}
			}
			if len(got) != len(tc.want) {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Fatalf("payload %d = %q, want %q", i, got[i], tc.want[i])
				}
			}
			if d := f.Discarded(); d != tc.wantDiscarded {
				t.Fatalf("Discarded() = %d, want %d", d, tc.wantDiscarded)
			}
		})
	}
}

func TestFramerOutputsDoNotAlias(t *testing.T) {
	f := NewFramer(0)
	in := []byte("abc\rdef\r")
	out := f.Feed(in)
	in[0] = 'X'
	out2 := f.Feed([]byte("ghi\r"))
	if string(out[0]) != "abc" || string(out[1]) != "def" || string(out2[0]) != "ghi" {
		t.Fatalf("outputs changed: %q %q", out, out2)
	}
}

func TestNewFramerDefault(t *testing.T) {
	f := NewFramer(0)
	ok := bytes.Repeat([]byte("a"), DefaultMaxLen)
	if got := f.Feed(append(ok, '\r')); len(got) != 1 || len(got[0]) != DefaultMaxLen {
		t.Fatalf("a %d-byte payload was not kept", DefaultMaxLen)
	}
	if got := f.Feed(append(append(ok, 'b'), '\r')); len(got) != 0 || f.Discarded() != 1 {
		t.Fatalf("a %d-byte payload was kept", DefaultMaxLen+1)
	}
}

// FuzzFramer checks the framer's invariants on any input split anywhere.
func FuzzFramer(f *testing.F) {
	f.Add([]byte("abc\r\ndef\rghi\n"), uint8(5), []byte{1, 3})
	f.Add([]byte("\x00\xff\r\r\n\n"), uint8(1), []byte{0, 1})
	f.Add([]byte("0123456789\rok\r"), uint8(4), []byte{2, 2, 2})
	f.Fuzz(func(t *testing.T, data []byte, maxLen uint8, cuts []byte) {
		ml := int(maxLen)%64 + 1
		whole := NewFramer(ml).Feed(data)

		chunked := NewFramer(ml)
		var parts [][]byte
		rest := data
		for _, c := range cuts {
			if len(rest) == 0 {
				break
			}
			n := min(int(c), len(rest))
			parts = append(parts, chunked.Feed(rest[:n])...)
			rest = rest[n:]
		}
		parts = append(parts, chunked.Feed(rest)...)

		for _, p := range whole {
			if len(p) == 0 || len(p) > ml {
				t.Fatalf("payload of length %d, maxLen %d", len(p), ml)
			}
			if bytes.ContainsAny(p, "\r\n") {
				t.Fatalf("payload %q holds CR or LF", p)
			}
			if !bytes.Contains(data, p) {
				t.Fatalf("payload %q not in input", p)
			}
		}
		if !bytes.Equal(bytes.Join(whole, []byte{0}), bytes.Join(parts, []byte{0})) || len(whole) != len(parts) {
			t.Fatalf("chunked feeding gave %q, whole feeding %q", parts, whole)
		}
	})
}
