package api

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"slices"
	"strings"
	"unicode/utf8"
)

// Review is what the citizen saw on the review screen and confirms with the
// code sent to their phone: the procedure, who applies, the form values and
// each document. The kiosk sends its digest (ReviewDigest) with the code
// (ConfirmationVerify.ReviewDigest); the portal binds the confirmation
// token to it and to the kiosk, and at intake recomputes it from the
// packet's manifest and the documents it received (ReviewOf), refusing any
// difference. One implementation here serves both sides.
type Review struct {
	ProcedureID string
	Applicant   Applicant
	Form        map[string]string
	Documents   []ReviewDocument // in the manifest's order
}

// ReviewDocument is one document of a Review.
type ReviewDocument struct {
	Type   string
	SHA256 string // hex of the plaintext PDF
}

// ReviewOf is the review a manifest describes.
func ReviewOf(m Manifest) Review {
	r := Review{ProcedureID: m.ProcedureID, Applicant: m.Applicant, Form: m.Form}
	for _, d := range m.Documents {
		r.Documents = append(r.Documents, ReviewDocument{Type: d.Type, SHA256: d.SHA256})
	}
	return r
}

// reviewDomain separates review digests from any other SHA-256 in the system
// and names the encoding's version.
const reviewDomain = "govkiosk review digest v1"

// CanonicalReview is the unambiguous byte encoding of r that ReviewDigest
// hashes. Every string is written as a 4-byte big-endian length and its
// bytes; every list as a 4-byte count and its items:
//
//	domain "govkiosk review digest v1"
//	procedureId
//	applicant: citizenId, name, birthDate, phone
//	form: count, then name and value per field, by name in byte order
//	documents: count, then type and sha256 (lower-case hex) per document, in order
//
// Strings are first made valid UTF-8 the way encoding/json does (each
// invalid byte becomes U+FFFD), so a review digested from the kiosk's
// memory equals the one digested from the manifest the portal decodes.
func CanonicalReview(r Review) []byte {
	var b []byte
	str := func(s string) {
		s = jsonUTF8(s)
		b = binary.BigEndian.AppendUint32(b, uint32(len(s)))
		b = append(b, s...)
	}
	count := func(n int) { b = binary.BigEndian.AppendUint32(b, uint32(n)) }

	str(reviewDomain)
	str(r.ProcedureID)
	str(r.Applicant.CitizenID)
	str(r.Applicant.Name)
	str(r.Applicant.BirthDate)
	str(r.Applicant.Phone)
	form := make(map[string]string, len(r.Form))
	for k, v := range r.Form {
		form[jsonUTF8(k)] = v
	}
	names := make([]string, 0, len(form))
	for k := range form {
		names = append(names, k)
	}
	slices.Sort(names)
	count(len(names))
	for _, k := range names {
		str(k)
		str(form[k])
	}
	count(len(r.Documents))
	for _, d := range r.Documents {
		str(d.Type)
		str(strings.ToLower(d.SHA256))
	}
	return b
}

// ReviewDigest is the lower-case hex SHA-256 of CanonicalReview(r).
func ReviewDigest(r Review) string {
	sum := sha256.Sum256(CanonicalReview(r))
	return hex.EncodeToString(sum[:])
}

// ValidReviewDigest reports whether s has the form of a ReviewDigest.
func ValidReviewDigest(s string) bool {
	if len(s) != 2*sha256.Size {
		return false
	}
	for _, c := range []byte(s) {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// jsonUTF8 returns s as encoding/json carries it: each byte that is not
// part of valid UTF-8 replaced by U+FFFD.
func jsonUTF8(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	var sb strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 {
			sb.WriteRune(utf8.RuneError)
		} else {
			sb.WriteString(s[i : i+n])
		}
		i += n
	}
	return sb.String()
}
