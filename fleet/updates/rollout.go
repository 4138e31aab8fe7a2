package updates

import (
	"errors"
	"fmt"
	"time"

	"govkiosk/kiosk/update"
)

// Wave is one stage of a staged rollout.
type Wave struct {
	Percent float64       // of the fleet admitted, cumulative (1, 10, 100)
	Soak    time.Duration // how long the wave runs before the next may start
}

// Plan is how a release goes out: its waves, when the rollout halts and
// when kiosks may switch.
type Plan struct {
	Waves []Wave
	// HaltAt is the share of kiosks that tried the release and rolled it
	// back (failed/(updated+failed)) at which the rollout halts; 0.05: 5 %.
	HaltAt float64
	// MinTried is how many kiosks must have tried before HaltAt is judged,
	// so that one early failure in a wave of three does not halt it; 0: 1.
	MinTried int
	// Complete is the share of a wave's kiosks that must run the release
	// before the next wave starts; kiosks that are off never report, so 1
	// may never be reached. 0: 0.9.
	Complete float64
	// Window is the daily maintenance window kiosks switch in; nil: any time.
	Window *update.Window
}

// DefaultPlan: 1 % for a day, 10 % for two days, then everyone; halt at 5 %
// rolled back once 20 kiosks tried; switch between 01:00 and 05:00.
var DefaultPlan = Plan{
	Waves:    []Wave{{Percent: 1, Soak: 24 * time.Hour}, {Percent: 10, Soak: 48 * time.Hour}, {Percent: 100}},
	HaltAt:   0.05,
	MinTried: 20,
	Complete: 0.9,
	Window:   &update.Window{Start: "01:00", End: "05:00"},
}

// Validate reports every problem of p at once.
func (p Plan) Validate() error {
	var errs []error
	if len(p.Waves) == 0 {
		errs = append(errs, errors.New("plan has no waves"))
	}
	last := 0.0
	for i, w := range p.Waves {
		if w.Percent <= last || w.Percent > 100 {
			errs = append(errs, fmt.Errorf("wave %d: percent %v must grow and stay within 100", i+1, w.Percent))
		}
		if w.Soak < 0 {
			errs = append(errs, fmt.Errorf("wave %d: negative soak", i+1))
		}
		last = w.Percent
	}
	if p.HaltAt <= 0 || p.HaltAt > 1 {
		errs = append(errs, fmt.Errorf("haltAt %v must be in (0, 1]", p.HaltAt))
	}
	if p.Complete < 0 || p.Complete > 1 {
		errs = append(errs, fmt.Errorf("complete %v must be in [0, 1]", p.Complete))
	}
	if p.Window != nil {
		if err := (update.Release{Version: "0.0.0", Arch: "x", Rollout: &update.Rollout{Window: p.Window}}).Validate(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// KioskReport is what the planner needs of a kiosk's last snapshot.
type KioskReport struct {
	KioskID     string
	Version     string // running
	UpdateState string // idle|downloading|installed|committed|rolledBack
	Failed      string // with rolledBack: the version that failed
}

// Progress is where a rollout stands, kept by the fleet between runs of the
// planner.
type Progress struct {
	Wave   int       // index into Plan.Waves
	Since  time.Time // when the wave started
	Halted bool
	Reason string // why it halted
}

// Counts are the kiosks of the current wave.
type Counts struct {
	Admitted int // in the wave's buckets
	Updated  int // running the release
	Failed   int // rolled it back
}

// Decision is the planner's answer: the new progress, the rollout stage to
// sign into the release's targets metadata, and the counts it judged on.
type Decision struct {
	Progress Progress
	Rollout  update.Rollout
	Counts   Counts
	Changed  bool // the stage differs from prev's: re-sign and publish
}

// Next decides a rollout's next stage from the kiosks' reports. It is a
// pure function: the same inputs give the same decision, so the fleet can
// run it on a timer and after every snapshot.
//
// A kiosk's place is update.Bucket(kioskID, salt), the same function the
// kiosk evaluates on the signed metadata. The rollout halts when the share
// of kiosks that tried and rolled back reaches HaltAt (after MinTried
// tries); it advances when the wave has soaked for its Soak and Complete of
// its kiosks run the release. A halted rollout stays halted: resuming is a
// person's decision (a new release, or Resume).
func Next(p Plan, release, salt string, prev Progress, kiosks []KioskReport, now time.Time) Decision {
	if prev.Wave >= len(p.Waves) {
		prev.Wave = len(p.Waves) - 1
	}
	if prev.Since.IsZero() {
		prev.Since = now
	}
	complete := p.Complete
	if complete == 0 {
		complete = 0.9
	}
	minTried := max(p.MinTried, 1)
	d := Decision{Progress: prev}
	wave := p.Waves[prev.Wave]
	d.Counts = count(kiosks, release, salt, wave.Percent)

	tried := d.Counts.Updated + d.Counts.Failed
	switch {
	case prev.Halted:
	case tried >= minTried && float64(d.Counts.Failed) >= p.HaltAt*float64(tried):
		d.Progress.Halted = true
		d.Progress.Reason = fmt.Sprintf("%d of %d kiosks that tried %s rolled it back (halt at %.1f %%)", d.Counts.Failed, tried, release, p.HaltAt*100)
	case prev.Wave+1 < len(p.Waves) && !now.Before(prev.Since.Add(wave.Soak)) &&
		d.Counts.Admitted > 0 && float64(d.Counts.Updated) >= complete*float64(d.Counts.Admitted):
		d.Progress.Wave++
		d.Progress.Since = now
		d.Counts = count(kiosks, release, salt, p.Waves[d.Progress.Wave].Percent)
	}
	d.Rollout = update.Rollout{
		Percent: p.Waves[d.Progress.Wave].Percent,
		Salt:    salt,
		Halted:  d.Progress.Halted,
		Window:  p.Window,
	}
	d.Changed = d.Progress.Wave != prev.Wave || d.Progress.Halted != prev.Halted
	return d
}

func count(kiosks []KioskReport, release, salt string, percent float64) Counts {
	ro := update.Rollout{Percent: percent, Salt: salt}
	var c Counts
	for _, k := range kiosks {
		if !ro.Admits(k.KioskID) {
			continue
		}
		c.Admitted++
		switch {
		case k.Version == release:
			c.Updated++
		case k.UpdateState == "rolledBack" && k.Failed == release:
			c.Failed++
		}
	}
	return c
}
