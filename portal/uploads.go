package portal

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"govkiosk/backend-client/api"
)

// The tus 1.0 server (core, creation, checksum with sha256, termination)
// for document uploads, at PathUploads.
//
// Only enrolled kiosks create uploads: the creation request carries
// Kiosk-Id and Kiosk-Signature, the base64 ASN.1 ECDSA P-256 signature by
// the kiosk's enrolled key over SHA-256 of UploadCreationMessage (the
// decimal Upload-Length, "\n", the Upload-Metadata header value as sent).
// The metadata must name the packet ("packetId") and the document file
// ("file"); finalise only takes an upload created by the manifest's kiosk
// for that packet and file. After creation the upload URL (128 random bits)
// is the capability for HEAD, PATCH and DELETE; the content is
// age-encrypted to the portal and its plaintext hash is in the signed
// manifest, so whoever holds the URL can neither read nor forge a document.
const (
	PathUploads = api.PathUploads
	PathPackets = api.PathPackets

	tusVersion = "1.0.0"
	// MaxUploadBytes bounds one upload: the largest document plus age's
	// overhead (16 bytes per 64 KiB chunk and a header).
	MaxUploadBytes = MaxDocumentBytes + MaxDocumentBytes/4096 + 4096
	// UploadTTL is how long an unfinished or unfinalised upload is kept.
	UploadTTL = 7 * 24 * time.Hour
	// uploadIdle ends a PATCH whose body stops moving.
	uploadIdle = 60 * time.Second
	// statusChecksumMismatch is tus's answer to a failed checksum.
	statusChecksumMismatch = 460
)

// Upload error codes.
const (
	CodeUploadUnknown    = "upload-unknown"
	CodeUploadMismatch   = "upload-mismatch"
	CodeUploadIncomplete = "upload-incomplete"
	CodeBadUpload        = "bad-upload"
	CodeOffsetMismatch   = "offset-mismatch"
	CodeChecksumMismatch = "checksum-mismatch"
	CodeInProgress       = "in-progress"
)

// UploadCreationMessage is what a kiosk signs to create an upload.
func UploadCreationMessage(uploadLength int64, uploadMetadata string) []byte {
	return []byte(strconv.FormatInt(uploadLength, 10) + "\n" + uploadMetadata)
}

// uploadRow is one tus upload. Its bytes are in DataDir/uploads/<id>; the
// committed offset is the row's, updated after the data is fsynced.
type uploadRow struct {
	ID, KioskID, PacketID, File, Metadata string
	Length, Offset                        int64
	CreatedAt                             time.Time
}

const uploadSchema = `
CREATE TABLE IF NOT EXISTS uploads (
	id         TEXT PRIMARY KEY,
	kiosk_id   TEXT NOT NULL,
	packet_id  TEXT NOT NULL,
	file       TEXT NOT NULL,
	length     INTEGER NOT NULL,
	offset     INTEGER NOT NULL,
	metadata   TEXT NOT NULL,
	created_at TEXT NOT NULL
);
`

func (st *store) addUpload(ctx context.Context, u uploadRow) error {
	_, err := st.db.ExecContext(ctx, `INSERT INTO uploads(id, kiosk_id, packet_id, file, length, offset, metadata, created_at)
		VALUES(?, ?, ?, ?, ?, ?, ?, ?)`, u.ID, u.KioskID, u.PacketID, u.File, u.Length, u.Offset, u.Metadata, fmtTime(u.CreatedAt))
	return err
}

func (st *store) upload(ctx context.Context, id string) (uploadRow, error) {
	var u uploadRow
	var at string
	err := st.db.QueryRowContext(ctx, `SELECT id, kiosk_id, packet_id, file, length, offset, metadata, created_at FROM uploads WHERE id = ?`, id).
		Scan(&u.ID, &u.KioskID, &u.PacketID, &u.File, &u.Length, &u.Offset, &u.Metadata, &at)
	if errors.Is(err, sql.ErrNoRows) {
		return u, errNotFound
	}
	u.CreatedAt = parseTime(at)
	return u, err
}

