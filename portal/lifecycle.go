package portal

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"strconv"
	"sync"
	"time"

	"govkiosk/backend-client/api"
)

// The device identity lifecycle (see api/identity.go): operators issue
// enrollment tokens scoped to one office (and maybe to the kiosk a new PC
// replaces); kiosks renew their short-lived certificates themselves and
// retire themselves at decommissioning; operators revoke (stolen, lost) or
// retire kiosks; the enrollment CA's revocation list names every
// certificate of those kiosks. A revoked or retired kiosk is refused on
// every kiosk endpoint (requireDevice, kioskMaySend, authenticateKiosk)
// and as an OIDC client (kioskJWK).

// maxReasonLen bounds the free text of a revocation.
const maxReasonLen = 200

// crlLifetime is how long a revocation list is good for (its NextUpdate);
// one is signed again when half of it has passed, or at once when a kiosk
// is revoked, retired or replaced.
const crlLifetime = time.Hour

// officeName is the name of the office with code: Options.OfficeName for
// the portal's default office, else its profile's.
func (s *Server) officeName(code string) api.Text {
	if code == s.opts.OfficeCode {
		return s.opts.OfficeName
	}
	if o, ok := s.catalogue.Office(code); ok {
		return o.Name
	}
	return nil
}

// refuseRevoked answers 403 api.CodeKioskRevoked.
func (s *Server) refuseRevoked(w http.ResponseWriter, r *http.Request, kioskID string) {
	s.log.Warn("revoked kiosk refused", "kiosk", kioskID, "path", r.URL.Path)
	writeError(w, http.StatusForbidden, api.CodeKioskRevoked, "this kiosk was revoked or retired; a technician must enroll it again")
}

// fresh reports whether at is within api.HeartbeatWindow of the portal's
// clock, answering 400 (with code) itself if not.
func (s *Server) fresh(w http.ResponseWriter, kioskID, what string, at time.Time, code string) bool {
	now := s.now()
	if d := now.Sub(at); at.IsZero() || d > api.HeartbeatWindow || d < -api.HeartbeatWindow {
		s.log.Warn("stale "+what+" refused", "kiosk", kioskID, "at", at, "off_by", d.Round(time.Second))
		writeError(w, http.StatusBadRequest, code, fmt.Sprintf("%s time %s is more than %v from the portal's %s",
			what, at.UTC().Format(time.RFC3339), api.HeartbeatWindow, now.UTC().Format(time.RFC3339)))
		return false
	}
	return true
}

// signedKioskRequest reads a kiosk-signed JSON body (Kiosk-Id and
// Kiosk-Signature headers, like heartbeats) into v, after the kiosk's
// checks; it answers refusals itself.
func (s *Server) signedKioskRequest(w http.ResponseWriter, r *http.Request, v any) (kioskID string, ok bool) {
	kioskID = r.Header.Get(api.HeaderKioskID)
	if !s.kioskMaySend(w, r, kioskID) {
		return "", false
	}
	body, ok := readBody(w, r, maxJSONBody)
	if !ok {
		return "", false
	}
	if !s.authenticateKiosk(w, r, kioskID, body, r.Header.Get(api.HeaderKioskSignature)) {
		return "", false
	}
	if err := json.Unmarshal(body, v); err != nil {
		writeError(w, http.StatusBadRequest, CodeBadRequest, "malformed JSON body")
		return "", false
	}
	return kioskID, true
}

