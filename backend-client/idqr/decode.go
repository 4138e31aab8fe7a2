package idqr

import (
	"bytes"
	"compress/zlib"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/fxamacker/cbor/v2"
	"github.com/veraison/go-cose"

	"govkiosk/backend-client/idqr/base45"
)

// claimsMode decodes the CWT strictly: no duplicate keys, no indefinite
// lengths, no tags, shallow nesting, small containers.
var claimsMode = func() cbor.DecMode {
	m, err := cbor.DecOptions{
		DupMapKey:        cbor.DupMapKeyEnforcedAPF,
		IndefLength:      cbor.IndefLengthForbidden,
		TagsMd:           cbor.TagsForbidden,
		IntDec:           cbor.IntDecConvertSignedOrFail,
		MaxNestedLevels:  8,
		MaxArrayElements: 256,
		MaxMapPairs:      256,
		UTF8:             cbor.UTF8RejectInvalid,
	}.DecMode()
	if err != nil {
		panic(err)
	}
	return m
}()

// Decode verifies a scanned identity QR payload against the trust list at
// time now and returns its claims. Every failure wraps one of the package's
// sentinel errors (see the package documentation for which check gives
// which); the detail never includes personal data. Work and memory are
// bounded by lim (zero fields take the defaults).
func Decode(payload []byte, trust *TrustList, now time.Time, lim Limits) (*Claims, error) {
	lim = lim.withDefaults()
	if len(payload) > lim.MaxPayload {
		return nil, fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, len(payload), lim.MaxPayload)
	}
	if !bytes.HasPrefix(payload, []byte(Prefix)) {
		return nil, fmt.Errorf("%w: no %q prefix", ErrFormat, Prefix)
	}
	compressed, err := base45.Decode(payload[len(Prefix):])
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrFormat, err)
	}
	msg, err := inflate(compressed, lim.MaxDecompressed)
	if err != nil {
		return nil, err
	}
	sign1, err := parseSign1(msg)
	if err != nil {
		return nil, err
	}
	key, err := verify(sign1, trust)
	if err != nil {
		return nil, err
	}
	c, err := parseClaims(sign1.Payload)
	if err != nil {
		return nil, err
	}
	c.KeyID = key.KID
	if key.Issuer != "" && c.Issuer != key.Issuer {
		return nil, fmt.Errorf("%w: key %q is not trusted for issuer %q", ErrUnknownIssuer, key.KID, c.Issuer)
	}
	skew := lim.ClockSkew
	switch {
	case !c.NotBefore.IsZero() && now.Add(skew).Before(c.NotBefore):
		return nil, fmt.Errorf("%w: nbf %s, now %s", ErrNotYetValid, c.NotBefore.Format(time.RFC3339), now.UTC().Format(time.RFC3339))
	case now.Add(skew).Before(c.IssuedAt):
		return nil, fmt.Errorf("%w: iat %s, now %s", ErrNotYetValid, c.IssuedAt.Format(time.RFC3339), now.UTC().Format(time.RFC3339))
	case !now.Add(-skew).Before(c.Expires):
		return nil, fmt.Errorf("%w: exp %s, now %s", ErrExpired, c.Expires.Format(time.RFC3339), now.UTC().Format(time.RFC3339))
	}
	return c, nil
}

// parseClaims reads the CWT claims of a verified message.
func parseClaims(b []byte) (*Claims, error) {
	var w wireCWT
	if err := claimsMode.Unmarshal(b, &w); err != nil {
		return nil, fmt.Errorf("%w: claims: %v", ErrFormat, cborDetail(err))
	}
	c, err := fromWire(w)
	if err != nil {
		return nil, fmt.Errorf("%w: claims: %v", ErrFormat, err)
	}
	return c, nil
}

// inflate decompresses one zlib stream, stopping as soon as the output
// passes limit (it never holds more than limit+1 bytes of output), and
// refuses a bad checksum or bytes after the stream.
func inflate(compressed []byte, limit int) ([]byte, error) {
	src := bytes.NewReader(compressed)
	out, err := inflateFrom(src, limit)
	if err != nil {
		return nil, err
	}
	if src.Len() != 0 {
		return nil, fmt.Errorf("%w: %d bytes after the zlib stream", ErrFormat, src.Len())
	}
	return out, nil
}

