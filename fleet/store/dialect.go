package store

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"

	_ "github.com/jackc/pgx/v5/stdlib" // registers "pgx"
	_ "modernc.org/sqlite"             // registers "sqlite"
)

// dialect is what differs between the engines; the queries are written
// with ? placeholders and upserts both understand.
type dialect struct {
	name    string
	dollars bool // placeholders $1, $2, … (PostgreSQL)
}

var (
	sqlite   = dialect{name: "sqlite"}
	postgres = dialect{name: "postgres", dollars: true}
)

// rebind turns ? placeholders into $n for PostgreSQL. The queries hold no
// ? in literals.
func (d dialect) rebind(q string) string {
	if !d.dollars || !strings.Contains(q, "?") {
		return q
	}
	var b strings.Builder
	n := 0
	for _, r := range q {
		if r == '?' {
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

func openSQLite(path string) (*sql.DB, error) {
	if path == "" {
		return nil, fmt.Errorf("%w: sqlite without a path", ErrBadDSN)
	}
	// WAL lets the console read while MQTT writes; busy_timeout makes a
	// writer wait for another instead of failing; one connection writes at
	// a time anyway, more would only contend for the lock.
	dsn := "file:" + path + "?_pragma=journal_mode(WAL)&_pragma=busy_timeout(10000)&_pragma=synchronous(NORMAL)&_pragma=foreign_keys(ON)&_txlock=immediate"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("store: open sqlite %s: %w", path, err)
	}
	db.SetMaxOpenConns(4)
	return db, nil
}

func openPostgres(dsn string) (*sql.DB, error) {
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		return nil, fmt.Errorf("store: open postgres %s: %w", redactDSN(dsn), err)
	}
	db.SetMaxOpenConns(16)
	return db, nil
}

// migrations are applied in order, each once, never edited once shipped:
// a change is a new entry at the end.
var migrations = []string{
	1: `
CREATE TABLE kiosks (
	kiosk_id    TEXT PRIMARY KEY,
	office      TEXT NOT NULL DEFAULT '',
	province    TEXT NOT NULL DEFAULT '',
	retired     INTEGER NOT NULL DEFAULT 0,
	online      INTEGER NOT NULL DEFAULT 0,
	presence_at BIGINT NOT NULL DEFAULT 0,
	last_seen   BIGINT NOT NULL DEFAULT 0,
	version     TEXT NOT NULL DEFAULT '',
	problem     INTEGER NOT NULL DEFAULT 0,
	snapshot_at BIGINT NOT NULL DEFAULT 0,
	snapshot    TEXT,
	-- 0: offline or with a problem (listed first), 1: fine
	look_order  INTEGER GENERATED ALWAYS AS (CASE WHEN online = 0 OR problem = 1 THEN 0 ELSE 1 END) STORED
);
CREATE INDEX kiosks_order ON kiosks (retired, look_order, kiosk_id);
CREATE INDEX kiosks_place ON kiosks (province, office);
CREATE INDEX kiosks_version ON kiosks (version);
CREATE INDEX kiosks_place_order ON kiosks (province, office, look_order, kiosk_id);
CREATE TABLE presence (
	kiosk_id TEXT NOT NULL,
	at       BIGINT NOT NULL,
	online   INTEGER NOT NULL,
	PRIMARY KEY (kiosk_id, at)
);
CREATE INDEX presence_at ON presence (at);
CREATE TABLE snapshots (
	kiosk_id TEXT NOT NULL,
	at       BIGINT NOT NULL,
	seq      BIGINT NOT NULL,
	sessions BIGINT NOT NULL DEFAULT 0,
	body     TEXT NOT NULL,
	PRIMARY KEY (kiosk_id, at, seq)
);
CREATE INDEX snapshots_at ON snapshots (at);
CREATE TABLE events (
	kiosk_id   TEXT NOT NULL,
	seq        BIGINT NOT NULL,
	at         BIGINT NOT NULL,
	kind       TEXT NOT NULL,
	device     TEXT NOT NULL DEFAULT '',
	detail     TEXT NOT NULL DEFAULT '',
	summarised INTEGER NOT NULL DEFAULT 0,
	PRIMARY KEY (kiosk_id, seq)
);
CREATE INDEX events_at ON events (at);
CREATE TABLE commands (
	id          TEXT PRIMARY KEY,
	kiosk_id    TEXT NOT NULL,
	name        TEXT NOT NULL,
	args        TEXT NOT NULL DEFAULT '',
	by_user     TEXT NOT NULL DEFAULT '',
	sent_at     BIGINT NOT NULL,
	answered_at BIGINT NOT NULL DEFAULT 0,
	state       TEXT NOT NULL,
	result      TEXT NOT NULL DEFAULT ''
);
CREATE INDEX commands_kiosk ON commands (kiosk_id, sent_at);
`,
	// Why a retired kiosk left: revoked (stolen, lost) or retired.
	2: `ALTER TABLE kiosks ADD COLUMN identity TEXT NOT NULL DEFAULT ''`,
}

// migrate applies the migrations the database lacks. On PostgreSQL an
// advisory lock keeps two fleet services starting together from racing;
// SQLite's immediate transactions do the same there.
func (s *Store) migrate(ctx context.Context) error {
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("store: connect: %w", err)
	}
	defer conn.Close()
	if s.d.dollars {
		if _, err := conn.ExecContext(ctx, `SELECT pg_advisory_lock(7263511)`); err != nil {
			return fmt.Errorf("store: connect: %w", err)
		}
		defer conn.ExecContext(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock(7263511)`)
	}
	if _, err := conn.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY)`); err != nil {
		return fmt.Errorf("store: connect: %w", err)
	}
	var have int
	if err := conn.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&have); err != nil {
		return fmt.Errorf("store: read schema version: %w", err)
	}
	want := len(migrations) - 1
	if have > want {
		return fmt.Errorf("store: the database is at schema version %d, newer than this program's %d: run a newer fleet service", have, want)
	}
	for v := have + 1; v <= want; v++ {
		tx, err := conn.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, migrations[v]); err != nil {
			tx.Rollback()
			return fmt.Errorf("store: migration %d: %w", v, err)
		}
		if _, err := tx.ExecContext(ctx, s.d.rebind(`INSERT INTO schema_migrations (version) VALUES (?)`), v); err != nil {
			tx.Rollback()
			return fmt.Errorf("store: migration %d: %w", v, err)
		}
		if err := tx.Commit(); err != nil {
			return fmt.Errorf("store: migration %d: %w", v, err)
		}
	}
	return nil
}
