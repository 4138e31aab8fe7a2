package portal

import (
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"govkiosk/backend-client/api"
	"govkiosk/kiosk/lang"
)

// Confirmation code rules.
const (
	ConfirmationCodeTTL  = 5 * time.Minute
	ConfirmationAttempts = 5
	// ConfirmationTokenTTL is the lifetime of the token that goes into the
	// manifest: as long as a kiosk may hold the packet (api.MaxPacketAge,
	// the outbox's limit), plus an hour for the kiosk's clock and for
	// writing the packet after the code.
	ConfirmationTokenTTL = api.MaxPacketAge + time.Hour
	confirmationChannel  = "app"
)

// randomCode returns six uniformly random decimal digits.
func randomCode(rnd io.Reader) (string, error) {
	const limit = (1 << 32) / 1000000 * 1000000
	var b [4]byte
	for {
		if _, err := io.ReadFull(rnd, b[:]); err != nil {
			return "", err
		}
		if v := binary.BigEndian.Uint32(b[:]); v < limit {
			return fmt.Sprintf("%06d", v%1000000), nil
		}
	}
}

func randomToken(rnd io.Reader, n int) (string, error) {
	b := make([]byte, n)
	if _, err := io.ReadFull(rnd, b); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// citizen resolves the Bearer access token to the citizen's ID; it answers
// 401 itself.
func (s *Server) citizen(w http.ResponseWriter, r *http.Request) (string, bool) {
	c, ok := s.verifiedCitizen(w, r)
	return c.ID, ok
}

// verifiedCitizen resolves the Bearer access token to the identity the
// provider verified; it answers 401 itself.
func (s *Server) verifiedCitizen(w http.ResponseWriter, r *http.Request) (Citizen, bool) {
	tok := bearer(r)
	if tok == "" {
		writeError(w, http.StatusUnauthorized, CodeUnauthorized, "a citizen access token is required")
		return Citizen{}, false
	}
	c, ok := s.identity.CitizenForAccessToken(tok)
	if !ok {
		writeError(w, http.StatusUnauthorized, CodeUnauthorized, "access token invalid or expired")
		return Citizen{}, false
	}
	return c, true
}

func (s *Server) handleConfirm(w http.ResponseWriter, r *http.Request) {
	citizenID, ok := s.citizen(w, r)
	if !ok {
		return
	}
	var req api.ConfirmationRequest
	if !decodeJSON(w, r, &req) {
		return
	}
	if req.KioskID == "" { // the token will be good only for this kiosk's packet
		writeError(w, http.StatusBadRequest, CodeBadRequest, "kioskId is required")
		return
	}
	if !s.checkDevice(w, r, req.KioskID) { // and only the kiosk itself asks for it
		return
	}
	proc, ok := s.procs[req.ProcedureID]
	if !ok {
		writeError(w, http.StatusUnprocessableEntity, CodeUnknownProcedure, "unknown procedure")
		return
	}
	if !s.kioskMaySend(w, r, req.KioskID) {
		return
	}
	if ref := s.limits.takeCode(s.citizenHash(citizenID), req.KioskID, s.now()); ref.wait > 0 {
		s.writeRateLimited(w, r, ref, req.KioskID)
		return
	}
	idb := make([]byte, 16)
	if _, err := io.ReadFull(s.rand, idb); err != nil {
		s.internal(w, r, err)
		return
	}
	code, err := randomCode(s.rand)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	now := s.now()
	c := confirmationRow{
		ID:           hex.EncodeToString(idb),
		CitizenHash:  s.citizenHash(citizenID),
		ProcedureID:  req.ProcedureID,
		KioskID:      req.KioskID,
		ExpiresAt:    now.Add(ConfirmationCodeTTL),
		AttemptsLeft: ConfirmationAttempts,
	}
	c.CodeHash = s.codeHash(c.ID, code)
	if err := s.store.addConfirmation(r.Context(), c); err != nil {
		s.internal(w, r, err)
		return
	}
	s.identity.Deliver(citizenID, CodeMessage(req.Language, proc.Name.Get(req.Language), code))
	s.log.Info("confirmation code sent", "procedure", req.ProcedureID, "kiosk", req.KioskID)
	writeJSON(w, http.StatusOK, api.ConfirmationChallenge{
		ID: c.ID, ExpiresAt: c.ExpiresAt, Channel: confirmationChannel, Attempts: ConfirmationAttempts,
	})
}

func (s *Server) handleVerify(w http.ResponseWriter, r *http.Request) {
	citizen, ok := s.verifiedCitizen(w, r)
	if !ok {
		return
	}
	citizenID := citizen.ID
	var v api.ConfirmationVerify
	if !decodeJSON(w, r, &v) {
		return
	}
	if !api.ValidReviewDigest(v.ReviewDigest) {
		writeError(w, http.StatusBadRequest, CodeBadRequest, "reviewDigest, the SHA-256 of what the citizen reviewed, is required")
		return
	}
	// The token is good only for what the citizen reviewed, from the kiosk
	// that asked for the code, with the identity verified now.
	bind := confirmationBinding{ReviewDigest: v.ReviewDigest, Identity: s.identityMACs(v.ID, citizen)}
	now := s.now()
	token, err := randomToken(s.rand, 32)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	var res api.ConfirmationResult
	var mismatch bool
	var limited refusal
	hash := s.citizenHash(citizenID)
	err = s.store.verifyConfirmation(r.Context(), v.ID, now, bind, func(c confirmationRow) (int, string, time.Time) {
		res.AttemptsLeft = c.AttemptsLeft
		mismatch = subtle.ConstantTimeCompare([]byte(c.CitizenHash), []byte(hash)) != 1
		if !mismatch {
			limited = s.limits.guessRefusal(hash, c.KioskID, now)
		}
		switch {
		case mismatch:
			return c.AttemptsLeft, "", time.Time{}
		case limited.wait > 0:
			// Over the wrong-code caps the code is not even compared.
			return c.AttemptsLeft, "", time.Time{}
		case c.AttemptsLeft <= 0:
			res.Reason = "exhausted"
			return 0, "", time.Time{}
		case c.Verified || !now.Before(c.ExpiresAt):
			res.Reason = "expired"
			return c.AttemptsLeft, "", time.Time{}
		case subtle.ConstantTimeCompare([]byte(c.CodeHash), []byte(s.codeHash(c.ID, v.Code))) != 1:
			s.limits.wrongGuess(hash, c.KioskID, now)
			res.AttemptsLeft = c.AttemptsLeft - 1
			res.Reason = "wrong"
			if res.AttemptsLeft == 0 {
				res.Reason = "exhausted"
			}
			return res.AttemptsLeft, "", time.Time{}
		default:
			res.OK = true
			res.Token = token
			return c.AttemptsLeft, s.confTokenHash(token), now.Add(ConfirmationTokenTTL)
		}
	})
	switch {
	case errors.Is(err, errNotFound):
		writeError(w, http.StatusNotFound, CodeUnknownConfirmation, "unknown confirmation")
		return
	case err != nil:
		s.internal(w, r, err)
		return
	case mismatch:
		writeError(w, http.StatusForbidden, CodeCitizenMismatch, "the confirmation belongs to another citizen")
		return
	case limited.wait > 0:
		s.writeRateLimited(w, r, limited, "")
		return
	}
	writeJSON(w, http.StatusOK, res)
}

// CodeMessage is the message that carries a confirmation code to the
// citizen's phone, in the kiosk session's language (English for any other):
// what it confirms, how long it lasts, and that nobody may be told it.
func CodeMessage(code, procedure, confirmation string) string {
	switch code {
	case lang.Vietnamese:
		return fmt.Sprintf("govkiosk: mã xác nhận hồ sơ \u201c%s\u201d của Ông/Bà là %s. Xin nhập mã này trên ki-ốt trong vòng 5 phút. Không cho ai biết mã này, kể cả cán bộ.", procedure, confirmation)
	case lang.Thai:
		return fmt.Sprintf("govkiosk: รหัสยืนยันคำขอ \u201c%s\u201d ของท่านคือ %s กรุณากรอกที่ตู้บริการภายใน 5 นาที และอย่าบอกรหัสนี้แก่ผู้ใด แม้แต่เจ้าหน้าที่", procedure, confirmation)
	}
	return fmt.Sprintf("govkiosk: your confirmation code for \u201c%s\u201d is %s. Type it on the kiosk within 5 minutes. Never share it with anybody, not even staff.", procedure, confirmation)
}
