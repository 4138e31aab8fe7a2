package idqr

import (
	"bytes"
	"compress/zlib"
	"crypto"
	"crypto/rand"
	"errors"
	"fmt"

	"github.com/fxamacker/cbor/v2"
	"github.com/veraison/go-cose"

	"govkiosk/backend-client/idqr/base45"
)

var claimsEncMode = func() cbor.EncMode {
	m, err := cbor.EncOptions{Sort: cbor.SortCoreDeterministic, IndefLength: cbor.IndefLengthForbidden}.EncMode()
	if err != nil {
		panic(err)
	}
	return m
}()

// Issue signs c under key ID kid and returns the QR text ("NID1:…"). The
// algorithm follows the key: ES256 for P-256, ES384 for P-384, EdDSA for
// Ed25519. c must pass the checks Decode makes on content (required
// claims, dates, IDs) and the result must fit DefaultMaxPayload (else an
// error wrapping ErrTooLarge); KeyID is ignored. It is for tests and for the
// reference portal's phone simulator; a real issuer keeps its key in an
// HSM behind a crypto.Signer.
func Issue(c Claims, kid string, key crypto.Signer) (string, error) {
	if kid == "" {
		return "", errors.New("idqr: issue: empty key ID")
	}
	if key == nil {
		return "", errors.New("idqr: issue: nil key")
	}
	w, err := c.toWire()
	if err != nil {
		return "", fmt.Errorf("idqr: issue: %w", err)
	}
	payload, err := claimsEncMode.Marshal(w)
	if err != nil {
		return "", fmt.Errorf("idqr: issue: claims: %w", err)
	}
	alg, err := algorithmFor(key.Public())
	if err != nil {
		return "", fmt.Errorf("idqr: issue: %w", err)
	}
	signer, err := cose.NewSigner(alg, key)
	if err != nil {
		return "", fmt.Errorf("idqr: issue: %w", err)
	}
	msg := cose.NewSign1Message()
	msg.Headers.Protected.SetAlgorithm(alg)
	msg.Headers.Protected[cose.HeaderLabelKeyID] = []byte(kid)
	msg.Payload = payload
	if err := msg.Sign(rand.Reader, nil, signer); err != nil {
		return "", fmt.Errorf("idqr: issue: sign: %w", err)
	}
	raw, err := msg.MarshalCBOR()
	if err != nil {
		return "", fmt.Errorf("idqr: issue: %w", err)
	}
	var z bytes.Buffer
	zw, err := zlib.NewWriterLevel(&z, zlib.BestCompression)
	if err != nil {
		return "", err
	}
	if _, err := zw.Write(raw); err != nil {
		return "", err
	}
	if err := zw.Close(); err != nil {
		return "", err
	}
	out := Prefix + base45.Encode(z.Bytes())
	if len(out) > DefaultMaxPayload {
		return "", fmt.Errorf("idqr: issue: %w: %d characters, the kiosk reads at most %d", ErrTooLarge, len(out), DefaultMaxPayload)
	}
	return out, nil
}
