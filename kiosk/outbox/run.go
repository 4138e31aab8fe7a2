package outbox

import (
	"context"
	"database/sql"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"govkiosk/backend-client/api"
	"govkiosk/backend-client/tus"
)

// Run delivers packets with s until ctx is done or the outbox is closed,
// oldest due packet first, each from the state it reached. It sleeps on a
// timer until the next retry is due or Kick is called. A transient error
// counts an attempt and schedules a retry after a capped, jittered
// exponential backoff; a permanent one (see Options.IsPermanent) parks the
// packet in needsAttention with the reason; success stores the result
// (finalised), then acknowledges and purges the packet. A success answer
// that does not verify (api.ErrUnverifiedAnswer) is no success: it is
// logged as an error and retried like a transient one. A delivery
// interrupted by cancellation keeps its state and does not count. When the
// store cannot be read, Run retries with the same backoff.
func (o *Outbox) Run(ctx context.Context, s Sender) {
	o.mu.Lock()
	if o.closed {
		o.mu.Unlock()
		return
	}
	o.runWG.Add(1)
	o.mu.Unlock()
	defer o.runWG.Done()

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-o.closing:
			cancel()
		case <-ctx.Done():
		}
	}()

	failures := 0 // of next, in a row
	for ctx.Err() == nil {
		p, wait, err := o.next()
		if err != nil {
			failures++
			wait = o.backoff(failures)
			o.log.Error("outbox: find next packet", "err", err, "retryIn", wait)
		} else {
			failures = 0
		}
		if p != nil {
			o.deliver(ctx, s, *p)
			continue
		}
		var (
			t       *time.Timer
			timeout <-chan time.Time
		)
		if wait >= 0 {
			t = time.NewTimer(wait)
			timeout = t.C
		}
		select {
		case <-ctx.Done():
		case <-o.kick:
		case <-timeout:
		}
		if t != nil {
			t.Stop()
		}
	}
}

type pending struct {
	id, provisional string
	state           State
	attempts        int
}

// next claims the oldest due packet, or else says how long until the
// earliest one still to send is due (-1: none).
func (o *Outbox) next() (*pending, time.Duration, error) {
	now := o.now()
	rows, err := o.db.Query(`SELECT id, provisional, state, attempts FROM packets
		WHERE state IN (?, ?, ?) AND next_at <= ? ORDER BY seq`,
		StateQueued, StateUploading, StateUploaded, now.UnixNano())
	if err != nil {
		return nil, 0, err
	}
	var found *pending
	busy := false
	o.mu.Lock()
	for rows.Next() {
		var p pending
		if err := rows.Scan(&p.id, &p.provisional, &p.state, &p.attempts); err != nil {
			o.mu.Unlock()
			rows.Close()
			return nil, 0, err
		}
		if !o.busy[p.id] {
			o.busy[p.id] = true
			found = &p
			break
		}
		busy = true
	}
	o.mu.Unlock()
	if err := rows.Close(); err != nil {
		return nil, 0, err
	}
	if found != nil {
		return found, 0, nil
	}
	if busy { // due, but another Run has it: look again later
		return nil, o.minB, nil
	}
	var at sql.NullInt64
	if err := o.db.QueryRow(`SELECT min(next_at) FROM packets WHERE state IN (?, ?, ?)`,
		StateQueued, StateUploading, StateUploaded).Scan(&at); err != nil {
		return nil, 0, err
	}
	if !at.Valid {
		return nil, o.untilPrune(now), nil
	}
	return nil, min(max(time.Unix(0, at.Int64).Sub(now), 0), o.untilPrune(now)), nil
}

// DefaultKeepDelivered is how long a delivered packet's row is kept.
const DefaultKeepDelivered = 24 * time.Hour

// pruneEvery is how often Run prunes when nothing else happens.
const pruneEvery = time.Hour

// untilPrune prunes if it is due and says how long until it is due again.
func (o *Outbox) untilPrune(now time.Time) time.Duration {
	o.mu.Lock()
	due := !now.Before(o.pruneAt)
	if due {
		o.pruneAt = now.Add(pruneEvery)
	}
	next := o.pruneAt.Sub(now)
	o.mu.Unlock()
	if due {
		if err := o.prune(); err != nil {
			o.log.Error("outbox: prune delivered packets", "err", err)
		}
	}
	return next
}

