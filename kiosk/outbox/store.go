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
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/google/uuid"

	"govkiosk/backend-client/api"
	"govkiosk/kiosk/atomicfile"
)

// Names of the fixed files in a packet directory.
const (
	manifestFile  = "manifest.json"
	signatureFile = "signature"
)

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
	if n == "" || len(n) > 128 || n[0] == '.' || n == manifestFile || n == signatureFile {
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

// Enqueue stores p durably: every file is written with atomicfile.Write into
// packets/<id>/, the directory is fsynced, then the row is committed. Only the
// commit makes the packet exist; a crash before it leaves a stray directory
// that Open removes. Enqueueing the same ID again with the same content (or
// after it was acknowledged) is a no-op; different content is ErrConflict.
func (o *Outbox) Enqueue(ctx context.Context, p Packet) error {
	if err := validate(p); err != nil {
		return err
	}
	sum := digest(p.ManifestJSON, p.Signature, p.Docs)

	o.enqMu.Lock()
	defer o.enqMu.Unlock()
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
		if state == StateAcknowledged || have == sum {
			return nil
		}
		return fmt.Errorf("%w: %s", ErrConflict, p.ID)
	case !errors.Is(err, sql.ErrNoRows):
		return fmt.Errorf("outbox: enqueue %s: %w", p.ID, err)
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
	files := []Doc{{manifestFile, p.ManifestJSON}, {signatureFile, p.Signature}}
	files = append(files, p.Docs...)
	for _, f := range files {
		if err := atomicfile.Write(filepath.Join(dir, f.Name), f.Data, 0o600); err != nil {
			return fmt.Errorf("outbox: enqueue %s: %w", p.ID, err)
		}
	}
	if err := atomicfile.SyncDir(dir); err != nil {
		return fmt.Errorf("outbox: enqueue %s: %w", p.ID, err)
	}
	if err := atomicfile.SyncDir(o.packets); err != nil {
		return fmt.Errorf("outbox: enqueue %s: %w", p.ID, err)
	}
	names := make([]string, len(p.Docs))
	for i, d := range p.Docs {
		names[i] = d.Name
	}
	docsJSON, _ := json.Marshal(names)
	now := o.now().UnixNano()
	if _, err := o.db.ExecContext(ctx, `INSERT INTO packets
		(id, provisional, state, attempts, next_at, digest, docs, created_at, updated_at)
		VALUES (?, ?, ?, 0, ?, ?, ?, ?, ?)`,
		p.ID, p.ProvisionalNumber, StateQueued, now, sum, string(docsJSON), now, now); err != nil {
		return fmt.Errorf("outbox: enqueue %s: commit: %w", p.ID, err)
	}
	committed = true
	o.log.Info("outbox: packet queued", "packet", p)
	o.notify()
	o.Kick()
	return nil
}

// load reads a pending packet's files back and checks them against the
// digest recorded at Enqueue.
func (o *Outbox) load(id, docsJSON, want string) (manifest, sig []byte, docs []Doc, err error) {
	var names []string
	if err := json.Unmarshal([]byte(docsJSON), &names); err != nil {
		return nil, nil, nil, fmt.Errorf("document list: %w", err)
	}
	dir := o.packetDir(id)
	if manifest, err = os.ReadFile(filepath.Join(dir, manifestFile)); err != nil {
		return nil, nil, nil, err
	}
	if sig, err = os.ReadFile(filepath.Join(dir, signatureFile)); err != nil {
		return nil, nil, nil, err
	}
	for _, n := range names {
		b, err := os.ReadFile(filepath.Join(dir, n))
		if err != nil {
			return nil, nil, nil, err
		}
		docs = append(docs, Doc{Name: n, Data: b})
	}
	if got := digest(manifest, sig, docs); got != want {
		return nil, nil, nil, errors.New("packet files do not match their digest")
	}
	return manifest, sig, docs, nil
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
	if e.State == StateQueued {
		e.NextAttempt = time.Unix(0, nextAt)
	}
	e.CreatedAt = time.Unix(0, created)
	e.UpdatedAt = time.Unix(0, update)
	return e, nil
}

// Get returns the entry of packet id.
func (o *Outbox) Get(id string) (Entry, bool, error) {
	o.viewMu.RLock()
	defer o.viewMu.RUnlock()
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
	o.viewMu.RLock()
	defer o.viewMu.RUnlock()
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

// Backlog counts the packets the portal has not acknowledged: queued,
// sending and needsAttention.
func (o *Outbox) Backlog() (int, error) {
	var n int
	if err := o.db.QueryRow(`SELECT count(*) FROM packets WHERE state != ?`, StateAcknowledged).Scan(&n); err != nil {
		return 0, fmt.Errorf("outbox: backlog: %w", err)
	}
	return n, nil
}

// Requeue puts a needsAttention (or waiting queued) packet back in the queue,
// due now. It is the operator's way out of needsAttention.
func (o *Outbox) Requeue(id string) error {
	now := o.now().UnixNano()
	res, err := o.db.Exec(`UPDATE packets SET state = ?, next_at = ?, updated_at = ?
		WHERE id = ? AND state IN (?, ?)`, StateQueued, now, now, id, StateNeedsAttention, StateQueued)
	if err != nil {
		return fmt.Errorf("outbox: requeue %s: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
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

// Wait returns once packet id is acknowledged or needsAttention. If ctx ends
// first it returns the current entry and ctx.Err(); if the outbox closes, the
// current entry and ErrClosed.
func (o *Outbox) Wait(ctx context.Context, id string) (Entry, error) {
	for {
		ch := o.changes() // before reading, so no change is missed
		e, ok, err := o.Get(id)
		if err != nil {
			return Entry{}, err
		}
		if !ok {
			return Entry{}, fmt.Errorf("%w: %s", ErrNotFound, id)
		}
		if e.State == StateAcknowledged || e.State == StateNeedsAttention {
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
