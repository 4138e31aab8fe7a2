package portal

import (
	"context"
	"errors"
	"io"
	"mime/multipart"
	"net/http"
	"time"

	"govkiosk/backend-client/api"
)

// What the portal reads before it knows who is talking to it.
//
// A request body is read only after the cheap checks that need no body
// have passed: the Kiosk-Id header must name an enrolled kiosk (or any
// kiosk on a demo portal with AllowUnenrolled). Of a multipart packet only
// the manifest and signature parts (at most MaxManifestBytes and 4 KiB)
// are read before the signature is verified, and the documents only once
// the manifest's confirmation token is known to be usable. Finalise checks
// the token before it decrypts and parses any upload.

// kioskMaySend answers 401 unless kioskID is enrolled, or AllowUnenrolled
// is set, and 403 if it was revoked or retired. It reads no body.
func (s *Server) kioskMaySend(w http.ResponseWriter, r *http.Request, kioskID string) bool {
	if kioskID == "" {
		writeError(w, http.StatusUnauthorized, CodeUnknownKiosk, "missing "+api.HeaderKioskID+" header")
		return false
	}
	k, err := s.store.kiosk(r.Context(), kioskID)
	if err != nil {
		s.internal(w, r, err)
		return false
	}
	switch {
	case k.KeyPEM == "" && s.opts.AllowUnenrolled:
		return true
	case k.KeyPEM == "":
		writeError(w, http.StatusUnauthorized, CodeUnknownKiosk, "kiosk is not enrolled")
		return false
	case k.State != kioskActive:
		s.refuseRevoked(w, r, kioskID)
		return false
	}
	return true
}

// confirmationUsable is the early, read-only check of the manifest's
// confirmation token: issued for this citizen and procedure, unused and
// unexpired. The token is consumed (and checked again) when the
// application is stored. It returns a 403 *reject when unusable.
func (s *Server) confirmationUsable(ctx context.Context, m api.Manifest) error {
	if m.ConfirmationToken == "" || m.Applicant.CitizenID == "" {
		return &reject{http.StatusForbidden, CodeConfirmationInvalid, "confirmation token missing"}
	}
	ok, err := s.store.confirmationTokenUsable(ctx, s.confTokenHash(m.ConfirmationToken),
		s.citizenHash(m.Applicant.CitizenID), m.ProcedureID, s.now())
	if err != nil {
		return err
	}
	if !ok {
		return &reject{http.StatusForbidden, CodeConfirmationInvalid, "confirmation token invalid, used, expired, or for another citizen or procedure"}
	}
	return nil
}

// confirmationTokenUsable reports whether a verified confirmation's token
// may still carry an application (see insertApplication).
func (st *store) confirmationTokenUsable(ctx context.Context, tokenHash, citizenHash, procedureID string, now time.Time) (bool, error) {
	var n int
	err := st.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM confirmations
		WHERE token_hash = ? AND token_used_at IS NULL AND token_expires > ? AND citizen_hash = ? AND procedure_id = ?`,
		tokenHash, fmtTime(now), citizenHash, procedureID).Scan(&n)
	return n > 0, err
}

// maxSignaturePart bounds the signature part of a packet.
const maxSignaturePart = 4096

// packetReader reads a multipart packet in order: the manifest part first,
// then the signature part (an unenrolled demo kiosk may leave it out),
// then the documents, when readDocuments is called. It answers errors
// itself.
type packetReader struct {
	w    http.ResponseWriter
	mr   *multipart.Reader
	p    *packet
	seen map[string]bool
	next *multipart.Part // the first document, met while looking for the signature
}

// openPacket reads the manifest and signature parts of the packet.
func openPacket(w http.ResponseWriter, r *http.Request) (*packetReader, bool) {
	r.Body = http.MaxBytesReader(w, r.Body, MaxPacketBytes)
	mr, err := r.MultipartReader()
	if err != nil {
		writeError(w, http.StatusBadRequest, CodeBadRequest, "body must be multipart/form-data")
		return nil, false
	}
	pr := &packetReader{w: w, mr: mr, p: &packet{docs: map[string][]byte{}}, seen: map[string]bool{}}
	part, ok := pr.nextPart()
	if !ok {
		return nil, false
	}
	if part == nil || part.FormName() != "manifest" {
		writeError(w, http.StatusBadRequest, CodeBadRequest, "part manifest is required, and first")
		return nil, false
	}
	if pr.p.manifestBytes, ok = pr.read(part, MaxManifestBytes); !ok {
		return nil, false
	}
	part, ok = pr.nextPart()
	if !ok {
		return nil, false
	}
	if part != nil && part.FormName() == "signature" {
		sig, ok := pr.read(part, maxSignaturePart)
		if !ok {
			return nil, false
		}
		pr.p.signature = string(sig)
	} else {
		pr.next = part // no signature part: a document, or the end
	}
	return pr, true
}

// readDocuments reads the remaining parts as documents.
func (pr *packetReader) readDocuments() bool {
	for {
		part := pr.next
		pr.next = nil
		if part == nil {
			var ok bool
			if part, ok = pr.nextPart(); !ok {
				return false
			}
			if part == nil {
				return true
			}
		}
		name := part.FormName()
		if reservedName[name] {
			writeError(pr.w, http.StatusBadRequest, CodeBadRequest, "part "+name+" out of place")
			return false
		}
		b, ok := pr.read(part, MaxDocumentBytes)
		if !ok {
			return false
		}
		pr.p.docs[name] = b
	}
}

// nextPart returns the next part (nil at the end), refusing unnamed and
// repeated parts.
func (pr *packetReader) nextPart() (*multipart.Part, bool) {
	part, err := pr.mr.NextPart()
	if errors.Is(err, io.EOF) {
		return nil, true
	}
	if err != nil {
		return nil, packetReadError(pr.w, err)
	}
	name := part.FormName()
	if name == "" || pr.seen[name] {
		writeError(pr.w, http.StatusBadRequest, CodeBadRequest, "unnamed or repeated part")
		return nil, false
	}
	pr.seen[name] = true
	return part, true
}

// read reads a part of at most limit bytes. A refused part is not closed:
// Close would read it to its end.
func (pr *packetReader) read(part *multipart.Part, limit int64) ([]byte, bool) {
	b, err := io.ReadAll(io.LimitReader(part, limit+1))
	if err != nil {
		return nil, packetReadError(pr.w, err)
	}
	if int64(len(b)) > limit {
		writeError(pr.w, http.StatusRequestEntityTooLarge, CodeTooLarge, "part "+part.FormName()+" too large")
		return nil, false
	}
	part.Close()
	return b, true
}

func packetReadError(w http.ResponseWriter, err error) bool {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		writeError(w, http.StatusRequestEntityTooLarge, CodeTooLarge, "packet too large")
	} else {
		writeError(w, http.StatusBadRequest, CodeBadRequest, "malformed multipart body")
	}
	return false
}