// inflateFrom reads a zlib stream from src. src should be an io.ByteReader
// (as bytes.Reader is) so that the decompressor reads no further than the
// stream's end.
func inflateFrom(src io.Reader, limit int) ([]byte, error) {
	zr, err := zlib.NewReader(src)
	if err != nil {
		return nil, fmt.Errorf("%w: inflate: %v", ErrFormat, err)
	}
	defer zr.Close()
	var buf bytes.Buffer
	n, err := buf.ReadFrom(io.LimitReader(zr, int64(limit)+1))
	if n > int64(limit) {
		return nil, fmt.Errorf("%w: inflates past %d bytes", ErrTooLarge, limit)
	}
	if err != nil {
		// Includes a truncated stream (io.ErrUnexpectedEOF) and
		// zlib.ErrChecksum, which zlib reports in place of io.EOF.
		return nil, fmt.Errorf("%w: inflate: %v", ErrFormat, err)
	}
	return buf.Bytes(), nil
}

// parseSign1 accepts exactly one COSE_Sign1: tagged 18, tagged 61(18(...))
// as a CWT, or untagged; with an attached payload.
func parseSign1(b []byte) (*cose.Sign1Message, error) {
	if len(b) >= 2 && b[0] == 0xd8 && b[1] == 0x3d { // tag 61, CWT
		b = b[2:]
	}
	var msg cose.Sign1Message
	switch {
	case len(b) == 0:
		return nil, fmt.Errorf("%w: empty COSE message", ErrFormat)
	case b[0] == 0xd2: // tag 18, COSE_Sign1
		if err := msg.UnmarshalCBOR(b); err != nil {
			return nil, fmt.Errorf("%w: COSE_Sign1: %v", ErrFormat, err)
		}
	case b[0] == 0x84: // an array of 4: untagged COSE_Sign1
		var u cose.UntaggedSign1Message
		if err := u.UnmarshalCBOR(b); err != nil {
			return nil, fmt.Errorf("%w: COSE_Sign1: %v", ErrFormat, err)
		}
		msg = cose.Sign1Message(u)
	case len(b) >= 2 && b[0] == 0xd8 && b[1] == cose.CBORTagSignMessage:
		return nil, fmt.Errorf("%w: a COSE_Sign (tag 98), not a COSE_Sign1", ErrFormat)
	default:
		return nil, fmt.Errorf("%w: not a COSE_Sign1 (starts 0x%02x)", ErrFormat, b[0])
	}
	if msg.Payload == nil {
		return nil, fmt.Errorf("%w: COSE_Sign1 has no attached payload", ErrFormat)
	}
	return &msg, nil
}

// verify finds the key by the protected kid and checks the signature with
// the algorithm that key is for, refusing any other alg in the header.
func verify(msg *cose.Sign1Message, trust *TrustList) (TrustedKey, error) {
	ph := msg.Headers.Protected
	if _, ok := ph[cose.HeaderLabelCritical]; ok {
		return TrustedKey{}, fmt.Errorf("%w: crit header not supported", ErrFormat)
	}
	alg, err := ph.Algorithm()
	if errors.Is(err, cose.ErrAlgorithmNotFound) {
		return TrustedKey{}, fmt.Errorf("%w: no alg in the protected header", ErrFormat)
	}
	kid, ok := ph[cose.HeaderLabelKeyID].([]byte)
	if !ok || len(kid) == 0 {
		return TrustedKey{}, fmt.Errorf("%w: no kid in the protected header", ErrFormat)
	}
	key, ok := trust.lookup(kid)
	if !ok {
		return TrustedKey{}, fmt.Errorf("%w: key ID %q is not in the trust list", ErrUnknownIssuer, printable(kid))
	}
	if err != nil || alg != key.alg {
		return TrustedKey{}, fmt.Errorf("%w: alg %v, but key %q is for %v", ErrSignature, ph[cose.HeaderLabelAlgorithm], key.KID, key.alg)
	}
	if err := msg.Verify(nil, key.verifier); err != nil {
		return TrustedKey{}, fmt.Errorf("%w: key %q: %v", ErrSignature, key.KID, err)
	}
	return key.TrustedKey, nil
}

// printable quotes an unknown kid safely and briefly for an error.
func printable(b []byte) string {
	const max = 32
	if len(b) > max {
		return string(b[:max]) + "…"
	}
	return string(b)
}

// cborDetail keeps decoder errors short and free of data: the decoder
// quotes nothing but a duplicate key, which is dropped here.
func cborDetail(err error) string {
	var dup *cbor.DupMapKeyError
	if errors.As(err, &dup) {
		return "duplicate map key"
	}
	s := err.Error()
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}
