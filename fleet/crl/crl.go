// Package crl keeps the enrollment CA's certificate revocation list for
// the fleet's brokers: fetched from the portal (GET portal + api.PathCRL,
// DER) at start and every Interval, verified against the kiosks' CA (the
// CA the broker trusts for device certificates), taken only if its CRL
// Number is higher than the one held, and kept on disk (File, PEM) so a
// restart starts from the last good list and mosquitto can read it
// (crlfile). A failed fetch, a bad signature or an older list changes
// nothing: the list held stays, the failure is logged and counted.
//
// The embedded broker asks Revoked for every connecting kiosk and, on
// OnUpdate, disconnects the kiosks a new list names. mosquitto reads its
// crlfile only at start; see fleet/mosquitto for what the operator does
// when the file changes.
package crl

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"govkiosk/kiosk/atomicfile"
)

// DefaultInterval is how often the list is fetched.
const DefaultInterval = 5 * time.Minute

// MaxSize bounds a CRL's size (a list of every certificate of every
// revoked kiosk stays far below it).
const MaxSize = 8 << 20

// Errors of Accept and Refresh.
var (
	ErrSignature = errors.New("crl: not signed by the kiosks' CA")
	ErrOlder     = errors.New("crl: not newer than the list held")
	ErrMalformed = errors.New("crl: malformed")
)

// Options configure a List.
type Options struct {
	// URL is where the list is fetched (the portal's api.PathCRL); empty:
	// only what File holds (and Accept) counts.
	URL string
	// CA is the kiosks' CA: the list must be signed by it, and only its
	// certificates are checked against it. Required.
	CA *x509.Certificate
	// File keeps the last good list (PEM "X509 CRL"); read by New,
	// written after every newer list. Empty: kept in memory only.
	File     string
	Interval time.Duration // default DefaultInterval
	Client   *http.Client  // default: 30 s timeout
	// OnUpdate is called, without a lock held, after a newer list took
	// effect (the broker disconnects the kiosks it names).
	OnUpdate func()
	Now      func() time.Time
	Log      *slog.Logger
}

// List is the revocation list in force. Its methods are safe for
// concurrent use.
type List struct {
	o   Options
	cur atomic.Pointer[state]

	// refresh lets one Refresh fetch at a time. It is held across the
	// fetch on purpose and guards nothing readers touch (they read cur): a
	// refresh asked for right after a revoke must fetch after it, not share
	// an earlier fetch's answer.
	refresh sync.Mutex

	fetches, failures, refused atomic.Int64
	lastOK                     atomic.Int64 // unix seconds of the last good fetch
	hooks                      sync.Mutex
	onUpdate                   []func()
}

type state struct {
	crl     *x509.RevocationList
	serials map[string]bool // big.Int.Text(16)
}

