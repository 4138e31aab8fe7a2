package portal

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"

	pdfapi "github.com/pdfcpu/pdfcpu/pkg/api"
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/model"

	"govkiosk/backend-client/api"
	"govkiosk/kiosk/lang"
)

// Intake limits.
const (
	MaxManifestBytes = 1 << 20
	MaxDocumentBytes = 50 << 20
	MaxPacketBytes   = 200 << 20
)

var (
	safeName     = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$`)
	safePacket   = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9-]{0,63}$`)
	reservedName = map[string]bool{"manifest": true, "signature": true, "manifest.json": true, "manifest.sig": true}
)

// AdminDocument is one stored document, without content.
type AdminDocument struct {
	Type   string `json:"type"`
	File   string `json:"file"`
	Pages  int    `json:"pages"`
	SHA256 string `json:"sha256"`
	Size   int64  `json:"size"`
}

var pdfcpuOnce sync.Once

// PageCount returns the number of pages of a PDF, parsed and validated
// (relaxed) by pdfcpu, after checkInflation has made sure that doing so
// decompresses at most MaxInflatedBytes. Encrypted PDFs are refused:
// their streams cannot be checked before pdfcpu decrypts them, and kiosks
// never encrypt a document (the packet is encrypted as a whole).
func PageCount(pdf []byte) (n int, err error) {
	pdfcpuOnce.Do(pdfapi.DisableConfigDir) // no config dir under $HOME for a server
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("pdf: %v", p)
		}
	}()
	if err := checkInflation(pdf); err != nil {
		return 0, err
	}
	conf := model.NewDefaultConfiguration()
	conf.ValidationMode = model.ValidationRelaxed
	conf.Limits.MaxDecodeBytes = MaxInflatedBytes // per stream, wherever pdfcpu honours it
	conf.Limits.MaxObjectStreamFirst = 1 << 20
	conf.Limits.MaxStreamBytes = MaxDocumentBytes
	ctx, err := pdfapi.ReadContext(bytes.NewReader(pdf), conf)
	if err != nil {
		return 0, err
	}
	if ctx.Encrypt != nil {
		return 0, errors.New("pdf: encrypted")
	}
	if err := pdfapi.ValidateContext(ctx); err != nil {
		return 0, err
	}
	return ctx.PageCount, nil
}

// unquoteKey accepts the draft's quoted sf-string and a bare value.
func unquoteKey(k string) string {
	k = strings.TrimSpace(k)
	if len(k) >= 2 && k[0] == '"' && k[len(k)-1] == '"' {
		return k[1 : len(k)-1]
	}
	return k
}

type packet struct {
	manifestBytes []byte
	signature     string
	docs          map[string][]byte
}

// handleSubmit takes a multipart packet. The body is read in the order the
// checks need it, so that nobody can make the portal hold a packet it will
// refuse: nothing is read before the Kiosk-Id header names a kiosk that may
// submit; then only the manifest and signature parts (MaxManifestBytes)
// until the signature verifies; the documents only once the confirmation
// token is known to be usable (or the packet is a duplicate, answered
// without its documents).
func (s *Server) handleSubmit(w http.ResponseWriter, r *http.Request) {
	kioskID := r.Header.Get(api.HeaderKioskID)
	if !s.kioskMaySend(w, r, kioskID) {
		return
	}
	pr, ok := openPacket(w, r)
	if !ok {
		return
	}
	p := pr.p
	var m api.Manifest
	if err := json.Unmarshal(p.manifestBytes, &m); err != nil {
		writeError(w, http.StatusBadRequest, CodeBadManifest, "manifest is not valid JSON")
		return
	}
	if rej := checkManifestIDs(m); rej != nil {
		rej.write(w)
		return
	}
	if m.KioskID != kioskID {
		writeError(w, http.StatusBadRequest, CodeKioskMismatch, "manifest kioskId differs from the "+api.HeaderKioskID+" header")
		return
	}
	if rej := checkIdempotencyKey(r, m.PacketID); rej != nil {
		rej.write(w)
		return
	}
	if !s.authenticateKiosk(w, r, m.KioskID, p.manifestBytes, p.signature) {
		return
	}
	manifestSHA := sha256Hex(p.manifestBytes)
	if prev, found, err := s.previous(r.Context(), m.PacketID, manifestSHA); err != nil {
		s.answerIntakeError(w, r, err)
		return
	} else if found {
		s.writeResult(w, r, http.StatusOK, prev, true, p.manifestBytes)
		return
	}
	if err := s.confirmationUsable(r.Context(), m); err != nil {
		s.answerIntakeError(w, r, err)
		return
	}
	if !pr.readDocuments() {
		return
	}

	s.intakeMu.Lock()
	defer s.intakeMu.Unlock()

	if prev, found, err := s.previous(r.Context(), m.PacketID, manifestSHA); err != nil {
		s.answerIntakeError(w, r, err)
		return
	} else if found {
		s.writeResult(w, r, http.StatusOK, prev, true, p.manifestBytes)
		return
	}
	app, err := s.accept(r.Context(), p.manifestBytes, m, p.signature, p.docs)
	if err != nil {
		s.answerIntakeError(w, r, err)
		return
	}
	s.writeResult(w, r, http.StatusCreated, app, false, p.manifestBytes)
}

