// Package outbox is the kiosk's durable, encrypted store-and-forward queue of
// application packets. Once Enqueue returns, the packet survives crashes and
// power loss; Run delivers it to the portal exactly once: each document goes
// up as a resumable (tus) upload, then one idempotent finalise call closes
// the packet. Transient failures are retried with capped jittered backoff;
// permanent rejections park the packet in needsAttention, where it stays,
// visible, until an operator acts.
//
// Encryption at rest: Enqueue receives the plaintext packet, checks it, and
// writes only ciphertext to disk, each document and the manifest encrypted
// with age to the portal's X25519 recipient. The kiosk holds no identity
// that can decrypt them, so once a session ends the kiosk cannot read an
// application back. The signature (over the plaintext manifest) is not
// secret and lives in the database row until the packet is acknowledged.
//
// State machine, persisted per packet:
//
//	queued → uploading → uploaded → finalised → acknowledged → purged
//	   └──────────┴───────────┴──→ needsAttention (Requeue → queued)
//	                                       └──→ withdrawn (Withdraw)
//
// queued: stored, nothing sent. uploading: at least one document upload was
// created; every upload URL is committed as soon as CreateUpload returns and
// every finished upload is marked, so after a crash the upload resumes at the
// offset the server reports and nothing finished is redone. uploaded: all
// documents are at the portal; only finalise remains. finalised: the
// portal's result is stored (the packet is delivered). acknowledged: the
// row's content fields (digest, signature, file list and upload URLs) are
// dropped. purged: the files are removed and the directory fsynced.
// withdrawn: the portal refused the packet for good and the citizen, still
// at the kiosk, sent a corrected one instead; like purged, nothing is kept. Open
// completes finalised → purged locally; Run resumes the others. A purged or
// withdrawn row is deleted once it is older than Options.KeepDelivered (at
// Open, after each purge and hourly), and after each purge the WAL is
// truncated so that it keeps no earlier version of what was dropped.
//
// Layout under Options.Dir:
//
//	outbox.db                 SQLite (WAL, synchronous=FULL)
//	packets/<id>/manifest.age the manifest JSON, age-encrypted
//	packets/<id>/<doc>.age    each document, age-encrypted
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

	"filippo.io/age"
	"github.com/cenkalti/backoff/v5"

	"govkiosk/backend-client/api"

	_ "modernc.org/sqlite" // database/sql driver "sqlite"
)

// Packet is one application ready to send, in plaintext: the manifest JSON
// exactly as signed, the kiosk's signature over it, and the document files.
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

// Sender is the part of the portal client the outbox delivers with
// (*backendclient.Client implements it).
//
// CreateUpload creates a tus upload of size bytes for one document file and
// returns its URL. Upload sends data to uploadURL starting at the offset the
// server reports (it asks the server itself), until size bytes are there.
// Finalise closes the packet; it is idempotent on req.PacketID and must
// report a duplicate answer as success. It returns success only for an
// answer it has verified to be the portal's acknowledgement of this packet
// (backendclient checks the portal's signature); an answer that does not
// verify is an error wrapping api.ErrUnverifiedAnswer, and the packet is
// kept and sent again, never taken for delivered.
type Sender interface {
	CreateUpload(ctx context.Context, packetID, file string, size int64) (uploadURL string, err error)
	Upload(ctx context.Context, uploadURL string, data io.ReaderAt, size int64) error
	Finalise(ctx context.Context, req api.FinaliseRequest) (api.SubmitResult, error)
}

// State is a packet's delivery state.
type State string

const (
	StateQueued         State = "queued"
	StateUploading      State = "uploading"
	StateUploaded       State = "uploaded"
	StateFinalised      State = "finalised"
	StateAcknowledged   State = "acknowledged"
	StatePurged         State = "purged"
	StateNeedsAttention State = "needsAttention"
	StateWithdrawn      State = "withdrawn" // refused for good, then replaced by a corrected packet; files removed
)

// Delivered reports whether the portal has accepted the packet: finalised,
// acknowledged or purged.
func (s State) Delivered() bool {
	return s == StateFinalised || s == StateAcknowledged || s == StatePurged
}

// sending reports whether Run still has work to send for a packet in s.
func (s State) sending() bool {
	return s == StateQueued || s == StateUploading || s == StateUploaded
}

// Entry is what the outbox knows about one packet. It holds no personal data.
type Entry struct {
	ID                string
	ProvisionalNumber string
	State             State
	Attempts          int
	LastError         string
	Result            *api.SubmitResult // set once delivered (finalised and after)
	NextAttempt       time.Time         // when a packet still to send is next due; zero otherwise
	CreatedAt         time.Time
	UpdatedAt         time.Time
}

// Delivered reports whether the portal has accepted the packet (Result is set).
func (e Entry) Delivered() bool { return e.State.Delivered() }