func (st *store) setUploadOffset(ctx context.Context, id string, off int64) error {
	_, err := st.db.ExecContext(ctx, `UPDATE uploads SET offset = ? WHERE id = ?`, off, id)
	return err
}

func (st *store) deleteUpload(ctx context.Context, id string) error {
	_, err := st.db.ExecContext(ctx, `DELETE FROM uploads WHERE id = ?`, id)
	return err
}

func (st *store) expiredUploads(ctx context.Context, before time.Time) ([]string, error) {
	rows, err := st.db.QueryContext(ctx, `SELECT id FROM uploads WHERE created_at < ?`, fmtTime(before))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}

// uploadLocks give one request at a time an upload. A newcomer aborts the
// holder (a PATCH whose client vanished would otherwise hold the upload
// until its idle timeout) and waits for it to let go, as tus servers do.
type uploadLocks struct {
	mu   sync.Mutex
	held map[string]*uploadLock
}

type uploadLock struct {
	done  chan struct{}
	mu    sync.Mutex
	abort func() // stops the holder's body reads; nil for short requests
	gone  bool   // aborted: the holder must not extend its deadline
}

// acquire takes id's lock; abort (may be nil) is how a later request stops
// this one. The returned lock's release must be called.
func (l *uploadLocks) acquire(ctx context.Context, id string, abort func()) (*uploadLock, func(), error) {
	for {
		l.mu.Lock()
		if l.held == nil {
			l.held = map[string]*uploadLock{}
		}
		cur := l.held[id]
		if cur == nil {
			lk := &uploadLock{done: make(chan struct{}), abort: abort}
			l.held[id] = lk
			l.mu.Unlock()
			return lk, func() {
				l.mu.Lock()
				delete(l.held, id)
				l.mu.Unlock()
				close(lk.done)
			}, nil
		}
		cur.mu.Lock()
		if !cur.gone && cur.abort != nil {
			cur.gone = true
			cur.abort()
		}
		cur.mu.Unlock()
		l.mu.Unlock()
		select {
		case <-cur.done:
		case <-ctx.Done():
			return nil, nil, ctx.Err()
		}
	}
}

// extend moves the holder's read deadline unless it was aborted.
func (lk *uploadLock) extend(set func(time.Time) error, t time.Time) bool {
	lk.mu.Lock()
	defer lk.mu.Unlock()
	if lk.gone {
		return false
	}
	_ = set(t)
	return true
}

func tusHeaders(w http.ResponseWriter) {
	w.Header().Set("Tus-Resumable", tusVersion)
	w.Header().Set("Cache-Control", "no-store")
}

// checkTusVersion answers 412 to a request that does not speak tus 1.0.0.
func checkTusVersion(w http.ResponseWriter, r *http.Request) bool {
	if r.Header.Get("Tus-Resumable") != tusVersion {
		w.Header().Set("Tus-Version", tusVersion)
		writeError(w, http.StatusPreconditionFailed, CodeBadRequest, "Tus-Resumable: "+tusVersion+" is required")
		return false
	}
	return true
}

func (s *Server) uploadPath(id string) string { return filepath.Join(s.opts.DataDir, "uploads", id) }

var uploadIDOK = func(id string) bool {
	if len(id) != 32 {
		return false
	}
	_, err := hex.DecodeString(id)
	return err == nil
}

func (s *Server) handleUploadOptions(w http.ResponseWriter, r *http.Request) {
	tusHeaders(w)
	w.Header().Set("Tus-Version", tusVersion)
	w.Header().Set("Tus-Extension", "creation,checksum,termination")
	w.Header().Set("Tus-Checksum-Algorithm", "sha256")
	w.Header().Set("Tus-Max-Size", strconv.FormatInt(MaxUploadBytes, 10))
	w.WriteHeader(http.StatusNoContent)
}

// parseTusMetadata decodes an Upload-Metadata value.
func parseTusMetadata(v string) (map[string]string, error) {
	m := map[string]string{}
	if strings.TrimSpace(v) == "" {
		return m, nil
	}
	for _, pair := range strings.Split(v, ",") {
		k, val, _ := strings.Cut(strings.TrimSpace(pair), " ")
		if k == "" {
			return nil, errors.New("empty key")
		}
		if _, dup := m[k]; dup {
			return nil, fmt.Errorf("repeated key %q", k)
		}
		b, err := base64.StdEncoding.DecodeString(val)
		if err != nil {
			return nil, fmt.Errorf("value of %q: %w", k, err)
		}
		m[k] = string(b)
	}
	return m, nil
}

