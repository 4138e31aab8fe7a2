package portal

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"os"
	"strings"
	"time"

	_ "modernc.org/sqlite" // database/sql driver "sqlite"
)

// store is the portal's SQLite database (WAL). newRef makes a random
// tracking number (see tracking.go).
type store struct {
	db     *sql.DB
	newRef func(prefix string, year int) (string, error)
}

const schema = `
CREATE TABLE IF NOT EXISTS enroll_tokens (
	token_hash TEXT PRIMARY KEY,
	created_at TEXT NOT NULL,
	used_at    TEXT,
	kiosk_id   TEXT
);
CREATE TABLE IF NOT EXISTS kiosks (
	seq            INTEGER PRIMARY KEY AUTOINCREMENT,
	id             TEXT NOT NULL UNIQUE,
	public_key_pem TEXT NOT NULL,
	cert_pem       TEXT NOT NULL,
	hostname       TEXT NOT NULL,
	enrolled_at    TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS heartbeats (
	kiosk_id    TEXT PRIMARY KEY,
	received_at TEXT NOT NULL,
	body        BLOB NOT NULL,
	seq         INTEGER NOT NULL DEFAULT 0 -- of the latest heartbeat taken: the next must be above it
);
CREATE TABLE IF NOT EXISTS confirmations (
	id            TEXT PRIMARY KEY,
	citizen_hash  TEXT NOT NULL,
	procedure_id  TEXT NOT NULL,
	kiosk_id      TEXT NOT NULL,
	code_hash     TEXT NOT NULL,
	expires_at    TEXT NOT NULL,
	attempts_left INTEGER NOT NULL,
	verified_at   TEXT,
	token_hash    TEXT UNIQUE,
	token_expires TEXT,
	token_used_at TEXT,
	review_digest TEXT, -- api.ReviewDigest the token is good for (set with the token)
	identity      TEXT  -- the verified identity: JSON claim -> MAC (set with the token)
);
CREATE TABLE IF NOT EXISTS applications (
	tracking_number    TEXT PRIMARY KEY,
	year               INTEGER NOT NULL,
	seq                INTEGER NOT NULL,
	provisional_number TEXT NOT NULL,
	packet_id          TEXT NOT NULL UNIQUE,
	procedure_id       TEXT NOT NULL,
	kiosk_id           TEXT NOT NULL,
	office_code        TEXT NOT NULL,
	manifest           BLOB NOT NULL,
	manifest_sha256    TEXT NOT NULL,
	form               BLOB NOT NULL,
	documents          BLOB NOT NULL,
	received_at        TEXT NOT NULL,
	appointment_date   TEXT NOT NULL,
	status             TEXT NOT NULL,
	UNIQUE (year, seq)
);
CREATE INDEX IF NOT EXISTS applications_provisional ON applications(provisional_number);
`

func openStore(path string) (*store, error) {
	// Personal data: 0600. SQLite gives the -wal and -shm files the same mode.
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("create database: %w", err)
	}
	f.Close()
	dsn := "file:" + path + "?_pragma=journal_mode(WAL)&_pragma=busy_timeout(5000)&_pragma=foreign_keys(1)&_pragma=synchronous(FULL)"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	db.SetMaxOpenConns(1) // one writer; SQLite serialises anyway
	if _, err := db.Exec(schema + uploadSchema); err != nil {
		db.Close()
		return nil, fmt.Errorf("create schema: %w", err)
	}
	if err := addColumns(db, "confirmations", "review_digest TEXT", "identity TEXT"); err != nil {
		db.Close()
		return nil, fmt.Errorf("upgrade schema: %w", err)
	}
	if err := addColumns(db, "heartbeats", "seq INTEGER NOT NULL DEFAULT 0"); err != nil {
		db.Close()
		return nil, fmt.Errorf("upgrade schema: %w", err)
	}
	if err := upgradeLifecycle(db); err != nil {
		db.Close()
		return nil, fmt.Errorf("upgrade schema: %w", err)
	}
	return &store{db: db}, nil
}

// addColumns adds the columns (name and type) a table made by an earlier
// version lacks. Rows from before have them NULL.
func addColumns(db *sql.DB, table string, columns ...string) error {
	rows, err := db.Query(`SELECT name FROM pragma_table_info(?)`, table)
	if err != nil {
		return err
	}
	have := map[string]bool{}
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			rows.Close()
			return err
		}
		have[n] = true
	}
	if err := rows.Close(); err != nil {
		return err
	}
	for _, c := range columns {
		if name, _, _ := strings.Cut(c, " "); !have[name] {
			if _, err := db.Exec(`ALTER TABLE ` + table + ` ADD COLUMN ` + c); err != nil {
				return err
			}
		}
	}
	return nil
}

func (st *store) close() error { return st.db.Close() }

