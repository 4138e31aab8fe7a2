package api

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"
)

// The device identity lifecycle: enrollment codes an operator issues for
// one office, short-lived device certificates the kiosk renews itself,
// revocation the portal and the fleet both enforce, and decommissioning.
const (
	// PathRenew renews the kiosk's device certificate: POST RenewRequest
	// (kiosk-signed, over mutual TLS with the current certificate) ->
	// RenewResponse. A revoked or retired kiosk gets 403 CodeKioskRevoked.
	PathRenew = "/api/v1/kiosks/renew"
	// PathDecommission retires the calling kiosk: POST DecommissionRequest
	// (kiosk-signed, mutual TLS) -> 204. Its certificates are revoked at
	// once; the kiosk then wipes its keys and configuration.
	PathDecommission = "/api/v1/kiosks/decommission"
	// PathCRL is the enrollment CA's certificate revocation list: GET ->
	// DER X.509 CRL (application/pkix-crl), signed by the enrollment CA,
	// listing every certificate of every revoked or retired kiosk. The
	// fleet's broker fetches it and refuses those certificates.
	PathCRL = "/api/v1/crl"

	// PathAdminEnrollTokens issues an enrollment code (operators: admin
	// token): POST EnrollTokenRequest -> EnrollTokenResponse.
	PathAdminEnrollTokens = "/api/v1/admin/enroll-tokens"
	// PathAdminKiosks + "{id}/revoke" revokes a kiosk (stolen, lost): POST
	// RevokeRequest -> 204. + "{id}/retire" retires it (decommissioned
	// from the fleet): POST RevokeRequest -> 204. Both are final: the id
	// can come back only by re-enrollment with ReplaceKiosk.
	PathAdminKiosks = "/api/v1/admin/kiosks/"
)

// Error codes of the identity lifecycle.
const (
	CodeKioskRevoked       = "kiosk-revoked"        // the kiosk was revoked or retired: its certificate is refused
	CodeEnrollTokenScope   = "enroll-token-scope"   // the token is for another office or another kiosk
	CodeEnrollTokenExpired = "enroll-token-expired" // the token is past its lifetime
)

// Limits of enrollment tokens.
const (
	DefaultEnrollTokenTTL = 8 * time.Hour
	MaxEnrollTokenTTL     = 72 * time.Hour
	// DefaultDeviceCertTTL is how long a device certificate is valid; the
	// kiosk renews it when less than a third is left (RenewWhenLeft).
	DefaultDeviceCertTTL = 30 * 24 * time.Hour
)

// RenewWhenLeft reports whether a certificate valid from notBefore to
// notAfter should be renewed at now: when less than a third of its
// lifetime is left (10 days of 30), so a kiosk offline for up to 20 days
// still renews in time.
func RenewWhenLeft(notBefore, notAfter, now time.Time) bool {
	life := notAfter.Sub(notBefore)
	return notAfter.Sub(now) < life/3
}

// EnrollTokenRequest asks the portal for an enrollment code for one office.
type EnrollTokenRequest struct {
	Office string `json:"office"` // an office profile of the catalogue (e.g. "QN-TK")
	// TTL is the token's lifetime in seconds: 0 means
	// DefaultEnrollTokenTTL; at most MaxEnrollTokenTTL.
	TTLSeconds int64 `json:"ttlSeconds,omitempty"`
	// ReplaceKiosk, when set, is the id of an enrolled kiosk whose PC is
	// replaced (or whose certificate expired while it was offline): the
	// kiosk that enrolls with the token keeps that id, with its new key,
	// and the old key's certificates are revoked. The kiosk must belong to
	// Office; a retired kiosk cannot be replaced.
	ReplaceKiosk string `json:"replaceKiosk,omitempty"`
	// IssuedBy names the operator (a staff id, never a citizen's data),
	// for the audit log.
	IssuedBy string `json:"issuedBy,omitempty"`
}

// EnrollTokenResponse is the new token and the code a technician holds to
// the kiosk's reader.
type EnrollTokenResponse struct {
	Token         string    `json:"token"`     // 160 random bits, base32; single use
	ExpiresAt     time.Time `json:"expiresAt"` //
	Office        string    `json:"office"`    //
	ReplaceKiosk  string    `json:"replaceKiosk,omitempty"`
	CAFingerprint string    `json:"caFingerprint"` // of the enrollment CA
	Code          string    `json:"code"`          // EnrollCode.String(): what the QR holds
}