func (s *Server) handleUploadCreate(w http.ResponseWriter, r *http.Request) {
	tusHeaders(w)
	if !checkTusVersion(w, r) {
		return
	}
	if r.Header.Get("Upload-Defer-Length") != "" {
		writeError(w, http.StatusBadRequest, CodeBadRequest, "Upload-Defer-Length is not supported")
		return
	}
	lengthHdr := r.Header.Get("Upload-Length")
	length, err := strconv.ParseInt(lengthHdr, 10, 64)
	if err != nil || length < 0 || strconv.FormatInt(length, 10) != lengthHdr {
		writeError(w, http.StatusBadRequest, CodeBadRequest, "Upload-Length must be a non-negative integer")
		return
	}
	if length > MaxUploadBytes {
		writeError(w, http.StatusRequestEntityTooLarge, CodeTooLarge, fmt.Sprintf("uploads are limited to %d bytes", int64(MaxUploadBytes)))
		return
	}
	if r.ContentLength > 0 {
		writeError(w, http.StatusBadRequest, CodeBadRequest, "creation-with-upload is not supported")
		return
	}
	metaHdr := r.Header.Get("Upload-Metadata")
	if len(metaHdr) > 4096 {
		writeError(w, http.StatusBadRequest, CodeBadRequest, "Upload-Metadata too long")
		return
	}
	meta, err := parseTusMetadata(metaHdr)
	if err != nil {
		writeError(w, http.StatusBadRequest, CodeBadRequest, "malformed Upload-Metadata: "+err.Error())
		return
	}
	packetID, file := meta["packetId"], meta["file"]
	if !safePacket.MatchString(packetID) || !safeName.MatchString(file) || reservedName[file] {
		writeError(w, http.StatusBadRequest, CodeBadRequest, "Upload-Metadata needs a packetId and a safe file name")
		return
	}
	kioskID := r.Header.Get(api.HeaderKioskID)
	if kioskID == "" {
		writeError(w, http.StatusUnauthorized, CodeUnknownKiosk, "missing "+api.HeaderKioskID+" header")
		return
	}
	if !s.authenticateKiosk(w, r, kioskID, UploadCreationMessage(length, metaHdr), r.Header.Get(api.HeaderKioskSignature)) {
		return
	}
	idb := make([]byte, 16)
	if _, err := io.ReadFull(s.rand, idb); err != nil {
		s.internal(w, r, err)
		return
	}
	now := s.now()
	u := uploadRow{ID: hex.EncodeToString(idb), KioskID: kioskID, PacketID: packetID, File: file,
		Length: length, Metadata: metaHdr, CreatedAt: now}
	f, err := os.OpenFile(s.uploadPath(u.ID), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		s.internal(w, r, fmt.Errorf("create upload file: %w", err))
		return
	}
	if err := f.Close(); err != nil {
		s.internal(w, r, err)
		return
	}
	if err := s.store.addUpload(r.Context(), u); err != nil {
		os.Remove(s.uploadPath(u.ID))
		s.internal(w, r, err)
		return
	}
	s.expireUploads(r.Context(), now)
	s.log.Info("upload created", "kiosk", kioskID, "upload", u.ID, "length", length)
	w.Header().Set("Location", PathUploads+u.ID)
	w.Header().Set("Upload-Offset", "0")
	w.WriteHeader(http.StatusCreated)
}

// expireUploads removes uploads older than UploadTTL (orphans of lost
// creation answers, abandoned packets).
func (s *Server) expireUploads(ctx context.Context, now time.Time) {
	ids, err := s.store.expiredUploads(ctx, now.Add(-UploadTTL))
	if err != nil {
		s.log.Warn("list expired uploads", "err", err)
		return
	}
	for _, id := range ids {
		if err := s.removeUpload(ctx, id); err != nil {
			s.log.Warn("expire upload", "upload", id, "err", err)
		}
	}
}