// prune deletes the rows of packets purged or withdrawn more than
// KeepDelivered ago and truncates the WAL.
func (o *Outbox) prune() error {
	res, err := o.exec("prune", `DELETE FROM packets WHERE state IN (?, ?) AND updated_at < ?`,
		StatePurged, StateWithdrawn, o.now().Add(-o.keep).UnixNano())
	if err != nil {
		return fmt.Errorf("outbox: prune: %w", err)
	}
	if n, _ := res.RowsAffected(); n > 0 {
		o.log.Info("outbox: delivered packets forgotten", "count", n, "olderThan", o.keep)
	}
	return o.truncateWAL()
}

// truncateWAL checkpoints the WAL into the database (whose deleted content
// secure_delete has zeroed) and truncates it, so that no earlier version of
// a purged row or file list stays in it.
func (o *Outbox) truncateWAL() error {
	var busy, frames, done int
	if err := o.db.QueryRow(`PRAGMA wal_checkpoint(TRUNCATE)`).Scan(&busy, &frames, &done); err != nil {
		return fmt.Errorf("outbox: checkpoint: %w", err)
	}
	if busy != 0 {
		o.log.Warn("outbox: WAL not truncated: the database is busy; the next purge tries again")
	}
	return nil
}

// retryErr marks an error that must be retried even if it looks permanent
// (an upload URL from an earlier attempt that the server has forgotten: the
// next attempt creates a new upload).
type retryErr struct{ err error }

func (e retryErr) Error() string { return e.err.Error() }
func (e retryErr) Unwrap() error { return e.err }

// deliver takes one packet as far as it can go in one attempt.
func (o *Outbox) deliver(ctx context.Context, s Sender, p pending) {
	defer func() {
		o.mu.Lock()
		delete(o.busy, p.id)
		o.mu.Unlock()
	}()
	log := o.log.With("id", p.id, "provisional", p.provisional)
	attempt := p.attempts + 1
	result, err := o.send(ctx, s, p, log)
	var re retryErr
	switch {
	case err == nil:
		o.delivered(log, p.id, attempt, result)
	case ctx.Err() != nil:
		// Interrupted by shutdown, not a failure of the portal: the packet
		// stays in the state it reached and resumes from there.
		log.Info("outbox: delivery interrupted; it resumes where it stopped")
		o.notify()
	case errors.Is(err, api.ErrUnverifiedAnswer):
		// A "delivered" the portal did not sign (forged, altered, or for
		// another packet): not delivered. Keep the packet, send it again.
		log.Error("outbox: the portal's answer did not verify; the packet is kept and sent again", "attempts", attempt, "err", err)
		o.settle(log, p.id, "", attempt, err.Error(), o.backoff(attempt))
	case errors.As(err, &re) || !o.permanent(err):
		o.settle(log, p.id, "", attempt, err.Error(), o.backoff(attempt))
	default:
		o.settle(log, p.id, StateNeedsAttention, attempt, err.Error(), 0)
	}
}

// send runs the steps a packet in state p.state still needs: uploads (each
// created once, its URL committed at once, then sent from the server's
// offset), then finalise. It returns the portal's result.
func (o *Outbox) send(ctx context.Context, s Sender, p pending, log *slog.Logger) (api.SubmitResult, error) {
	files, err := o.files(p.id)
	if err != nil {
		return api.SubmitResult{}, fmt.Errorf("read file list: %w", err)
	}
	if len(files) == 0 || files[0].name != "" {
		return api.SubmitResult{}, permanent{errors.New("packet has no manifest")}
	}
	for _, f := range files {
		if f.name == "" || !f.uploaded {
			if err := o.checkFile(p.id, f); err != nil {
				return api.SubmitResult{}, permanent{fmt.Errorf("packet files unusable: %w", err)}
			}
		}
	}
	if p.state == StateQueued {
		if err := o.setState(p.id, StateUploading); err != nil {
			return api.SubmitResult{}, err
		}
	}
	uploads := map[string]string{}
	for _, f := range files[1:] {
		if !f.uploaded {
			u, err := o.upload(ctx, s, p.id, f, log)
			if err != nil {
				return api.SubmitResult{}, err
			}
			f.uploadURL = u
		}
		uploads[f.name] = f.uploadURL
	}
	if p.state != StateUploaded {
		if err := o.setState(p.id, StateUploaded); err != nil {
			return api.SubmitResult{}, err
		}
	}
	manifest, err := os.ReadFile(filepath.Join(o.packetDir(p.id), cipherName("")))
	if err != nil {
		return api.SubmitResult{}, permanent{fmt.Errorf("read manifest: %w", err)}
	}
	var sig []byte
	if err := o.db.QueryRow(`SELECT signature FROM packets WHERE id = ?`, p.id).Scan(&sig); err != nil {
		return api.SubmitResult{}, fmt.Errorf("read signature: %w", err)
	}
	res, err := s.Finalise(ctx, api.FinaliseRequest{PacketID: p.id, Manifest: manifest, Signature: sig, Uploads: uploads})
	if err != nil {
		return api.SubmitResult{}, fmt.Errorf("finalise: %w", err)
	}
	return res, nil
}

