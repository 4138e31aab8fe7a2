package portal

import (
	"crypto/hmac"
	"encoding/json"
	"fmt"
	"net/http"

	"govkiosk/backend-client/api"
)

// What a confirmation is bound to, and the portal's signed answers.
//
// When the citizen types the code, the portal keeps with the confirmation
// token the kiosk that asked for the code, the digest of what the citizen
// reviewed (api.Review, sent by the kiosk), and the identity the provider
// verified for the citizen's access token, as one MAC per claim (no
// personal data in clear). At intake it recomputes the digest from the
// manifest and the documents it received and compares all three; any
// difference is a permanent 403.

// confirmationBinding is what a confirmation token is good for.
type confirmationBinding struct {
	ID           string // the confirmation's id (salts the identity MACs)
	KioskID      string // the kiosk that asked for the code
	ReviewDigest string // api.ReviewDigest of what the citizen reviewed
	Identity     string // JSON: claim name -> claimMAC, for each claim the provider gave
}

func (s *Server) claimMAC(confirmationID, claim, value string) string {
	return s.mac("identity-claim", confirmationID, claim, value)
}

// identityMACs is the Identity of a confirmationBinding for citizen c.
func (s *Server) identityMACs(confirmationID string, c Citizen) string {
	macs := map[string]string{}
	for claim, v := range c.claims() {
		if v != "" {
			macs[claim] = s.claimMAC(confirmationID, claim, v)
		}
	}
	b, _ := json.Marshal(macs)
	return string(b)
}

// checkBinding refuses a packet (manifest m of procedure proc, whose review
// digests to digest) that the confirmation b was not given for: from
// another kiosk, with other content than the citizen reviewed, or with an
// applicant or read-only identity field that is not the verified identity.
// A read-only field whose claim the provider did not give is not
// identity-derived; the review digest covers it.
func (s *Server) checkBinding(proc api.Procedure, m api.Manifest, digest string, b confirmationBinding) error {
	if b.KioskID != m.KioskID {
		return &reject{http.StatusForbidden, CodeConfirmationMismatch, "the confirmation was given at another kiosk"}
	}
	if !hmac.Equal([]byte(b.ReviewDigest), []byte(digest)) {
		return &reject{http.StatusForbidden, CodeConfirmationMismatch, "the application differs from what the citizen reviewed and confirmed"}
	}
	macs := map[string]string{}
	if err := json.Unmarshal([]byte(b.Identity), &macs); err != nil || len(macs) == 0 {
		return &reject{http.StatusForbidden, CodeIdentityMismatch, "no verified identity is kept for this confirmation"}
	}
	is := func(claim, v string) bool {
		want, ok := macs[claim]
		if !ok {
			return v == ""
		}
		return hmac.Equal([]byte(want), []byte(s.claimMAC(b.ID, claim, v)))
	}
	for _, a := range []struct{ claim, v string }{
		{"citizen_id", m.Applicant.CitizenID}, {"name", m.Applicant.Name},
		{"birthdate", m.Applicant.BirthDate}, {"phone_number", m.Applicant.Phone},
	} {
		if !is(a.claim, a.v) {
			return &reject{http.StatusForbidden, CodeIdentityMismatch, "applicant " + a.claim + " is not the verified identity's"}
		}
	}
	for _, f := range proc.Fields {
		if _, given := macs[f.Prefill]; !f.ReadOnly || !given {
			continue
		}
		if !is(f.Prefill, m.Form[f.Name]) {
			return &reject{http.StatusForbidden, CodeIdentityMismatch, fmt.Sprintf("read-only field %s is not the verified identity's %s", f.Name, f.Prefill)}
		}
	}
	return nil
}

// reviewOf is the review a packet holds: the manifest's, with each
// document's SHA-256 taken from the document received.
func reviewOf(m api.Manifest, parts map[string][]byte) api.Review {
	r := api.ReviewOf(m)
	for i, ref := range m.Documents {
		r.Documents[i].SHA256 = sha256Hex(parts[ref.File])
	}
	return r
}

// submitResult is the answer for application a, signed: the
// acknowledgement names the packet and the manifest bytes of the request
// answered (age-encrypted for finalise, plain for multipart).
func (s *Server) submitResult(a applicationRow, dup bool, requestManifest []byte) (api.SubmitResult, error) {
	res := api.SubmitResult{
		TrackingNumber:    a.TrackingNumber,
		ProvisionalNumber: a.ProvisionalNumber,
		AppointmentDate:   a.AppointmentDate,
		ReceivedAt:        a.ReceivedAt,
		Duplicate:         dup,
	}
	payload, err := json.Marshal(api.Acknowledgement{
		Kind: api.AcknowledgementKind, PacketID: a.PacketID, ManifestSHA256: sha256Hex(requestManifest),
		TrackingNumber: res.TrackingNumber, ProvisionalNumber: res.ProvisionalNumber,
		AppointmentDate: res.AppointmentDate, ReceivedAt: res.ReceivedAt, Duplicate: dup,
	})
	if err != nil {
		return api.SubmitResult{}, fmt.Errorf("acknowledgement: %w", err)
	}
	sig, err := signPayload(s.keys.portal, s.rand, payload)
	if err != nil {
		return api.SubmitResult{}, fmt.Errorf("sign acknowledgement: %w", err)
	}
	res.Acknowledgement = &api.SignedAcknowledgement{Payload: payload, Signature: sig, KeyID: s.keys.portalKeyID}
	return res, nil
}

// writeResult answers application a with status, signed for the request
// whose manifest bytes were requestManifest.
func (s *Server) writeResult(w http.ResponseWriter, r *http.Request, status int, a applicationRow, dup bool, requestManifest []byte) {
	res, err := s.submitResult(a, dup, requestManifest)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	writeJSON(w, status, res)
}
