package kiosk

import (
	"context"
	"crypto/ecdsa"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"

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
type Catalogue struct {
	key  *ecdsa.PublicKey
	path string
	log  *slog.Logger
	// verify checks a signed catalogue against the key.
	verify func(api.SignedCatalogue, *ecdsa.PublicKey) (api.Catalogue, error)

	mu    sync.RWMutex
	cur   api.Catalogue
	trust *idqr.TrustList
}

// setLocked installs a verified catalogue and its ID QR trust list.
func (c *Catalogue) setLocked(cat api.Catalogue) {
	c.cur = cat
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

// NewCatalogue loads the cached catalogue from dataDir if there is a valid one.
func NewCatalogue(dataDir string, key *ecdsa.PublicKey, verify func(api.SignedCatalogue, *ecdsa.PublicKey) (api.Catalogue, error), log *slog.Logger) *Catalogue {
	c := &Catalogue{key: key, path: filepath.Join(dataDir, "catalogue.json"), log: log, verify: verify}
	if b, err := os.ReadFile(c.path); err == nil {
		var sc api.SignedCatalogue
		if err := json.Unmarshal(b, &sc); err == nil {
			if cat, err := verify(sc, key); err == nil {
				c.setLocked(cat)
			} else {
				log.Warn("cached catalogue rejected", "err", err)
			}
		}
	}
	return c
}

// Refresh fetches, verifies and caches the catalogue.
func (c *Catalogue) Refresh(ctx context.Context, src CatalogueSource) error {
	sc, err := src.SignedCatalogue(ctx)
	if err != nil {
		return fmt.Errorf("fetch catalogue: %w", err)
	}
	cat, err := c.verify(sc, c.key)
	if err != nil {
		return fmt.Errorf("verify catalogue: %w", err)
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

// Procedures returns the offered procedures.
func (c *Catalogue) Procedures() []api.Procedure {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.cur.Procedures
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