// upload sends one document: creates its upload unless one exists (and
// commits the URL before sending a byte), sends it from the server's
// offset, and marks it uploaded.
func (o *Outbox) upload(ctx context.Context, s Sender, id string, f fileRow, log *slog.Logger) (string, error) {
	fresh := false
	if f.uploadURL == "" {
		u, err := s.CreateUpload(ctx, id, f.name, f.size)
		if err != nil {
			return "", fmt.Errorf("create upload of %s: %w", f.name, err)
		}
		if u == "" {
			return "", fmt.Errorf("create upload of %s: empty upload URL", f.name)
		}
		if _, err := o.exec("upload url "+id, `UPDATE files SET upload_url = ? WHERE packet_id = ? AND pos = ?`,
			u, id, f.pos); err != nil {
			return "", fmt.Errorf("record upload URL of %s: %w", f.name, err)
		}
		f.uploadURL, fresh = u, true
	}
	fh, err := os.Open(filepath.Join(o.packetDir(id), cipherName(f.name)))
	if err != nil {
		return "", permanent{fmt.Errorf("open %s: %w", f.name, err)}
	}
	defer fh.Close()
	if err := s.Upload(ctx, f.uploadURL, fh, f.size); err != nil {
		err = fmt.Errorf("upload %s: %w", f.name, err)
		if !fresh && ctx.Err() == nil && o.permanent(err) {
			// The server no longer knows the upload (expired, terminated):
			// forget it, so that the next attempt creates a new one.
			log.Warn("outbox: upload from an earlier attempt refused; a new one will be created", "file", f.name, "err", err)
			if _, xerr := o.exec("forget upload "+id, `UPDATE files SET upload_url = '' WHERE packet_id = ? AND pos = ?`,
				id, f.pos); xerr != nil {
				return "", fmt.Errorf("forget upload URL of %s: %w", f.name, xerr)
			}
			return "", retryErr{err}
		}
		return "", err
	}
	if _, err := o.exec("uploaded "+id, `UPDATE files SET uploaded = 1 WHERE packet_id = ? AND pos = ?`, id, f.pos); err != nil {
		return "", fmt.Errorf("record upload of %s: %w", f.name, err)
	}
	return f.uploadURL, nil
}

// permanent reports whether retrying err cannot help: Options.IsPermanent
// (the portal's answer) or a local permanent failure.
func (o *Outbox) permanent(err error) bool {
	return DefaultIsPermanent(err) || o.isPermanent(err)
}

// permanent marks a local failure that no retry can cure.
type permanent struct{ err error }

func (e permanent) Error() string   { return e.err.Error() }
func (e permanent) Unwrap() error   { return e.err }
func (e permanent) Permanent() bool { return true }

func (o *Outbox) setState(id string, s State) error {
	if _, err := o.exec(string(s)+" "+id, `UPDATE packets SET state = ?, updated_at = ? WHERE id = ?`,
		s, o.now().UnixNano(), id); err != nil {
		return fmt.Errorf("record state %s: %w", s, err)
	}
	o.notify()
	return nil
}