// removeUpload deletes an upload's record and bytes, under its lock.
func (s *Server) removeUpload(ctx context.Context, id string) error {
	_, release, err := s.uploads.acquire(ctx, id, nil)
	if err != nil {
		return err
	}
	defer release()
	if err := s.store.deleteUpload(ctx, id); err != nil {
		return err
	}
	if err := os.Remove(s.uploadPath(id)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

// lockedUpload takes the upload's lock and loads it; it answers errors.
func (s *Server) lockedUpload(w http.ResponseWriter, r *http.Request, abort func()) (*uploadLock, uploadRow, func(), bool) {
	id := r.PathValue("id")
	if !uploadIDOK(id) {
		writeError(w, http.StatusNotFound, CodeUploadUnknown, "no such upload")
		return nil, uploadRow{}, nil, false
	}
	lk, release, err := s.uploads.acquire(r.Context(), id, abort)
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, CodeInternal, "upload busy")
		return nil, uploadRow{}, nil, false
	}
	u, err := s.store.upload(r.Context(), id)
	if err != nil {
		release()
		if errors.Is(err, errNotFound) {
			writeError(w, http.StatusNotFound, CodeUploadUnknown, "no such upload")
		} else {
			s.internal(w, r, err)
		}
		return nil, uploadRow{}, nil, false
	}
	return lk, u, release, true
}

func (s *Server) handleUploadHead(w http.ResponseWriter, r *http.Request) {
	tusHeaders(w)
	_, u, release, ok := s.lockedUpload(w, r, nil)
	if !ok {
		return
	}
	defer release()
	w.Header().Set("Upload-Offset", strconv.FormatInt(u.Offset, 10))
	w.Header().Set("Upload-Length", strconv.FormatInt(u.Length, 10))
	if u.Metadata != "" {
		w.Header().Set("Upload-Metadata", u.Metadata)
	}
	w.WriteHeader(http.StatusOK)
}

