// Package outbox is the kiosk's durable store-and-forward queue of
// application packets. Once Enqueue returns, the packet survives crashes and
// power loss; Run delivers it to the portal exactly once (the portal
// de-duplicates by packet ID, the Idempotency-Key), retrying transient
// failures with capped jittered backoff and parking permanent rejections in
// the needsAttention state, where they stay until an operator acts.
//
// Layout under Options.Dir:
//
//	outbox.db            SQLite (WAL, synchronous=FULL): one row per packet
//	packets/<id>/        manifest.json, signature and one file per document
//
// The packet files are the only place personal data lives. The database row
// holds the packet's ID, provisional number, delivery state and, until the
// packet is acknowledged, the document names and a digest of the content.
// On acknowledgement the files are removed and the row keeps only ID,
// provisional and tracking numbers, the portal's result, times and state.
package outbox

import (
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"govkiosk/backend-client/api"
	"govkiosk/kiosk/atomicfile"

	_ "modernc.org/sqlite" // database/sql driver "sqlite"
)

// Packet is one application ready to send: the manifest JSON exactly as
// signed, the kiosk's signature over it, and the document files.
type Packet struct {
	ID                string // = manifest packetId (UUID)
	ProvisionalNumber string
	ManifestJSON      []byte
	Signature         []byte
	Docs              []Doc
}

// Doc is one document file of a packet. Name is the file name the manifest
// lists (api.DocumentRef.File).
type Doc struct {
	Name string
	Data []byte
}

// LogValue keeps packet contents out of logs.
func (p Packet) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("id", p.ID),
		slog.String("provisional", p.ProvisionalNumber),
		slog.Int("docs", len(p.Docs)),
	)
}

// Sender submits one packet to the portal. A duplicate answer from the portal
// must be reported as success.
type Sender interface {
	Submit(ctx context.Context, manifestJSON, signature []byte, docs []Doc) (api.SubmitResult, error)
}

// State is a packet's delivery state.
type State string

const (
	StateQueued         State = "queued"
	StateSending        State = "sending"
	StateAcknowledged   State = "acknowledged"
	StateNeedsAttention State = "needsAttention"
)

// Entry is what the outbox knows about one packet. It holds no personal data.
type Entry struct {
	ID                string
	ProvisionalNumber string
	State             State
	Attempts          int
	LastError         string
	Result            *api.SubmitResult // set once acknowledged
	NextAttempt       time.Time         // when a queued packet is next due; zero otherwise
	CreatedAt         time.Time
	UpdatedAt         time.Time
}

// Options configure an Outbox.
type Options struct {
	Dir         string // <dataDir>/outbox: outbox.db + packets/<id>/
	Log         *slog.Logger
	Now         func() time.Time
	Rand        io.Reader // jitter; default crypto/rand
	IsPermanent func(error) bool
	// MinBackoff and MaxBackoff bound the retry delay; defaults 1s and 5m.
	MinBackoff, MaxBackoff time.Duration
}

// Errors.
var (
	ErrNotFound = errors.New("outbox: no such packet")
	ErrConflict = errors.New("outbox: packet ID already queued with different content")
	ErrClosed   = errors.New("outbox: closed")
)

// Outbox is the durable queue. Its methods are safe for concurrent use.
type Outbox struct {
	dir, packets string
	db           *sql.DB
	log          *slog.Logger
	now          func() time.Time
	isPermanent  func(error) bool
	minB, maxB   time.Duration

	randMu sync.Mutex
	rand   io.Reader

	enqMu sync.Mutex // serialises Enqueue (directory creation + insert)

	// viewMu makes an acknowledgement (row update + file purge) one step
	// for readers: whoever sees "acknowledged" also sees the files gone.
	viewMu sync.RWMutex

	kick chan struct{}

	mu      sync.Mutex
	changed chan struct{} // closed and replaced on every state change
	closed  bool
	closing chan struct{}
	runWG   sync.WaitGroup
}

const schema = `
CREATE TABLE IF NOT EXISTS packets (
	seq         INTEGER PRIMARY KEY AUTOINCREMENT,
	id          TEXT    NOT NULL UNIQUE,
	provisional TEXT    NOT NULL,
	state       TEXT    NOT NULL,
	attempts    INTEGER NOT NULL DEFAULT 0,
	last_error  TEXT    NOT NULL DEFAULT '',
	next_at     INTEGER NOT NULL DEFAULT 0,
	digest      TEXT    NOT NULL DEFAULT '',
	docs        TEXT    NOT NULL DEFAULT '',
	tracking    TEXT    NOT NULL DEFAULT '',
	result      TEXT    NOT NULL DEFAULT '',
	created_at  INTEGER NOT NULL,
	updated_at  INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS packets_state_next ON packets(state, next_at);
PRAGMA user_version = 1;
`