const timeFormat = time.RFC3339Nano

func fmtTime(t time.Time) string { return t.UTC().Format(timeFormat) }

func parseTime(s string) time.Time {
	t, _ := time.Parse(timeFormat, s)
	return t
}

func (st *store) addEnrollToken(hash string, now time.Time) error {
	_, err := st.db.Exec(`INSERT OR IGNORE INTO enroll_tokens(token_hash, created_at) VALUES(?, ?)`, hash, fmtTime(now))
	return err
}

var (
	errTokenUnknown = errors.New("unknown enrollment token")
	errTokenUsed    = errors.New("enrollment token already used")
	errTokenExpired = errors.New("enrollment token expired")
)

type kioskRecord struct {
	ID, PublicKeyPEM, CertPEM, Hostname string
	Office                              string // the token's, or defaultOffice
	Replaced                            bool   // the token's ReplaceKiosk: an earlier kiosk's id, now this key's
	EnrolledAt                          time.Time
}

// enroll consumes the token, if it is unexpired (its expires_at, or else
// issued within ttl), and records a new kiosk of the token's office
// (defaultOffice for tokens of no office); issue builds its certificate
// once its id is known. A token with replace_kiosk gives that kiosk's id
// to the new key: the kiosk becomes active again with the new key and
// certificate, and every earlier certificate of it is revoked.
func (st *store) enroll(ctx context.Context, tokenHash, pubPEM, hostname string, now time.Time, ttl time.Duration, defaultOffice string, issue func(kioskID, office string) (issuedCert, error)) (kioskRecord, error) {
	tx, err := st.db.BeginTx(ctx, nil)
	if err != nil {
		return kioskRecord{}, err
	}
	defer tx.Rollback()
	var used, expires, office, replace sql.NullString
	var created string
	err = tx.QueryRowContext(ctx, `SELECT used_at, created_at, expires_at, office, replace_kiosk FROM enroll_tokens WHERE token_hash = ?`, tokenHash).
		Scan(&used, &created, &expires, &office, &replace)
	if errors.Is(err, sql.ErrNoRows) {
		return kioskRecord{}, errTokenUnknown
	}
	if err != nil {
		return kioskRecord{}, err
	}
	if used.Valid {
		return kioskRecord{}, errTokenUsed
	}
	if expires.Valid {
		if e := parseTime(expires.String); e.IsZero() || !now.Before(e) {
			return kioskRecord{}, errTokenExpired
		}
	} else if c := parseTime(created); c.IsZero() || now.Sub(c) > ttl {
		return kioskRecord{}, errTokenExpired
	}
	rec := kioskRecord{PublicKeyPEM: pubPEM, Hostname: hostname, EnrolledAt: now, Office: cmpOr(office.String, defaultOffice)}
	var cert issuedCert
	if replace.Valid && replace.String != "" {
		// The kiosk may have been retired since the token was issued.
		if err := replaceable(ctx, tx, replace.String, rec.Office, defaultOffice); err != nil {
			return kioskRecord{}, err
		}
		rec.ID, rec.Replaced = replace.String, true
		if cert, err = issue(rec.ID, rec.Office); err != nil {
			return kioskRecord{}, err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE kiosk_certs SET revoked_at = ? WHERE kiosk_id = ? AND revoked_at IS NULL`, fmtTime(now), rec.ID); err != nil {
			return kioskRecord{}, err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE kiosks SET public_key_pem = ?, cert_pem = ?, hostname = ?, enrolled_at = ?, office = ?,
			state = 'active', state_reason = NULL, state_at = NULL, state_by = NULL, renewed_at = NULL WHERE id = ?`,
			rec.PublicKeyPEM, cert.PEM, rec.Hostname, fmtTime(now), rec.Office, rec.ID); err != nil {
			return kioskRecord{}, err
		}
		// The new PC counts its heartbeats afresh; the old key's cannot be
		// replayed, they no longer verify.
		if _, err := tx.ExecContext(ctx, `UPDATE heartbeats SET seq = 0 WHERE kiosk_id = ?`, rec.ID); err != nil {
			return kioskRecord{}, err
		}
	} else {
		var next int64
		if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(seq), 0) + 1 FROM kiosks`).Scan(&next); err != nil {
			return kioskRecord{}, err
		}
		rec.ID = fmt.Sprintf("KIOSK-%04d", next)
		if cert, err = issue(rec.ID, rec.Office); err != nil {
			return kioskRecord{}, err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO kiosks(seq, id, public_key_pem, cert_pem, hostname, enrolled_at, office) VALUES(?, ?, ?, ?, ?, ?, ?)`,
			next, rec.ID, rec.PublicKeyPEM, cert.PEM, rec.Hostname, fmtTime(now), rec.Office); err != nil {
			return kioskRecord{}, err
		}
	}
	rec.CertPEM = cert.PEM
	if err := insertCert(ctx, tx, rec.ID, cert, now); err != nil {
		return kioskRecord{}, err
	}
	if _, err := tx.ExecContext(ctx, `UPDATE enroll_tokens SET used_at = ?, kiosk_id = ? WHERE token_hash = ?`, fmtTime(now), rec.ID, tokenHash); err != nil {
		return kioskRecord{}, err
	}
	return rec, tx.Commit()
}