func (s *Server) handleUploadDelete(w http.ResponseWriter, r *http.Request) {
	tusHeaders(w)
	if !checkTusVersion(w, r) {
		return
	}
	id := r.PathValue("id")
	if !uploadIDOK(id) {
		writeError(w, http.StatusNotFound, CodeUploadUnknown, "no such upload")
		return
	}
	if _, err := s.store.upload(r.Context(), id); errors.Is(err, errNotFound) {
		writeError(w, http.StatusNotFound, CodeUploadUnknown, "no such upload")
		return
	} else if err != nil {
		s.internal(w, r, err)
		return
	}
	if err := s.removeUpload(r.Context(), id); err != nil {
		s.internal(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// parseChecksum reads "sha256 <base64>"; other algorithms are refused.
func parseChecksum(h string) (want []byte, hasher hash.Hash, ok bool) {
	if h == "" {
		return nil, nil, true
	}
	algo, b64, _ := strings.Cut(strings.TrimSpace(h), " ")
	if !strings.EqualFold(algo, "sha256") {
		return nil, nil, false
	}
	want, err := base64.StdEncoding.DecodeString(strings.TrimSpace(b64))
	if err != nil || len(want) != sha256.Size {
		return nil, nil, false
	}
	return want, sha256.New(), true
}

func (s *Server) handleUploadPatch(w http.ResponseWriter, r *http.Request) {
	tusHeaders(w)
	if !checkTusVersion(w, r) {
		return
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/offset+octet-stream" {
		writeError(w, http.StatusUnsupportedMediaType, CodeBadRequest, "Content-Type must be application/offset+octet-stream")
		return
	}
	offHdr := r.Header.Get("Upload-Offset")
	off, err := strconv.ParseInt(offHdr, 10, 64)
	if err != nil || off < 0 {
		writeError(w, http.StatusBadRequest, CodeBadRequest, "Upload-Offset must be a non-negative integer")
		return
	}
	want, hasher, ok := parseChecksum(r.Header.Get("Upload-Checksum"))
	if !ok {
		writeError(w, http.StatusBadRequest, CodeBadRequest, "Upload-Checksum must be sha256 with a base64 digest")
		return
	}
	rc := http.NewResponseController(w)
	lk, u, release, ok := s.lockedUpload(w, r, func() { _ = rc.SetReadDeadline(time.Now()) })
	if !ok {
		return
	}
	defer release()
	if off != u.Offset {
		w.Header().Set("Upload-Offset", strconv.FormatInt(u.Offset, 10))
		writeError(w, http.StatusConflict, CodeOffsetMismatch, fmt.Sprintf("upload is at offset %d", u.Offset))
		return
	}
	remaining := u.Length - u.Offset
	if r.ContentLength > remaining {
		writeError(w, http.StatusRequestEntityTooLarge, CodeTooLarge, "body runs past Upload-Length")
		return
	}
	f, err := os.OpenFile(s.uploadPath(u.ID), os.O_WRONLY, 0o600)
	if err != nil {
		s.internal(w, r, fmt.Errorf("open upload: %w", err))
		return
	}
	defer f.Close()
	// Bytes past the committed offset are leftovers of a PATCH that did not
	// commit (a failed checksum, a crash): drop them.
	if err := f.Truncate(u.Offset); err != nil {
		s.internal(w, r, err)
		return
	}
	n, complete, tooLong, err := copyBody(f, u.Offset, r.Body, remaining, hasher, func() bool {
		return lk.extend(rc.SetReadDeadline, time.Now().Add(uploadIdle))
	})
	if err != nil {
		f.Truncate(u.Offset)
		s.internal(w, r, err)
		return
	}
	switch {
	case tooLong:
		f.Truncate(u.Offset)
		writeError(w, http.StatusRequestEntityTooLarge, CodeTooLarge, "body runs past Upload-Length")
		return
	case hasher != nil && !complete:
		// A checksum covers the whole body; an interrupted one cannot be verified.
		f.Truncate(u.Offset)
		writeError(w, http.StatusBadRequest, CodeBadRequest, "body interrupted; checksummed data discarded")
		return
	case hasher != nil && string(hasher.Sum(nil)) != string(want):
		f.Truncate(u.Offset)
		s.log.Warn("upload checksum mismatch", "upload", u.ID)
		writeError(w, statusChecksumMismatch, CodeChecksumMismatch, "checksum mismatch")
		return
	}
	if n > 0 {
		if err := f.Sync(); err != nil {
			s.internal(w, r, err)
			return
		}
		// The request may be dead (interrupted body): commit with a fresh context.
		if err := s.store.setUploadOffset(context.WithoutCancel(r.Context()), u.ID, u.Offset+n); err != nil {
			s.internal(w, r, err)
			return
		}
	}
	w.Header().Set("Upload-Offset", strconv.FormatInt(u.Offset+n, 10))
	w.WriteHeader(http.StatusNoContent)
}

// copyBody writes body to f at off, at most limit bytes, hashing into h
// (may be nil). keep is called before each read and extends the read
// deadline; it reports false once the request was aborted. complete tells
// whether the body ended normally; tooLong that it held more than limit.
func copyBody(f *os.File, off int64, body io.Reader, limit int64, h hash.Hash, keep func() bool) (n int64, complete, tooLong bool, err error) {
	buf := make([]byte, 32<<10)
	for {
		if !keep() {
			return n, false, false, nil
		}
		k, rerr := body.Read(buf)
		if k > 0 {
			if n+int64(k) > limit {
				return n, false, true, nil
			}
			if _, err := f.WriteAt(buf[:k], off+n); err != nil {
				return n, false, false, fmt.Errorf("write upload: %w", err)
			}
			if h != nil {
				h.Write(buf[:k])
			}
			n += int64(k)
		}
		if rerr == io.EOF {
			return n, true, false, nil
		}
		if rerr != nil {
			return n, false, false, nil
		}
	}
}

// uploadIDFromURL takes the upload id out of an upload URL (absolute, or a
// path) as given in FinaliseRequest.Uploads.
func uploadIDFromURL(raw string) (string, bool) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", false
	}
	id, ok := strings.CutPrefix(u.Path, PathUploads)
	if !ok || !uploadIDOK(id) {
		return "", false
	}
	return id, true
}
