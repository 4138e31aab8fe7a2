// Package idqr reads and writes the kiosk's offline signed identity QR: a
// CBOR Web Token (RFC 8392) signed in a COSE_Sign1 envelope (RFC 9052),
// zlib-compressed (RFC 1950) and Base45-encoded (RFC 9285), behind the text
// prefix "NID1:". It has the shape of the EU Digital COVID Certificate
// ("HC1:") and of MOSIP Claim 169 identity QR codes, whose claim numbers
// it reuses.
//
// The credential may prefill and cross-check a form. It is a copy of signed
// data that anyone holding the card or a photo of it can present, so it
// never logs a citizen in on its own.
//
//	payload  = "NID1:" base45( zlib( COSE_Sign1 ) )
//	COSE_Sign1 = [ protected: bstr .cbor {1: alg, 4: kid}, unprotected: {},
//	               payload: bstr .cbor CWT, signature: bstr ]
//
// The COSE_Sign1 may carry CBOR tag 18, optionally inside the CWT tag 61;
// untagged is accepted too. alg and kid must both be in the protected
// header; a "crit" header is refused (nothing here is optional to
// understand).
//
// # Claims
//
// The CWT is a CBOR map with integer keys:
//
//	key  claim                           Claims field   required
//	1    iss  (RFC 8392)                 Issuer         yes
//	4    exp  (RFC 8392, NumericDate)    Expires        yes
//	5    nbf  (RFC 8392, NumericDate)    -              no, checked if present
//	6    iat  (RFC 8392, NumericDate)    IssuedAt       yes
//	169  identity data (MOSIP Claim 169), a map:
//	     1   ID                tstr      CitizenID      yes
//	     4   Full Name         tstr      Name           Name, or GivenName
//	     5   First Name        tstr      GivenName        or FamilyName
//	     7   Last Name         tstr      FamilyName
//	     8   Date of Birth     tstr      BirthDate      no; "YYYYMMDD" on the
//	                                                    wire, "YYYY-MM-DD" in Claims
//	     9   Gender            int       Gender         no; 1 male, 2 female,
//	                                                    3 other (a tstr "1".."3" is
//	                                                    accepted too)
//	     10  Address           tstr      Address        no; lines separated by "\n"
//	     13  Nationality       tstr      Nationality    no; ISO 3166 alpha-2 or -3
//
// Other Claim 169 attributes (photo, e-mail, phone, biometrics, ...) and
// other top-level claims are ignored. Text is kept byte for byte (no Unicode
// normalisation), so Thai and Vietnamese names come out exactly as signed.
//
// # Checks, in order
//
// Decode refuses, with an error wrapping one sentinel:
//
//   - ErrTooLarge: a payload over Limits.MaxPayload bytes, before any
//     decoding; a zlib stream that inflates past Limits.MaxDecompressed
//     (reading stops at the bound plus one byte).
//   - ErrFormat: a missing prefix; invalid Base45; a truncated or corrupt
//     zlib stream, a bad checksum or bytes after it; anything but one
//     COSE_Sign1 (a COSE_Sign, an array of the wrong length, a nil or
//     detached payload, trailing bytes); a protected header without alg or
//     kid, or with crit; a CWT that is not a map of the types above;
//     missing required claims; exp not after iat; a malformed date, gender
//     or citizen ID (a 13-digit or Thai-national ID must pass the Thai
//     mod-11 checksum; a Vietnamese-national ID must be 12 digits); control
//     characters in text.
//   - ErrUnknownIssuer: a kid not in the trust list, or an iss other than
//     the one the trust list binds to that kid.
//   - ErrSignature: an alg other than the one the trusted key is for (no
//     "none", no HMAC, no ES256 header on an Ed25519 key and so on), or a
//     signature that does not verify.
//   - ErrNotYetValid: nbf or iat later than now plus Limits.ClockSkew.
//   - ErrExpired: exp at or before now minus Limits.ClockSkew.
//
// The signature is checked before any claim is parsed.
package idqr