// New checks the options and loads File if it exists. A File that is not
// a valid list of the CA is an error, naming it: delete it and the list is
// fetched afresh.
func New(o Options) (*List, error) {
	if o.CA == nil {
		return nil, errors.New("crl: the kiosks' CA is required")
	}
	if o.URL != "" {
		if u, err := url.Parse(o.URL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return nil, fmt.Errorf("crl: URL %q: want http(s)://host/path", o.URL)
		}
	}
	if o.Interval <= 0 {
		o.Interval = DefaultInterval
	}
	if o.Client == nil {
		o.Client = &http.Client{Timeout: 30 * time.Second}
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	l := &List{o: o}
	if o.OnUpdate != nil {
		l.onUpdate = append(l.onUpdate, o.OnUpdate)
	}
	if o.File != "" {
		b, err := os.ReadFile(o.File)
		switch {
		case errors.Is(err, os.ErrNotExist):
		case err != nil:
			return nil, fmt.Errorf("crl: %w", err)
		default:
			blk, _ := pem.Decode(b)
			if blk == nil || blk.Type != "X509 CRL" {
				return nil, fmt.Errorf("crl: %s holds no PEM X509 CRL (delete it to fetch the list afresh)", o.File)
			}
			st, err := l.verify(blk.Bytes)
			if err != nil {
				return nil, fmt.Errorf("crl: %s: %w (delete it to fetch the list afresh)", o.File, err)
			}
			l.cur.Store(st)
			o.Log.Info("crl: loaded", "file", o.File, "number", st.crl.Number, "revoked", len(st.serials))
		}
	}
	return l, nil
}

// OnUpdate adds a function called after every newer list took effect.
func (l *List) OnUpdate(f func()) {
	l.hooks.Lock()
	defer l.hooks.Unlock()
	l.onUpdate = append(l.onUpdate, f)
}

// Revoked says whether cert, a certificate of the kiosks' CA, is on the
// list. A certificate of another issuer is never.
func (l *List) Revoked(cert *x509.Certificate) bool {
	st := l.cur.Load()
	if st == nil || cert == nil || cert.SerialNumber == nil {
		return false
	}
	if !bytes.Equal(cert.RawIssuer, st.crl.RawIssuer) {
		return false
	}
	return st.serials[cert.SerialNumber.Text(16)]
}

// Number is the CRL Number of the list held, nil if none.
func (l *List) Number() *big.Int {
	if st := l.cur.Load(); st != nil {
		return new(big.Int).Set(st.crl.Number)
	}
	return nil
}

// Len is how many certificates the list held names.
func (l *List) Len() int {
	if st := l.cur.Load(); st != nil {
		return len(st.serials)
	}
	return 0
}

func (l *List) verify(der []byte) (*state, error) {
	c, err := x509.ParseRevocationList(der)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if err := c.CheckSignatureFrom(l.o.CA); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrSignature, err)
	}
	if c.Number == nil {
		return nil, fmt.Errorf("%w: no CRL Number", ErrMalformed)
	}
	st := &state{crl: c, serials: make(map[string]bool, len(c.RevokedCertificateEntries))}
	for _, e := range c.RevokedCertificateEntries {
		if e.SerialNumber != nil {
			st.serials[e.SerialNumber.Text(16)] = true
		}
	}
	return st, nil
}

// Accept takes a list (DER) if it is the CA's and newer than the one held:
// it is written to File, then takes effect, then OnUpdate runs. The same
// list again is no change (nil); an older or equal-numbered other one is
// ErrOlder.
func (l *List) Accept(der []byte) error {
	if old := l.cur.Load(); old != nil && bytes.Equal(old.crl.Raw, der) {
		return nil // the list held, fetched again: most fetches
	}
	st, err := l.verify(der)
	if err != nil {
		l.refused.Add(1)
		return err
	}
	if old := l.cur.Load(); old != nil {
		if st.crl.Number.Cmp(old.crl.Number) <= 0 {
			l.refused.Add(1)
			return fmt.Errorf("%w: number %v, held %v", ErrOlder, st.crl.Number, old.crl.Number)
		}
	}
	var werr error
	if l.o.File != "" {
		werr = atomicfile.Write(l.o.File, pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: der}), 0o644)
	}
	l.cur.Store(st)
	l.o.Log.Info("crl: new list in force", "number", st.crl.Number, "revoked", len(st.serials), "nextUpdate", st.crl.NextUpdate)
	l.hooks.Lock()
	hooks := append([]func(){}, l.onUpdate...)
	l.hooks.Unlock()
	for _, f := range hooks {
		f()
	}
	if werr != nil {
		return fmt.Errorf("crl: keep the list on disk: %w", werr)
	}
	return nil
}

// Refresh fetches the list once and Accepts it. Without a URL it does
// nothing.
func (l *List) Refresh(ctx context.Context) error {
	if l.o.URL == "" {
		return nil
	}
	l.refresh.Lock()
	defer l.refresh.Unlock()
	l.fetches.Add(1)
	err := l.fetchAndAccept(ctx)
	if err != nil {
		l.failures.Add(1)
		return err
	}
	l.lastOK.Store(l.o.Now().Unix())
	return nil
}

