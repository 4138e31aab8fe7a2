package portal

import (
	"crypto/ecdsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"govkiosk/backend-client/api"
)

// Enrollment tokens are single use, random (IssueEnrollToken: 160 bits;
// tokens given in Options must have minGivenEnrollTok characters) and
// expire EnrollTokenTTL after they were issued.
const (
	EnrollTokenTTL         = 8 * time.Hour          // Options.EnrollTokenTTL overrides it
	CodeEnrollTokenExpired = "enroll-token-expired" // a token past its lifetime
	minGivenEnrollTok      = 16
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
	rec, err := s.store.enroll(r.Context(), s.tokenHash(req.Token), req.PublicKeyPEM, req.Hostname, now, s.opts.EnrollTokenTTL, s.opts.OfficeCode, func(id, office string) (issuedCert, error) {
		return s.keys.issueKioskCert(id, office, pub, s.rand, now, s.opts.DeviceCertTTL)
	})
	switch {
	case errors.Is(err, errTokenScope):
		s.log.Warn("enrollment refused", "err", err)
		writeError(w, http.StatusForbidden, api.CodeEnrollTokenScope, "the kiosk this token replaces can no longer be replaced; ask for a new token")
		return
	case errors.Is(err, errTokenUnknown):
		writeError(w, http.StatusForbidden, CodeEnrollTokenInvalid, "enrollment token invalid")
		return
	case errors.Is(err, errTokenUsed):
		writeError(w, http.StatusForbidden, CodeEnrollTokenUsed, "enrollment token already used")
		return
	case errors.Is(err, errTokenExpired):
		writeError(w, http.StatusForbidden, CodeEnrollTokenExpired, "enrollment token expired; ask for a new one")
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
		OfficeCode:     rec.Office,
		OfficeName:     s.officeName(rec.Office),
		OIDCIssuer:     s.opts.PublicURL + api.PathIdP,
		OIDCClientID:   OIDCClientID,
		OIDCACRValues:  KioskACRValues,

		PortalAgeRecipient: s.AgeRecipient(),
		FleetBroker:        s.opts.FleetBroker,
		FleetTechKey:       s.opts.FleetTechKey,
	}
	// The CA whose fingerprint the technician has signs the whole answer.
	sum := sha256.Sum256(resp.SignedBytes())
	sig, err := ecdsa.SignASN1(s.rand, s.keys.caKey, sum[:])
	if err != nil {
		s.internal(w, r, fmt.Errorf("sign enrollment answer: %w", err))
		return
	}
	resp.Signature = base64.StdEncoding.EncodeToString(sig)
	if rec.Replaced {
		s.crlChanged() // the replaced key's certificates are revoked
		s.log.Info("kiosk re-enrolled with a new key", "kiosk", rec.ID, "office", rec.Office)
	} else {
		s.log.Info("kiosk enrolled", "kiosk", rec.ID, "office", rec.Office)
	}
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
	k, err := s.store.kiosk(r.Context(), kioskID)
	if err != nil {
		s.internal(w, r, err)
		return false
	}
	if k.KeyPEM == "" {
		if s.opts.AllowUnenrolled {
			return true
		}
		writeError(w, http.StatusUnauthorized, CodeUnknownKiosk, "kiosk is not enrolled")
		return false
	}
	if k.State != kioskActive {
		s.refuseRevoked(w, r, kioskID)
		return false
	}
	pub, err := parsePublicKeyPEM(k.KeyPEM)
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
	kioskID := r.Header.Get(api.HeaderKioskID)
	if !s.kioskMaySend(w, r, kioskID) {
		return
	}
	body, ok := readBody(w, r, maxJSONBody)
	if !ok {
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
	// Freshness: a heartbeat captured and sent again, now or later, must
	// not make a dead or stolen kiosk look alive.
	now := s.now()
	if d := now.Sub(hb.At); hb.At.IsZero() || d > api.HeartbeatWindow || d < -api.HeartbeatWindow {
		s.log.Warn("stale heartbeat refused", "kiosk", kioskID, "at", hb.At, "off_by", d.Round(time.Second))
		writeError(w, http.StatusBadRequest, CodeHeartbeatStale, fmt.Sprintf("heartbeat time %s is more than %v from the portal's %s", hb.At.UTC().Format(time.RFC3339), api.HeartbeatWindow, now.UTC().Format(time.RFC3339)))
		return
	}
	if hb.Seq == 0 {
		writeError(w, http.StatusBadRequest, CodeBadRequest, "heartbeat has no seq")
		return
	}
	err := s.store.putHeartbeat(r.Context(), kioskID, hb.Seq, body, now)
	if errors.Is(err, errHeartbeatReplayed) {
		s.log.Warn("replayed heartbeat refused", "kiosk", kioskID, "seq", hb.Seq)
		writeError(w, http.StatusConflict, CodeHeartbeatReplayed, "heartbeat seq is not above the last one taken from this kiosk")
		return
	}
	if err != nil {
		s.internal(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
