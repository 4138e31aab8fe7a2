// Package base45 is the Base45 data encoding of RFC 9285: two bytes become
// three characters of the 45-character QR alphanumeric alphabet, so a QR
// code can carry binary data in its dense alphanumeric mode.
package base45

import (
	"errors"
	"fmt"
)

// Alphabet is the RFC 9285 alphabet, in value order (0..44).
const Alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"

// ErrInvalid means the input is not valid Base45.
var ErrInvalid = errors.New("base45: invalid input")

// values maps a byte to its Base45 value, or 0xff if it is not in the
// alphabet.
var values = func() (v [256]byte) {
	for i := range v {
		v[i] = 0xff
	}
	for i := range len(Alphabet) {
		v[Alphabet[i]] = byte(i)
	}
	return v
}()

// EncodedLen is the length of the encoding of n bytes.
func EncodedLen(n int) int { return n/2*3 + n%2*2 }

// Encode returns the Base45 encoding of src.
func Encode(src []byte) string {
	out := make([]byte, 0, EncodedLen(len(src)))
	for len(src) >= 2 {
		n := int(src[0])<<8 | int(src[1])
		out = append(out, Alphabet[n%45], Alphabet[n/45%45], Alphabet[n/2025])
		src = src[2:]
	}
	if len(src) == 1 {
		n := int(src[0])
		out = append(out, Alphabet[n%45], Alphabet[n/45])
	}
	return string(out)
}

// Decode returns the bytes that s encodes. It fails with an error wrapping
// ErrInvalid if s has a character outside the alphabet, a length of 3k+1,
// or a group whose value is out of range (over 65535 for three characters,
// over 255 for a final two). It allocates at most 2/3 of len(s).
func Decode(s []byte) ([]byte, error) {
	if len(s)%3 == 1 {
		return nil, fmt.Errorf("%w: length %d leaves a lone character", ErrInvalid, len(s))
	}
	out := make([]byte, 0, len(s)/3*2+len(s)%3/2)
	for i := 0; i < len(s); i += 3 {
		var d [3]int
		k := min(3, len(s)-i)
		for j := range k {
			v := values[s[i+j]]
			if v == 0xff {
				return nil, fmt.Errorf("%w: byte 0x%02x at offset %d is not in the alphabet", ErrInvalid, s[i+j], i+j)
			}
			d[j] = int(v)
		}
		n := d[0] + d[1]*45 + d[2]*2025
		if k == 3 {
			if n > 0xffff {
				return nil, fmt.Errorf("%w: group at offset %d is %d, over 65535", ErrInvalid, i, n)
			}
			out = append(out, byte(n>>8), byte(n))
		} else {
			if n > 0xff {
				return nil, fmt.Errorf("%w: final pair at offset %d is %d, over 255", ErrInvalid, i, n)
			}
			out = append(out, byte(n))
		}
	}
	return out, nil
}
