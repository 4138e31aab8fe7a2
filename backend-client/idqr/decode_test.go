package idqr

import (
	"bytes"
	"crypto"
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	mrand "math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/fxamacker/cbor/v2"
	"github.com/veraison/go-cose"

	"govkiosk/backend-client/idqr/base45"
)

var sentinels = []error{ErrFormat, ErrTooLarge, ErrSignature, ErrUnknownIssuer, ErrExpired, ErrNotYetValid}

// wrapsOne checks err wraps want and no other sentinel.
func wrapsOne(t *testing.T, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("error = %v, want %v", err, want)
	}
	for _, s := range sentinels {
		if s != want && errors.Is(err, s) {
			t.Fatalf("error %v wraps %v as well as %v", err, s, want)
		}
	}
}

func TestRoundTrip(t *testing.T) {
	k := newTestKeys(t)
	trust := k.trust(t)
	nfd := vietClaims()
	nfd.Name = "Nguye\u0302\u0303n Thi\u0323 Ho\u0302\u0300ng Nhung" // decomposed: must not be normalised
	nfd.FamilyName, nfd.GivenName = "", ""
	nfd.Gender = ""
	nfd.BirthDate = ""
	for _, tc := range []struct {
		name string
		c    Claims
		kid  string
		key  crypto.Signer
	}{
		{"thai ES256", thaiClaims(), "th-1", k.p256a},
		{"vietnamese EdDSA", vietClaims(), "vn-1", k.ed},
		{"vietnamese NFD ES384", nfd, "p384", k.p384},
	} {
		t.Run(tc.name, func(t *testing.T) {
			payload := mustIssue(t, tc.c, tc.kid, tc.key)
			if !strings.HasPrefix(payload, Prefix) || len(payload) > 1000 {
				t.Fatalf("payload %d chars, prefix %q", len(payload), payload[:5])
			}
			for _, r := range payload {
				if !strings.ContainsRune(base45.Alphabet, r) {
					t.Fatalf("payload has %q, outside the QR alphanumeric set", r)
				}
			}
			got, err := Decode([]byte(payload), trust, testNow, Limits{})
			if err != nil {
				t.Fatal(err)
			}
			want := tc.c
			want.KeyID = tc.kid
			if !reflect.DeepEqual(*got, want) {
				t.Fatalf("round trip:\n got %#v\nwant %#v\n(fields: %q %q %q)", got, want, got.Name, got.Address, got.CitizenID)
			}
			// Byte-exact text, not just equal after normalisation.
			if got.Name != tc.c.Name || got.Address != tc.c.Address {
				t.Fatalf("text changed")
			}
			t.Logf("%s: %d characters", tc.name, len(payload))
		})
	}
}

func TestClockSkew(t *testing.T) {
	k := newTestKeys(t)
	trust := k.trust(t)
	c := thaiClaims()
	c.Expires = testNow.Add(-4 * time.Minute) // inside the default 5 min skew
	c.IssuedAt = testNow.Add(-time.Hour)
	p := mustIssue(t, c, "th-1", k.p256a)
	if _, err := Decode([]byte(p), trust, testNow, Limits{}); err != nil {
		t.Fatalf("4 min past exp with 5 min skew: %v", err)
	}
	_, err := Decode([]byte(p), trust, testNow, Limits{ClockSkew: -1})
	wrapsOne(t, err, ErrExpired)
	_, err = Decode([]byte(p), trust, testNow, Limits{ClockSkew: time.Minute})
	wrapsOne(t, err, ErrExpired)

	c = thaiClaims()
	c.IssuedAt = testNow.Add(4 * time.Minute) // kiosk clock a little slow
	p = mustIssue(t, c, "th-1", k.p256a)
	if _, err := Decode([]byte(p), trust, testNow, Limits{}); err != nil {
		t.Fatalf("iat 4 min ahead with 5 min skew: %v", err)
	}
}