// Options configure an Outbox.
type Options struct {
	Dir string // <dataDir>/outbox: outbox.db + packets/<id>/
	// Recipient is the portal's age recipient (provisioning stores its
	// "age1…" string; see ParseRecipient). Required.
	Recipient   age.Recipient
	Log         *slog.Logger
	Now         func() time.Time
	Rand        io.Reader // jitter; default crypto/rand
	IsPermanent func(error) bool
	// MinBackoff and MaxBackoff bound the retry delay; defaults 1s and 5m.
	// Retry n waits uniformly in [d/2, d] for d = min(MaxBackoff,
	// MinBackoff·2^(n-1)).
	MinBackoff, MaxBackoff time.Duration
	// Limits refuse new packets before the kiosk runs out of room; the zero
	// value sets none (DefaultLimits is a sensible start).
	Limits Limits
	// DiskFree reports the free bytes of the file system holding path;
	// default statfs. Used only when Limits.MinFreeDisk is set.
	DiskFree func(path string) (uint64, error)
	// KeepDelivered is how long the row of a purged or withdrawn packet is
	// kept, for a citizen's Wait and a technician's look; then it is
	// deleted. Default DefaultKeepDelivered.
	KeepDelivered time.Duration
}

// ParseRecipient parses the portal's "age1…" X25519 recipient.
func ParseRecipient(s string) (age.Recipient, error) {
	r, err := age.ParseX25519Recipient(s)
	if err != nil {
		return nil, fmt.Errorf("outbox: portal age recipient: %w", err)
	}
	return r, nil
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
	minB         time.Duration              // MinBackoff: how soon to look again at a packet another Run holds
	retry        backoff.ExponentialBackOff // every retry delay (see Open and backoff)
	recipient    age.Recipient
	limits       Limits
	diskFree     func(string) (uint64, error)
	keep         time.Duration // KeepDelivered

	// hook, when set (tests), runs before every fsync and database commit
	// the outbox makes: event is "fsync-file", "fsync-dir" or "commit".
	hook func(event, path string)

	randMu sync.Mutex
	rand   io.Reader

	enqMu sync.Mutex // serialises Enqueue (limits, directory creation, insert)

	kick chan struct{}

	mu      sync.Mutex
	busy    map[string]bool // packets a Run is delivering now
	pruneAt time.Time       // when Run next prunes delivered rows
	changed chan struct{}   // closed and replaced on every state change
	closed  bool
	closing chan struct{}
	runWG   sync.WaitGroup
}

const schemaVersion = 2

const schema = `
CREATE TABLE IF NOT EXISTS packets (
	seq         INTEGER PRIMARY KEY AUTOINCREMENT,
	id          TEXT    NOT NULL UNIQUE,
	provisional TEXT    NOT NULL,
	state       TEXT    NOT NULL,
	attempts    INTEGER NOT NULL DEFAULT 0,
	last_error  TEXT    NOT NULL DEFAULT '',
	next_at     INTEGER NOT NULL DEFAULT 0,
	digest      TEXT    NOT NULL DEFAULT '', -- SHA-256 of the plaintext packet (idempotent Enqueue); '' once acknowledged
	signature   BLOB,                        -- over the plaintext manifest; NULL once acknowledged
	bytes       INTEGER NOT NULL DEFAULT 0,  -- ciphertext bytes on disk; 0 once purged
	tracking    TEXT    NOT NULL DEFAULT '',
	result      TEXT    NOT NULL DEFAULT '',
	created_at  INTEGER NOT NULL,
	updated_at  INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS packets_state_next ON packets(state, next_at);
CREATE TABLE IF NOT EXISTS files (
	packet_id  TEXT    NOT NULL,
	pos        INTEGER NOT NULL,            -- 0: the manifest; 1..: documents in packet order
	name       TEXT    NOT NULL,            -- the manifest's file name of the document ('' for the manifest)
	sha256     TEXT    NOT NULL,            -- of the ciphertext on disk
	size       INTEGER NOT NULL,            -- ciphertext bytes
	upload_url TEXT    NOT NULL DEFAULT '',
	uploaded   INTEGER NOT NULL DEFAULT 0,
	PRIMARY KEY (packet_id, pos)
);
PRAGMA user_version = 2;
`

