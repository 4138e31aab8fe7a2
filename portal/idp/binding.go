package idp

import (
	"errors"
	"io"
	"net/url"
	"strconv"
	"unicode"
	"unicode/utf8"
)

// Cross-device login (IETF "Cross-Device Flows: Security Best Current
// Practice"): a login QR can be photographed at a kiosk, or a login begun
// by an attacker, and the QR relayed to a victim who approves it on their
// own phone. Two defences make that hard:
//
//   - The authorization request names where the login happens: the kiosk
//     sends kiosk_office, kiosk_id and kiosk_procedure (pushed with PAR, so
//     they come from the authenticated client), and the phone's approval
//     page shows them.
//   - Number matching: the login page on the kiosk shows a two-digit
//     number (match_number from the kiosk, or drawn here when a client
//     sends none); the phone offers it among three and the citizen picks
//     the one on the kiosk screen. A wrong pick denies the login for good
//     and sends the kiosk browser back with error=access_denied and
//     denial_reason=number_mismatch.

// maxBindingText bounds each of the names a kiosk sends.
const maxBindingText = 200

// Denial reasons, sent with access_denied as denial_reason.
const reasonNumberMismatch = "number_mismatch"

// errNumberMismatch: the citizen picked another number than the kiosk's.
var errNumberMismatch = errors.New("the number picked is not the one on the kiosk screen; the login was refused")

// binding is what an authorization request says about where the login
// happens and what the kiosk screen shows.
type binding struct {
	office, kioskID, procedure string
	number                     string   // two digits, 10–99
	choices                    []string // number and two others, in random order
}

// parseBinding reads and checks a request's binding parameters. All are
// optional; a number, when given, must be two digits 10–99.
func parseBinding(q url.Values) (binding, error) {
	b := binding{office: q.Get("kiosk_office"), kioskID: q.Get("kiosk_id"), procedure: q.Get("kiosk_procedure"), number: q.Get("match_number")}
	for _, s := range []string{b.office, b.kioskID, b.procedure} {
		if len(s) > maxBindingText || !utf8.ValidString(s) {
			return binding{}, errors.New("kiosk_office, kiosk_id and kiosk_procedure must be UTF-8 of at most 200 bytes")
		}
		for _, r := range s {
			if unicode.IsControl(r) {
				return binding{}, errors.New("kiosk_office, kiosk_id and kiosk_procedure must not hold control characters")
			}
		}
	}
	if b.number != "" {
		if n, err := strconv.Atoi(b.number); err != nil || len(b.number) != 2 || n < 10 {
			return binding{}, errors.New("match_number must be two digits, 10 to 99")
		}
	}
	return b, nil
}

// drawNumber returns a uniformly random two-digit number, 10–99, other
// than those in not.
func drawNumber(r io.Reader, not ...string) (string, error) {
	var b [1]byte
	for {
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return "", errRand
		}
		if b[0] >= 180 { // 180 = 2·90: keeps b%90 uniform
			continue
		}
		n := strconv.Itoa(10 + int(b[0])%90)
		taken := false
		for _, x := range not {
			taken = taken || x == n
		}
		if !taken {
			return n, nil
		}
	}
}

// matchNumbers gives b its number (drawn when the client sent none) and
// the three choices the phone offers, shuffled.
func (b *binding) matchNumbers(r io.Reader) error {
	var err error
	if b.number == "" {
		if b.number, err = drawNumber(r); err != nil {
			return err
		}
	}
	c := []string{b.number}
	for len(c) < 3 {
		n, err := drawNumber(r, c...)
		if err != nil {
			return err
		}
		c = append(c, n)
	}
	for i := len(c) - 1; i > 0; i-- { // Fisher–Yates; bytes past the last whole multiple are drawn again
		var x [1]byte
		for {
			if _, err := io.ReadFull(r, x[:]); err != nil {
				return errRand
			}
			if lim := 256 - 256%(i+1); int(x[0]) < lim {
				break
			}
		}
		j := int(x[0]) % (i + 1)
		c[i], c[j] = c[j], c[i]
	}
	b.choices = c
	return nil
}