func TestBadInputs(t *testing.T) {
	k := newTestKeys(t)
	trust := k.trust(t)
	good := mustIssue(t, thaiClaims(), "th-1", k.p256a)
	goodRaw := unwrap(t, good)

	var msg cose.Sign1Message
	if err := msg.UnmarshalCBOR(goodRaw); err != nil {
		t.Fatal(err)
	}
	claimsCBOR := msg.Payload

	// signed builds a well-signed ES256 token under th-2 around any claims.
	signed := func(claims any) string {
		return wrap(craft(t, 18, es256Header("th-2"), nil, mustCBOR(t, claims), signWith(t, cose.AlgorithmES256, k.p256b)))
	}
	withClaims := func(edit func(c *Claims)) string {
		c := thaiClaims()
		edit(&c)
		return mustIssue(t, c, "th-1", k.p256a)
	}
	spoilWire := func(edit func(w map[any]any)) string {
		w := wireClaims(t, thaiClaims())
		edit(w)
		return signed(w)
	}

	flipSig := bytes.Clone(goodRaw)
	flipSig[len(flipSig)-1] ^= 0x01
	flipPayload := bytes.Clone(goodRaw)
	i := bytes.Index(flipPayload, []byte("TH-DOPA"))
	flipPayload[i] = 'X' // now "XH-DOPA": signed bytes changed

	bombRaw := bytes.Repeat([]byte{0}, 4<<20)

	for _, tc := range []struct {
		name    string
		payload string
		want    error
	}{
		// Signature.
		{"signature byte flipped", wrap(flipSig), ErrSignature},
		{"claims byte flipped", wrap(flipPayload), ErrSignature},
		{"re-signed with another key under a trusted kid", wrap(craft(t, 18, es256Header("th-1"), nil, claimsCBOR, signWith(t, cose.AlgorithmES256, k.p256b))), ErrSignature},
		{"junk signature", wrap(craft(t, 18, es256Header("th-1"), nil, claimsCBOR, nil)), ErrSignature},
		{"empty signature", wrap(craft(t, 18, es256Header("th-1"), nil, claimsCBOR, func([]byte) []byte { return []byte{} })), ErrFormat},
		// Algorithm confusion.
		{"EdDSA header on a P-256 kid, signed by Ed25519", wrap(craft(t, 18, map[any]any{1: int64(cose.AlgorithmEdDSA), 4: []byte("th-1")}, nil, claimsCBOR, signWith(t, cose.AlgorithmEdDSA, k.ed))), ErrSignature},
		{"ES256 header on the Ed25519 kid", wrap(craft(t, 18, map[any]any{1: int64(cose.AlgorithmES256), 4: []byte("vn-1")}, nil, claimsCBOR, signWith(t, cose.AlgorithmES256, k.p256a))), ErrSignature},
		{"ES384 header on a P-256 kid", wrap(craft(t, 18, map[any]any{1: int64(cose.AlgorithmES384), 4: []byte("th-1")}, nil, claimsCBOR, signWith(t, cose.AlgorithmES384, k.p384))), ErrSignature},
		{"alg text none", wrap(craft(t, 18, map[any]any{1: "none", 4: []byte("th-1")}, nil, claimsCBOR, func([]byte) []byte { return []byte{0} })), ErrSignature},
		{"alg HMAC 256/256 keyed with the public key", wrap(craft(t, 18, map[any]any{1: int64(5), 4: []byte("th-1")}, nil, claimsCBOR, func(tbs []byte) []byte {
			pub, _ := k.p256a.PublicKey.Bytes()
			m := hmac.New(sha256.New, pub)
			m.Write(tbs)
			return m.Sum(nil)
		})), ErrSignature},
		{"alg only in the unprotected header", wrap(craft(t, 18, map[any]any{4: []byte("th-1")}, map[any]any{1: int64(cose.AlgorithmES256)}, claimsCBOR, signWith(t, cose.AlgorithmES256, k.p256a))), ErrFormat},
		{"kid only in the unprotected header", wrap(craft(t, 18, map[any]any{1: int64(cose.AlgorithmES256)}, map[any]any{4: []byte("th-1")}, claimsCBOR, signWith(t, cose.AlgorithmES256, k.p256a))), ErrFormat},
		{"crit header", wrap(craft(t, 18, map[any]any{1: int64(cose.AlgorithmES256), 4: []byte("th-1"), 2: []any{int64(99)}, 99: int64(1)}, nil, claimsCBOR, signWith(t, cose.AlgorithmES256, k.p256a))), ErrFormat},
		// Issuer.
		{"unknown kid", mustIssue(t, thaiClaims(), "th-9", k.p256a), ErrUnknownIssuer},
		{"kid bound to another issuer", withIssuer(t, k), ErrUnknownIssuer},
		// Time.
		{"expired", withClaims(func(c *Claims) { c.IssuedAt, c.Expires = testNow.AddDate(-1, 0, 0), testNow.Add(-10*time.Minute) }), ErrExpired},
		{"expired long ago", withClaims(func(c *Claims) { c.IssuedAt, c.Expires = testNow.AddDate(-5, 0, 0), testNow.AddDate(-4, 0, 0) }), ErrExpired},
		{"not yet valid (nbf)", withClaims(func(c *Claims) { c.NotBefore = testNow.Add(10 * time.Minute) }), ErrNotYetValid},
		{"issued in the future", withClaims(func(c *Claims) { c.IssuedAt = testNow.Add(time.Hour) }), ErrNotYetValid},
		// Size.
		{"oversized", Prefix + strings.Repeat("000", 1400), ErrTooLarge},
		{"oversized junk", strings.Repeat("x", DefaultMaxPayload+1), ErrTooLarge},
		{"zip bomb", wrap(bombRaw), ErrTooLarge},
		// Encoding.
		{"no prefix", good[len(Prefix):], ErrFormat},
		{"HC1 prefix", "HC1:" + good[len(Prefix):], ErrFormat},
		{"lower-case prefix", "nid1:" + good[len(Prefix):], ErrFormat},
		{"empty", "", ErrFormat},
		{"prefix only", Prefix, ErrFormat},
		{"not Base45: lower case", Prefix + strings.ToLower(good[len(Prefix):]), ErrFormat},
		{"not Base45: newline", good + "\n", ErrFormat},
		{"not Base45: group over 65535", Prefix + "GGW" + good[len(Prefix):], ErrFormat},
		{"not Base45: a URL", Prefix + "https://example.org/x", ErrFormat},
		{"not zlib", Prefix + base45.Encode(goodRaw), ErrFormat},
		{"zlib checksum wrong", corruptAdler(t, goodRaw), ErrFormat},
		{"bytes after the zlib stream", Prefix + base45.Encode(append(zlibBytes(goodRaw), 0)), ErrFormat},
		// Structure.
		{"bytes after the COSE message", wrap(append(bytes.Clone(goodRaw), 0xf6)), ErrFormat},
		{"COSE_Sign, not Sign1", wrap(mustCBOR(t, cbor.Tag{Number: 98, Content: []any{[]byte{}, map[any]any{}, claimsCBOR, []any{[]any{mustCBOR(t, es256Header("th-1")), map[any]any{}, bytes.Repeat([]byte{1}, 64)}}}})), ErrFormat},
		{"tagged array of 3", wrap(mustCBOR(t, cbor.Tag{Number: 18, Content: []any{mustCBOR(t, es256Header("th-1")), map[any]any{}, claimsCBOR}})), ErrFormat},
		{"tagged array of 5", wrap(mustCBOR(t, cbor.Tag{Number: 18, Content: []any{mustCBOR(t, es256Header("th-1")), map[any]any{}, claimsCBOR, []byte{1}, []byte{2}}})), ErrFormat},
		{"untagged array of 3", wrap(mustCBOR(t, []any{mustCBOR(t, es256Header("th-1")), map[any]any{}, claimsCBOR})), ErrFormat},
		{"a map", wrap(mustCBOR(t, map[any]any{1: claimsCBOR})), ErrFormat},
		{"a bare CWT with no envelope", wrap(claimsCBOR), ErrFormat},
		{"wrong tag", wrap(mustCBOR(t, cbor.Tag{Number: 17, Content: []any{mustCBOR(t, es256Header("th-1")), map[any]any{}, claimsCBOR, []byte{1}}})), ErrFormat},
		{"detached payload", wrap(mustCBOR(t, cbor.Tag{Number: 18, Content: []any{mustCBOR(t, es256Header("th-1")), map[any]any{}, nil, bytes.Repeat([]byte{1}, 64)}})), ErrFormat},
		{"protected header not a map", wrap(mustCBOR(t, cbor.Tag{Number: 18, Content: []any{mustCBOR(t, []any{1}), map[any]any{}, claimsCBOR, bytes.Repeat([]byte{1}, 64)}})), ErrFormat},
		// Claims, validly signed.
		{"claims not a map", signed([]any{1, 2, 3}), ErrFormat},
		{"claims empty", signed(map[any]any{}), ErrFormat},
		{"no identity claim", spoilWire(func(w map[any]any) { delete(w, 169) }), ErrFormat},
		{"no iss", spoilWire(func(w map[any]any) { delete(w, 1) }), ErrFormat},
		{"no exp", spoilWire(func(w map[any]any) { delete(w, 4) }), ErrFormat},
		{"no iat", spoilWire(func(w map[any]any) { delete(w, 6) }), ErrFormat},
		{"exp as text", spoilWire(func(w map[any]any) { w[4] = "tomorrow" }), ErrFormat},
		{"exp before iat", spoilWire(func(w map[any]any) { w[4] = w[6].(int64) - 1 }), ErrFormat},
		{"iss not text", spoilWire(func(w map[any]any) { w[1] = 7 }), ErrFormat},
		{"no citizen ID", spoilWire(func(w map[any]any) { delete(w[169].(map[any]any), 1) }), ErrFormat},
		{"no name", spoilWire(func(w map[any]any) { delete(w[169].(map[any]any), 4) }), ErrFormat},
		{"Thai ID with a bad check digit", spoilWire(func(w map[any]any) { w[169].(map[any]any)[1] = badCheck(thaiID("110370012345")) }), ErrFormat},
		{"13 digits, no nationality, bad check digit", spoilWire(func(w map[any]any) {
			delete(w[169].(map[any]any), 13)
			w[169].(map[any]any)[1] = badCheck(thaiID("310050045678"))
		}), ErrFormat},
		{"Vietnamese ID of 11 digits", spoilWire(func(w map[any]any) {
			w[169].(map[any]any)[13] = "VN"
			w[169].(map[any]any)[1] = "00119001234"
		}), ErrFormat},
		{"citizen ID with a space", spoilWire(func(w map[any]any) { delete(w[169].(map[any]any), 13); w[169].(map[any]any)[1] = "AB 123" }), ErrFormat},
		{"control character in the name", spoilWire(func(w map[any]any) { w[169].(map[any]any)[4] = "Somchai\x1b[2J" }), ErrFormat},
		{"date of birth not YYYYMMDD", spoilWire(func(w map[any]any) { w[169].(map[any]any)[8] = "1985-04-12" }), ErrFormat},
		{"date of birth impossible", spoilWire(func(w map[any]any) { w[169].(map[any]any)[8] = "19850231" }), ErrFormat},
		{"gender code 4", spoilWire(func(w map[any]any) { w[169].(map[any]any)[9] = 4 }), ErrFormat},
		{"identity not a map", spoilWire(func(w map[any]any) { w[169] = "x" }), ErrFormat},
		{"tag inside the claims", spoilWire(func(w map[any]any) { w[4] = cbor.Tag{Number: 1, Content: w[4]} }), ErrFormat},
		{"duplicate claim key", signed(cbor.RawMessage(dupKeyMap(t))), ErrFormat},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Decode([]byte(tc.payload), trust, testNow, Limits{})
			if c != nil {
				t.Fatalf("got claims %v with error %v", c, err)
			}
			wrapsOne(t, err, tc.want)
			t.Logf("%v", err)
			// Errors never carry personal data.
			for _, s := range []string{"สมชาย", "ใจดี", thaiID("110370012345"), "Somchai"} {
				if strings.Contains(err.Error(), s) {
					t.Fatalf("error %q leaks personal data", err)
				}
			}
		})
	}
}

