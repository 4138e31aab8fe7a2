package fleetwire

import (
	"bytes"
	"crypto/rand"
	"errors"
	"strings"
	"testing"
	"time"
)

// TestServicePIN: a PIN is 8 digits, its command carries neither the PIN
// nor anything it can be read from without the hash's cost, it matches only
// itself, and a command with a cost above the bounds or a bad field is
// refused naming the field.
func TestServicePIN(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	pin, p, err := NewServicePIN(rand.Reader, "T-0042", now, 20*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if len(pin) != ServicePINDigits || strings.Trim(pin, "0123456789") != "" {
		t.Fatalf("PIN %q is not %d digits", pin, ServicePINDigits)
	}
	args := p.Encode()
	if strings.Contains(args, pin) {
		t.Fatalf("the command's args %q hold the PIN", args)
	}
	got, err := ParseServicePIN(args)
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != p.ID || got.Technician != "T-0042" || !got.Expires.Equal(now.Add(20*time.Minute)) || !bytes.Equal(got.Hash, p.Hash) {
		t.Fatalf("parsed %+v, want %+v", got, p)
	}
	if !got.Match(pin) {
		t.Fatal("the PIN does not match its own hash")
	}
	wrong := []byte(pin)
	wrong[3] = '0' + (wrong[3]-'0'+1)%10
	for _, w := range []string{string(wrong), "", pin[:7], pin + "0"} {
		if got.Match(w) {
			t.Errorf("%q matches the PIN %q", w, pin)
		}
	}

	if _, _, err := NewServicePIN(rand.Reader, "T-0042", now, 31*time.Minute); !errors.Is(err, ErrServicePIN) {
		t.Errorf("a 31-minute PIN: %v, want ErrServicePIN", err)
	}
	if _, _, err := NewServicePIN(rand.Reader, "Nguyễn Văn A", now, time.Minute); !errors.Is(err, ErrServicePIN) {
		t.Errorf("a name as the technician id: %v, want ErrServicePIN", err)
	}
	for _, c := range []struct{ from, to, field string }{
		{"m=19456", "m=1048576", "cost m"},
		{"t=2", "t=40", "cost t"},
		{"v=1", "v=2", "version"},
		{"tech=T-0042", "tech=", "technician"},
	} {
		bad := strings.Replace(args, c.from, c.to, 1)
		if bad == args {
			t.Fatalf("%q not in the args %q", c.from, args)
		}
		if _, err := ParseServicePIN(bad); !errors.Is(err, ErrServicePIN) || !strings.Contains(err.Error(), c.field) {
			t.Errorf("args with %s: %v, want ErrServicePIN naming %q", c.to, err, c.field)
		}
	}
}

// TestServicePINDigitsUniform: every digit turns up in every place.
func TestServicePINDigitsUniform(t *testing.T) {
	var seen [ServicePINDigits][10]bool
	for range 200 {
		n, err := randIntn(rand.Reader, pow10(ServicePINDigits))
		if err != nil {
			t.Fatal(err)
		}
		for i := range ServicePINDigits {
			seen[i][n%10] = true
			n /= 10
		}
	}
	for i, d := range seen {
		for v, ok := range d {
			if !ok {
				t.Errorf("digit %d never at place %d in 200 PINs", v, i)
			}
		}
	}
}

// BenchmarkServicePINMatch is what one PIN typed costs the kiosk for each
// PIN it keeps (one Argon2id hash at the fleet's cost), and so what one
// guess costs whoever took a command off the wire.
func BenchmarkServicePINMatch(b *testing.B) {
	pin, p, err := NewServicePIN(rand.Reader, "T-0042", time.Now(), time.Minute)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if !p.Match(pin) {
			b.Fatal("no match")
		}
	}
}
