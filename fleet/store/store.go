// Package store keeps the fleet's registry, presence, telemetry history and
// command audit in SQL: PostgreSQL in production (github.com/jackc/pgx/v5),
// SQLite as the embedded default (modernc.org/sqlite, no cgo). Both run the
// same queries through database/sql; the few differences live in dialect.
//
// Layout (both engines, times as Unix nanoseconds in BIGINT columns):
//
//	schema_migrations(version)              one row per applied migration
//	kiosks(kiosk_id PK, office, province,   the registry, presence and the
//	       retired, online, last_seen,      latest snapshot (JSON) with the
//	       version, problem, snapshot, ...) columns the console filters on
//	presence(kiosk_id, at, online)          every presence change
//	snapshots(kiosk_id, at, seq, body)      snapshot history
//	events(kiosk_id, seq PK, at, ...)       events, once per (kiosk, seq)
//	commands(id PK, kiosk_id, ...)          the command audit
//
// Migrations are forward-only and numbered; Open applies the missing ones
// in one transaction each and refuses a database newer than the program.
// History is pruned by time (Prune), on indexes over the time columns.
package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"govkiosk/fleet"
)

// ErrNotFound is returned by Kiosk and Command for an unknown id.
var ErrNotFound = fleet.ErrNotFound

// ErrBadDSN is returned by Open for a DSN it cannot use.
var ErrBadDSN = errors.New("store: bad DSN")

// MaxLimit is the most kiosks one Kiosks call returns; DefaultLimit is what
// a Filter without a Limit gets.
const (
	MaxLimit     = 10000
	DefaultLimit = 50
)

// Store is a fleet.Store on SQL. It also keeps a presence log and counts
// per office and province (fleet.PresenceLog, fleet.Summarizer).
type Store struct {
	db *sql.DB
	d  dialect
}

var (
	_ fleet.Store          = (*Store)(nil)
	_ fleet.PresenceLog    = (*Store)(nil)
	_ fleet.Summarizer     = (*Store)(nil)
	_ fleet.GroupHistorian = (*Store)(nil)
)

