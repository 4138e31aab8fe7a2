package idqr

import (
	"bytes"
	"compress/zlib"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"fmt"
	"testing"
	"time"

	"github.com/fxamacker/cbor/v2"
	"github.com/veraison/go-cose"

	"govkiosk/backend-client/idqr/base45"
)

var testNow = time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)

// thaiID completes twelve digits with the Thai mod-11 check digit.
func thaiID(first12 string) string {
	sum := 0
	for i := range 12 {
		sum += int(first12[i]-'0') * (13 - i)
	}
	return first12 + string(rune('0'+(11-sum%11)%10))
}

func thaiClaims() Claims {
	return Claims{
		Issuer:      "TH-DOPA",
		CitizenID:   thaiID("110370012345"),
		Name:        "สมชาย ใจดี",
		GivenName:   "สมชาย",
		FamilyName:  "ใจดี",
		BirthDate:   "1985-04-12",
		Gender:      "male",
		Address:     "99/1 ถนนพหลโยธิน\nแขวงจตุจักร เขตจตุจักร\nกรุงเทพมหานคร 10900",
		Nationality: "TH",
		IssuedAt:    testNow.Add(-24 * time.Hour),
		Expires:     testNow.Add(365 * 24 * time.Hour),
	}
}

func vietClaims() Claims {
	return Claims{
		Issuer:      "VN-C06",
		CitizenID:   "001190012345",
		Name:        "Nguyễn Thị Hồng Nhung",
		GivenName:   "Hồng Nhung",
		FamilyName:  "Nguyễn",
		BirthDate:   "1990-11-02",
		Gender:      "female",
		Address:     "Số 1 Tràng Tiền, phường Hoàn Kiếm, Hà Nội",
		Nationality: "VNM",
		IssuedAt:    testNow.Add(-time.Hour),
		NotBefore:   testNow.Add(-time.Hour),
		Expires:     testNow.Add(30 * 24 * time.Hour),
	}
}

type testKeys struct {
	p256a, p256b, p384 *ecdsa.PrivateKey
	ed                 ed25519.PrivateKey
}

func newTestKeys(t testing.TB) testKeys {
	t.Helper()
	gen := func(c elliptic.Curve) *ecdsa.PrivateKey {
		k, err := ecdsa.GenerateKey(c, rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	return testKeys{
		p256a: gen(elliptic.P256()), p256b: gen(elliptic.P256()), p384: gen(elliptic.P384()),
		ed: ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, 32)),
	}
}

// trust: "th-1" (P-256 a, issuer TH-DOPA), "th-2" (P-256 b), "vn-1"
// (Ed25519), "p384" (P-384).
func (k testKeys) trust(t testing.TB) *TrustList {
	t.Helper()
	tl, err := NewTrustListKeys(
		TrustedKey{KID: "th-1", Issuer: "TH-DOPA", Key: k.p256a.Public()},
		TrustedKey{KID: "th-2", Key: k.p256b.Public()},
		TrustedKey{KID: "vn-1", Key: k.ed.Public()},
		TrustedKey{KID: "p384", Key: k.p384.Public()},
	)
	if err != nil {
		t.Fatal(err)
	}
	return tl
}

func mustIssue(t testing.TB, c Claims, kid string, key crypto.Signer) string {
	t.Helper()
	s, err := Issue(c, kid, key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// unwrap undoes Prefix, Base45 and zlib (no limits; for building tests).
func unwrap(t testing.TB, payload string) []byte {
	t.Helper()
	z, err := base45.Decode([]byte(payload[len(Prefix):]))
	if err != nil {
		t.Fatal(err)
	}
	zr, err := zlib.NewReader(bytes.NewReader(z))
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if _, err := b.ReadFrom(zr); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// wrap compresses raw bytes into a payload.
func wrap(raw []byte) string { return Prefix + base45.Encode(zlibBytes(raw)) }

func zlibBytes(raw []byte) []byte {
	var z bytes.Buffer
	zw, _ := zlib.NewWriterLevel(&z, zlib.BestCompression)
	zw.Write(raw)
	zw.Close()
	return z.Bytes()
}

func mustCBOR(t testing.TB, v any) []byte {
	t.Helper()
	b, err := cbor.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// craft builds a COSE_Sign1 by hand: any protected and unprotected header
// maps, any payload, signed by sign over the RFC 9052 Sig_structure (nil
// sign: a fixed junk signature). tag 0 means untagged.
func craft(t testing.TB, tag uint64, protected, unprotected map[any]any, payload []byte, sign func([]byte) []byte) []byte {
	t.Helper()
	var prot []byte
	if len(protected) > 0 {
		prot = mustCBOR(t, protected)
	} else {
		prot = []byte{}
	}
	if unprotected == nil {
		unprotected = map[any]any{}
	}
	tbs := mustCBOR(t, []any{"Signature1", prot, []byte{}, payload})
	sig := bytes.Repeat([]byte{0x5a}, 64)
	if sign != nil {
		sig = sign(tbs)
	}
	body := []any{prot, unprotected, payload, sig}
	if tag == 0 {
		return mustCBOR(t, body)
	}
	return mustCBOR(t, cbor.Tag{Number: tag, Content: body})
}

// signWith signs a Sig_structure with a key as the COSE alg would.
func signWith(t testing.TB, alg cose.Algorithm, key crypto.Signer) func([]byte) []byte {
	return func(tbs []byte) []byte {
		s, err := cose.NewSigner(alg, key)
		if err != nil {
			t.Fatal(err)
		}
		sig, err := s.Sign(rand.Reader, tbs)
		if err != nil {
			t.Fatal(err)
		}
		return sig
	}
}

// es256Header is a well-formed protected header for kid.
func es256Header(kid string) map[any]any {
	return map[any]any{int64(1): int64(cose.AlgorithmES256), int64(4): []byte(kid)}
}

// wireClaims is the CWT of c, as a generic map that tests can spoil.
func wireClaims(t testing.TB, c Claims) map[any]any {
	t.Helper()
	w := map[any]any{
		1: c.Issuer, 4: c.Expires.Unix(), 6: c.IssuedAt.Unix(),
		169: map[any]any{1: c.CitizenID, 4: c.Name},
	}
	if c.Nationality != "" {
		w[169].(map[any]any)[13] = c.Nationality
	}
	return w
}

func describe(b []byte) string { return fmt.Sprintf("% x", b[:min(len(b), 8)]) }

func b45(b []byte) string { return base45.Encode(b) }

// fmtAll formats c every way fmt can.
func fmtAll(c *Claims) string {
	return fmt.Sprint(c, *c) + fmt.Sprintf("%v %+v %#v %s %v %+v %#v", c, c, c, c, *c, *c, *c)
}
