package idqr

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"log/slog"
	"reflect"
	"strings"
	"testing"
)

func TestTrustListJSONRoundTrip(t *testing.T) {
	k := newTestKeys(t)
	tl := k.trust(t)
	b, err := json.Marshal(tl)
	if err != nil {
		t.Fatal(err)
	}
	back, err := ParseTrustListJSON(b)
	if err != nil {
		t.Fatalf("%v\n%s", err, b)
	}
	if !reflect.DeepEqual(back.KeyIDs(), []string{"p384", "th-1", "th-2", "vn-1"}) {
		t.Fatalf("key IDs %v", back.KeyIDs())
	}
	// Tokens from every key verify against the parsed list, and the issuer
	// binding survived.
	for kid, key := range map[string]crypto.Signer{"th-1": k.p256a, "th-2": k.p256b, "vn-1": k.ed, "p384": k.p384} {
		if _, err := Decode([]byte(mustIssue(t, thaiClaims(), kid, key)), back, testNow, Limits{}); err != nil {
			t.Errorf("%s: %v", kid, err)
		}
	}
	c := thaiClaims()
	c.Issuer = "Elsewhere"
	_, err = Decode([]byte(mustIssue(t, c, "th-1", k.p256a)), back, testNow, Limits{})
	wrapsOne(t, err, ErrUnknownIssuer)
}

func TestParseTrustListJSON(t *testing.T) {
	k := newTestKeys(t)
	pub, _ := k.p256a.PublicKey.Bytes()
	priv, err := k.p256a.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	b64 := base64.RawURLEncoding.EncodeToString
	x, y := b64(pub[1:33]), b64(pub[33:])
	edx := b64(k.ed.Public().(ed25519.PublicKey))
	ec := func(extra string) string {
		return `{"keys":[{"kty":"EC","crv":"P-256","kid":"a","x":"` + x + `","y":"` + y + `"` + extra + `}]}`
	}
	good := map[string]string{
		"P-256 minimal":   ec(""),
		"P-256 full":      ec(`,"alg":"ES256","use":"sig","iss":"TH-DOPA"`),
		"Ed25519":         `{"keys":[{"kty":"OKP","crv":"Ed25519","kid":"e","x":"` + edx + `","alg":"EdDSA"}]}`,
		"empty":           `{"keys":[]}`,
		"unknown members": ec(`,"x5t":"abc","key_ops":["verify"]`),
	}
	for name, js := range good {
		if _, err := ParseTrustListJSON([]byte(js)); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	offCurve := b64(bytes.Repeat([]byte{1}, 32))
	bad := map[string]string{
		"private key":       ec(`,"d":"` + b64(priv) + `"`),
		"alg mismatch":      ec(`,"alg":"EdDSA"`),
		"alg none":          ec(`,"alg":"none"`),
		"use enc":           ec(`,"use":"enc"`),
		"point off curve":   `{"keys":[{"kty":"EC","crv":"P-256","kid":"a","x":"` + x + `","y":"` + offCurve + `"}]}`,
		"short x":           `{"keys":[{"kty":"EC","crv":"P-256","kid":"a","x":"AQ","y":"` + y + `"}]}`,
		"padded base64":     `{"keys":[{"kty":"EC","crv":"P-256","kid":"a","x":"` + x + `=","y":"` + y + `"}]}`,
		"RSA":               `{"keys":[{"kty":"RSA","kid":"r","n":"AQAB","e":"AQAB"}]}`,
		"oct (HMAC secret)": `{"keys":[{"kty":"oct","kid":"h","k":"c2VjcmV0"}]}`,
		"P-521":             `{"keys":[{"kty":"EC","crv":"P-521","kid":"a","x":"` + x + `","y":"` + y + `"}]}`,
		"Ed25519 short":     `{"keys":[{"kty":"OKP","crv":"Ed25519","kid":"e","x":"AQID"}]}`,
		"no kid":            `{"keys":[{"kty":"OKP","crv":"Ed25519","x":"` + edx + `"}]}`,
		"duplicate kid":     `{"keys":[{"kty":"OKP","crv":"Ed25519","kid":"e","x":"` + edx + `"},{"kty":"OKP","crv":"Ed25519","kid":"e","x":"` + edx + `"}]}`,
		"trailing data":     `{"keys":[]} {}`,
		"not JSON":          `keys`,
		"keys not array":    `{"keys":{}}`,
	}
	for name, js := range bad {
		tl, err := ParseTrustListJSON([]byte(js))
		t.Logf("%s: %v", name, err)
		if err == nil {
			t.Errorf("%s: accepted, keys %v", name, tl.KeyIDs())
		}
	}
}

func TestNewTrustListRejects(t *testing.T) {
	rk, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	p521, _ := ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	for name, key := range map[string]crypto.PublicKey{
		"RSA":        rk.Public(),
		"P-521":      p521.Public(),
		"nil":        nil,
		"HMAC bytes": []byte("secret"),
	} {
		if _, err := NewTrustList(map[string]crypto.PublicKey{"k": key}); err == nil {
			t.Errorf("%s key accepted", name)
		}
	}
	k := newTestKeys(t)
	if _, err := NewTrustList(map[string]crypto.PublicKey{"": k.p256a.Public()}); err == nil {
		t.Error("empty kid accepted")
	}
	if _, err := Issue(thaiClaims(), "r", rk); err == nil {
		t.Error("Issue with an RSA key")
	}
}

func TestClaimsRedacted(t *testing.T) {
	k := newTestKeys(t)
	c, err := Decode([]byte(mustIssue(t, thaiClaims(), "th-1", k.p256a)), k.trust(t), testNow, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&buf, nil))
	log.Info("scan", "claims", c, "value", *c)
	log.Info("fmt", "v", fmtAll(c))
	out := buf.String()
	for _, secret := range []string{c.CitizenID, c.Name, c.GivenName, c.FamilyName, c.BirthDate, "1985", "ถนน", "10900"} {
		if strings.Contains(out, secret) {
			t.Fatalf("log leaks %q:\n%s", secret, out)
		}
	}
	if !strings.Contains(out, `"issuer":"TH-DOPA"`) || !strings.Contains(out, `"citizenId":true`) {
		t.Fatalf("log lost the non-personal fields:\n%s", out)
	}
}