// Open opens (creating and migrating as needed) the store a DSN names:
// "postgres://…" or "postgresql://…" (a libpq URL, see pgx), "sqlite:///path"
// or a plain file path for SQLite.
func Open(ctx context.Context, dsn string) (*Store, error) {
	var d dialect
	var db *sql.DB
	var err error
	switch {
	case strings.HasPrefix(dsn, "postgres://"), strings.HasPrefix(dsn, "postgresql://"):
		d = postgres
		db, err = openPostgres(dsn)
	case strings.HasPrefix(dsn, "sqlite://"):
		d = sqlite
		db, err = openSQLite(strings.TrimPrefix(dsn, "sqlite://"))
	case dsn == "" || strings.Contains(dsn, "://"):
		return nil, fmt.Errorf("%w: %q: want postgres://…, sqlite:///path or a file path", ErrBadDSN, redactDSN(dsn))
	default:
		d = sqlite
		db, err = openSQLite(dsn)
	}
	if err != nil {
		return nil, err
	}
	s := &Store{db: db, d: d}
	if err := s.migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

// redactDSN drops a password from a DSN for an error message.
func redactDSN(dsn string) string {
	if i := strings.Index(dsn, "://"); i >= 0 {
		if j := strings.LastIndex(dsn, "@"); j > i {
			return dsn[:i+3] + "…" + dsn[j:]
		}
	}
	return dsn
}

// Close closes the database.
func (s *Store) Close() error { return s.db.Close() }

func (s *Store) exec(ctx context.Context, q string, args ...any) error {
	_, err := s.db.ExecContext(ctx, s.d.rebind(q), args...)
	return err
}

func (s *Store) query(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	return s.db.QueryContext(ctx, s.d.rebind(q), args...)
}

// nanos is a time as stored: Unix nanoseconds, 0 for the zero time.
func nanos(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func fromNanos(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// PutKiosk adds or updates a registry entry, keeping presence and snapshot.
func (s *Store) PutKiosk(ctx context.Context, k fleet.KioskInfo) error {
	if k.KioskID == "" {
		return errors.New("store: kiosk without id")
	}
	return s.exec(ctx, `INSERT INTO kiosks (kiosk_id, office, province, retired, identity) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (kiosk_id) DO UPDATE SET office = excluded.office, province = excluded.province, retired = excluded.retired,
			identity = excluded.identity`,
		k.KioskID, k.Office, k.Province, b2i(k.Retired), k.Identity)
}

// SetPresence records a presence change; an older one than the kiosk's
// latest only goes into the log.
func (s *Store) SetPresence(ctx context.Context, p fleet.Presence) error {
	if p.KioskID == "" {
		return errors.New("store: presence without kiosk id")
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	at := nanos(p.At)
	if _, err := tx.ExecContext(ctx, s.d.rebind(`INSERT INTO presence (kiosk_id, at, online) VALUES (?, ?, ?)
		ON CONFLICT (kiosk_id, at) DO UPDATE SET online = excluded.online`), p.KioskID, at, b2i(p.Online)); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, s.d.rebind(`INSERT INTO kiosks (kiosk_id, online, presence_at, last_seen) VALUES (?, ?, ?, ?)
		ON CONFLICT (kiosk_id) DO UPDATE SET online = excluded.online, presence_at = excluded.presence_at,
			last_seen = CASE WHEN excluded.last_seen > kiosks.last_seen THEN excluded.last_seen ELSE kiosks.last_seen END
		WHERE excluded.presence_at >= kiosks.presence_at`), p.KioskID, b2i(p.Online), at, at); err != nil {
		return err
	}
	return tx.Commit()
}

// PutSnapshot keeps a snapshot in the history and, if it is the kiosk's
// newest, as its current state.
func (s *Store) PutSnapshot(ctx context.Context, snap fleet.Snapshot) error {
	if snap.KioskID == "" {
		return errors.New("store: snapshot without kiosk id")
	}
	body, err := json.Marshal(snap)
	if err != nil {
		return err
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	at := nanos(snap.At)
	if _, err := tx.ExecContext(ctx, s.d.rebind(`INSERT INTO snapshots (kiosk_id, at, seq, sessions, body) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (kiosk_id, at, seq) DO NOTHING`), snap.KioskID, at, int64(snap.Seq), int64(snap.Sessions), string(body)); err != nil {
		return err
	}
	problem := b2i(len(snap.Problems()) > 0)
	if _, err := tx.ExecContext(ctx, s.d.rebind(`INSERT INTO kiosks (kiosk_id, snapshot, snapshot_at, version, problem, last_seen) VALUES (?, ?, ?, ?, ?, ?)
		ON CONFLICT (kiosk_id) DO UPDATE SET snapshot = excluded.snapshot, snapshot_at = excluded.snapshot_at,
			version = excluded.version, problem = excluded.problem,
			last_seen = CASE WHEN excluded.last_seen > kiosks.last_seen THEN excluded.last_seen ELSE kiosks.last_seen END
		WHERE excluded.snapshot_at >= kiosks.snapshot_at`), snap.KioskID, string(body), at, snap.Version, problem, at); err != nil {
		return err
	}
	return tx.Commit()
}

// AddEvent keeps an event once per (KioskID, Seq).
func (s *Store) AddEvent(ctx context.Context, e fleet.Event) error {
	if e.KioskID == "" {
		return errors.New("store: event without kiosk id")
	}
	return s.exec(ctx, `INSERT INTO events (kiosk_id, seq, at, kind, device, detail, summarised) VALUES (?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (kiosk_id, seq) DO NOTHING`,
		e.KioskID, int64(e.Seq), nanos(e.At), e.Kind, e.Device, e.Detail, e.Summarised)
}

// PutCommand adds a command or updates its state and result.
func (s *Store) PutCommand(ctx context.Context, c fleet.Command) error {
	if c.ID == "" || c.KioskID == "" {
		return errors.New("store: command without id or kiosk id")
	}
	return s.exec(ctx, `INSERT INTO commands (id, kiosk_id, name, args, by_user, sent_at, answered_at, state, result)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET answered_at = excluded.answered_at, state = excluded.state, result = excluded.result`,
		c.ID, c.KioskID, c.Name, c.Args, c.By, nanos(c.SentAt), nanos(c.AnsweredAt), c.State, c.Result)
}

const kioskCols = `kiosk_id, office, province, retired, identity, online, last_seen, snapshot`

func scanKiosk(sc interface{ Scan(...any) error }) (fleet.KioskView, error) {
	var v fleet.KioskView
	var retired, online int
	var lastSeen int64
	var snap sql.NullString
	if err := sc.Scan(&v.KioskID, &v.Office, &v.Province, &retired, &v.Identity, &online, &lastSeen, &snap); err != nil {
		return v, err
	}
	v.Retired, v.Online, v.LastSeen = retired != 0, online != 0, fromNanos(lastSeen)
	if snap.Valid && snap.String != "" {
		v.Snapshot = new(fleet.Snapshot)
		if err := json.Unmarshal([]byte(snap.String), v.Snapshot); err != nil {
			return v, fmt.Errorf("store: kiosk %s: snapshot: %w", v.KioskID, err)
		}
	}
	return v, nil
}

// Kiosk returns one kiosk (retired ones too), ErrNotFound if unknown.
func (s *Store) Kiosk(ctx context.Context, id string) (fleet.KioskView, error) {
	row := s.db.QueryRowContext(ctx, s.d.rebind(`SELECT `+kioskCols+` FROM kiosks WHERE kiosk_id = ?`), id)
	v, err := scanKiosk(row)
	if errors.Is(err, sql.ErrNoRows) {
		return v, fmt.Errorf("%w: kiosk %q", ErrNotFound, id)
	}
	return v, err
}

func where(f fleet.Filter) (string, []any, error) {
	conds := []string{"retired = 0"}
	if f.Status == "retired" {
		conds[0] = "retired = 1"
	}
	var args []any
	for _, c := range []struct{ col, val string }{{"province", f.Province}, {"office", f.Office}, {"version", f.Version}} {
		if c.val != "" {
			conds = append(conds, c.col+" = ?")
			args = append(args, c.val)
		}
	}
	switch f.Status {
	case "", "retired":
	case "online":
		conds = append(conds, "online = 1")
	case "offline":
		conds = append(conds, "online = 0")
	case "problem":
		conds = append(conds, "look_order = 0")
	default:
		return "", nil, fmt.Errorf("store: unknown status %q (want online, offline, problem or retired)", f.Status)
	}
	return " WHERE " + strings.Join(conds, " AND "), args, nil
}

// Kiosks returns a page of the kiosks the filter selects (retired ones
// only with the status "retired", and then only they), problems first
// (offline or with a problem), then by id, and how
// many the filter selects in all.
func (s *Store) Kiosks(ctx context.Context, f fleet.Filter) ([]fleet.KioskView, int, error) {
	w, args, err := where(f)
	if err != nil {
		return nil, 0, err
	}
	limit := f.Limit
	if limit <= 0 {
		limit = DefaultLimit
	}
	limit = min(limit, MaxLimit)
	offset := max(f.Offset, 0)
	var total int
	if err := s.db.QueryRowContext(ctx, s.d.rebind(`SELECT COUNT(*) FROM kiosks`+w), args...).Scan(&total); err != nil {
		return nil, 0, err
	}
	rows, err := s.query(ctx, `SELECT `+kioskCols+` FROM kiosks`+w+
		` ORDER BY look_order, kiosk_id LIMIT ? OFFSET ?`,
		append(args, limit, offset)...)
	if err != nil {
		return nil, 0, err
	}
	defer rows.Close()
	views := make([]fleet.KioskView, 0, min(limit, total))
	for rows.Next() {
		v, err := scanKiosk(rows)
		if err != nil {
			return nil, 0, err
		}
		views = append(views, v)
	}
	return views, total, rows.Err()
}

// Events returns a kiosk's events at or after since, in Seq order, at most
// limit (≤ 0: 1000).
func (s *Store) Events(ctx context.Context, kioskID string, since time.Time, limit int) ([]fleet.Event, error) {
	if limit <= 0 {
		limit = 1000
	}
	rows, err := s.query(ctx, `SELECT kiosk_id, seq, at, kind, device, detail, summarised FROM events
		WHERE kiosk_id = ? AND at >= ? ORDER BY seq LIMIT ?`, kioskID, nanos(since), limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []fleet.Event
	for rows.Next() {
		var e fleet.Event
		var seq, at int64
		if err := rows.Scan(&e.KioskID, &seq, &at, &e.Kind, &e.Device, &e.Detail, &e.Summarised); err != nil {
			return nil, err
		}
		e.Seq, e.At = uint64(seq), fromNanos(at)
		out = append(out, e)
	}
	return out, rows.Err()
}

// Snapshots returns a kiosk's snapshots at or after since, oldest first.
func (s *Store) Snapshots(ctx context.Context, kioskID string, since time.Time) ([]fleet.Snapshot, error) {
	rows, err := s.query(ctx, `SELECT body FROM snapshots WHERE kiosk_id = ? AND at >= ? ORDER BY at, seq`, kioskID, nanos(since))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []fleet.Snapshot
	for rows.Next() {
		var body string
		if err := rows.Scan(&body); err != nil {
			return nil, err
		}
		var sn fleet.Snapshot
		if err := json.Unmarshal([]byte(body), &sn); err != nil {
			return nil, fmt.Errorf("store: snapshot of %s: %w", kioskID, err)
		}
		out = append(out, sn)
	}
	return out, rows.Err()
}

// Presences returns a kiosk's presence changes at or after since, oldest
// first.
func (s *Store) Presences(ctx context.Context, kioskID string, since time.Time) ([]fleet.Presence, error) {
	rows, err := s.query(ctx, `SELECT at, online FROM presence WHERE kiosk_id = ? AND at >= ? ORDER BY at`, kioskID, nanos(since))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []fleet.Presence
	for rows.Next() {
		var at int64
		var online int
		if err := rows.Scan(&at, &online); err != nil {
			return nil, err
		}
		out = append(out, fleet.Presence{KioskID: kioskID, At: fromNanos(at), Online: online != 0})
	}
	return out, rows.Err()
}

const commandCols = `id, kiosk_id, name, args, by_user, sent_at, answered_at, state, result`

func scanCommand(sc interface{ Scan(...any) error }) (fleet.Command, error) {
	var c fleet.Command
	var sent, answered int64
	err := sc.Scan(&c.ID, &c.KioskID, &c.Name, &c.Args, &c.By, &sent, &answered, &c.State, &c.Result)
	c.SentAt, c.AnsweredAt = fromNanos(sent), fromNanos(answered)
	return c, err
}

// Commands returns a kiosk's commands, newest first, at most limit (≤ 0: 100).
func (s *Store) Commands(ctx context.Context, kioskID string, limit int) ([]fleet.Command, error) {
	if limit <= 0 {
		limit = 100
	}
	rows, err := s.query(ctx, `SELECT `+commandCols+` FROM commands WHERE kiosk_id = ? ORDER BY sent_at DESC, id LIMIT ?`, kioskID, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []fleet.Command
	for rows.Next() {
		c, err := scanCommand(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// Command returns one command, ErrNotFound if unknown.
func (s *Store) Command(ctx context.Context, id string) (fleet.Command, error) {
	c, err := scanCommand(s.db.QueryRowContext(ctx, s.d.rebind(`SELECT `+commandCols+` FROM commands WHERE id = ?`), id))
	if errors.Is(err, sql.ErrNoRows) {
		return c, fmt.Errorf("%w: command %q", ErrNotFound, id)
	}
	return c, err
}

// Prune drops events, snapshots and presence changes older than before,
// and commands answered (or expired) before it. The registry and each
// kiosk's latest state stay.
func (s *Store) Prune(ctx context.Context, before time.Time) error {
	b := nanos(before)
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	for _, q := range []string{
		`DELETE FROM events WHERE at < ?`,
		`DELETE FROM snapshots WHERE at < ?`,
		`DELETE FROM presence WHERE at < ?`,
		`DELETE FROM commands WHERE state <> 'pending' AND sent_at < ?`,
	} {
		if _, err := tx.ExecContext(ctx, s.d.rebind(q), b); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// Summary counts the kiosks (not retired) of each province, or of each
// office when byOffice.
func (s *Store) Summary(ctx context.Context, byOffice bool) ([]fleet.GroupCount, error) {
	cols := "province, ''"
	if byOffice {
		cols = "province, office"
	}
	group := strings.TrimSuffix(cols, ", ''")
	rows, err := s.query(ctx, `SELECT `+cols+`, COUNT(*), SUM(online), SUM(1 - look_order)
		FROM kiosks WHERE retired = 0 GROUP BY `+group+` ORDER BY `+group)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []fleet.GroupCount
	for rows.Next() {
		var g fleet.GroupCount
		if err := rows.Scan(&g.Province, &g.Office, &g.Total, &g.Online, &g.Problem); err != nil {
			return nil, err
		}
		out = append(out, g)
	}
	return out, rows.Err()
}

const nanosPerDay = int64(24 * time.Hour)

// GroupHistory counts, per UTC day since since, the kiosks of a province
// (or office; both empty: the whole fleet) that went offline and the
// sessions they completed (the increase of each kiosk's session counter, a
// fall being a restart). Days without either are left out.
func (s *Store) GroupHistory(ctx context.Context, province, office string, since time.Time) ([]fleet.GroupDay, error) {
	place := `(? = '' OR k.province = ?) AND (? = '' OR k.office = ?)`
	args := []any{province, province, office, office}
	days := map[int64]*fleet.GroupDay{}
	day := func(d int64) *fleet.GroupDay {
		g := days[d]
		if g == nil {
			g = &fleet.GroupDay{Day: time.Unix(0, d*nanosPerDay).UTC()}
			days[d] = g
		}
		return g
	}
	rows, err := s.query(ctx, `SELECT p.at / ? AS d, COUNT(*) FROM presence p JOIN kiosks k ON k.kiosk_id = p.kiosk_id
		WHERE p.online = 0 AND p.at >= ? AND `+place+` GROUP BY 1`,
		append([]any{nanosPerDay, nanos(since)}, args...)...)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var d int64
		var n int
		if err := rows.Scan(&d, &n); err != nil {
			rows.Close()
			return nil, err
		}
		day(d).Outages = n
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	rows, err = s.query(ctx, `SELECT d, SUM(inc) FROM (
			SELECT s.at / ? AS d,
				CASE WHEN LAG(s.sessions) OVER w IS NULL THEN 0
				     WHEN s.sessions >= LAG(s.sessions) OVER w THEN s.sessions - LAG(s.sessions) OVER w
				     ELSE s.sessions END AS inc
			FROM snapshots s JOIN kiosks k ON k.kiosk_id = s.kiosk_id
			WHERE s.at >= ? AND `+place+`
			WINDOW w AS (PARTITION BY s.kiosk_id ORDER BY s.at, s.seq)
		) x GROUP BY d`, append([]any{nanosPerDay, nanos(since)}, args...)...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var d, n int64
		if err := rows.Scan(&d, &n); err != nil {
			return nil, err
		}
		if n > 0 {
			day(d).Sessions = uint64(n)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	out := make([]fleet.GroupDay, 0, len(days))
	for _, g := range days {
		out = append(out, *g)
	}
	slices.SortFunc(out, func(a, b fleet.GroupDay) int { return a.Day.Compare(b.Day) })
	return out, nil
}
