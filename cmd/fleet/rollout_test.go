package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"govkiosk/fleet"
	"govkiosk/fleet/memstore"
	"govkiosk/fleet/updates"
	"govkiosk/kiosk/update"
)

// fleetOf stores n kiosks (more than one store page); each admitted to the
// first wave reports what state gives it, the others run the old version.
func fleetOf(t *testing.T, n int, release, salt string, percent float64, state func(i int) (version, updateState, failed string)) fleet.Store {
	t.Helper()
	ctx := context.Background()
	st := memstore.New()
	ro := update.Rollout{Percent: percent, Salt: salt}
	for i := range n {
		id := fmt.Sprintf("k-%05d", i)
		if err := st.PutKiosk(ctx, fleet.KioskInfo{KioskID: id, Office: "TH-10-1001", Province: "TH-10"}); err != nil {
			t.Fatal(err)
		}
		snap := fleet.Snapshot{KioskID: id, At: time.Unix(1700000000, 0), Seq: 1, Version: "1.0.0", UpdateState: "idle"}
		if ro.Admits(id) {
			snap.Version, snap.UpdateState, snap.UpdateFailed = state(i)
		}
		if err := st.PutSnapshot(ctx, snap); err != nil {
			t.Fatal(err)
		}
	}
	return st
}

var testPlan = updates.Plan{Waves: []updates.Wave{{Percent: 10, Soak: time.Hour}, {Percent: 100}}, HaltAt: 0.2, MinTried: 3, Complete: 0.9}

// The rollout advances when the first wave's kiosks committed the release
// in the store, and halts when enough of them rolled it back.
func TestPlanRolloutFromStore(t *testing.T) {
	ctx := context.Background()
	const release, salt = "1.1.0", "s1"
	start := time.Date(2026, 12, 1, 2, 0, 0, 0, time.UTC)

	all := fleetOf(t, 2500, release, salt, 10, func(int) (string, string, string) { return release, "committed", "" })
	d, err := planRollout(ctx, all, testPlan, release, salt, updates.Progress{Since: start}, start.Add(30*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if d.Changed || d.Progress.Wave != 0 || d.Counts.Admitted < 150 || d.Counts.Updated != d.Counts.Admitted {
		t.Errorf("before the soak: %+v, want wave 0 held with every admitted kiosk (about 250 of 2500) updated", d)
	}
	d, err = planRollout(ctx, all, testPlan, release, salt, updates.Progress{Since: start}, start.Add(2*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if !d.Changed || d.Progress.Wave != 1 || d.Rollout.Percent != 100 || d.Progress.Halted {
		t.Errorf("after the soak with the wave committed: %+v, want the next wave at 100 %%", d)
	}

	bad := fleetOf(t, 2500, release, salt, 10, func(i int) (string, string, string) {
		if i%2 == 0 {
			return "1.0.0", "rolledBack", release
		}
		return release, "committed", ""
	})
	d, err = planRollout(ctx, bad, testPlan, release, salt, updates.Progress{Since: start}, start.Add(2*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if !d.Changed || !d.Progress.Halted || !d.Rollout.Halted || d.Progress.Wave != 0 || d.Counts.Failed == 0 {
		t.Errorf("with about half the wave rolled back: %+v, want halted in wave 0", d)
	}

	// A rollback of another version does not count against this release.
	other := fleetOf(t, 300, release, salt, 10, func(i int) (string, string, string) {
		if i%2 == 0 {
			return "1.0.0", "rolledBack", "0.9.0"
		}
		return release, "committed", ""
	})
	d, err = planRollout(ctx, other, testPlan, release, salt, updates.Progress{Since: start}, start.Add(2*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if d.Progress.Halted || d.Counts.Failed != 0 {
		t.Errorf("rollbacks of 0.9.0: %+v, want no failure counted for %s", d, release)
	}
}

// The rollout loop's step signs the next wave into the TUF repository
// once the first wave committed the release, keeps its progress across
// steps, and publishes a halt when the next wave rolls it back.
func TestRolloutStepPublishes(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	keys, err := updates.GenerateKeys()
	if err != nil {
		t.Fatal(err)
	}
	repoDir := filepath.Join(dir, "repo")
	repo, err := updates.Create(repoDir, keys, updates.Options{})
	if err != nil {
		t.Fatal(err)
	}
	bundle := filepath.Join(dir, "bundle")
	if err := os.WriteFile(bundle, []byte("release bundle bytes"), 0o600); err != nil {
		t.Fatal(err)
	}
	const release, salt = "1.1.0", "s9"
	name, err := repo.AddRelease(bundle, update.Release{Version: release, Arch: "amd64", Rollout: &update.Rollout{Percent: 10, Salt: salt}})
	if err != nil {
		t.Fatal(err)
	}
	online := keys
	online.Root = nil
	st := fleetOf(t, 400, release, salt, 10, func(int) (string, string, string) { return release, "committed", "" })
	r := &rollouts{repoDir: repoDir, keys: online, plan: testPlan, store: st, progressFile: filepath.Join(dir, "progress.json"),
		log: slog.New(slog.DiscardHandler)}
	start := time.Date(2026, 12, 1, 2, 0, 0, 0, time.UTC)

	stage := func() *update.Rollout {
		t.Helper()
		repo, err := updates.Open(repoDir, updates.Keys{}, updates.Options{})
		if err != nil {
			t.Fatal(err)
		}
		return repo.Releases()[name].Rollout
	}
	if changed, err := r.step(ctx, start); err != nil || len(changed) != 0 {
		t.Fatalf("first step = %v, %v; want nothing published before the soak", changed, err)
	}
	if changed, err := r.step(ctx, start.Add(2*time.Hour)); err != nil || len(changed) != 1 {
		t.Fatalf("after the soak = %v, %v; want %s published", changed, err, name)
	}
	if ro := stage(); ro == nil || ro.Percent != 100 || ro.Halted || ro.Salt != salt {
		t.Fatalf("signed stage %+v, want 100 %% with salt %s", ro, salt)
	}
	// Everyone is admitted now; a stage at 100 % is no longer the
	// planner's, so a halt must come from a release still in its waves.
	if changed, err := r.step(ctx, start.Add(3*time.Hour)); err != nil || len(changed) != 0 {
		t.Errorf("a complete rollout stepped again = %v, %v; want left alone", changed, err)
	}

	// A second release rolled back by most of its first wave is halted.
	repo, err = updates.Open(repoDir, online, updates.Options{})
	if err != nil {
		t.Fatal(err)
	}
	name2, err := repo.AddRelease(bundle, update.Release{Version: "1.2.0", Arch: "arm64", Rollout: &update.Rollout{Percent: 10, Salt: "s10"}})
	if err != nil {
		t.Fatal(err)
	}
	r.store = fleetOf(t, 400, "1.2.0", "s10", 10, func(int) (string, string, string) { return release, "rolledBack", "1.2.0" })
	changed, err := r.step(ctx, start.Add(4*time.Hour))
	if err != nil || !slices.Equal(changed, []string{name2}) {
		t.Fatalf("step with 1.2.0 rolled back = %v, %v; want %s halted", changed, err, name2)
	}
	repo, _ = updates.Open(repoDir, updates.Keys{}, updates.Options{})
	if ro := repo.Releases()[name2].Rollout; ro == nil || !ro.Halted || ro.Percent != 10 {
		t.Errorf("signed stage of 1.2.0 %+v, want halted at 10 %%", ro)
	}
	if ro := stage(); ro == nil || ro.Percent != 100 || ro.Halted {
		t.Errorf("the halt of 1.2.0 changed 1.1.0's stage to %+v", ro)
	}
}
