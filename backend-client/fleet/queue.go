package fleet

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"govkiosk/backend-client/fleetwire"
	"govkiosk/kiosk/atomicfile"
)

// Files in the queue directory.
const (
	queueFile    = "events.cbor"   // queueState: numbered events not yet acknowledged by the broker
	snapshotFile = "snapshot.cbor" // snapshotState: the last snapshot and whether the broker has it
	resultsFile  = "results.cbor"  // resultsState: answers to the last commands, by id
)

// queueState is the offline queue as kept on disk.
type queueState struct {
	NextSeq uint64            `cbor:"1,keyasint"`
	Events  []fleetwire.Event `cbor:"2,keyasint"`
}

// queue is the kiosk's durable offline queue of events: every change is
// written (atomically, synced) before it is acknowledged, so events
// survive restarts and power loss. At most limit events are kept; when
// full, the oldest is dropped and counted in the next one's Summarised.
// Events hold no personal data: kinds, device names and short details.
type queue struct {
	dir   string
	limit int

	mu sync.Mutex
	st queueState
}

// openQueue reads the queue kept in dir. A queue without a file (the
// first start, or a file lost) numbers from the clock's milliseconds, so
// its numbers stay above those sent before; a corrupt file is set aside
// (renamed, not deleted) with a warning, never a reason not to start.
func openQueue(dir string, limit int, now time.Time, log *slog.Logger) (*queue, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("fleet queue: %w", err)
	}
	q := &queue{dir: dir, limit: limit}
	path := filepath.Join(dir, queueFile)
	if err := readCBOR(path, &q.st); errors.Is(err, fleetwire.ErrBadPayload) {
		aside := fmt.Sprintf("%s.corrupt-%d", path, now.Unix())
		log.Warn("fleet: offline queue unreadable; set aside, starting a new one", "file", aside, "err", err)
		if err := os.Rename(path, aside); err != nil {
			return nil, fmt.Errorf("fleet queue: %w", err)
		}
		q.st = queueState{}
	} else if err != nil {
		return nil, err
	}
	if q.st.NextSeq == 0 {
		q.st.NextSeq = max(uint64(max(now.UnixMilli(), 0)), 1)
	}
	return q, nil
}

// readCBOR decodes path into v; a missing file leaves v as it is.
func readCBOR(path string, v any) error {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("fleet queue: %w", err)
	}
	if err := fleetwire.Unmarshal(b, v); err != nil {
		return fmt.Errorf("fleet queue %s: %w", path, err)
	}
	return nil
}

func writeCBOR(path string, v any) error {
	b, err := fleetwire.Marshal(v)
	if err != nil {
		return err
	}
	return atomicfile.Write(path, b, 0o600)
}

// add numbers e and keeps it; it is on disk when add returns.
func (q *queue) add(e fleetwire.Event) (fleetwire.Event, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	st := q.st
	st.Events = append([]fleetwire.Event(nil), q.st.Events...)
	e.Seq = st.NextSeq
	st.NextSeq++
	st.Events = append(st.Events, e)
	for len(st.Events) > q.limit {
		dropped := st.Events[0]
		st.Events = st.Events[1:]
		st.Events[0].Summarised += dropped.Summarised + 1
	}
	if err := writeCBOR(filepath.Join(q.dir, queueFile), st); err != nil {
		return e, fmt.Errorf("fleet queue: event not kept: %w", err)
	}
	q.st = st
	return e, nil
}

// head is the oldest event not yet acknowledged.
func (q *queue) head() (fleetwire.Event, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.st.Events) == 0 {
		return fleetwire.Event{}, false
	}
	return q.st.Events[0], true
}

// done drops the event seq once the broker acknowledged it (if it is still
// the head: a full queue may have folded it meanwhile).
func (q *queue) done(seq uint64) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.st.Events) == 0 || q.st.Events[0].Seq != seq {
		return nil
	}
	st := q.st
	st.Events = append([]fleetwire.Event(nil), q.st.Events[1:]...)
	if err := writeCBOR(filepath.Join(q.dir, queueFile), st); err != nil {
		return fmt.Errorf("fleet queue: %w", err)
	}
	q.st = st
	return nil
}

// len is how many events wait.
func (q *queue) len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.st.Events)
}

// snapshotState is the last snapshot as kept on disk.
type snapshotState struct {
	Snap fleetwire.Snapshot `cbor:"1,keyasint"`
	Sent bool               `cbor:"2,keyasint,omitempty"` // the broker acknowledged this one
	Have bool               `cbor:"3,keyasint,omitempty"`
}

// resultsState keeps the answers to the latest commands, oldest first.
type resultsState struct {
	Replies []fleetwire.Reply `cbor:"1,keyasint"`
}