// withIssuer: a well-signed token under th-1 (bound to TH-DOPA) claiming
// another issuer.
func withIssuer(t *testing.T, k testKeys) string {
	c := thaiClaims()
	c.Issuer = "VN-C06"
	return mustIssue(t, c, "th-1", k.p256a)
}

func badCheck(id string) string {
	d := id[12] - '0'
	return id[:12] + string(rune('0'+(d+1)%10))
}

func corruptAdler(t *testing.T, raw []byte) string {
	z := zlibBytes(raw)
	z[len(z)-1] ^= 0xff
	return Prefix + base45.Encode(z)
}

// dupKeyMap is the CWT {1: "TH-DOPA", 1: "X", ...}: two iss keys.
func dupKeyMap(t *testing.T) []byte {
	w := wireClaims(t, thaiClaims())
	delete(w, 1)
	rest := mustCBOR(t, w) // a map header then pairs
	n := rest[0] & 0x1f
	out := []byte{0xa0 | (n + 2)}
	out = append(out, mustCBOR(t, 1)...)
	out = append(out, mustCBOR(t, "TH-DOPA")...)
	out = append(out, mustCBOR(t, 1)...)
	out = append(out, mustCBOR(t, "X")...)
	return append(out, rest[1:]...)
}

func TestTruncated(t *testing.T) {
	k := newTestKeys(t)
	trust := k.trust(t)
	good := mustIssue(t, vietClaims(), "vn-1", k.ed)
	body := len(good) - len(Prefix)
	cuts := map[int]bool{}
	for _, n := range []int{0, 1, 2, 3, 4, 5, 6, body / 3, body / 2, body - 6, body - 4, body - 3, body - 2, body - 1} {
		cuts[n] = true
	}
	for n := range cuts {
		p := good[:len(Prefix)+n]
		c, err := Decode([]byte(p), trust, testNow, Limits{})
		if c != nil {
			t.Fatalf("cut to %d: got claims", n)
		}
		wrapsOne(t, err, ErrFormat)
	}
	// Every single cut also fails, and never with another sentinel.
	for n := range body {
		_, err := Decode([]byte(good[:len(Prefix)+n]), trust, testNow, Limits{})
		wrapsOne(t, err, ErrFormat)
	}
}

