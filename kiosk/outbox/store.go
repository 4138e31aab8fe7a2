package outbox

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"filippo.io/age"
	"github.com/google/uuid"

	"govkiosk/backend-client/api"
	"govkiosk/kiosk/atomicfile"
)

// reserved are names a document may not have (the manifest's file is
// manifest.age; the others are names of earlier layouts).
var reserved = map[string]bool{"manifest": true, "manifest.json": true, "signature": true}

// validate checks that p is well formed and consistent with its manifest, so
// that a packet the portal must reject is refused before the citizen is told
// "received".
func validate(p Packet) error {
	u, err := uuid.Parse(p.ID)
	if err != nil || u.String() != p.ID {
		return fmt.Errorf("outbox: packet ID %q is not a lower-case UUID", p.ID)
	}
	if p.ProvisionalNumber == "" {
		return errors.New("outbox: packet has no provisional number")
	}
	if len(p.Signature) == 0 {
		return errors.New("outbox: packet has no signature")
	}
	var m api.Manifest
	if err := json.Unmarshal(p.ManifestJSON, &m); err != nil {
		return fmt.Errorf("outbox: manifest: %w", err)
	}
	if m.PacketID != p.ID {
		return fmt.Errorf("outbox: manifest packetId %q differs from packet ID %q", m.PacketID, p.ID)
	}
	if m.ProvisionalNumber != p.ProvisionalNumber {
		return fmt.Errorf("outbox: manifest provisional number %q differs from packet's %q", m.ProvisionalNumber, p.ProvisionalNumber)
	}
	listed := map[string]api.DocumentRef{}
	for _, d := range m.Documents {
		listed[d.File] = d
	}
	seen := map[string]bool{}
	for _, d := range p.Docs {
		if !validDocName(d.Name) {
			return fmt.Errorf("outbox: document name %q is not a plain file name", d.Name)
		}
		if seen[d.Name] {
			return fmt.Errorf("outbox: document %q appears twice", d.Name)
		}
		seen[d.Name] = true
		ref, ok := listed[d.Name]
		if !ok {
			return fmt.Errorf("outbox: document %q is not in the manifest", d.Name)
		}
		sum := sha256.Sum256(d.Data)
		if !strings.EqualFold(ref.SHA256, hex.EncodeToString(sum[:])) || ref.Size != int64(len(d.Data)) {
			return fmt.Errorf("outbox: document %q does not match its manifest hash or size", d.Name)
		}
	}
	for name := range listed {
		if !seen[name] {
			return fmt.Errorf("outbox: manifest lists document %q the packet lacks", name)
		}
	}
	return nil
}

func validDocName(n string) bool {
	if n == "" || len(n) > 128 || n[0] == '.' || reserved[n] {
		return false
	}
	return !strings.ContainsAny(n, "/\\\x00") && filepath.Base(n) == n
}

