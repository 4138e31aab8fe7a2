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
	"time"

	"govkiosk/backend-client/api"
	"govkiosk/kiosk/atomicfile"
)

// Run delivers packets with s until ctx is done or the outbox is closed,
// oldest due packet first. It sleeps on a timer until the next retry is due
// or Kick is called. A transient error counts an attempt and schedules a
// retry after a capped, jittered exponential backoff; a permanent one (see
// Options.IsPermanent) parks the packet in needsAttention; success marks it
// acknowledged, stores the result and purges the packet's files. A
// submission interrupted by cancellation is queued again without counting.
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

	for ctx.Err() == nil {
		p, wait, err := o.next()
		if err != nil {
			o.log.Error("outbox: find next packet", "err", err)
			wait = o.minB
		} else if p != nil {
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
	id, provisional, digest, docs string
	attempts                      int
}

// next returns the oldest due packet, or else how long until the earliest
// queued one is due (-1: nothing queued).
func (o *Outbox) next() (*pending, time.Duration, error) {
	now := o.now()
	var p pending
	err := o.db.QueryRow(`SELECT id, provisional, digest, docs, attempts FROM packets
		WHERE state = ? AND next_at <= ? ORDER BY seq LIMIT 1`, StateQueued, now.UnixNano()).
		Scan(&p.id, &p.provisional, &p.digest, &p.docs, &p.attempts)
	if err == nil {
		return &p, 0, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return nil, 0, err
	}
	var at sql.NullInt64
	if err := o.db.QueryRow(`SELECT min(next_at) FROM packets WHERE state = ?`, StateQueued).Scan(&at); err != nil {
		return nil, 0, err
	}
	if !at.Valid {
		return nil, -1, nil
	}
	return nil, max(time.Unix(0, at.Int64).Sub(now), 0), nil
}

func (o *Outbox) deliver(ctx context.Context, s Sender, p pending) {
	log := o.log.With("id", p.id, "provisional", p.provisional)
	res, err := o.db.Exec(`UPDATE packets SET state = ?, updated_at = ? WHERE id = ? AND state = ?`,
		StateSending, o.now().UnixNano(), p.id, StateQueued)
	if err != nil {
		log.Error("outbox: mark sending", "err", err)
		return
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return // another Run took it
	}
	o.notify()

	manifest, sig, docs, err := o.load(p.id, p.docs, p.digest)
	if err != nil {
		o.settle(log, p.id, StateNeedsAttention, p.attempts, "packet files unreadable: "+err.Error(), 0)
		return
	}
	attempt := p.attempts + 1
	result, err := s.Submit(ctx, manifest, sig, docs)
	switch {
	case err == nil:
		o.acknowledge(log, p.id, attempt, result)
	case ctx.Err() != nil:
		// Interrupted by shutdown, not a failure of the portal.
		o.settle(log, p.id, StateQueued, p.attempts, "", 0)
	case o.isPermanent(err):
		o.settle(log, p.id, StateNeedsAttention, attempt, err.Error(), 0)
	default:
		o.settle(log, p.id, StateQueued, attempt, err.Error(), o.backoff(attempt))
	}
}

// settle records the outcome of an attempt that did not succeed.
func (o *Outbox) settle(log *slog.Logger, id string, state State, attempts int, reason string, delay time.Duration) {
	now := o.now()
	q := `UPDATE packets SET state = ?, attempts = ?, next_at = ?, updated_at = ?, last_error = ? WHERE id = ?`
	args := []any{state, attempts, now.Add(delay).UnixNano(), now.UnixNano(), reason, id}
	if reason == "" { // keep the previous error
		q = `UPDATE packets SET state = ?, attempts = ?, next_at = ?, updated_at = ? WHERE id = ?`
		args = []any{state, attempts, now.Add(delay).UnixNano(), now.UnixNano(), id}
	}
	if _, err := o.db.Exec(q, args...); err != nil {
		log.Error("outbox: record attempt", "err", err)
		return
	}
	switch {
	case state == StateNeedsAttention:
		log.Error("outbox: packet needs attention", "attempts", attempts, "reason", reason)
	case reason == "":
		log.Info("outbox: submission interrupted, packet queued again")
	default:
		log.Warn("outbox: submission failed, will retry", "attempts", attempts, "retryIn", delay, "err", reason)
	}
	o.notify()
}

// acknowledge marks the packet delivered, drops what the row knew about its
// content and removes its files.
func (o *Outbox) acknowledge(log *slog.Logger, id string, attempts int, r api.SubmitResult) {
	rj, _ := json.Marshal(r)
	o.viewMu.Lock()
	defer o.viewMu.Unlock()
	if _, err := o.db.Exec(`UPDATE packets SET state = ?, attempts = ?, next_at = 0, updated_at = ?,
		last_error = '', digest = '', docs = '', tracking = ?, result = ? WHERE id = ?`,
		StateAcknowledged, attempts, o.now().UnixNano(), r.TrackingNumber, string(rj), id); err != nil {
		// The packet stays "sending"; the next Open queues it again and the
		// portal answers the resubmission as a duplicate.
		log.Error("outbox: record acknowledgement", "err", err)
		return
	}
	log.Info("outbox: packet acknowledged", "tracking", r.TrackingNumber, "duplicate", r.Duplicate, "attempts", attempts)
	if err := o.purge(id); err != nil {
		log.Error("outbox: purge packet files (Open retries)", "err", err)
	}
	o.notify()
}

func (o *Outbox) purge(id string) error {
	if err := os.RemoveAll(o.packetDir(id)); err != nil {
		return fmt.Errorf("remove packet %s: %w", id, err)
	}
	return atomicfile.SyncDir(o.packets)
}

// backoff is the delay before retry number attempt+1 after attempt failures:
// MinBackoff doubled per failure, capped at MaxBackoff, then jittered
// uniformly into [d/2, d) from Rand.
func (o *Outbox) backoff(attempt int) time.Duration {
	d := o.minB
	for i := 1; i < attempt && d < o.maxB; i++ {
		d *= 2
	}
	d = min(d, o.maxB)
	half := d / 2
	return half + time.Duration(o.jitter()*float64(d-half))
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
