package portal

import (
	"context"
	"crypto/x509"
	"database/sql"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"time"
)

// The device identity lifecycle in the store. Every device certificate the
// enrollment CA issues to a kiosk is a row of kiosk_certs (serial, kiosk,
// notAfter), so that the revocation list can name them: all of a revoked
// or retired kiosk's, and those a replacement (re-enrollment with
// ReplaceKiosk) superseded. A kiosk's state is active, revoked (stolen,
// lost) or retired (decommissioned); both of the latter are final, except
// that a revoked kiosk's id can be taken over by a replacement.
//
// Data dirs of earlier versions get the new columns (NULL in old rows:
// their office is the portal's default one, their tokens expire
// EnrollTokenTTL after creation) and their kiosks' certificates entered in
// kiosk_certs when the store opens.

const lifecycleSchema = `
CREATE TABLE IF NOT EXISTS kiosk_certs (
	serial     TEXT PRIMARY KEY, -- decimal
	kiosk_id   TEXT NOT NULL,
	not_after  TEXT NOT NULL,
	issued_at  TEXT NOT NULL,
	revoked_at TEXT              -- superseded by a replacement's key
);
CREATE INDEX IF NOT EXISTS kiosk_certs_kiosk ON kiosk_certs(kiosk_id);
CREATE TABLE IF NOT EXISTS crl_numbers (
	id     INTEGER PRIMARY KEY CHECK (id = 1),
	number INTEGER NOT NULL
);
`

// Kiosk states.
const (
	kioskActive  = "active"
	kioskRevoked = "revoked"
	kioskRetired = "retired"
)

var (
	errTokenScope   = errors.New("enrollment token's kiosk cannot be replaced")
	errKioskRevoked = errors.New("kiosk revoked or retired")
	errRenewTooSoon = errors.New("certificate renewed too recently")
)

// upgradeLifecycle adds the lifecycle's columns to tables of earlier
// versions and enters their kiosks' certificates in kiosk_certs.
func upgradeLifecycle(db *sql.DB) error {
	if _, err := db.Exec(lifecycleSchema); err != nil {
		return err
	}
	if err := addColumns(db, "enroll_tokens", "office TEXT", "replace_kiosk TEXT", "expires_at TEXT", "issued_by TEXT"); err != nil {
		return err
	}
	if err := addColumns(db, "kiosks", "office TEXT", "state TEXT NOT NULL DEFAULT 'active'", "state_reason TEXT",
		"state_at TEXT", "state_by TEXT", "renewed_at TEXT"); err != nil {
		return err
	}
	rows, err := db.Query(`SELECT id, cert_pem, enrolled_at FROM kiosks WHERE id NOT IN (SELECT kiosk_id FROM kiosk_certs)`)
	if err != nil {
		return err
	}
	type old struct{ id, certPEM, at string }
	var olds []old
	for rows.Next() {
		var o old
		if err := rows.Scan(&o.id, &o.certPEM, &o.at); err != nil {
			rows.Close()
			return err
		}
		olds = append(olds, o)
	}
	if err := rows.Close(); err != nil {
		return err
	}
	for _, o := range olds {
		b, _ := pem.Decode([]byte(o.certPEM))
		if b == nil {
			return fmt.Errorf("certificate of kiosk %s: no PEM block", o.id)
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return fmt.Errorf("certificate of kiosk %s: %w", o.id, err)
		}
		if _, err := db.Exec(`INSERT OR IGNORE INTO kiosk_certs(serial, kiosk_id, not_after, issued_at) VALUES(?, ?, ?, ?)`,
			c.SerialNumber.String(), o.id, fmtTime(c.NotAfter), o.at); err != nil {
			return err
		}
	}
	return nil
}

// enrollToken is what a scoped enrollment token is good for.
type enrollToken struct {
	Office       string // "": the portal's default office (tokens of Options.EnrollTokens, IssueEnrollToken)
	ReplaceKiosk string
	IssuedBy     string
	ExpiresAt    time.Time // zero: created + Options.EnrollTokenTTL
}