// Open opens (creating if needed) the outbox in opts.Dir and recovers from
// a crash: delivered packets whose clean-up was interrupted are acknowledged
// and purged, and packet directories no live row owns (an Enqueue
// interrupted before its commit, a purge interrupted before its removal) are
// removed, as are temporary files.
func Open(opts Options) (*Outbox, error) {
	if opts.Dir == "" {
		return nil, errors.New("outbox: Dir is empty")
	}
	if opts.Recipient == nil {
		return nil, errors.New("outbox: no portal age recipient to encrypt packets to")
	}
	o := &Outbox{
		dir:         opts.Dir,
		packets:     filepath.Join(opts.Dir, "packets"),
		log:         opts.Log,
		now:         opts.Now,
		rand:        opts.Rand,
		isPermanent: opts.IsPermanent,
		minB:        opts.MinBackoff,
		recipient:   opts.Recipient,
		limits:      opts.Limits,
		diskFree:    opts.DiskFree,
		kick:        make(chan struct{}, 1),
		busy:        map[string]bool{},
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
	if o.diskFree == nil {
		o.diskFree = statfsFree
	}
	if o.keep = opts.KeepDelivered; o.keep <= 0 {
		o.keep = DefaultKeepDelivered
	}
	if o.minB <= 0 {
		o.minB = time.Second
	}
	maxB := opts.MaxBackoff
	if maxB <= 0 {
		maxB = 5 * time.Minute
	}
	if maxB < o.minB {
		maxB = o.minB
	}
	// The wait is uniform in [d/2, d] for the capped doubling d; backoff
	// randomises symmetrically around its interval, so the interval is 3d/4
	// and the randomisation factor 1/3.
	o.retry = backoff.ExponentialBackOff{
		InitialInterval:     o.minB - o.minB/4,
		MaxInterval:         maxB - maxB/4,
		Multiplier:          2,
		RandomizationFactor: 1.0 / 3,
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
	if err := o.migrate(); err != nil {
		return err
	}
	if _, err := o.db.Exec(schema); err != nil {
		return fmt.Errorf("outbox: create schema: %w", err)
	}
	// Finish the local steps a crash interrupted.
	rows, err := o.db.Query(`SELECT id, state FROM packets WHERE state IN (?, ?) ORDER BY seq`,
		StateFinalised, StateAcknowledged)
	if err != nil {
		return fmt.Errorf("outbox: recover: %w", err)
	}
	type idState struct {
		id    string
		state State
	}
	var todo []idState
	for rows.Next() {
		var x idState
		if err := rows.Scan(&x.id, &x.state); err != nil {
			rows.Close()
			return fmt.Errorf("outbox: recover: %w", err)
		}
		todo = append(todo, x)
	}
	if err := rows.Close(); err != nil {
		return fmt.Errorf("outbox: recover: %w", err)
	}
	for _, x := range todo {
		if err := o.finish(x.id, x.state); err != nil {
			return fmt.Errorf("outbox: recover %s: %w", x.id, err)
		}
	}
	if len(todo) > 0 {
		o.log.Info("outbox: finished clean-up of delivered packets", "count", len(todo))
	}
	if err := o.removeStrays(); err != nil {
		return err
	}
	return o.prune()
}

// migrate drops a version-1 (plaintext) outbox that has nothing left to send,
// and refuses one that has: its packets must be delivered by the old kiosk.
func (o *Outbox) migrate() error {
	var v int
	if err := o.db.QueryRow(`PRAGMA user_version`).Scan(&v); err != nil {
		return fmt.Errorf("outbox: db: %w", err)
	}
	switch v {
	case 0, schemaVersion:
		return nil
	case 1:
		var n int
		if err := o.db.QueryRow(`SELECT count(*) FROM packets WHERE state != 'acknowledged'`).Scan(&n); err != nil {
			return fmt.Errorf("outbox: db version 1: %w", err)
		}
		if n > 0 {
			return fmt.Errorf("outbox: %s holds %d undelivered plaintext (version 1) packets; deliver them with the previous kiosk version first", o.dir, n)
		}
		if _, err := o.db.Exec(`DROP TABLE packets`); err != nil {
			return fmt.Errorf("outbox: drop version 1 table: %w", err)
		}
		o.log.Info("outbox: replaced an empty version 1 outbox")
		return nil
	default:
		return fmt.Errorf("outbox: db schema version %d is newer than this kiosk's %d", v, schemaVersion)
	}
}

// removeStrays deletes packet directories that no live row owns, and
// leftover temporary files inside the ones that are owned.
func (o *Outbox) removeStrays() error {
	rows, err := o.db.Query(`SELECT id FROM packets WHERE state NOT IN (?, ?)`, StatePurged, StateWithdrawn)
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
				if len(f.Name()) > 0 && f.Name()[0] == '.' { // temporaries
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
		if err := o.syncDir(o.packets); err != nil {
			return fmt.Errorf("outbox: %w", err)
		}
	}
	return nil
}

// Close stops any Run (interrupting a delivery in flight, which resumes
// where it stopped next time), wakes every Wait with ErrClosed and closes
// the database.
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
	o.enqMu.Lock() // let an Enqueue in progress finish
	defer o.enqMu.Unlock()
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

func (o *Outbox) isClosed() bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.closed
}

func (o *Outbox) packetDir(id string) string { return filepath.Join(o.packets, id) }

func (o *Outbox) at(event, path string) {
	if o.hook != nil {
		o.hook(event, path)
	}
}

// DefaultIsPermanent treats an error as permanent when some error in its
// chain has a method Permanent() bool that returns true.
func DefaultIsPermanent(err error) bool {
	var p interface{ Permanent() bool }
	return errors.As(err, &p) && p.Permanent()
}
