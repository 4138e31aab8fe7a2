package updates

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"govkiosk/kiosk/update"
)

// fleet makes n kiosks on version old.
func fleet(n int) []KioskReport {
	ks := make([]KioskReport, n)
	for i := range ks {
		ks[i] = KioskReport{KioskID: fmt.Sprintf("VN-QN-%05d", i), Version: "1.0.0", UpdateState: "committed"}
	}
	return ks
}

// take marks every kiosk the rollout admits as running release, and every
// failEvery-th of them (0: none) as having rolled it back.
func take(ks []KioskReport, ro update.Rollout, release string, failEvery int) {
	n := 0
	for i := range ks {
		if !ro.Admits(ks[i].KioskID) || ks[i].Version == release || ks[i].Failed == release {
			continue
		}
		n++
		if failEvery > 0 && n%failEvery == 0 {
			ks[i].UpdateState, ks[i].Failed = "rolledBack", release
			continue
		}
		ks[i].Version, ks[i].UpdateState = release, "committed"
	}
}

func TestRolloutAdvancesThroughWaves(t *testing.T) {
	p := Plan{Waves: []Wave{{1, time.Hour}, {10, time.Hour}, {100, 0}}, HaltAt: 0.05, MinTried: 10, Complete: 0.9}
	if err := p.Validate(); err != nil {
		t.Fatal(err)
	}
	ks := fleet(10000)
	t0 := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	d := Next(p, "2.0.0", "s1", Progress{}, ks, t0)
	if d.Rollout.Percent != 1 || d.Progress.Wave != 0 || d.Counts.Admitted < 70 || d.Counts.Admitted > 130 {
		t.Fatalf("first wave: %+v; want 1 %% of 10000 (about 100) admitted", d)
	}
	// Soak not over: stays, even with everyone updated.
	take(ks, d.Rollout, "2.0.0", 0)
	if d2 := Next(p, "2.0.0", "s1", d.Progress, ks, t0.Add(30*time.Minute)); d2.Progress.Wave != 0 || d2.Changed {
		t.Fatalf("advanced before the soak: %+v", d2)
	}
	d = Next(p, "2.0.0", "s1", d.Progress, ks, t0.Add(time.Hour))
	if d.Progress.Wave != 1 || d.Rollout.Percent != 10 || !d.Changed || d.Counts.Admitted < 900 || d.Counts.Admitted > 1100 {
		t.Fatalf("second wave: %+v", d)
	}
	// The 1 % are a subset of the 10 %: nobody who updated falls out.
	if d.Counts.Updated < 70 {
		t.Errorf("the first wave's kiosks are not in the second: %+v", d.Counts)
	}
	take(ks, d.Rollout, "2.0.0", 0)
	d = Next(p, "2.0.0", "s1", d.Progress, ks, t0.Add(2*time.Hour))
	if d.Progress.Wave != 2 || d.Rollout.Percent != 100 || d.Counts.Admitted != 10000 {
		t.Fatalf("last wave: %+v", d)
	}
	take(ks, d.Rollout, "2.0.0", 0)
	if d2 := Next(p, "2.0.0", "s1", d.Progress, ks, t0.Add(99*time.Hour)); d2.Progress.Wave != 2 || d2.Changed || d2.Counts.Updated != 10000 {
		t.Errorf("after the last wave: %+v", d2)
	}
}

func TestRolloutWaitsForWaveToComplete(t *testing.T) {
	p := Plan{Waves: []Wave{{10, 0}, {100, 0}}, HaltAt: 0.5, Complete: 0.9}
	ks := fleet(1000)
	d := Next(p, "2.0.0", "s", Progress{}, ks, time.Unix(0, 0))
	// only half of the wave updates (the others are switched off)
	half := 0
	for i := range ks {
		if d.Rollout.Admits(ks[i].KioskID) && half%2 == 0 {
			ks[i].Version = "2.0.0"
		}
		if d.Rollout.Admits(ks[i].KioskID) {
			half++
		}
	}
	if d2 := Next(p, "2.0.0", "s", d.Progress, ks, time.Unix(3600, 0)); d2.Progress.Wave != 0 {
		t.Errorf("advanced with half of the wave updated: %+v", d2.Counts)
	}
}

func TestRolloutHaltsOnFailures(t *testing.T) {
	p := Plan{Waves: []Wave{{10, 0}, {100, 0}}, HaltAt: 0.05, MinTried: 20, Window: &update.Window{Start: "01:00", End: "05:00"}}
	ks := fleet(2000)
	d := Next(p, "2.0.0", "s", Progress{}, ks, time.Unix(0, 0))
	take(ks, d.Rollout, "2.0.0", 10) // one in ten rolls back
	d = Next(p, "2.0.0", "s", d.Progress, ks, time.Unix(1, 0))
	if !d.Progress.Halted || !d.Rollout.Halted || !d.Changed || d.Progress.Wave != 0 || d.Counts.Failed == 0 {
		t.Fatalf("10 %% failures against a 5 %% threshold: %+v", d)
	}
	if d.Rollout.Window == nil || d.Rollout.Window.Start != "01:00" {
		t.Errorf("the maintenance window is not passed on: %+v", d.Rollout)
	}
	// Halted kiosks are not admitted any more.
	if d.Rollout.Admits(ks[0].KioskID) {
		t.Error("a halted rollout admits a kiosk")
	}
	// And it stays halted even when the numbers recover.
	for i := range ks {
		ks[i].UpdateState, ks[i].Failed = "committed", ""
	}
	if d2 := Next(p, "2.0.0", "s", d.Progress, ks, time.Unix(99999, 0)); !d2.Progress.Halted || d2.Changed {
		t.Errorf("a halted rollout resumed by itself: %+v", d2)
	}
}

func TestRolloutMinTried(t *testing.T) {
	p := Plan{Waves: []Wave{{100, 0}}, HaltAt: 0.05, MinTried: 20}
	ks := fleet(5)
	ks[0].UpdateState, ks[0].Failed = "rolledBack", "2.0.0"
	if d := Next(p, "2.0.0", "s", Progress{}, ks, time.Unix(0, 0)); d.Progress.Halted {
		t.Errorf("halted on 1 failure of 1 try with MinTried 20: %+v", d)
	}
}

func TestPlanValidate(t *testing.T) {
	if err := DefaultPlan.Validate(); err != nil {
		t.Errorf("DefaultPlan: %v", err)
	}
	bad := Plan{Waves: []Wave{{10, 0}, {5, -1}}, HaltAt: 2, Complete: 3, Window: &update.Window{Start: "25:00", End: "01:00"}}
	err := bad.Validate()
	for _, want := range []string{"wave 2: percent", "wave 2: negative", "haltAt", "complete", "25:00"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate of a bad plan: %v; want it to name %q", err, want)
		}
	}
}