func (st *store) addScopedEnrollToken(ctx context.Context, hash string, tok enrollToken, now time.Time) error {
	_, err := st.db.ExecContext(ctx, `INSERT INTO enroll_tokens(token_hash, created_at, office, replace_kiosk, expires_at, issued_by)
		VALUES(?, ?, ?, ?, ?, ?)`, hash, fmtTime(now), tok.Office, nullable(tok.ReplaceKiosk), fmtTime(tok.ExpiresAt), nullable(tok.IssuedBy))
	return err
}

func nullable(s string) sql.NullString { return sql.NullString{String: s, Valid: s != ""} }

// kioskInfo is what the kiosk API checks of a kiosk.
type kioskInfo struct {
	KeyPEM string // "": not enrolled
	State  string
	Office string // "": the portal's default office (kiosks enrolled before offices were kept)
}

func (st *store) kiosk(ctx context.Context, kioskID string) (kioskInfo, error) {
	var k kioskInfo
	var office sql.NullString
	err := st.db.QueryRowContext(ctx, `SELECT public_key_pem, state, office FROM kiosks WHERE id = ?`, kioskID).Scan(&k.KeyPEM, &k.State, &office)
	if errors.Is(err, sql.ErrNoRows) {
		return kioskInfo{}, nil
	}
	k.Office = office.String
	return k, err
}

// replaceable checks that kioskID can be replaced by a kiosk of office
// (defaultOffice for kiosks of no recorded office): errTokenScope if not.
func replaceable(ctx context.Context, q interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
}, kioskID, office, defaultOffice string) error {
	var state string
	var have sql.NullString
	err := q.QueryRowContext(ctx, `SELECT state, office FROM kiosks WHERE id = ?`, kioskID).Scan(&state, &have)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return fmt.Errorf("%w: no kiosk %s", errTokenScope, kioskID)
	case err != nil:
		return err
	case state == kioskRetired:
		return fmt.Errorf("%w: kiosk %s is retired", errTokenScope, kioskID)
	}
	if o := have.String; o != office && (o != "" || office != defaultOffice) {
		return fmt.Errorf("%w: kiosk %s belongs to office %s", errTokenScope, kioskID, cmpOr(o, defaultOffice))
	}
	return nil
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func (st *store) replaceable(ctx context.Context, kioskID, office, defaultOffice string) error {
	return replaceable(ctx, st.db, kioskID, office, defaultOffice)
}