func (s *Server) handleAdminEnrollToken(w http.ResponseWriter, r *http.Request) {
	var req api.EnrollTokenRequest
	if !decodeJSON(w, r, &req) {
		return
	}
	resp, err := s.issueScopedToken(r.Context(), req)
	var bad *badTokenRequest
	if errors.As(err, &bad) {
		writeError(w, http.StatusBadRequest, bad.code, bad.msg)
		return
	}
	if err != nil {
		s.internal(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, resp)
}

// IssueEnrollCode makes an enrollment token and code for req.Office (and
// req.ReplaceKiosk), as POST api.PathAdminEnrollTokens does; the error
// says what is wrong with req.
func (s *Server) IssueEnrollCode(ctx context.Context, req api.EnrollTokenRequest) (api.EnrollTokenResponse, error) {
	resp, err := s.issueScopedToken(ctx, req)
	if err != nil {
		return resp, fmt.Errorf("portal: enrollment code: %w", err)
	}
	return resp, nil
}

type badTokenRequest struct{ code, msg string }

func (e *badTokenRequest) Error() string { return e.msg }

// issueScopedToken makes an enrollment token for req.Office (and
// req.ReplaceKiosk): a *badTokenRequest says what is wrong with req.
func (s *Server) issueScopedToken(ctx context.Context, req api.EnrollTokenRequest) (api.EnrollTokenResponse, error) {
	if _, ok := s.catalogue.Office(req.Office); !ok {
		return api.EnrollTokenResponse{}, &badTokenRequest{CodeBadRequest, fmt.Sprintf("office %q is not an office of the catalogue", req.Office)}
	}
	ttl := time.Duration(req.TTLSeconds) * time.Second
	switch {
	case req.TTLSeconds == 0:
		ttl = api.DefaultEnrollTokenTTL
	case req.TTLSeconds < 0 || req.TTLSeconds > int64(api.MaxEnrollTokenTTL/time.Second):
		return api.EnrollTokenResponse{}, &badTokenRequest{CodeBadRequest, fmt.Sprintf("ttlSeconds must be between 1 and %d (%v)",
			int64(api.MaxEnrollTokenTTL/time.Second), api.MaxEnrollTokenTTL)}
	}
	if len(req.IssuedBy) > maxReasonLen || len(req.ReplaceKiosk) > 64 {
		return api.EnrollTokenResponse{}, &badTokenRequest{CodeBadRequest, "issuedBy or replaceKiosk too long"}
	}
	if req.ReplaceKiosk != "" {
		err := s.store.replaceable(ctx, req.ReplaceKiosk, req.Office, s.opts.OfficeCode)
		if errors.Is(err, errTokenScope) {
			return api.EnrollTokenResponse{}, &badTokenRequest{api.CodeEnrollTokenScope, err.Error()}
		}
		if err != nil {
			return api.EnrollTokenResponse{}, err
		}
	}
	b := make([]byte, 20)
	if _, err := io.ReadFull(s.rand, b); err != nil {
		return api.EnrollTokenResponse{}, fmt.Errorf("enroll token: %w", err)
	}
	tok := "ENR-" + crockford32(b)
	now := s.now()
	expires := now.Add(ttl).UTC()
	if err := s.store.addScopedEnrollToken(ctx, s.tokenHash(tok), enrollToken{
		Office: req.Office, ReplaceKiosk: req.ReplaceKiosk, IssuedBy: req.IssuedBy, ExpiresAt: expires,
	}, now); err != nil {
		return api.EnrollTokenResponse{}, fmt.Errorf("enroll token: %w", err)
	}
	s.log.Info("enrollment token issued", "office", req.Office, "replaceKiosk", req.ReplaceKiosk, "issuedBy", req.IssuedBy, "expiresAt", expires)
	fp := s.CAFingerprint()
	return api.EnrollTokenResponse{
		Token: tok, ExpiresAt: expires, Office: req.Office, ReplaceKiosk: req.ReplaceKiosk, CAFingerprint: fp,
		Code: api.EnrollCode{PortalURL: s.opts.PublicURL, Token: tok, CAFingerprint: fp, Office: req.Office, ReplaceKiosk: req.ReplaceKiosk}.String(),
	}, nil
}

// handleAdminKioskState revokes or retires the kiosk of the path.
func (s *Server) handleAdminKioskState(state string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var req api.RevokeRequest
		body, ok := readBody(w, r, maxJSONBody)
		if !ok {
			return
		}
		if len(bytes.TrimSpace(body)) > 0 { // no body: the action is the reason
			if err := json.Unmarshal(body, &req); err != nil {
				writeError(w, http.StatusBadRequest, CodeBadRequest, "malformed JSON body: want a RevokeRequest")
				return
			}
		}
		if len(req.Reason) > maxReasonLen || len(req.IssuedBy) > maxReasonLen {
			writeError(w, http.StatusBadRequest, CodeBadRequest, fmt.Sprintf("reason and issuedBy have at most %d characters", maxReasonLen))
			return
		}
		s.setState(w, r, r.PathValue("id"), state, cmpOr(req.Reason, state), req.IssuedBy)
	}
}