// reject is a refusal of a request, answered as an api.Error.
type reject struct {
	status    int
	code, msg string
}

func (e *reject) Error() string { return fmt.Sprintf("%d %s: %s", e.status, e.code, e.msg) }

func (e *reject) write(w http.ResponseWriter) { writeError(w, e.status, e.code, e.msg) }

// answerIntakeError answers a *reject as itself and anything else as 500.
func (s *Server) answerIntakeError(w http.ResponseWriter, r *http.Request, err error) {
	var rej *reject
	if errors.As(err, &rej) {
		rej.write(w)
		return
	}
	s.internal(w, r, err)
}

func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// checkManifestIDs checks the identifiers every manifest needs.
func checkManifestIDs(m api.Manifest) *reject {
	if !safePacket.MatchString(m.PacketID) || m.KioskID == "" || m.ProvisionalNumber == "" {
		return &reject{http.StatusBadRequest, CodeBadManifest, "manifest needs packetId, kioskId and provisionalNumber"}
	}
	return nil
}

// checkIdempotencyKey checks the Idempotency-Key header names the packet.
func checkIdempotencyKey(r *http.Request, packetID string) *reject {
	key := r.Header.Get(api.HeaderIdempotencyKey)
	if key == "" {
		return &reject{http.StatusBadRequest, CodeIdempotencyKeyMissing, "missing " + api.HeaderIdempotencyKey + " header"}
	}
	if unquoteKey(key) != packetID {
		return &reject{http.StatusBadRequest, CodeIdempotencyKeyMismatch, api.HeaderIdempotencyKey + " must be the packetId"}
	}
	return nil
}

// previous looks up an application already stored for packetID (the
// idempotency key): found with the same manifest, it is the original
// result; with another manifest, a 422 reject. The caller holds intakeMu.
func (s *Server) previous(ctx context.Context, packetID, manifestSHA string) (applicationRow, bool, error) {
	prev, err := s.store.applicationByPacket(ctx, packetID)
	if errors.Is(err, errNotFound) {
		return prev, false, nil
	}
	if err != nil {
		return prev, false, err
	}
	if prev.ManifestSHA256 != manifestSHA {
		return prev, false, &reject{http.StatusUnprocessableEntity, CodeIdempotencyKeyReused, "this Idempotency-Key was used with a different manifest"}
	}
	s.log.Info("duplicate submission", "tracking", prev.TrackingNumber, "kiosk", prev.KioskID)
	return prev, true, nil
}