// settle records the outcome of an attempt that did not succeed: the packet
// keeps its state (state == "") and is due again after delay, or moves to
// state.
func (o *Outbox) settle(log *slog.Logger, id string, state State, attempts int, reason string, delay time.Duration) {
	now := o.now()
	q := `UPDATE packets SET attempts = ?, next_at = ?, updated_at = ?, last_error = ? WHERE id = ?`
	args := []any{attempts, now.Add(delay).UnixNano(), now.UnixNano(), reason, id}
	if state != "" {
		q = `UPDATE packets SET state = ?, attempts = ?, next_at = ?, updated_at = ?, last_error = ? WHERE id = ?`
		args = append([]any{state}, args...)
	}
	if _, err := o.exec("settle "+id, q, args...); err != nil {
		log.Error("outbox: record attempt", "err", err)
		return
	}
	if state == StateNeedsAttention {
		log.Error("outbox: packet needs attention", "attempts", attempts, "reason", reason)
	} else {
		log.Warn("outbox: delivery failed, will retry", "attempts", attempts, "retryIn", delay, "err", reason)
	}
	o.notify()
}

// delivered records the portal's result (finalised), then acknowledges and
// purges the packet.
func (o *Outbox) delivered(log *slog.Logger, id string, attempts int, r api.SubmitResult) {
	rj, _ := json.Marshal(r)
	if _, err := o.exec("finalised "+id, `UPDATE packets SET state = ?, attempts = ?, next_at = 0, updated_at = ?,
		last_error = '', tracking = ?, result = ? WHERE id = ?`,
		StateFinalised, attempts, o.now().UnixNano(), r.TrackingNumber, string(rj), id); err != nil {
		// The packet stays uploaded; the next attempt finalises again and the
		// portal answers with the original result.
		log.Error("outbox: record result", "err", err)
		return
	}
	log.Info("outbox: packet delivered", "tracking", r.TrackingNumber, "duplicate", r.Duplicate, "attempts", attempts)
	o.notify()
	if err := o.finish(id, StateFinalised); err != nil {
		log.Error("outbox: clean up delivered packet (Open retries)", "err", err)
	}
}

// finish takes a delivered packet from state to purged: acknowledged drops
// what the row knew about the content; purged removes the files.
func (o *Outbox) finish(id string, state State) error {
	if state == StateFinalised {
		err := o.tx(context.Background(), "acknowledged "+id, func(tx *sql.Tx) error {
			if _, err := tx.Exec(`UPDATE packets SET state = ?, digest = '', signature = NULL, updated_at = ?
				WHERE id = ?`, StateAcknowledged, o.now().UnixNano(), id); err != nil {
				return err
			}
			_, err := tx.Exec(`DELETE FROM files WHERE packet_id = ?`, id)
			return err
		})
		if err != nil {
			return fmt.Errorf("acknowledge: %w", err)
		}
		state = StateAcknowledged
		o.notify()
	}
	if state == StateAcknowledged {
		if err := os.RemoveAll(o.packetDir(id)); err != nil {
			return fmt.Errorf("remove packet %s: %w", id, err)
		}
		if err := o.syncDir(o.packets); err != nil {
			return err
		}
		if _, err := o.exec("purged "+id, `UPDATE packets SET state = ?, bytes = 0, updated_at = ? WHERE id = ?`,
			StatePurged, o.now().UnixNano(), id); err != nil {
			return fmt.Errorf("record purge: %w", err)
		}
		o.notify()
		return o.prune()
	}
	return nil
}

// backoff is the delay before retry number attempt+1 after attempt failures:
// the attempt-th NextBackOff of o.retry (MinBackoff doubled per failure,
// capped at MaxBackoff, then jittered uniformly into [d/2, d]) with its
// random number from Rand. It depends only on the attempt count, which is
// stored, so a restarted kiosk goes on with the same schedule.
func (o *Outbox) backoff(attempt int) time.Duration {
	return tus.NthBackOff(o.retry, attempt, o.jitter())
}

// jitter returns a number in [0, 1) from Rand (0.5 if Rand fails).
func (o *Outbox) jitter() float64 {
	var b [8]byte
	o.randMu.Lock()
	_, err := io.ReadFull(o.rand, b[:])
	o.randMu.Unlock()
	if err != nil {
		return 0.5
	}
	return float64(binary.BigEndian.Uint64(b[:])>>11) / (1 << 53)
}
