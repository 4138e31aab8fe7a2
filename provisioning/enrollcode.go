package provisioning

import (
	"context"
	"errors"
	"net"
	"net/url"

	backendclient "govkiosk/backend-client"
	"govkiosk/backend-client/api"
)

// Refusals of an enrollment that a technician can act on. Provision's
// errors wrap them (EnrollFailure sorts every error into one).
var (
	// ErrWrongOffice: the portal enrolled the kiosk for another office than
	// the enrollment code names.
	ErrWrongOffice = errors.New("the portal enrolled this kiosk for another office than the code's")
	// ErrCAMismatch: the portal's CA is not the one whose fingerprint came
	// with the token (a wrong code, or a man in the middle).
	ErrCAMismatch = errors.New("the portal's CA is not the one of the enrollment code")
)

// WithCode is o with what an enrollment code carries: the portal, the
// one-time token, the CA fingerprint and the office the kiosk must be
// enrolled for.
func (o ProvisionOptions) WithCode(c api.EnrollCode) ProvisionOptions {
	o.PortalURL = c.PortalURL
	o.Token = c.Token
	o.CAFingerprint = c.CAFingerprint
	o.Office = c.Office
	return o
}

// Why an enrollment failed, in terms a technician acts on (EnrollFailure).
const (
	FailTokenUsed    = "token-used"    // the token was used already: ask for a new code
	FailTokenExpired = "token-expired" // the token is past its lifetime: ask for a new code
	FailTokenInvalid = "token-invalid" // the portal does not know the token
	FailTokenScope   = "token-scope"   // the token is for another office or kiosk
	FailCA           = "wrong-ca"      // the portal's CA is not the code's
	FailOffice       = "wrong-office"  // enrolled for another office than the code's
	FailUnreachable  = "unreachable"   // no answer from the portal
	FailOther        = "other"         // anything else: see the log
)

// EnrollFailure sorts an error of Provision into one of the Fail reasons.
func EnrollFailure(err error) string {
	var ae *backendclient.APIError
	var ne net.Error
	var ue *url.Error
	switch {
	case err == nil:
		return ""
	case errors.Is(err, ErrWrongOffice):
		return FailOffice
	case errors.Is(err, ErrCAMismatch):
		return FailCA
	case errors.As(err, &ae):
		switch ae.Code {
		case "enroll-token-used":
			return FailTokenUsed
		case api.CodeEnrollTokenExpired:
			return FailTokenExpired
		case api.CodeEnrollTokenScope:
			return FailTokenScope
		case "enroll-token-invalid":
			return FailTokenInvalid
		}
		return FailOther
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne), errors.As(err, &ue):
		return FailUnreachable
	}
	return FailOther
}
