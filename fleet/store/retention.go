package store

import (
	"context"
	"log/slog"
	"time"

	"govkiosk/fleet"
)

// DefaultKeep is how long history (events, snapshots, presence changes,
// answered commands) is kept by default.
const DefaultKeep = 90 * 24 * time.Hour

// Retention prunes a store's history older than Keep, once at start and
// then every Every, until its context ends.
type Retention struct {
	Keep  time.Duration // default DefaultKeep
	Every time.Duration // default 1h
	Now   func() time.Time
	Log   *slog.Logger
	// After, if set, replaces time.After (tests).
	After func(time.Duration) <-chan time.Time
}

// Run prunes until ctx ends; a failed prune is logged and tried again at
// the next interval. It returns nil when ctx ends.
func (r Retention) Run(ctx context.Context, s fleet.Store) error {
	keep, every := r.Keep, r.Every
	if keep <= 0 {
		keep = DefaultKeep
	}
	if every <= 0 {
		every = time.Hour
	}
	now, after, log := r.Now, r.After, r.Log
	if now == nil {
		now = time.Now
	}
	if after == nil {
		after = time.After
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	for {
		pctx, cancel := context.WithTimeout(ctx, every)
		before := now().Add(-keep)
		if err := s.Prune(pctx, before); err != nil && ctx.Err() == nil {
			log.Error("fleet store: prune history", "before", before, "err", err)
		}
		cancel()
		select {
		case <-ctx.Done():
			return nil
		case <-after(every):
		}
	}
}
