package idqr

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/veraison/go-cose"
)

// checkResult: Decode either fails with exactly one sentinel or returns
// claims that pass the content checks and the clock.
func checkResult(t *testing.T, payload []byte, c *Claims, err error, lim Limits) {
	t.Helper()
	if err != nil {
		if c != nil {
			t.Fatalf("claims returned with error %v", err)
		}
		n := 0
		for _, s := range sentinels {
			if errors.Is(err, s) {
				n++
			}
		}
		if n != 1 {
			t.Fatalf("error %v wraps %d sentinels", err, n)
		}
		return
	}
	if len(payload) > lim.withDefaults().MaxPayload {
		t.Fatalf("accepted %d bytes over the limit", len(payload))
	}
	if err := c.check(); err != nil {
		t.Fatalf("accepted claims that fail their checks: %v", err)
	}
	if !testNow.Before(c.Expires.Add(DefaultClockSkew)) {
		t.Fatalf("accepted an expired token")
	}
}

func fuzzSeeds(t testing.TB) (good [][]byte, trust *TrustList) {
	k := newTestKeys(t)
	trust = k.trust(t)
	for _, p := range []string{
		mustIssue(t, thaiClaims(), "th-1", k.p256a),
		mustIssue(t, vietClaims(), "vn-1", k.ed),
		mustIssue(t, thaiClaims(), "p384", k.p384),
	} {
		good = append(good, []byte(p))
	}
	return good, trust
}

// FuzzDecode feeds arbitrary scanned text to Decode.
func FuzzDecode(f *testing.F) {
	good, trust := fuzzSeeds(f)
	for _, g := range good {
		f.Add(g)
		f.Add(g[:len(g)/2])
	}
	f.Add([]byte(Prefix + b45(bomb(f, 1<<20))))
	f.Add([]byte(Prefix))
	f.Add([]byte("HC1:NCFOXN%TS3DH"))
	f.Fuzz(func(t *testing.T, payload []byte) {
		for _, lim := range []Limits{{}, {MaxPayload: 600, MaxDecompressed: 512}} {
			c, err := Decode(payload, trust, testNow, lim)
			checkResult(t, payload, c, err, lim)
		}
	})
}

// FuzzDecodeEnvelope fuzzes the inflated message (COSE and CBOR), which
// random text rarely reaches through Base45 and zlib.
func FuzzDecodeEnvelope(f *testing.F) {
	good, trust := fuzzSeeds(f)
	for _, g := range good {
		raw := unwrap(f, string(g))
		f.Add(raw)
		f.Add(raw[:len(raw)-10])
		f.Add(append([]byte{0xd8, 0x3d}, raw...))
		f.Add(raw[1:]) // untagged
	}
	f.Add([]byte{0xd8, 0x62, 0x84, 0x40, 0xa0, 0xf6, 0x80})
	f.Add([]byte{0xd2, 0x83, 0x40, 0xa0, 0x40})
	f.Fuzz(func(t *testing.T, raw []byte) {
		payload := []byte(wrap(raw))
		c, err := Decode(payload, trust, testNow, Limits{})
		checkResult(t, payload, c, err, Limits{})
	})
}

// FuzzClaims fuzzes the claims parser directly: mutated claims never get
// past a signature, so the parser is exercised here on its own.
func FuzzClaims(f *testing.F) {
	good, _ := fuzzSeeds(f)
	for _, g := range good {
		var msg cose.Sign1Message
		if err := msg.UnmarshalCBOR(unwrap(f, string(g))); err != nil {
			f.Fatal(err)
		}
		f.Add(msg.Payload)
	}
	f.Add([]byte{0xa0})
	f.Add([]byte{0xbf, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := parseClaims(b)
		if err != nil {
			if !errors.Is(err, ErrFormat) || c != nil {
				t.Fatalf("parseClaims: %v", err)
			}
			return
		}
		if err := c.check(); err != nil {
			t.Fatalf("accepted claims that fail their checks: %v", err)
		}
		// What parses re-issues to the same claims.
		k := newTestKeys(t)
		tl := k.trust(t)
		p, err := Issue(*c, "th-2", k.p256b)
		if errors.Is(err, ErrTooLarge) {
			return
		}
		if err != nil {
			t.Fatalf("re-issue: %v", err)
		}
		back, err := Decode([]byte(p), tl, c.IssuedAt.Add(time.Second), Limits{MaxPayload: 1 << 20, MaxDecompressed: 1 << 20})
		if err != nil && !errors.Is(err, ErrExpired) && !errors.Is(err, ErrNotYetValid) {
			t.Fatalf("re-issued claims do not decode: %v", err)
		}
		if err == nil && !bytes.Equal([]byte(back.Name), []byte(c.Name)) {
			t.Fatal("name changed on re-issue")
		}
	})
}