// Open opens (creating if needed) the outbox in opts.Dir, puts packets a
// crash left "sending" back in the queue and removes packet directories that
// have no row (an Enqueue interrupted before its commit) or whose packet was
// already acknowledged.
func Open(opts Options) (*Outbox, error) {
	if opts.Dir == "" {
		return nil, errors.New("outbox: Dir is empty")
	}
	o := &Outbox{
		dir:         opts.Dir,
		packets:     filepath.Join(opts.Dir, "packets"),
		log:         opts.Log,
		now:         opts.Now,
		rand:        opts.Rand,
		isPermanent: opts.IsPermanent,
		minB:        opts.MinBackoff,
		maxB:        opts.MaxBackoff,
		kick:        make(chan struct{}, 1),
		changed:     make(chan struct{}),
		closing:     make(chan struct{}),
	}
	if o.log == nil {
		o.log = slog.New(slog.DiscardHandler)
	}
	if o.now == nil {
		o.now = time.Now
	}
	if o.rand == nil {
		o.rand = rand.Reader
	}
	if o.isPermanent == nil {
		o.isPermanent = DefaultIsPermanent
	}
	if o.minB <= 0 {
		o.minB = time.Second
	}
	if o.maxB <= 0 {
		o.maxB = 5 * time.Minute
	}
	if o.maxB < o.minB {
		o.maxB = o.minB
	}
	if err := os.MkdirAll(o.packets, 0o700); err != nil {
		return nil, fmt.Errorf("outbox: %w", err)
	}
	dbPath := filepath.Join(o.dir, "outbox.db")
	// Create the file ourselves so that it (and SQLite's -wal and -shm, which
	// copy its mode) is private to the kiosk user.
	if f, err := os.OpenFile(dbPath, os.O_RDWR|os.O_CREATE, 0o600); err != nil {
		return nil, fmt.Errorf("outbox: %w", err)
	} else {
		f.Close()
	}
	dsn := "file:" + dbPath +
		"?_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_pragma=busy_timeout(10000)" +
		"&_pragma=secure_delete(ON)&_txlock=immediate"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("outbox: open db: %w", err)
	}
	// One connection: writes are serialised anyway, and this keeps every
	// statement on a connection that ran the pragmas.
	db.SetMaxOpenConns(1)
	o.db = db
	if err := o.init(); err != nil {
		db.Close()
		return nil, err
	}
	return o, nil
}

func (o *Outbox) init() error {
	var mode string
	if err := o.db.QueryRow(`PRAGMA journal_mode`).Scan(&mode); err != nil {
		return fmt.Errorf("outbox: db: %w", err)
	}
	if mode != "wal" {
		return fmt.Errorf("outbox: db journal mode is %q, want wal", mode)
	}
	if _, err := o.db.Exec(schema); err != nil {
		return fmt.Errorf("outbox: create schema: %w", err)
	}
	now := o.now().UnixNano()
	res, err := o.db.Exec(`UPDATE packets SET state = ?, updated_at = ? WHERE state = ?`,
		StateQueued, now, StateSending)
	if err != nil {
		return fmt.Errorf("outbox: recover sending packets: %w", err)
	}
	if n, _ := res.RowsAffected(); n > 0 {
		o.log.Info("outbox: packets interrupted while sending are queued again", "count", n)
	}
	return o.removeStrays()
}

// removeStrays deletes packet directories that no pending row owns, and
// leftover temporary files inside the ones that are owned.
func (o *Outbox) removeStrays() error {
	rows, err := o.db.Query(`SELECT id FROM packets WHERE state != ?`, StateAcknowledged)
	if err != nil {
		return fmt.Errorf("outbox: list packets: %w", err)
	}
	live := map[string]bool{}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return fmt.Errorf("outbox: list packets: %w", err)
		}
		live[id] = true
	}
	if err := rows.Close(); err != nil {
		return fmt.Errorf("outbox: list packets: %w", err)
	}
	ents, err := os.ReadDir(o.packets)
	if err != nil {
		return fmt.Errorf("outbox: %w", err)
	}
	removed := false
	for _, e := range ents {
		p := filepath.Join(o.packets, e.Name())
		if e.IsDir() && live[e.Name()] {
			files, err := os.ReadDir(p)
			if err != nil {
				return fmt.Errorf("outbox: %w", err)
			}
			for _, f := range files {
				if len(f.Name()) > 0 && f.Name()[0] == '.' { // atomicfile temporaries
					os.RemoveAll(filepath.Join(p, f.Name()))
				}
			}
			continue
		}
		if err := os.RemoveAll(p); err != nil {
			return fmt.Errorf("outbox: remove stray %s: %w", e.Name(), err)
		}
		o.log.Info("outbox: removed stray packet directory", "id", e.Name())
		removed = true
	}
	if removed {
		if err := atomicfile.SyncDir(o.packets); err != nil {
			return fmt.Errorf("outbox: %w", err)
		}
	}
	return nil
}

// Close stops any Run (interrupting a submission in flight, which is then
// queued again), wakes every Wait with ErrClosed and closes the database.
func (o *Outbox) Close() error {
	o.mu.Lock()
	if o.closed {
		o.mu.Unlock()
		return nil
	}
	o.closed = true
	close(o.closing)
	o.mu.Unlock()
	o.runWG.Wait()
	if err := o.db.Close(); err != nil {
		return fmt.Errorf("outbox: close: %w", err)
	}
	return nil
}

// Kick wakes Run to look for due packets now.
func (o *Outbox) Kick() {
	select {
	case o.kick <- struct{}{}:
	default:
	}
}

// notify wakes every Wait.
func (o *Outbox) notify() {
	o.mu.Lock()
	close(o.changed)
	o.changed = make(chan struct{})
	o.mu.Unlock()
}

func (o *Outbox) changes() <-chan struct{} {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.changed
}

func (o *Outbox) packetDir(id string) string { return filepath.Join(o.packets, id) }

// DefaultIsPermanent treats an error as permanent when some error in its
// chain has a method Permanent() bool that returns true.
func DefaultIsPermanent(err error) bool {
	var p interface{ Permanent() bool }
	return errors.As(err, &p) && p.Permanent()
}
