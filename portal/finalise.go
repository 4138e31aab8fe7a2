package portal

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"

	"filippo.io/age"

	"govkiosk/backend-client/api"
)

// maxFinaliseBody bounds a finalise request: the encrypted manifest (base64
// in JSON), the signature and the upload URLs.
const maxFinaliseBody = 2*MaxManifestBytes + 64<<10

// AgeRecipient is the age X25519 recipient ("age1…") kiosks encrypt
// manifests and documents to; enrollment hands it out as
// api.EnrollResponse.PortalAgeRecipient.
func (s *Server) AgeRecipient() string { return s.keys.age.Recipient().String() }

// decryptAge decrypts an age file with the portal's identity, refusing a
// plaintext longer than limit.
func (s *Server) decryptAge(r io.Reader, limit int64) ([]byte, error) {
	pr, err := age.Decrypt(r, s.keys.age)
	if err != nil {
		return nil, err
	}
	b, err := io.ReadAll(io.LimitReader(pr, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, errTooLarge
	}
	return b, nil
}

var errTooLarge = errors.New("too large")

// beginPacket marks packetID as being finalised; false if it already is.
func (s *Server) beginPacket(packetID string) bool {
	s.inflightMu.Lock()
	defer s.inflightMu.Unlock()
	if s.inflight == nil {
		s.inflight = map[string]bool{}
	}
	if s.inflight[packetID] {
		return false
	}
	s.inflight[packetID] = true
	return true
}

func (s *Server) endPacket(packetID string) {
	s.inflightMu.Lock()
	defer s.inflightMu.Unlock()
	delete(s.inflight, packetID)
}

// handleFinalise closes a packet whose documents were uploaded with tus.
//
// Idempotency (IETF httpapi Idempotency-Key draft): the key is the quoted
// packetId; the request's fingerprint is the SHA-256 of the decrypted
// manifest (re-encryption by the kiosk does not make it another request).
// The same key and manifest again answer the original result with 200 and
// duplicate set; the same key with another manifest 422; a request while
// the first is still being processed 409.
func (s *Server) handleFinalise(w http.ResponseWriter, r *http.Request) {
	packetID := r.PathValue("packet")
	if !safePacket.MatchString(packetID) {
		writeError(w, http.StatusNotFound, CodeNotFound, "no such packet")
		return
	}
	if rej := checkIdempotencyKey(r, packetID); rej != nil {
		rej.write(w)
		return
	}
	var req api.FinaliseRequest
	body, ok := readBody(w, r, maxFinaliseBody)
	if !ok {
		return
	}
	if err := json.Unmarshal(body, &req); err != nil {
		writeError(w, http.StatusBadRequest, CodeBadRequest, "malformed JSON body")
		return
	}
	if req.PacketID != packetID {
		writeError(w, http.StatusBadRequest, CodeIdempotencyKeyMismatch, "packetId differs from the URL")
		return
	}
	manifestBytes, err := s.decryptAge(bytes.NewReader(req.Manifest), MaxManifestBytes)
	if err != nil {
		writeError(w, http.StatusBadRequest, CodeBadManifest, "manifest does not decrypt with the portal's key")
		return
	}
	var m api.Manifest
	if err := json.Unmarshal(manifestBytes, &m); err != nil {
		writeError(w, http.StatusBadRequest, CodeBadManifest, "manifest is not valid JSON")
		return
	}
	if rej := checkManifestIDs(m); rej != nil {
		rej.write(w)
		return
	}
	if m.PacketID != packetID {
		writeError(w, http.StatusBadRequest, CodeIdempotencyKeyMismatch, "manifest is for another packet")
		return
	}
	if !s.authenticateKiosk(w, r, m.KioskID, manifestBytes, base64.StdEncoding.EncodeToString(req.Signature)) {
		return
	}
	manifestSHA := sha256Hex(manifestBytes)

	if !s.beginPacket(packetID) {
		writeError(w, http.StatusConflict, CodeInProgress, "this packet is being processed; retry later")
		return
	}
	defer s.endPacket(packetID)

	s.intakeMu.Lock()
	prev, found, err := s.previous(r.Context(), packetID, manifestSHA)
	s.intakeMu.Unlock()
	if err != nil {
		s.answerIntakeError(w, r, err)
		return
	}
	if found {
		s.writeResult(w, r, http.StatusOK, prev, true, req.Manifest)
		return
	}
	// Nothing is decrypted or parsed for a packet that cannot be accepted.
	if err := s.confirmationUsable(r.Context(), m); err != nil {
		s.answerIntakeError(w, r, err)
		return
	}
	docs, ids, err := s.fetchUploads(r.Context(), m, req.Uploads)
	if err != nil {
		s.answerIntakeError(w, r, err)
		return
	}

	s.intakeMu.Lock()
	prev, found, err = s.previous(r.Context(), packetID, manifestSHA) // the multipart path may have taken it meanwhile
	var app applicationRow
	if err == nil && !found {
		app, err = s.accept(r.Context(), manifestBytes, m, base64.StdEncoding.EncodeToString(req.Signature), docs)
	}
	s.intakeMu.Unlock()
	if err != nil {
		s.answerIntakeError(w, r, err)
		return
	}
	if found {
		s.writeResult(w, r, http.StatusOK, prev, true, req.Manifest)
		return
	}
	// The packet is stored: its uploads have served.
	ctx := context.WithoutCancel(r.Context())
	for _, id := range ids {
		if err := s.removeUpload(ctx, id); err != nil {
			s.log.Warn("delete finalised upload", "upload", id, "err", err)
		}
	}
	s.writeResult(w, r, http.StatusCreated, app, false, req.Manifest)
}

// fetchUploads decrypts the upload of each of the manifest's documents. An
// upload must be complete and created by the manifest's kiosk for this
// packet and file. It returns the plaintexts by file and the upload ids.
func (s *Server) fetchUploads(ctx context.Context, m api.Manifest, uploads map[string]string) (map[string][]byte, []string, error) {
	docs := map[string][]byte{}
	var ids []string
	for file := range uploads {
		found := false
		for _, ref := range m.Documents {
			found = found || ref.File == file
		}
		if !found {
			return nil, nil, &reject{http.StatusBadRequest, CodeUnexpectedDocument, "upload " + file + " is not in the manifest"}
		}
	}
	for _, ref := range m.Documents {
		raw, ok := uploads[ref.File]
		if !ok {
			return nil, nil, &reject{http.StatusBadRequest, CodeMissingDocument, "no upload for document " + ref.File}
		}
		id, ok := uploadIDFromURL(raw)
		if !ok {
			return nil, nil, &reject{http.StatusBadRequest, CodeUploadUnknown, "not an upload URL of this portal: " + ref.File}
		}
		u, err := s.store.upload(ctx, id)
		if errors.Is(err, errNotFound) {
			return nil, nil, &reject{http.StatusUnprocessableEntity, CodeUploadUnknown, "upload of " + ref.File + " does not exist (expired or terminated)"}
		}
		if err != nil {
			return nil, nil, err
		}
		if u.KioskID != m.KioskID || u.PacketID != m.PacketID || u.File != ref.File {
			return nil, nil, &reject{http.StatusUnprocessableEntity, CodeUploadMismatch, "upload of " + ref.File + " was created for another kiosk, packet or file"}
		}
		if u.Offset != u.Length {
			return nil, nil, &reject{http.StatusUnprocessableEntity, CodeUploadIncomplete, fmt.Sprintf("upload of %s has %d of %d bytes", ref.File, u.Offset, u.Length)}
		}
		f, err := os.Open(s.uploadPath(id))
		if err != nil {
			return nil, nil, fmt.Errorf("open upload: %w", err)
		}
		plain, err := s.decryptAge(io.LimitReader(f, u.Length), MaxDocumentBytes)
		f.Close()
		if errors.Is(err, errTooLarge) {
			return nil, nil, &reject{http.StatusRequestEntityTooLarge, CodeTooLarge, ref.File + " too large"}
		}
		if err != nil {
			return nil, nil, &reject{http.StatusUnprocessableEntity, CodeBadUpload, ref.File + " does not decrypt with the portal's key"}
		}
		docs[ref.File] = plain
		ids = append(ids, id)
	}
	return docs, ids, nil
}
