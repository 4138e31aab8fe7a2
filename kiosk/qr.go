package kiosk

import (
	"bytes"
	"regexp"
	"strings"
	"unicode/utf8"

	"govkiosk/backend-client/api"
	"govkiosk/backend-client/idqr"
)

// Kinds of scanned payloads.
const (
	QRTracking     = "tracking"     // a receipt's tracking QR
	QRProvisioning = "provisioning" // a technician's provisioning code
	QRIdentity     = "identity"     // a signed offline identity credential (NID1: Base45 CWT)
	QRUnknown      = "unknown"
)

var refPattern = regexp.MustCompile(`^[A-Z0-9][A-Z0-9-]{3,40}$`)

// ClassifyQR tells what a scanned payload is and, for a receipt, its reference.
func ClassifyQR(data []byte, portalURL string) (kind, ref string) {
	if !utf8.Valid(data) || bytes.ContainsAny(data, "\x00\r\n") {
		return QRUnknown, ""
	}
	s := string(data)
	prefix := strings.TrimRight(portalURL, "/") + api.PathTrack
	if strings.HasPrefix(s, prefix) {
		ref := strings.TrimPrefix(s, prefix)
		if refPattern.MatchString(ref) {
			return QRTracking, ref
		}
		return QRUnknown, ""
	}
	switch {
	case strings.HasPrefix(s, "GOVKIOSK-PROVISION:"):
		return QRProvisioning, ""
	case strings.HasPrefix(s, idqr.Prefix):
		return QRIdentity, ""
	}
	return QRUnknown, ""
}
