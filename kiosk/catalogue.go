package kiosk

import (
	"context"
	"crypto/ecdsa"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"
	_ "time/tzdata" // office time zones, whether or not the appliance has the tzdata package

	"govkiosk/backend-client/api"
	"govkiosk/backend-client/idqr"
	"govkiosk/kiosk/atomicfile"
)

// CatalogueSource fetches the signed catalogue from the portal.
type CatalogueSource interface {
	SignedCatalogue(ctx context.Context) (api.SignedCatalogue, error)
}

// Catalogue is the verified procedure catalogue, cached on disk so that a
// kiosk restarted without network still offers its procedures.
//
// It only moves forward: a fetched catalogue older than the one installed
// (api.CompareVersions) or past its expiry is refused and the installed one
// kept, so an old catalogue the portal once signed (a withdrawn procedure,
// a retired ID QR key) cannot be served to the kiosk again. An installed
// catalogue that expires while the portal is out of reach is kept, and
// Warnings reports it.
type Catalogue struct {
	key  *ecdsa.PublicKey
	path string
	log  *slog.Logger
	now  func() time.Time
	// verify checks a signed catalogue against the key.
	verify func(api.SignedCatalogue, *ecdsa.PublicKey) (api.Catalogue, error)

	refreshMu sync.Mutex // one Refresh at a time: its check and its install belong together

	mu     sync.RWMutex
	cur    api.Catalogue
	trust  *idqr.TrustList
	office string                    // the kiosk's office (SetOffice)
	zones  map[string]*time.Location // each office profile's time zone, loaded once per catalogue
}

// setLocked installs a verified catalogue and its ID QR trust list.
func (c *Catalogue) setLocked(cat api.Catalogue) {
	c.cur = cat
	c.zones = map[string]*time.Location{}
	for _, o := range cat.Offices {
		loc, err := time.LoadLocation(o.TimeZone)
		if err != nil || o.TimeZone == "" {
			c.log.Warn("office profile's time zone unknown; receipts use the machine's", "office", o.Code, "zone", o.TimeZone)
			continue
		}
		c.zones[o.Code] = loc
	}
	c.trust = nil
	if len(cat.IDIssuers) > 0 {
		t, err := idqr.ParseTrustListJSON(cat.IDIssuers)
		if err != nil {
			c.log.Warn("catalogue's ID QR trust list rejected", "err", err)
			return
		}
		c.trust = t
	}
}

// IDTrust is the trust list for signed ID QR codes; nil when there is none.
func (c *Catalogue) IDTrust() *idqr.TrustList {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.trust
}

// NewCatalogue loads the cached catalogue from dataDir if there is a valid
// one; one that has expired is kept too (Warnings says so). now is the
// clock expiry is judged by (nil: time.Now).
func NewCatalogue(dataDir string, key *ecdsa.PublicKey, verify func(api.SignedCatalogue, *ecdsa.PublicKey) (api.Catalogue, error), log *slog.Logger, now func() time.Time) *Catalogue {
	if now == nil {
		now = time.Now
	}
	c := &Catalogue{key: key, path: filepath.Join(dataDir, "catalogue.json"), log: log, verify: verify, now: now}
	if b, err := os.ReadFile(c.path); err == nil {
		var sc api.SignedCatalogue
		if err := json.Unmarshal(b, &sc); err == nil {
			if cat, err := verify(sc, key); err == nil {
				c.setLocked(cat)
				if c.expired(cat) {
					log.Warn("cached catalogue has expired; kept until the portal sends a fresh one", "version", cat.Version, "expires", cat.ExpiresAt)
				}
			} else {
				log.Warn("cached catalogue rejected", "err", err)
			}
		}
	}
	return c
}

// Errors of a catalogue that verified but is not installed.
var (
	ErrCatalogueOlder   = errors.New("catalogue is older than the installed one")
	ErrCatalogueExpired = errors.New("catalogue has expired")
)

func (c *Catalogue) expired(cat api.Catalogue) bool {
	return cat.ExpiresAt.IsZero() || !c.now().Before(cat.ExpiresAt)
}

