package portal

import (
	"crypto/ecdsa"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"

	"govkiosk/backend-client/api"
)

// Stable error codes of the API (api.Error.Code).
const (
	CodeBadRequest             = "bad-request"
	CodeTooLarge               = "too-large"
	CodeUnauthorized           = "unauthorized"
	CodeNotFound               = "not-found"
	CodeInternal               = "internal"
	CodeEnrollTokenInvalid     = "enroll-token-invalid"
	CodeEnrollTokenUsed        = "enroll-token-used"
	CodeBadPublicKey           = "bad-public-key"
	CodeUnknownKiosk           = "unknown-kiosk"
	CodeBadSignature           = "bad-signature"
	CodeKioskMismatch          = "kiosk-mismatch"
	CodeHeartbeatStale         = "heartbeat-stale"    // at is too far from the portal's clock
	CodeHeartbeatReplayed      = "heartbeat-replayed" // seq is not above the last one taken
	CodeUnknownProcedure       = "unknown-procedure"
	CodeUnknownConfirmation    = "unknown-confirmation"
	CodeCitizenMismatch        = "citizen-mismatch"
	CodeIdempotencyKeyMissing  = "idempotency-key-missing"
	CodeIdempotencyKeyMismatch = "idempotency-key-mismatch"
	CodeIdempotencyKeyReused   = "idempotency-key-reused"
	CodeBadManifest            = "bad-manifest"
	CodeInvalidForm            = "invalid-form"
	CodeMissingDocument        = "missing-document"
	CodeUnexpectedDocument     = "unexpected-document"
	CodeDocumentMismatch       = "document-mismatch"
	CodeBadPDF                 = "bad-pdf"
	CodePageCountMismatch      = "page-count-mismatch"
	CodePageLimit              = "page-limit"
	CodeConfirmationInvalid    = "confirmation-invalid"
	CodeConfirmationMismatch   = "confirmation-mismatch"       // the packet is not what the citizen confirmed, or not from that kiosk
	CodeIdentityMismatch       = "identity-mismatch"           // identity fields differ from the identity the portal verified
	CodeDeviceCertRequired     = "device-certificate-required" // the kiosk API needs the kiosk's enrolled device certificate (mutual TLS)
)

const maxJSONBody = 1 << 20

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+api.PathCatalogue, s.handleCatalogue)
	mux.HandleFunc("POST "+api.PathEnroll, s.handleEnroll)
	mux.HandleFunc("POST "+api.PathHeartbeat, s.requireDevice(s.handleHeartbeat))
	mux.HandleFunc("POST "+api.PathConfirmations, s.requireDevice(s.handleConfirm))
	mux.HandleFunc("POST "+api.PathVerify, s.requireDevice(s.handleVerify))
	mux.HandleFunc("POST "+api.PathApplications, s.requireDevice(s.handleSubmit))
	mux.HandleFunc("OPTIONS "+PathUploads+"{$}", s.requireDevice(s.handleUploadOptions))
	mux.HandleFunc("OPTIONS "+PathUploads+"{id}", s.requireDevice(s.handleUploadOptions))
	mux.HandleFunc("POST "+PathUploads+"{$}", s.requireDevice(s.handleUploadCreate))
	mux.HandleFunc("HEAD "+PathUploads+"{id}", s.requireDevice(s.handleUploadHead))
	mux.HandleFunc("PATCH "+PathUploads+"{id}", s.requireDevice(s.handleUploadPatch))
	mux.HandleFunc("DELETE "+PathUploads+"{id}", s.requireDevice(s.handleUploadDelete))
	mux.HandleFunc("POST "+PathPackets+"{packet}/finalise", s.requireDevice(s.handleFinalise))
	mux.HandleFunc("GET "+api.PathStatus+"{ref}", s.handleStatus)
	mux.HandleFunc("GET "+api.PathTrack+"{ref}", s.handleTrackPage)
	admin := func(h http.HandlerFunc) http.Handler { return s.requireAdmin(h) }
	mux.Handle("GET /api/v1/admin/applications", admin(s.handleAdminApplications))
	mux.Handle("GET /api/v1/admin/applications/{ref}", admin(s.handleAdminApplication))
	mux.Handle("GET /api/v1/admin/kiosks", admin(s.handleAdminKiosks))
	mux.Handle("POST "+api.PathAdminEnrollTokens, admin(s.handleAdminEnrollToken))
	mux.Handle("POST "+api.PathAdminKiosks+"{id}/revoke", admin(s.handleAdminKioskState(kioskRevoked)))
	mux.Handle("POST "+api.PathAdminKiosks+"{id}/retire", admin(s.handleAdminKioskState(kioskRetired)))
	mux.HandleFunc("POST "+api.PathRenew, s.requireDeviceWithin(renewGrace, s.handleRenew))
	mux.HandleFunc("POST "+api.PathDecommission, s.requireDevice(s.handleDecommission))
	mux.HandleFunc("GET "+api.PathCRL, s.handleCRL)
	mux.Handle("GET /{$}", admin(s.handleConsole))
	mux.Handle("POST "+PathConsoleEnroll, admin(s.handleConsoleEnroll))
	mux.HandleFunc("GET /login", s.handleLoginPage)
	mux.Handle("POST /login", http.NewCrossOriginProtection().Handler(http.HandlerFunc(s.handleLogin)))
	idh := s.identity.Handler()
	mux.Handle(api.PathIdP, idh)
	mux.Handle(api.PathIdP+"/", idh)
	if s.opts.PhoneSimulator {
		// The simulated phone lets its user act as any test citizen: demo
		// only, and the operator's.
		mux.Handle("GET "+PathIDCard, admin(s.handleIDCard))
		mux.Handle(api.PathPhone, s.requireAdmin(idh))
		mux.Handle(api.PathPhone+"/", s.requireAdmin(idh))
	}
	mux.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, CodeNotFound, "no such endpoint")
	})
	return newConcurrency(s.opts.MaxConcurrent, s.opts.MaxPerKiosk).wrap(mux)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, api.Error{Code: code, Message: msg})
}

