package portal

import (
	"fmt"
	"io"
	"strings"
)

// Tracking numbers look like QN-2026-7KD4M9QXR: the office's prefix, the
// year, eight random characters (40 bits) and a check character, in
// Crockford's base 32 (digits and capitals without I, L, O and U, so that
// nothing is misread). Nobody can count through them to find other
// people's applications; the check character catches a mistyped one. The
// kiosk's receipt QR parsing (kiosk.ClassifyQR) takes them as they are.

const crockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

// crockford32 encodes b, five bits a character (len(b)*8 a multiple of 5).
func crockford32(b []byte) string {
	var sb strings.Builder
	var acc uint64
	bits := 0
	for _, c := range b {
		acc = acc<<8 | uint64(c)
		for bits += 8; bits >= 5; bits -= 5 {
			sb.WriteByte(crockford[acc>>(bits-5)&31])
		}
	}
	return sb.String()
}

// checkChar is the Luhn mod 32 check character of s (in crockford).
func checkChar(s string) byte {
	factor, sum := 2, 0
	for i := len(s) - 1; i >= 0; i-- {
		v := factor * strings.IndexByte(crockford, s[i])
		sum += v/32 + v%32
		factor = 3 - factor
	}
	return crockford[(32-sum%32)%32]
}

func newTrackingNumber(rnd io.Reader, prefix string, year int) (string, error) {
	b := make([]byte, 5)
	if _, err := io.ReadFull(rnd, b); err != nil {
		return "", fmt.Errorf("tracking number: %w", err)
	}
	r := crockford32(b)
	return fmt.Sprintf("%s-%04d-%s%c", prefix, year, r, checkChar(r)), nil
}

// ValidTrackingNumber reports whether s ends in eight characters of
// Crockford's base 32 and their right check character.
func ValidTrackingNumber(s string) bool {
	i := strings.LastIndexByte(s, '-')
	r := s[i+1:]
	if i < 0 || len(r) != 9 {
		return false
	}
	for j := range len(r) {
		if strings.IndexByte(crockford, r[j]) < 0 {
			return false
		}
	}
	return checkChar(r[:8]) == r[8]
}