func insertCert(ctx context.Context, tx *sql.Tx, kioskID string, c issuedCert, now time.Time) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO kiosk_certs(serial, kiosk_id, not_after, issued_at) VALUES(?, ?, ?, ?)`,
		c.Serial.String(), kioskID, fmtTime(c.NotAfter), fmtTime(now))
	return err
}

// setKioskState moves an enrolled kiosk to revoked or retired, recording
// why, when and by whom. It is idempotent: a kiosk already there (or
// retired, when asked to revoke) is left as it is and changed is false.
// errNotFound: no such kiosk.
func (st *store) setKioskState(ctx context.Context, kioskID, state, reason, by string, now time.Time) (changed bool, err error) {
	res, err := st.db.ExecContext(ctx, `UPDATE kiosks SET state = ?, state_reason = ?, state_at = ?, state_by = ?
		WHERE id = ? AND (state = 'active' OR (state = 'revoked' AND ? = 'retired'))`,
		state, reason, fmtTime(now), nullable(by), kioskID, state)
	if err != nil {
		return false, err
	}
	if n, err := res.RowsAffected(); err != nil {
		return false, err
	} else if n == 1 {
		return true, nil
	}
	k, err := st.kiosk(ctx, kioskID)
	if err != nil {
		return false, err
	}
	if k.KeyPEM == "" {
		return false, errNotFound
	}
	return false, nil
}

// renew issues the active kiosk kioskID a new certificate for its
// enrolled key, at most once per gap: errKioskRevoked, errRenewTooSoon
// (a *renewTooSoon), errNotFound.
func (st *store) renew(ctx context.Context, kioskID string, now time.Time, gap time.Duration, issue func(keyPEM, office string) (issuedCert, error)) (issuedCert, error) {
	tx, err := st.db.BeginTx(ctx, nil)
	if err != nil {
		return issuedCert{}, err
	}
	defer tx.Rollback()
	var keyPEM, state string
	var office, renewed sql.NullString
	err = tx.QueryRowContext(ctx, `SELECT public_key_pem, state, office, renewed_at FROM kiosks WHERE id = ?`, kioskID).
		Scan(&keyPEM, &state, &office, &renewed)
	if errors.Is(err, sql.ErrNoRows) {
		return issuedCert{}, errNotFound
	}
	if err != nil {
		return issuedCert{}, err
	}
	if state != kioskActive {
		return issuedCert{}, errKioskRevoked
	}
	if renewed.Valid {
		if next := parseTime(renewed.String).Add(gap); now.Before(next) {
			return issuedCert{}, &renewTooSoon{next}
		}
	}
	c, err := issue(keyPEM, office.String)
	if err != nil {
		return issuedCert{}, err
	}
	if err := insertCert(ctx, tx, kioskID, c, now); err != nil {
		return issuedCert{}, err
	}
	if _, err := tx.ExecContext(ctx, `UPDATE kiosks SET cert_pem = ?, renewed_at = ? WHERE id = ?`, c.PEM, fmtTime(now), kioskID); err != nil {
		return issuedCert{}, err
	}
	return c, tx.Commit()
}

// renewTooSoon is errRenewTooSoon with the time the next renewal is taken.
type renewTooSoon struct{ RetryAt time.Time }

func (e *renewTooSoon) Error() string { return errRenewTooSoon.Error() }
func (e *renewTooSoon) Unwrap() error { return errRenewTooSoon }

// revokedCerts are the certificates, not yet expired at now, of every
// revoked or retired kiosk, and those superseded by a replacement.
func (st *store) revokedCerts(ctx context.Context, now time.Time) ([]x509.RevocationListEntry, error) {
	rows, err := st.db.QueryContext(ctx, `SELECT c.serial, COALESCE(c.revoked_at, k.state_at, c.issued_at)
		FROM kiosk_certs c JOIN kiosks k ON k.id = c.kiosk_id
		WHERE (c.revoked_at IS NOT NULL OR k.state != 'active') AND c.not_after > ?
		ORDER BY c.serial`, fmtTime(now))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []x509.RevocationListEntry
	for rows.Next() {
		var serial, at string
		if err := rows.Scan(&serial, &at); err != nil {
			return nil, err
		}
		n, ok := new(big.Int).SetString(serial, 10)
		if !ok {
			return nil, fmt.Errorf("kiosk_certs: serial %q", serial)
		}
		out = append(out, x509.RevocationListEntry{SerialNumber: n, RevocationTime: parseTime(at)})
	}
	return out, rows.Err()
}

// nextCRLNumber is the number of the next revocation list: one above the
// last, across restarts.
func (st *store) nextCRLNumber(ctx context.Context) (int64, error) {
	var n int64
	err := st.db.QueryRowContext(ctx, `INSERT INTO crl_numbers(id, number) VALUES(1, 1)
		ON CONFLICT(id) DO UPDATE SET number = number + 1 RETURNING number`).Scan(&n)
	return n, err
}

// kioskRow is one enrolled kiosk for the admin list.
type kioskRow struct {
	ID, Office, State, StateReason, StateBy string
	StateAt, EnrolledAt, CertNotAfter       time.Time
}

// kioskRows lists the enrolled kiosks with their latest certificate's expiry.
func (st *store) kioskRows(ctx context.Context) (map[string]kioskRow, error) {
	rows, err := st.db.QueryContext(ctx, `SELECT k.id, COALESCE(k.office, ''), k.state, COALESCE(k.state_reason, ''),
		COALESCE(k.state_by, ''), COALESCE(k.state_at, ''), k.enrolled_at,
		COALESCE((SELECT MAX(not_after) FROM kiosk_certs c WHERE c.kiosk_id = k.id AND c.revoked_at IS NULL), '')
		FROM kiosks k`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]kioskRow{}
	for rows.Next() {
		var k kioskRow
		var stateAt, enrolled, notAfter string
		if err := rows.Scan(&k.ID, &k.Office, &k.State, &k.StateReason, &k.StateBy, &stateAt, &enrolled, &notAfter); err != nil {
			return nil, err
		}
		k.StateAt, k.EnrolledAt, k.CertNotAfter = parseTime(stateAt), parseTime(enrolled), parseTime(notAfter)
		out[k.ID] = k
	}
	return out, rows.Err()
}
