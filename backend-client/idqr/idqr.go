package idqr

import (
	"errors"
	"time"
)

// Prefix starts every payload this package reads and writes.
const Prefix = "NID1:"

// Sentinel errors. Decode wraps exactly one of them, with detail that
// never contains personal data, so the caller can pick the message for the
// citizen with errors.Is.
var (
	// ErrFormat: not a well-formed identity QR (wrong prefix, not Base45,
	// truncated, corrupt, wrong structure, missing or malformed claims).
	ErrFormat = errors.New("idqr: not a valid identity QR")
	// ErrTooLarge: over the QR size limit, or inflating past the bound.
	ErrTooLarge = errors.New("idqr: identity QR too large")
	// ErrSignature: the signature or its algorithm is wrong.
	ErrSignature = errors.New("idqr: identity QR signature is not valid")
	// ErrUnknownIssuer: signed with a key (or for an issuer) the kiosk does
	// not trust.
	ErrUnknownIssuer = errors.New("idqr: identity QR from an unknown issuer")
	// ErrExpired: past its expiry.
	ErrExpired = errors.New("idqr: identity QR has expired")
	// ErrNotYetValid: not valid yet (nbf or iat in the future).
	ErrNotYetValid = errors.New("idqr: identity QR is not valid yet")
)

// Defaults for a zero Limits field.
const (
	// DefaultMaxPayload is the kiosk QR reader's frame limit
	// (drivers/qrreader.DefaultMaxLen). The largest QR code, version 40 at
	// error correction L, holds 4296 characters in alphanumeric mode, which
	// is what a "NID1:" payload uses (the prefix and Base45 are all in the
	// QR alphanumeric set), and 2953 bytes in byte mode; the reader drops
	// frames over 4096 bytes, so nothing longer can be a real scan. A
	// realistic credential without a photo is 300-600 characters.
	DefaultMaxPayload = 4096
	// DefaultMaxDecompressed bounds the inflated COSE message: 16 KiB is
	// about six times what the largest accepted payload holds when it does
	// not compress, and far below what a deflate bomb of that size reaches
	// (about 2 MiB from 3 KiB of text).
	DefaultMaxDecompressed = 16 << 10
	// DefaultClockSkew is how far the kiosk's clock may be from the
	// issuer's.
	DefaultClockSkew = 5 * time.Minute
)

// Limits bounds the work Decode does and the clock tolerance. Zero fields
// take the defaults; a negative ClockSkew means none.
type Limits struct {
	MaxPayload      int           // bytes of scanned text, prefix included
	MaxDecompressed int           // bytes of inflated COSE message
	ClockSkew       time.Duration // tolerance on exp, nbf and iat
}

func (l Limits) withDefaults() Limits {
	if l.MaxPayload <= 0 {
		l.MaxPayload = DefaultMaxPayload
	}
	if l.MaxDecompressed <= 0 {
		l.MaxDecompressed = DefaultMaxDecompressed
	}
	if l.ClockSkew == 0 {
		l.ClockSkew = DefaultClockSkew
	} else if l.ClockSkew < 0 {
		l.ClockSkew = 0
	}
	return l
}