func (l *List) fetchAndAccept(ctx context.Context) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, l.o.URL, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/pkix-crl")
	resp, err := l.o.Client.Do(req)
	if err != nil {
		return fmt.Errorf("crl: fetch: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("crl: fetch %s: %s", l.o.URL, resp.Status)
	}
	der, err := io.ReadAll(io.LimitReader(resp.Body, MaxSize+1))
	if err != nil {
		return fmt.Errorf("crl: fetch: %w", err)
	}
	if len(der) > MaxSize {
		return fmt.Errorf("%w: larger than %d bytes", ErrMalformed, MaxSize)
	}
	return l.Accept(der)
}

// Run refreshes the list now and every Interval until ctx ends; a failure
// is logged and the list held stays.
func (l *List) Run(ctx context.Context) {
	if l.o.URL == "" {
		return
	}
	t := time.NewTicker(l.o.Interval)
	defer t.Stop()
	for {
		if err := l.Refresh(ctx); err != nil && ctx.Err() == nil {
			l.o.Log.Warn("crl: refresh failed; the list held stays in force", "err", err, "number", l.Number())
		}
		if st := l.cur.Load(); st != nil && !st.crl.NextUpdate.IsZero() && l.o.Now().After(st.crl.NextUpdate) {
			l.o.Log.Warn("crl: the list held is past its next update", "number", st.crl.Number, "nextUpdate", st.crl.NextUpdate)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// WriteMetrics writes the list's series in the Prometheus text format:
//
//	govkiosk_fleet_crl_number                      the CRL Number in force (0: none)
//	govkiosk_fleet_crl_revoked                     certificates it names
//	govkiosk_fleet_crl_next_update_timestamp_seconds
//	govkiosk_fleet_crl_last_success_timestamp_seconds
//	govkiosk_fleet_crl_fetches_total
//	govkiosk_fleet_crl_fetch_failures_total        fetches that failed or were refused
//	govkiosk_fleet_crl_refused_total               lists refused (bad signature, older, malformed)
func (l *List) WriteMetrics(w io.Writer) error {
	var number, next float64
	if st := l.cur.Load(); st != nil {
		number, _ = new(big.Float).SetInt(st.crl.Number).Float64()
		if !st.crl.NextUpdate.IsZero() {
			next = float64(st.crl.NextUpdate.Unix())
		}
	}
	var b bytes.Buffer
	m := func(name, typ, help string, v float64) {
		fmt.Fprintf(&b, "# HELP %s %s\n# TYPE %s %s\n%s %s\n", name, help, name, typ, name, strconv.FormatFloat(v, 'g', -1, 64))
	}
	m("govkiosk_fleet_crl_number", "gauge", "CRL Number of the revocation list in force (0: none).", number)
	m("govkiosk_fleet_crl_revoked", "gauge", "Certificates the revocation list in force names.", float64(l.Len()))
	m("govkiosk_fleet_crl_next_update_timestamp_seconds", "gauge", "When the issuer promised the next revocation list (0: none held).", next)
	m("govkiosk_fleet_crl_last_success_timestamp_seconds", "gauge", "When the revocation list was last fetched (0: never since start).", float64(l.lastOK.Load()))
	m("govkiosk_fleet_crl_fetches_total", "counter", "Fetches of the revocation list.", float64(l.fetches.Load()))
	m("govkiosk_fleet_crl_fetch_failures_total", "counter", "Fetches of the revocation list that failed or were refused.", float64(l.failures.Load()))
	m("govkiosk_fleet_crl_refused_total", "counter", "Revocation lists refused: bad signature, older than the one held, malformed.", float64(l.refused.Load()))
	_, err := w.Write(b.Bytes())
	return err
}
