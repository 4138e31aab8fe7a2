package portal

import (
	"crypto/ecdsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"govkiosk/backend-client/api"
)

func (s *Server) handleEnroll(w http.ResponseWriter, r *http.Request) {
	var req api.EnrollRequest
	if !decodeJSON(w, r, &req) {
		return
	}
	if req.Token == "" {
		writeError(w, http.StatusForbidden, CodeEnrollTokenInvalid, "enrollment token invalid")
		return
	}
	pub, err := parsePublicKeyPEM(req.PublicKeyPEM)
	if err != nil {
		writeError(w, http.StatusBadRequest, CodeBadPublicKey, "public key must be a PKIX ECDSA P-256 PEM: "+err.Error())
		return
	}
	if len(req.Hostname) > 253 {
		writeError(w, http.StatusBadRequest, CodeBadRequest, "hostname too long")
		return
	}
	now := s.now()
	rec, err := s.store.enroll(r.Context(), s.tokenHash(req.Token), req.PublicKeyPEM, req.Hostname, now, func(id string) (string, error) {
		return s.keys.issueKioskCert(id, s.opts.OfficeCode, pub, s.rand, now)
	})
	switch {
	case errors.Is(err, errTokenUnknown):
		writeError(w, http.StatusForbidden, CodeEnrollTokenInvalid, "enrollment token invalid")
		return
	case errors.Is(err, errTokenUsed):
		writeError(w, http.StatusForbidden, CodeEnrollTokenUsed, "enrollment token already used")
		return
	case err != nil:
		s.internal(w, r, fmt.Errorf("enroll: %w", err))
		return
	}
	portalPEM, err := publicKeyPEM(&s.keys.portal.PublicKey)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	resp := api.EnrollResponse{
		KioskID:        rec.ID,
		CertificatePEM: rec.CertPEM,
		PortalCAPEM:    s.keys.caPEM,
		PortalKeyPEM:   portalPEM,
		OfficeCode:     s.opts.OfficeCode,
		OfficeName:     s.opts.OfficeName,
		OIDCIssuer:     s.opts.PublicURL + api.PathIdP,
		OIDCClientID:   OIDCClientID,
		OIDCACRValues:  KioskACRValues,

		PortalAgeRecipient: s.AgeRecipient(),
	}
	// The CA whose fingerprint the technician has signs the whole answer.
	sum := sha256.Sum256(resp.SignedBytes())
	sig, err := ecdsa.SignASN1(s.rand, s.keys.caKey, sum[:])
	if err != nil {
		s.internal(w, r, fmt.Errorf("sign enrollment answer: %w", err))
		return
	}
	resp.Signature = base64.StdEncoding.EncodeToString(sig)
	s.log.Info("kiosk enrolled", "kiosk", rec.ID)
	writeJSON(w, http.StatusOK, resp)
}

// authenticateKiosk checks that the request's device certificate (if any:
// see requireDevice) is kioskID's, and data's signature by kioskID's
// enrolled key. With
// no enrolled key it accepts only when AllowUnenrolled is set. It answers
// the error itself and reports whether to go on.
func (s *Server) authenticateKiosk(w http.ResponseWriter, r *http.Request, kioskID string, data []byte, sigB64 string) bool {
	if !s.checkDevice(w, r, kioskID) {
		return false
	}
	keyPEM, err := s.store.kioskKey(r.Context(), kioskID)
	if err != nil {
		s.internal(w, r, err)
		return false
	}
	if keyPEM == "" {
		if s.opts.AllowUnenrolled {
			return true
		}
		writeError(w, http.StatusUnauthorized, CodeUnknownKiosk, "kiosk is not enrolled")
		return false
	}
	pub, err := parsePublicKeyPEM(keyPEM)
	if err != nil {
		s.internal(w, r, fmt.Errorf("stored key of %s: %w", kioskID, err))
		return false
	}
	if !verifySignature(pub, data, sigB64) {
		s.log.Warn("bad kiosk signature", "kiosk", kioskID, "path", r.URL.Path)
		writeError(w, http.StatusUnauthorized, CodeBadSignature, "kiosk signature does not verify")
		return false
	}
	return true
}

func (s *Server) handleHeartbeat(w http.ResponseWriter, r *http.Request) {
	body, ok := readBody(w, r, maxJSONBody)
	if !ok {
		return
	}
	kioskID := r.Header.Get(api.HeaderKioskID)
	if kioskID == "" {
		writeError(w, http.StatusBadRequest, CodeBadRequest, "missing "+api.HeaderKioskID+" header")
		return
	}
	if !s.authenticateKiosk(w, r, kioskID, body, r.Header.Get(api.HeaderKioskSignature)) {
		return
	}
	var hb api.Heartbeat
	if err := json.Unmarshal(body, &hb); err != nil {
		writeError(w, http.StatusBadRequest, CodeBadRequest, "malformed heartbeat")
		return
	}
	if hb.KioskID != kioskID {
		writeError(w, http.StatusBadRequest, CodeKioskMismatch, "heartbeat kioskId differs from the "+api.HeaderKioskID+" header")
		return
	}
	if err := s.store.putHeartbeat(r.Context(), kioskID, body, s.now()); err != nil {
		s.internal(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