// Refresh fetches, verifies and caches the catalogue, unless it is older
// than the installed one or expired: then the installed one stays.
func (c *Catalogue) Refresh(ctx context.Context, src CatalogueSource) error {
	c.refreshMu.Lock()
	defer c.refreshMu.Unlock()
	sc, err := src.SignedCatalogue(ctx)
	if err != nil {
		return fmt.Errorf("fetch catalogue: %w", err)
	}
	cat, err := c.verify(sc, c.key)
	if err != nil {
		return fmt.Errorf("verify catalogue: %w", err)
	}
	c.mu.RLock()
	installed := c.cur.Version
	c.mu.RUnlock()
	if err := c.fresh(cat, installed); err != nil {
		// A validly signed catalogue that is not fresh is a replay or a
		// stale cache on the way: loud, and the installed one stays.
		c.log.Error("catalogue refused; the installed one stays", "version", cat.Version, "installed", installed, "expires", cat.ExpiresAt, "err", err)
		return fmt.Errorf("catalogue %s: %w", cat.Version, err)
	}
	b, err := json.Marshal(sc)
	if err != nil {
		return err
	}
	if err := atomicfile.Write(c.path, b, 0o644); err != nil {
		return err
	}
	c.mu.Lock()
	c.setLocked(cat)
	c.mu.Unlock()
	c.log.Info("catalogue loaded", "version", cat.Version, "procedures", len(cat.Procedures))
	return nil
}

// fresh checks a verified catalogue against the installed version.
func (c *Catalogue) fresh(cat api.Catalogue, installed string) error {
	if c.expired(cat) {
		return fmt.Errorf("%w (expires %s)", ErrCatalogueExpired, cat.ExpiresAt.Format(time.RFC3339))
	}
	if installed == "" {
		return nil
	}
	if _, err := api.CompareVersions(installed, installed); err != nil {
		c.log.Warn("installed catalogue's version is not dotted numbers; a new one replaces it", "installed", installed)
		return nil
	}
	switch n, err := api.CompareVersions(cat.Version, installed); {
	case err != nil:
		return err
	case n < 0:
		return fmt.Errorf("%w: %s is older than %s", ErrCatalogueOlder, cat.Version, installed)
	}
	return nil
}

// Warnings are the catalogue's health warnings: "catalogue-expired" while
// the installed one is past its expiry (the portal has not sent a fresh one),
// "office-unknown" while it has office profiles but none for this kiosk's
// office (it then offers nothing).
func (c *Catalogue) Warnings() []string {
	c.mu.RLock()
	cur, office := c.cur, c.office
	c.mu.RUnlock()
	var w []string
	if cur.Version != "" && c.expired(cur) {
		w = append(w, "catalogue-expired")
	}
	if _, ok := cur.Office(office); len(cur.Offices) > 0 && !ok {
		w = append(w, "office-unknown")
	}
	return w
}

// Version is the installed catalogue's version ("" before the first).
func (c *Catalogue) Version() string {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.cur.Version
}

// SetOffice names the kiosk's office (its enrolled office code): from then
// on Procedures offers what that office's profile lists.
func (c *Catalogue) SetOffice(code string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.office = code
}

// Procedures returns the procedures the kiosk's office offers, in the
// catalogue's order: all of them in a catalogue without office profiles,
// none when the catalogue has profiles but not the kiosk's office.
func (c *Catalogue) Procedures() []api.Procedure {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if len(c.cur.Offices) == 0 {
		return c.cur.Procedures
	}
	o, ok := c.cur.Office(c.office)
	if !ok {
		return nil
	}
	var out []api.Procedure
	for _, p := range c.cur.Procedures {
		if slices.Contains(o.Procedures, p.ID) {
			out = append(out, p)
		}
	}
	return out
}

// Office is the profile of the kiosk's office, and whether the catalogue
// has one. The slices in it are the catalogue's: never written.
func (c *Catalogue) Office() (api.Office, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.cur.Office(c.office)
}

// Location is the time zone of the kiosk's office; nil without a profile.
func (c *Catalogue) Location() *time.Location {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.zones[c.office]
}

// Registry finds a registry documents are retrieved from.
func (c *Catalogue) Registry(id string) (api.Registry, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.cur.Registry(id)
}

// Procedure finds one by ID.
func (c *Catalogue) Procedure(id string) (api.Procedure, bool) {
	for _, p := range c.Procedures() {
		if p.ID == id {
			return p, true
		}
	}
	return api.Procedure{}, false
}