// accept checks an authenticated, new packet (manifest bytes as signed,
// the decoded manifest, the base64 signature, and the plaintext documents
// by file name) against the catalogue, the documents and the confirmation
// token, stores it, and sends the citizen's copy of the receipt to their
// phone. Both the multipart intake and finalise call it, with intakeMu
// held. Refusals are *reject.
func (s *Server) accept(ctx context.Context, manifestBytes []byte, m api.Manifest, sigB64 string, parts map[string][]byte) (applicationRow, error) {
	proc, ok := s.procs[m.ProcedureID]
	if !ok {
		return applicationRow{}, &reject{http.StatusUnprocessableEntity, CodeUnknownProcedure, "unknown procedure"}
	}
	if err := validateForm(proc, m.Form); err != nil {
		return applicationRow{}, &reject{http.StatusUnprocessableEntity, CodeInvalidForm, err.Error()}
	}
	docs, status, code, msg := checkDocuments(proc, m.Form, m.Documents, parts)
	if code != "" {
		return applicationRow{}, &reject{status, code, msg}
	}
	if m.ConfirmationToken == "" || m.Applicant.CitizenID == "" {
		return applicationRow{}, &reject{http.StatusForbidden, CodeConfirmationInvalid, "confirmation token missing"}
	}

	now := s.now()
	form, _ := json.Marshal(m.Form)
	docJSON, _ := json.Marshal(docs)
	app := applicationRow{
		ProvisionalNumber: m.ProvisionalNumber,
		PacketID:          m.PacketID,
		ProcedureID:       m.ProcedureID,
		KioskID:           m.KioskID,
		OfficeCode:        m.OfficeCode,
		Manifest:          manifestBytes,
		ManifestSHA256:    sha256Hex(manifestBytes),
		Form:              form,
		Documents:         docJSON,
		ReceivedAt:        now,
		AppointmentDate:   AppointmentDate(now.In(s.officeLocation(m.OfficeCode)), proc.ProcessingDays),
		Status:            "received",
	}
	dir := filepath.Join(s.opts.DataDir, "documents", m.PacketID)
	if err := writePacketFiles(dir, manifestBytes, sigB64, m.Documents, parts); err != nil {
		return applicationRow{}, fmt.Errorf("store documents: %w", err)
	}
	digest := api.ReviewDigest(reviewOf(m, parts))
	err := s.store.insertApplication(ctx, &app, now.Year(), s.opts.TrackingPrefix,
		s.confTokenHash(m.ConfirmationToken), s.citizenHash(m.Applicant.CitizenID), now,
		func(b confirmationBinding) error { return s.checkBinding(proc, m, digest, b) })
	if err != nil {
		os.RemoveAll(dir)
		if errors.Is(err, errConfirmationInvalid) {
			return applicationRow{}, &reject{http.StatusForbidden, CodeConfirmationInvalid, "confirmation token invalid, used, expired, or for another citizen or procedure"}
		}
		var rej *reject
		if errors.As(err, &rej) {
			s.log.Warn("application refused: not what was confirmed", "code", rej.code, "reason", rej.msg,
				"procedure", m.ProcedureID, "kiosk", m.KioskID)
		}
		return applicationRow{}, err
	}
	s.log.Info("application received", "tracking", app.TrackingNumber, "procedure", app.ProcedureID, "kiosk", app.KioskID, "documents", len(docs))
	s.identity.Deliver(m.Applicant.CitizenID, ReceiptMessage(m.Language, app.TrackingNumber, app.AppointmentDate))
	return app, nil
}

// ReceiptMessage is the citizen's copy of the receipt, sent to their phone
// in the application's language (th, vi, else English), the date written
// as lang.FormatDate does on the printed receipt (a day that is not
// YYYY-MM-DD is given as it is).
func ReceiptMessage(code, tracking, appointment string) string {
	d, err := time.Parse(time.DateOnly, appointment)
	switch {
	case code == lang.Vietnamese && err == nil:
		return fmt.Sprintf("govkiosk: hồ sơ %s của Ông/Bà đã được tiếp nhận, có kết quả từ ngày %s.", tracking, lang.FormatDate(code, d))
	case code == lang.Thai && err == nil:
		return fmt.Sprintf("govkiosk: ได้รับคำขอ %s แล้ว รับผลได้ตั้งแต่วันที่ %s", tracking, lang.FormatDate(code, d))
	case err == nil:
		return fmt.Sprintf("govkiosk: application %s received, result from %s.", tracking, lang.FormatDate(lang.English, d))
	}
	return fmt.Sprintf("govkiosk: application %s received, result from %s.", tracking, appointment)
}