func (s *Server) internal(w http.ResponseWriter, r *http.Request, err error) {
	if r.Context().Err() != nil {
		// The kiosk went away mid-request (a dropped link, a restart): its
		// retry will come; nothing here failed.
		s.log.Info("client gone mid-request", "path", r.URL.Path, "err", err)
		writeError(w, http.StatusServiceUnavailable, CodeInternal, "request cancelled")
		return
	}
	s.log.Error("portal request failed", "path", r.URL.Path, "err", err)
	writeError(w, http.StatusInternalServerError, CodeInternal, "internal error")
}

// readBody reads at most limit bytes; it answers 413 or 400 itself.
func readBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, bool) {
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			writeError(w, http.StatusRequestEntityTooLarge, CodeTooLarge, "request body too large")
		} else {
			writeError(w, http.StatusBadRequest, CodeBadRequest, "cannot read request body")
		}
		return nil, false
	}
	return b, true
}

func decodeJSON(w http.ResponseWriter, r *http.Request, v any) bool {
	b, ok := readBody(w, r, maxJSONBody)
	if !ok {
		return false
	}
	if err := json.Unmarshal(b, v); err != nil {
		writeError(w, http.StatusBadRequest, CodeBadRequest, "malformed JSON body")
		return false
	}
	return true
}

// mac is HMAC-SHA256 under the portal secret, domain-separated by purpose.
func (s *Server) mac(purpose string, parts ...string) string {
	m := hmac.New(sha256.New, s.keys.secret)
	m.Write([]byte(purpose))
	for _, p := range parts {
		m.Write([]byte{0})
		m.Write([]byte(p))
	}
	return hex.EncodeToString(m.Sum(nil))
}

func (s *Server) tokenHash(t string) string       { return s.mac("enroll-token", t) }
func (s *Server) citizenHash(id string) string    { return s.mac("citizen", id) }
func (s *Server) confTokenHash(t string) string   { return s.mac("confirmation-token", t) }
func (s *Server) codeHash(id, code string) string { return s.mac("confirmation-code", id, code) }

// verifySignature checks a base64 ASN.1 ECDSA signature over SHA-256 of data.
func verifySignature(pub *ecdsa.PublicKey, data []byte, sigB64 string) bool {
	sig, err := base64.StdEncoding.DecodeString(strings.TrimSpace(sigB64))
	if err != nil {
		return false
	}
	sum := sha256.Sum256(data)
	return ecdsa.VerifyASN1(pub, sum[:], sig)
}

func bearer(r *http.Request) string {
	h := r.Header.Get("Authorization")
	if len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		return strings.TrimSpace(h[7:])
	}
	return ""
}

func (s *Server) handleCatalogue(w http.ResponseWriter, r *http.Request) {
	sc, err := s.signedCatalogue()
	if err != nil {
		s.internal(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, sc)
}