// digest identifies a packet's content, for idempotent Enqueue and for
// checking the files before they are sent.
func digest(manifest, sig []byte, docs []Doc) string {
	h := sha256.New()
	part := func(b []byte) {
		var n [8]byte
		binary.BigEndian.PutUint64(n[:], uint64(len(b)))
		h.Write(n[:])
		h.Write(b)
	}
	part(manifest)
	part(sig)
	for _, d := range docs {
		part([]byte(d.Name))
		part(d.Data)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// Enqueue checks p, encrypts it to the portal's recipient and stores it
// durably: the manifest and every document are written encrypted to
// temporary files in packets/<id>/, fsynced and renamed, the directory is
// fsynced, then one transaction commits the packet's row and its file list.
// Only the commit makes the packet exist; a crash before it leaves a stray
// directory that Open removes. Enqueueing the same ID again with the same
// content (or after it was delivered) is a no-op; different content is
// ErrConflict. A new packet the limits do not admit is refused with the
// error Admit would give (ErrBacklogFull, ErrBacklogTooOld, ErrQuotaFull,
// ErrDiskLow).
func (o *Outbox) Enqueue(ctx context.Context, p Packet) error {
	if err := validate(p); err != nil {
		return err
	}
	sum := digest(p.ManifestJSON, p.Signature, p.Docs)

	o.enqMu.Lock()
	defer o.enqMu.Unlock()
	if o.isClosed() {
		return ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("outbox: enqueue %s: %w", p.ID, err)
	}
	var (
		have  string
		state State
	)
	err := o.db.QueryRowContext(ctx, `SELECT digest, state FROM packets WHERE id = ?`, p.ID).Scan(&have, &state)
	switch {
	case err == nil:
		if state.Delivered() || have == sum {
			return nil
		}
		return fmt.Errorf("%w: %s", ErrConflict, p.ID)
	case !errors.Is(err, sql.ErrNoRows):
		return fmt.Errorf("outbox: enqueue %s: %w", p.ID, err)
	}
	plain := int64(len(p.ManifestJSON))
	for _, d := range p.Docs {
		plain += int64(len(d.Data))
	}
	if err := o.admit(plain); err != nil {
		return err
	}

	dir := o.packetDir(p.ID)
	committed := false
	defer func() {
		if !committed {
			os.RemoveAll(dir)
		}
	}()
	if err := os.RemoveAll(dir); err != nil { // leftover of an interrupted Enqueue
		return fmt.Errorf("outbox: enqueue %s: %w", p.ID, err)
	}
	if err := os.Mkdir(dir, 0o700); err != nil {
		return fmt.Errorf("outbox: enqueue %s: %w", p.ID, err)
	}
	files := make([]fileRow, 0, len(p.Docs)+1)
	write := func(name string, data []byte) error {
		h, n, err := o.writeEncrypted(filepath.Join(dir, cipherName(name)), data)
		if err != nil {
			return fmt.Errorf("outbox: enqueue %s: %w", p.ID, err)
		}
		files = append(files, fileRow{pos: len(files), name: name, sha256: h, size: n})
		return nil
	}
	if err := write("", p.ManifestJSON); err != nil {
		return err
	}
	for _, d := range p.Docs {
		if err := write(d.Name, d.Data); err != nil {
			return err
		}
	}
	if err := o.syncDir(dir); err != nil {
		return fmt.Errorf("outbox: enqueue %s: %w", p.ID, err)
	}
	if err := o.syncDir(o.packets); err != nil {
		return fmt.Errorf("outbox: enqueue %s: %w", p.ID, err)
	}
	var total int64
	for _, f := range files {
		total += f.size
	}
	now := o.now().UnixNano()
	err = o.tx(ctx, "enqueue "+p.ID, func(tx *sql.Tx) error {
		if _, err := tx.Exec(`INSERT INTO packets
			(id, provisional, state, attempts, next_at, digest, signature, bytes, created_at, updated_at)
			VALUES (?, ?, ?, 0, ?, ?, ?, ?, ?, ?)`,
			p.ID, p.ProvisionalNumber, StateQueued, now, sum, p.Signature, total, now, now); err != nil {
			return err
		}
		for _, f := range files {
			if _, err := tx.Exec(`INSERT INTO files (packet_id, pos, name, sha256, size) VALUES (?, ?, ?, ?, ?)`,
				p.ID, f.pos, f.name, f.sha256, f.size); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("outbox: enqueue %s: commit: %w", p.ID, err)
	}
	committed = true
	o.log.Info("outbox: packet queued", "packet", p, "bytes", total)
	o.notify()
	o.Kick()
	return nil
}

// tx runs f in one transaction; the commit is announced to the test hook.
func (o *Outbox) tx(ctx context.Context, what string, f func(*sql.Tx) error) error {
	tx, err := o.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := f(tx); err != nil {
		tx.Rollback()
		return err
	}
	o.at("commit", what)
	return tx.Commit()
}

// exec runs one statement (its own transaction) after announcing it.
func (o *Outbox) exec(what, q string, args ...any) (sql.Result, error) {
	o.at("commit", what)
	return o.db.Exec(q, args...)
}

// fileRow is one encrypted file of a packet.
type fileRow struct {
	pos       int
	name      string // '' for the manifest
	sha256    string
	size      int64
	uploadURL string
	uploaded  bool
}

// cipherName is the on-disk name of a packet file.
func cipherName(name string) string {
	if name == "" {
		return "manifest.age"
	}
	return name + ".age"
}

// writeEncrypted writes data encrypted to the recipient into a temporary
// file beside path, fsyncs it and renames it to path (the caller fsyncs the
// directory). It returns the SHA-256 (hex) and size of the ciphertext.
func (o *Outbox) writeEncrypted(path string, data []byte) (sum string, size int64, err error) {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return "", 0, err
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if err = f.Chmod(0o600); err != nil {
		return "", 0, err
	}
	h := sha256.New()
	cw := &countWriter{w: io.MultiWriter(f, h)}
	w, err := age.Encrypt(cw, o.recipient)
	if err != nil {
		return "", 0, fmt.Errorf("encrypt: %w", err)
	}
	if _, err = w.Write(data); err != nil {
		return "", 0, fmt.Errorf("encrypt %s: %w", filepath.Base(path), err)
	}
	if err = w.Close(); err != nil {
		return "", 0, fmt.Errorf("encrypt %s: %w", filepath.Base(path), err)
	}
	o.at("fsync-file", tmp)
	if err = f.Sync(); err != nil {
		return "", 0, fmt.Errorf("fsync %s: %w", filepath.Base(path), err)
	}
	if err = f.Close(); err != nil {
		return "", 0, err
	}
	if err = os.Rename(tmp, path); err != nil {
		return "", 0, err
	}
	return hex.EncodeToString(h.Sum(nil)), cw.n, nil
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(b []byte) (int, error) {
	n, err := c.w.Write(b)
	c.n += int64(n)
	return n, err
}

// syncDir fsyncs a directory so that creations, renames and removals in it
// are durable.
func (o *Outbox) syncDir(dir string) error {
	o.at("fsync-dir", dir)
	return atomicfile.SyncDir(dir)
}

// files returns a packet's file rows in order.
func (o *Outbox) files(id string) ([]fileRow, error) {
	rows, err := o.db.Query(`SELECT pos, name, sha256, size, upload_url, uploaded FROM files
		WHERE packet_id = ? ORDER BY pos`, id)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []fileRow
	for rows.Next() {
		var f fileRow
		if err := rows.Scan(&f.pos, &f.name, &f.sha256, &f.size, &f.uploadURL, &f.uploaded); err != nil {
			return nil, err
		}
		out = append(out, f)
	}
	return out, rows.Err()
}

// checkFile verifies that a packet file on disk is the ciphertext Enqueue
// wrote.
func (o *Outbox) checkFile(id string, f fileRow) error {
	path := filepath.Join(o.packetDir(id), cipherName(f.name))
	fh, err := os.Open(path)
	if err != nil {
		return err
	}
	defer fh.Close()
	h := sha256.New()
	n, err := io.Copy(h, fh)
	if err != nil {
		return fmt.Errorf("read %s: %w", filepath.Base(path), err)
	}
	if n != f.size || hex.EncodeToString(h.Sum(nil)) != f.sha256 {
		return fmt.Errorf("%s does not match what was stored", filepath.Base(path))
	}
	return nil
}

const entryCols = `id, provisional, state, attempts, last_error, next_at, result, created_at, updated_at`

type scanner interface{ Scan(dest ...any) error }

func scanEntry(s scanner) (Entry, error) {
	var (
		e                       Entry
		result                  string
		nextAt, created, update int64
	)
	if err := s.Scan(&e.ID, &e.ProvisionalNumber, &e.State, &e.Attempts, &e.LastError,
		&nextAt, &result, &created, &update); err != nil {
		return Entry{}, err
	}
	if result != "" {
		var r api.SubmitResult
		if err := json.Unmarshal([]byte(result), &r); err != nil {
			return Entry{}, fmt.Errorf("result of %s: %w", e.ID, err)
		}
		e.Result = &r
	}
	if e.State.sending() {
		e.NextAttempt = time.Unix(0, nextAt)
	}
	e.CreatedAt = time.Unix(0, created)
	e.UpdatedAt = time.Unix(0, update)
	return e, nil
}

// Get returns the entry of packet id.
func (o *Outbox) Get(id string) (Entry, bool, error) {
	e, err := scanEntry(o.db.QueryRow(`SELECT `+entryCols+` FROM packets WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return Entry{}, false, nil
	}
	if err != nil {
		return Entry{}, false, fmt.Errorf("outbox: get %s: %w", id, err)
	}
	return e, true, nil
}

// List returns every entry, oldest first.
func (o *Outbox) List() ([]Entry, error) {
	rows, err := o.db.Query(`SELECT ` + entryCols + ` FROM packets ORDER BY seq`)
	if err != nil {
		return nil, fmt.Errorf("outbox: list: %w", err)
	}
	defer rows.Close()
	var out []Entry
	for rows.Next() {
		e, err := scanEntry(rows)
		if err != nil {
			return nil, fmt.Errorf("outbox: list: %w", err)
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("outbox: list: %w", err)
	}
	return out, nil
}

// backlogStates are the states of packets the portal has not accepted.
const backlogStates = `('queued', 'uploading', 'uploaded', 'needsAttention')`

// Backlog counts the packets the portal has not accepted yet: queued,
// uploading, uploaded and needsAttention.
func (o *Outbox) Backlog() (int, error) {
	var n int
	if err := o.db.QueryRow(`SELECT count(*) FROM packets WHERE state IN ` + backlogStates).Scan(&n); err != nil {
		return 0, fmt.Errorf("outbox: backlog: %w", err)
	}
	return n, nil
}

// Requeue puts a needsAttention packet (or one waiting for a retry) back in
// the queue, due now, forgetting its uploads so that it starts over. It is
// the operator's way out of needsAttention.
func (o *Outbox) Requeue(id string) error {
	o.mu.Lock()
	busy := o.busy[id]
	o.mu.Unlock()
	if busy {
		return fmt.Errorf("outbox: requeue %s: packet is being delivered", id)
	}
	now := o.now().UnixNano()
	var n int64
	err := o.tx(context.Background(), "requeue "+id, func(tx *sql.Tx) error {
		res, err := tx.Exec(`UPDATE packets SET state = ?, next_at = ?, updated_at = ?
			WHERE id = ? AND state IN (?, ?, ?, ?)`, StateQueued, now, now, id,
			StateNeedsAttention, StateQueued, StateUploading, StateUploaded)
		if err != nil {
			return err
		}
		if n, _ = res.RowsAffected(); n == 0 {
			return nil
		}
		_, err = tx.Exec(`UPDATE files SET upload_url = '', uploaded = 0 WHERE packet_id = ?`, id)
		return err
	})
	if err != nil {
		return fmt.Errorf("outbox: requeue %s: %w", id, err)
	}
	if n == 0 {
		e, ok, err := o.Get(id)
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("%w: %s", ErrNotFound, id)
		}
		return fmt.Errorf("outbox: requeue %s: packet is %s", id, e.State)
	}
	o.log.Info("outbox: packet requeued", "id", id)
	o.notify()
	o.Kick()
	return nil
}

// Withdraw drops a packet the portal refused for good (needsAttention) that
// the citizen has replaced with a corrected one: the row keeps no content
// and the files are removed. Any other state is refused: a packet that may
// still reach the portal is never dropped.
func (o *Outbox) Withdraw(id string) error {
	o.mu.Lock()
	busy := o.busy[id]
	o.mu.Unlock()
	if busy {
		return fmt.Errorf("outbox: withdraw %s: packet is being delivered", id)
	}
	var n int64
	err := o.tx(context.Background(), "withdraw "+id, func(tx *sql.Tx) error {
		res, err := tx.Exec(`UPDATE packets SET state = ?, digest = '', signature = NULL, bytes = 0, updated_at = ?
			WHERE id = ? AND state = ?`, StateWithdrawn, o.now().UnixNano(), id, StateNeedsAttention)
		if err != nil {
			return err
		}
		if n, _ = res.RowsAffected(); n == 0 {
			return nil
		}
		_, err = tx.Exec(`DELETE FROM files WHERE packet_id = ?`, id)
		return err
	})
	if err != nil {
		return fmt.Errorf("outbox: withdraw %s: %w", id, err)
	}
	if n == 0 {
		e, ok, err := o.Get(id)
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("%w: %s", ErrNotFound, id)
		}
		return fmt.Errorf("outbox: withdraw %s: packet is %s", id, e.State)
	}
	if err := os.RemoveAll(o.packetDir(id)); err != nil {
		return fmt.Errorf("outbox: withdraw %s: %w", id, err) // Open removes it as a stray
	}
	if err := o.syncDir(o.packets); err != nil {
		return err
	}
	o.log.Info("outbox: refused packet withdrawn", "id", id)
	o.notify()
	return o.prune()
}

// Wait returns once packet id is delivered (finalised, acknowledged or
// purged: Entry.Delivered) or needsAttention. If ctx ends first it returns
// the current entry and ctx.Err(); if the outbox closes, the current entry
// and ErrClosed.
func (o *Outbox) Wait(ctx context.Context, id string) (Entry, error) {
	for {
		ch := o.changes() // before reading, so no change is missed
		if o.isClosed() {
			return Entry{}, ErrClosed
		}
		e, ok, err := o.Get(id)
		if err != nil {
			return Entry{}, err
		}
		if !ok {
			return Entry{}, fmt.Errorf("%w: %s", ErrNotFound, id)
		}
		if e.Delivered() || e.State == StateNeedsAttention {
			return e, nil
		}
		select {
		case <-ctx.Done():
			return e, ctx.Err()
		case <-o.closing:
			return e, ErrClosed
		case <-ch:
		}
	}
}
