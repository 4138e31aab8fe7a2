package main

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"time"

	"govkiosk/fleet"
	"govkiosk/fleet/keyfile"
	"govkiosk/fleet/updates"
	"govkiosk/kiosk/atomicfile"
)

// rolloutPage is how many kiosks one store read returns while the
// planner's reports are gathered.
const rolloutPage = 1000

// kioskReports reads every registered kiosk's last reported version and
// update state from the store: what the rollout planner judges on. A kiosk
// that never sent a snapshot reports nothing yet and is left out.
func kioskReports(ctx context.Context, st fleet.Store) ([]updates.KioskReport, error) {
	var out []updates.KioskReport
	for offset := 0; ; offset += rolloutPage {
		views, total, err := st.Kiosks(ctx, fleet.Filter{Limit: rolloutPage, Offset: offset})
		if err != nil {
			return nil, fmt.Errorf("read kiosks for the rollout: %w", err)
		}
		for _, v := range views {
			if v.Retired || v.Snapshot == nil {
				continue
			}
			s := v.Snapshot
			out = append(out, updates.KioskReport{KioskID: v.KioskID, Version: s.Version, UpdateState: s.UpdateState, Failed: s.UpdateFailed})
		}
		if len(views) == 0 || offset+len(views) >= total {
			return out, nil
		}
	}
}

// planRollout decides the next stage of a release's rollout from the
// kiosks' states in the store (see updates.Next).
func planRollout(ctx context.Context, st fleet.Store, plan updates.Plan, release, salt string, prev updates.Progress, now time.Time) (updates.Decision, error) {
	reports, err := kioskReports(ctx, st)
	if err != nil {
		return updates.Decision{}, err
	}
	return updates.Next(plan, release, salt, prev, reports, now), nil
}

// rollouts drives the staged rollouts of a TUF repository's releases: at
// each step it re-opens the repository (the publish CLI adds releases to
// it), judges every release whose rollout is neither halted nor complete
// on the store's kiosk states, and signs and publishes a new stage when
// the planner changed it. Progress (wave, since) is kept in a file of the
// fleet's data directory, not in the repository the kiosks read.
type rollouts struct {
	repoDir      string
	keys         updates.Keys
	plan         updates.Plan
	progressFile string
	store        fleet.Store
	log          *slog.Logger
}

// step runs the planner once for every release in progress and returns
// the target names whose stage it published.
func (r *rollouts) step(ctx context.Context, now time.Time) ([]string, error) {
	repo, err := updates.Open(r.repoDir, r.keys, updates.Options{})
	if err != nil {
		return nil, fmt.Errorf("open the update repository: %w", err)
	}
	progress := map[string]updates.Progress{}
	if b, err := os.ReadFile(r.progressFile); err == nil {
		if err := json.Unmarshal(b, &progress); err != nil {
			return nil, fmt.Errorf("%s: %w", r.progressFile, err)
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	reports, err := kioskReports(ctx, r.store)
	if err != nil {
		return nil, err
	}
	var changed []string
	releases := repo.Releases()
	for _, name := range slices.Sorted(maps.Keys(releases)) {
		rel := releases[name]
		ro := rel.Rollout
		if ro == nil || ro.Halted || ro.Percent >= 100 {
			continue // everyone, or a person's decision
		}
		prev, seen := progress[name]
		if !seen {
			// First sight: start at the wave the publisher signed.
			prev = updates.Progress{Since: now}
			for i, w := range r.plan.Waves {
				if w.Percent <= ro.Percent {
					prev.Wave = i
				}
			}
		}
		d := updates.Next(r.plan, rel.Version, ro.Salt, prev, reports, now)
		progress[name] = d.Progress
		if d.Changed {
			stage := d.Rollout
			if err := repo.SetRollout(name, &stage); err != nil {
				return changed, err
			}
			changed = append(changed, name)
			r.log.Info("rollout stage published", "target", name, "percent", stage.Percent, "halted", stage.Halted,
				"reason", d.Progress.Reason, "admitted", d.Counts.Admitted, "updated", d.Counts.Updated, "failed", d.Counts.Failed)
		}
	}
	b, err := json.MarshalIndent(progress, "", "  ")
	if err != nil {
		return changed, err
	}
	return changed, atomicfile.Write(r.progressFile, b, 0o640)
}

// run steps every interval until ctx ends; a failed step is logged and
// tried again at the next.
func (r *rollouts) run(ctx context.Context, every time.Duration) {
	for {
		if _, err := r.step(ctx, time.Now()); err != nil && ctx.Err() == nil {
			r.log.Error("rollout step", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(every):
		}
	}
}

// readOnlineKeys reads the targets, snapshot and timestamp keys (the
// files the publish CLI's keygen writes); the root key stays offline.
func readOnlineKeys(dir string) (updates.Keys, error) {
	var k updates.Keys
	for _, p := range []struct {
		role string
		key  *ed25519.PrivateKey
	}{{"targets", &k.Targets}, {"snapshot", &k.Snapshot}, {"timestamp", &k.Timestamp}} {
		key, err := keyfile.Read(filepath.Join(dir, p.role+".key"))
		if err != nil {
			return updates.Keys{}, err
		}
		*p.key = key
	}
	return k, nil
}