// errHeartbeatReplayed: a heartbeat whose seq is not above the stored one.
var errHeartbeatReplayed = errors.New("heartbeat seq not above the last one")

// putHeartbeat keeps body as the kiosk's latest heartbeat if seq is above
// the last one kept, in one statement so that two copies racing each other
// cannot both be taken.
func (st *store) putHeartbeat(ctx context.Context, kioskID string, seq uint64, body []byte, now time.Time) error {
	if seq > math.MaxInt64 {
		return errHeartbeatReplayed // SQLite integers are signed 64-bit; no kiosk counts that far
	}
	res, err := st.db.ExecContext(ctx, `INSERT INTO heartbeats(kiosk_id, received_at, body, seq) VALUES(?, ?, ?, ?)
		ON CONFLICT(kiosk_id) DO UPDATE SET received_at = excluded.received_at, body = excluded.body, seq = excluded.seq
		WHERE excluded.seq > heartbeats.seq`,
		kioskID, fmtTime(now), body, int64(seq))
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil {
		return err
	} else if n == 0 {
		return errHeartbeatReplayed
	}
	return nil
}

type heartbeatRow struct {
	KioskID    string
	ReceivedAt time.Time
	Body       []byte
	Enrolled   bool
}

func (st *store) heartbeats(ctx context.Context) ([]heartbeatRow, error) {
	rows, err := st.db.QueryContext(ctx, `SELECT h.kiosk_id, h.received_at, h.body, k.id IS NOT NULL
		FROM heartbeats h LEFT JOIN kiosks k ON k.id = h.kiosk_id ORDER BY h.kiosk_id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []heartbeatRow
	for rows.Next() {
		var r heartbeatRow
		var at string
		if err := rows.Scan(&r.KioskID, &at, &r.Body, &r.Enrolled); err != nil {
			return nil, err
		}
		r.ReceivedAt = parseTime(at)
		out = append(out, r)
	}
	return out, rows.Err()
}

type confirmationRow struct {
	ID, CitizenHash, ProcedureID, KioskID, CodeHash string
	ExpiresAt                                       time.Time
	AttemptsLeft                                    int
	Verified                                        bool
}

func (st *store) addConfirmation(ctx context.Context, c confirmationRow) error {
	_, err := st.db.ExecContext(ctx, `INSERT INTO confirmations(id, citizen_hash, procedure_id, kiosk_id, code_hash, expires_at, attempts_left)
		VALUES(?, ?, ?, ?, ?, ?, ?)`, c.ID, c.CitizenHash, c.ProcedureID, c.KioskID, c.CodeHash, fmtTime(c.ExpiresAt), c.AttemptsLeft)
	return err
}

var errNotFound = errors.New("not found")

// verifyConfirmation runs check on the challenge inside a transaction; check
// returns the new attempts count and, on success, the token hash to store,
// which is then bound to bind's review digest and identity.
func (st *store) verifyConfirmation(ctx context.Context, id string, now time.Time, bind confirmationBinding, check func(confirmationRow) (attemptsLeft int, tokenHash string, tokenExpires time.Time)) error {
	tx, err := st.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	var c confirmationRow
	var exp string
	var verified sql.NullString
	err = tx.QueryRowContext(ctx, `SELECT id, citizen_hash, procedure_id, kiosk_id, code_hash, expires_at, attempts_left, verified_at
		FROM confirmations WHERE id = ?`, id).Scan(&c.ID, &c.CitizenHash, &c.ProcedureID, &c.KioskID, &c.CodeHash, &exp, &c.AttemptsLeft, &verified)
	if errors.Is(err, sql.ErrNoRows) {
		return errNotFound
	}
	if err != nil {
		return err
	}
	c.ExpiresAt = parseTime(exp)
	c.Verified = verified.Valid
	attempts, tokenHash, tokenExp := check(c)
	if tokenHash != "" {
		_, err = tx.ExecContext(ctx, `UPDATE confirmations SET attempts_left = ?, verified_at = ?, token_hash = ?, token_expires = ?,
			review_digest = ?, identity = ? WHERE id = ?`,
			attempts, fmtTime(now), tokenHash, fmtTime(tokenExp), bind.ReviewDigest, bind.Identity, id)
	} else {
		_, err = tx.ExecContext(ctx, `UPDATE confirmations SET attempts_left = ? WHERE id = ?`, attempts, id)
	}
	if err != nil {
		return err
	}
	return tx.Commit()
}

type applicationRow struct {
	TrackingNumber, ProvisionalNumber, PacketID, ProcedureID, KioskID, OfficeCode string
	Manifest                                                                      []byte
	ManifestSHA256                                                                string
	Form, Documents                                                               []byte
	ReceivedAt                                                                    time.Time
	AppointmentDate, Status                                                       string
}

const appColumns = `tracking_number, provisional_number, packet_id, procedure_id, kiosk_id, office_code, manifest, manifest_sha256, form, documents, received_at, appointment_date, status`

func scanApp(sc interface{ Scan(...any) error }) (applicationRow, error) {
	var a applicationRow
	var at string
	err := sc.Scan(&a.TrackingNumber, &a.ProvisionalNumber, &a.PacketID, &a.ProcedureID, &a.KioskID, &a.OfficeCode,
		&a.Manifest, &a.ManifestSHA256, &a.Form, &a.Documents, &at, &a.AppointmentDate, &a.Status)
	a.ReceivedAt = parseTime(at)
	return a, err
}

func (st *store) applicationByPacket(ctx context.Context, packetID string) (applicationRow, error) {
	a, err := scanApp(st.db.QueryRowContext(ctx, `SELECT `+appColumns+` FROM applications WHERE packet_id = ?`, packetID))
	if errors.Is(err, sql.ErrNoRows) {
		return a, errNotFound
	}
	return a, err
}

// applicationByRef finds an application by tracking or provisional number.
func (st *store) applicationByRef(ctx context.Context, ref string) (applicationRow, error) {
	a, err := scanApp(st.db.QueryRowContext(ctx, `SELECT `+appColumns+` FROM applications
		WHERE tracking_number = ? OR provisional_number = ? ORDER BY tracking_number = ? DESC LIMIT 1`, ref, ref, ref))
	if errors.Is(err, sql.ErrNoRows) {
		return a, errNotFound
	}
	return a, err
}

func (st *store) applications(ctx context.Context) ([]applicationRow, error) {
	rows, err := st.db.QueryContext(ctx, `SELECT `+appColumns+` FROM applications ORDER BY received_at, tracking_number`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []applicationRow
	for rows.Next() {
		a, err := scanApp(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

var errConfirmationInvalid = errors.New("confirmation token invalid")

// insertApplication consumes the confirmation token and stores the
// application in one transaction; it numbers the application in its year.
// The token must be unused, unexpired and the citizen's for the procedure
// (else errConfirmationInvalid), and check must accept what it is bound to
// (its error is returned as is).
func (st *store) insertApplication(ctx context.Context, a *applicationRow, year int, prefix, tokenHash, citizenHash string, now time.Time, check func(confirmationBinding) error) error {
	tx, err := st.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	var b confirmationBinding
	var digest, identity sql.NullString
	err = tx.QueryRowContext(ctx, `SELECT id, kiosk_id, review_digest, identity FROM confirmations
		WHERE token_hash = ? AND token_used_at IS NULL AND token_expires > ? AND citizen_hash = ? AND procedure_id = ?`,
		tokenHash, fmtTime(now), citizenHash, a.ProcedureID).Scan(&b.ID, &b.KioskID, &digest, &identity)
	if errors.Is(err, sql.ErrNoRows) {
		return errConfirmationInvalid
	}
	if err != nil {
		return err
	}
	b.ReviewDigest, b.Identity = digest.String, identity.String
	if err := check(b); err != nil {
		return err
	}
	res, err := tx.ExecContext(ctx, `UPDATE confirmations SET token_used_at = ? WHERE id = ? AND token_used_at IS NULL`,
		fmtTime(now), b.ID)
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil {
		return err
	} else if n != 1 {
		return errConfirmationInvalid
	}
	var seq int64
	if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(seq), 0) + 1 FROM applications WHERE year = ?`, year).Scan(&seq); err != nil {
		return err
	}
	for {
		if a.TrackingNumber, err = st.newRef(prefix, year); err != nil {
			return err
		}
		var taken int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM applications WHERE tracking_number = ? OR provisional_number = ?`,
			a.TrackingNumber, a.TrackingNumber).Scan(&taken); err != nil {
			return err
		}
		if taken == 0 {
			break
		}
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO applications(year, seq, `+appColumns+`) VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		year, seq, a.TrackingNumber, a.ProvisionalNumber, a.PacketID, a.ProcedureID, a.KioskID, a.OfficeCode,
		a.Manifest, a.ManifestSHA256, a.Form, a.Documents, fmtTime(a.ReceivedAt), a.AppointmentDate, a.Status); err != nil {
		return err
	}
	return tx.Commit()
}