// RenewRequest is what a kiosk signs to renew its certificate. The new
// certificate certifies the same enrolled key.
type RenewRequest struct {
	KioskID string    `json:"kioskId"`
	At      time.Time `json:"at"` // within HeartbeatWindow of the portal's clock
}

// RenewResponse carries the new device certificate.
type RenewResponse struct {
	CertificatePEM string    `json:"certificatePem"`
	NotAfter       time.Time `json:"notAfter"`
}

// DecommissionRequest is what a kiosk signs to retire itself.
type DecommissionRequest struct {
	KioskID string    `json:"kioskId"`
	At      time.Time `json:"at"` // within HeartbeatWindow of the portal's clock
	// TechnicianCode is the id of the technician code (or PIN) that opened
	// service mode, for the audit log; never a name.
	TechnicianCode string `json:"technicianCode,omitempty"`
}

// RevokeRequest says why an operator revokes or retires a kiosk.
type RevokeRequest struct {
	Reason   string `json:"reason"` // "stolen", "lost", "decommissioned", ... (free text, no personal data)
	IssuedBy string `json:"issuedBy,omitempty"`
}

// EnrollCodeScheme starts every enrollment code.
const EnrollCodeScheme = "govkiosk-enroll"

// EnrollCode is what an enrollment QR holds: where to enroll, the one-time
// token, the fingerprint of the CA the answer must be signed by, and the
// office the token is for. As text:
//
//	govkiosk-enroll:?v=1&portal=https%3A%2F%2Fportal.example&token=T&ca=sha256%3AHEX&office=QN-TK[&replace=KIOSK-0007]
type EnrollCode struct {
	PortalURL     string
	Token         string
	CAFingerprint string // "sha256:HEX"
	Office        string
	ReplaceKiosk  string // optional
}

// String is the code's text form (what the QR holds).
func (c EnrollCode) String() string {
	q := url.Values{}
	q.Set("v", "1")
	q.Set("portal", c.PortalURL)
	q.Set("token", c.Token)
	q.Set("ca", c.CAFingerprint)
	q.Set("office", c.Office)
	if c.ReplaceKiosk != "" {
		q.Set("replace", c.ReplaceKiosk)
	}
	return EnrollCodeScheme + ":?" + q.Encode()
}

// ErrNotEnrollCode says a text is not an enrollment code at all (another
// QR held to the reader).
var ErrNotEnrollCode = errors.New("not an enrollment code")

// ParseEnrollCode reads an enrollment code. A text of another kind gives
// ErrNotEnrollCode; an enrollment code that is damaged or incomplete gives
// another error saying what is wrong with it.
func ParseEnrollCode(s string) (EnrollCode, error) {
	s = strings.TrimSpace(s)
	rest, ok := strings.CutPrefix(s, EnrollCodeScheme+":?")
	if !ok {
		return EnrollCode{}, ErrNotEnrollCode
	}
	if len(s) > 2048 {
		return EnrollCode{}, errors.New("enrollment code too long")
	}
	q, err := url.ParseQuery(rest)
	if err != nil {
		return EnrollCode{}, fmt.Errorf("enrollment code: %w", err)
	}
	if v := q.Get("v"); v != "1" {
		return EnrollCode{}, fmt.Errorf("enrollment code version %q: this kiosk reads version 1", v)
	}
	c := EnrollCode{
		PortalURL:    q.Get("portal"),
		Token:        q.Get("token"),
		Office:       q.Get("office"),
		ReplaceKiosk: q.Get("replace"),
	}
	if c.PortalURL == "" || c.Token == "" || c.Office == "" || q.Get("ca") == "" {
		return EnrollCode{}, errors.New("enrollment code incomplete: it needs portal, token, ca and office")
	}
	u, err := url.Parse(c.PortalURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return EnrollCode{}, fmt.Errorf("enrollment code: portal %q is not an http(s) URL", c.PortalURL)
	}
	fp, ok := NormalizeFingerprint(q.Get("ca"))
	if !ok {
		return EnrollCode{}, fmt.Errorf("enrollment code: %q is not a CA fingerprint", q.Get("ca"))
	}
	c.CAFingerprint = fp
	return c, nil
}