// setState moves kioskID to state and answers 204 (404 for no such kiosk).
func (s *Server) setState(w http.ResponseWriter, r *http.Request, kioskID, state, reason, by string) {
	changed, err := s.store.setKioskState(r.Context(), kioskID, state, reason, by, s.now())
	if errors.Is(err, errNotFound) {
		writeError(w, http.StatusNotFound, CodeUnknownKiosk, "no kiosk "+kioskID)
		return
	}
	if err != nil {
		s.internal(w, r, err)
		return
	}
	if changed {
		s.crlChanged()
	}
	s.log.Info("kiosk "+state, "kiosk", kioskID, "reason", reason, "issuedBy", by, "changed", changed)
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) handleRenew(w http.ResponseWriter, r *http.Request) {
	var req api.RenewRequest
	kioskID, ok := s.signedKioskRequest(w, r, &req)
	if !ok {
		return
	}
	if req.KioskID != kioskID {
		writeError(w, http.StatusBadRequest, CodeKioskMismatch, "kioskId differs from the "+api.HeaderKioskID+" header")
		return
	}
	if !s.fresh(w, kioskID, "renewal", req.At, CodeHeartbeatStale) {
		return
	}
	now := s.now()
	gap := max(s.opts.RenewInterval, 0)
	c, err := s.store.renew(r.Context(), kioskID, now, gap, func(keyPEM, office string) (issuedCert, error) {
		pub, err := parsePublicKeyPEM(keyPEM)
		if err != nil {
			return issuedCert{}, fmt.Errorf("stored key of %s: %w", kioskID, err)
		}
		return s.keys.issueKioskCert(kioskID, cmpOr(office, s.opts.OfficeCode), pub, s.rand, now, s.opts.DeviceCertTTL)
	})
	var soon *renewTooSoon
	switch {
	case errors.As(err, &soon):
		wait := max(int(soon.RetryAt.Sub(now).Seconds()+0.999), 1)
		w.Header().Set("Retry-After", strconv.Itoa(wait))
		writeJSON(w, http.StatusTooManyRequests, api.Error{Code: CodeRateLimited, RetryAfter: wait,
			Message: fmt.Sprintf("the certificate was renewed less than %v ago; try again in %d s", gap, wait)})
		return
	case errors.Is(err, errKioskRevoked):
		s.refuseRevoked(w, r, kioskID)
		return
	case errors.Is(err, errNotFound): // AllowUnenrolled lets an unknown kiosk this far
		writeError(w, http.StatusUnauthorized, CodeUnknownKiosk, "kiosk is not enrolled")
		return
	case err != nil:
		s.internal(w, r, fmt.Errorf("renew: %w", err))
		return
	}
	s.log.Info("kiosk certificate renewed", "kiosk", kioskID, "notAfter", c.NotAfter)
	writeJSON(w, http.StatusOK, api.RenewResponse{CertificatePEM: c.PEM, NotAfter: c.NotAfter})
}

func (s *Server) handleDecommission(w http.ResponseWriter, r *http.Request) {
	var req api.DecommissionRequest
	kioskID, ok := s.signedKioskRequest(w, r, &req)
	if !ok {
		return
	}
	if req.KioskID != kioskID {
		writeError(w, http.StatusBadRequest, CodeKioskMismatch, "kioskId differs from the "+api.HeaderKioskID+" header")
		return
	}
	if len(req.TechnicianCode) > maxReasonLen {
		writeError(w, http.StatusBadRequest, CodeBadRequest, "technicianCode too long")
		return
	}
	if !s.fresh(w, kioskID, "decommission", req.At, CodeHeartbeatStale) {
		return
	}
	s.setState(w, r, kioskID, kioskRetired, "decommissioned at the kiosk", cmpOr(req.TechnicianCode, "kiosk"))
}

// crlCache is the revocation list as last signed. gen counts changes of
// what it lists; a list signed at an older gen is signed again.
type crlCache struct {
	mu     sync.Mutex
	gen    uint64 // of the data
	der    []byte
	derGen uint64
	number int64
	at     time.Time
}

// crlChanged says a kiosk's certificates were revoked: the next request
// gets a new list.
func (s *Server) crlChanged() {
	s.crl.mu.Lock()
	s.crl.gen++
	s.crl.mu.Unlock()
}

// revocationList is the DER revocation list: the cached one while it is
// current, else one signed now. The store is read with no lock held.
func (s *Server) revocationList(ctx context.Context) ([]byte, error) {
	now := s.now()
	s.crl.mu.Lock()
	gen := s.crl.gen
	if s.crl.der != nil && s.crl.derGen == gen && now.Sub(s.crl.at) < crlLifetime/2 && !now.Before(s.crl.at) {
		der := s.crl.der
		s.crl.mu.Unlock()
		return der, nil
	}
	s.crl.mu.Unlock()
	entries, err := s.store.revokedCerts(ctx, now)
	if err != nil {
		return nil, err
	}
	n, err := s.store.nextCRLNumber(ctx)
	if err != nil {
		return nil, err
	}
	der, err := x509.CreateRevocationList(s.rand, &x509.RevocationList{
		Number:                    big.NewInt(n),
		ThisUpdate:                now.UTC(),
		NextUpdate:                now.Add(crlLifetime).UTC(),
		RevokedCertificateEntries: entries,
	}, s.keys.caCert, s.keys.caKey)
	if err != nil {
		return nil, fmt.Errorf("sign revocation list: %w", err)
	}
	s.crl.mu.Lock()
	if n > s.crl.number {
		s.crl.der, s.crl.derGen, s.crl.number, s.crl.at = der, gen, n, now
	}
	s.crl.mu.Unlock()
	return der, nil
}

func (s *Server) handleCRL(w http.ResponseWriter, r *http.Request) {
	der, err := s.revocationList(r.Context())
	if err != nil {
		s.internal(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/pkix-crl")
	w.Header().Set("Cache-Control", "no-cache")
	w.Header().Set("Content-Length", strconv.Itoa(len(der)))
	w.Write(der)
}