func TestOversizedLimit(t *testing.T) {
	k := newTestKeys(t)
	trust := k.trust(t)
	good := mustIssue(t, thaiClaims(), "th-1", k.p256a)
	if _, err := Decode([]byte(good), trust, testNow, Limits{MaxPayload: len(good)}); err != nil {
		t.Fatalf("at the limit: %v", err)
	}
	_, err := Decode([]byte(good), trust, testNow, Limits{MaxPayload: len(good) - 1})
	wrapsOne(t, err, ErrTooLarge)
	// A legitimate but large credential (say, a photo) that inflates past a
	// tight bound.
	_, err = Decode([]byte(good), trust, testNow, Limits{MaxDecompressed: 64})
	wrapsOne(t, err, ErrTooLarge)
}

func TestKeyRotation(t *testing.T) {
	k := newTestKeys(t)
	old := mustIssue(t, thaiClaims(), "th-1", k.p256a)
	next := mustIssue(t, thaiClaims(), "th-2", k.p256b)
	both, err := NewTrustList(map[string]crypto.PublicKey{"th-1": k.p256a.Public(), "th-2": k.p256b.Public()})
	if err != nil {
		t.Fatal(err)
	}
	for kid, p := range map[string]string{"th-1": old, "th-2": next} {
		c, err := Decode([]byte(p), both, testNow, Limits{})
		if err != nil {
			t.Fatalf("%s with both keys trusted: %v", kid, err)
		}
		if c.KeyID != kid {
			t.Fatalf("KeyID = %q, want %q", c.KeyID, kid)
		}
	}
	onlyNew, err := NewTrustList(map[string]crypto.PublicKey{"th-2": k.p256b.Public()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Decode([]byte(next), onlyNew, testNow, Limits{}); err != nil {
		t.Fatalf("new key after rotation: %v", err)
	}
	_, err = Decode([]byte(old), onlyNew, testNow, Limits{})
	wrapsOne(t, err, ErrUnknownIssuer)
	// A retired key ID reused for the new key does not verify old tokens.
	reused, err := NewTrustList(map[string]crypto.PublicKey{"th-1": k.p256b.Public()})
	if err != nil {
		t.Fatal(err)
	}
	_, err = Decode([]byte(old), reused, testNow, Limits{})
	wrapsOne(t, err, ErrSignature)
	_, err = Decode([]byte(old), nil, testNow, Limits{})
	wrapsOne(t, err, ErrUnknownIssuer)
}

func TestIssueRefusesBadClaims(t *testing.T) {
	k := newTestKeys(t)
	for name, edit := range map[string]func(*Claims){
		"no issuer":          func(c *Claims) { c.Issuer = "" },
		"no citizen ID":      func(c *Claims) { c.CitizenID = "" },
		"no name":            func(c *Claims) { c.Name, c.GivenName, c.FamilyName = "", "", "" },
		"bad Thai ID":        func(c *Claims) { c.CitizenID = badCheck(c.CitizenID) },
		"exp before iat":     func(c *Claims) { c.Expires = c.IssuedAt.Add(-time.Second) },
		"no exp":             func(c *Claims) { c.Expires = time.Time{} },
		"bad birth date":     func(c *Claims) { c.BirthDate = "12/04/1985" },
		"bad gender":         func(c *Claims) { c.Gender = "m" },
		"control in address": func(c *Claims) { c.Address = "a\rb" },
	} {
		c := thaiClaims()
		edit(&c)
		if p, err := Issue(c, "th-1", k.p256a); err == nil {
			t.Errorf("%s: issued %d chars", name, len(p))
		}
	}
	if _, err := Issue(thaiClaims(), "", k.p256a); err == nil {
		t.Error("empty kid accepted")
	}
	big := thaiClaims()
	var addr []rune // incompressible Thai text
	rng := mrand.New(mrand.NewPCG(1, 2))
	for range 3000 {
		addr = append(addr, rune(0x0E01+rng.IntN(46)))
	}
	big.Address = string(addr)
	if _, err := Issue(big, "th-1", k.p256a); !errors.Is(err, ErrTooLarge) {
		t.Errorf("a credential too big for the reader: %v", err)
	}
}

// The forms RFC 8392 and RFC 9052 allow for the envelope all decode.
func TestEnvelopeForms(t *testing.T) {
	k := newTestKeys(t)
	trust := k.trust(t)
	raw := unwrap(t, mustIssue(t, vietClaims(), "vn-1", k.ed))
	if raw[0] != 0xd2 {
		t.Fatalf("Issue wrote %s, want tag 18 first", describe(raw))
	}
	for name, b := range map[string][]byte{
		"tag 18":             raw,
		"tag 61 over tag 18": append([]byte{0xd8, 0x3d}, raw...),
		"untagged":           raw[1:],
	} {
		c, err := Decode([]byte(wrap(b)), trust, testNow, Limits{})
		if err != nil || c.Name != vietClaims().Name {
			t.Errorf("%s: %v", name, err)
		}
	}
}