// checkDocuments matches the manifest's documents to the parts and to the
// procedure's requirements for the answers in form (api.DocumentsFor, as
// the kiosk asks for them): a required one missing, or one these answers
// do not call for, is refused. Each page count is re-derived from the PDF.
func checkDocuments(proc api.Procedure, form map[string]string, refs []api.DocumentRef, parts map[string][]byte) (docs []AdminDocument, status int, code, msg string) {
	wanted := proc.DocumentsFor(form)
	reqs := map[string]api.DocumentRequirement{}
	for _, d := range wanted {
		reqs[d.Type] = d
	}
	files := map[string]bool{}
	types := map[string]bool{}
	for _, ref := range refs {
		if !safeName.MatchString(ref.File) || reservedName[ref.File] || files[ref.File] {
			return nil, http.StatusBadRequest, CodeBadManifest, "bad or repeated document file name"
		}
		files[ref.File] = true
		req, ok := reqs[ref.Type]
		if !ok || types[ref.Type] {
			return nil, http.StatusUnprocessableEntity, CodeUnexpectedDocument, fmt.Sprintf("document type %q not expected here for these answers", ref.Type)
		}
		types[ref.Type] = true
		data, ok := parts[ref.File]
		if !ok {
			return nil, http.StatusBadRequest, CodeMissingDocument, "no part for document " + ref.File
		}
		sum := sha256.Sum256(data)
		if int64(len(data)) != ref.Size || !strings.EqualFold(hex.EncodeToString(sum[:]), ref.SHA256) {
			return nil, http.StatusUnprocessableEntity, CodeDocumentMismatch, "size or sha256 of " + ref.File + " does not match the manifest"
		}
		pages, err := PageCount(data)
		if err != nil {
			return nil, http.StatusUnprocessableEntity, CodeBadPDF, ref.File + " is not a readable PDF"
		}
		if pages != ref.Pages {
			return nil, http.StatusUnprocessableEntity, CodePageCountMismatch, fmt.Sprintf("%s has %d pages, the manifest says %d", ref.File, pages, ref.Pages)
		}
		if pages < req.MinPages || pages > req.MaxPages {
			return nil, http.StatusUnprocessableEntity, CodePageLimit, fmt.Sprintf("%s must have %d to %d pages", ref.Type, req.MinPages, req.MaxPages)
		}
		docs = append(docs, AdminDocument{Type: ref.Type, File: ref.File, Pages: pages, SHA256: strings.ToLower(ref.SHA256), Size: ref.Size})
	}
	for name := range parts {
		if !files[name] {
			return nil, http.StatusBadRequest, CodeUnexpectedDocument, "part " + name + " is not in the manifest"
		}
	}
	for _, d := range wanted {
		if d.Required && !types[d.Type] {
			return nil, http.StatusUnprocessableEntity, CodeMissingDocument, "required document " + d.Type + " missing"
		}
	}
	return docs, 0, "", ""
}

// writePacketFiles stores the packet as received (manifest, signature, PDFs).
func writePacketFiles(dir string, manifest []byte, sig string, refs []api.DocumentRef, parts map[string][]byte) error {
	if err := os.RemoveAll(dir); err != nil { // leftovers of a failed attempt
		return err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	write := func(name string, b []byte) error {
		f, err := os.OpenFile(filepath.Join(dir, name), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return err
		}
		if _, err := f.Write(b); err != nil {
			f.Close()
			return err
		}
		if err := f.Sync(); err != nil {
			f.Close()
			return err
		}
		return f.Close()
	}
	if err := write("manifest.json", manifest); err != nil {
		return err
	}
	if err := write("manifest.sig", []byte(sig)); err != nil {
		return err
	}
	for _, ref := range refs {
		if err := write(ref.File, parts[ref.File]); err != nil {
			return err
		}
	}
	return nil
}
