package main

import (
	"context"
	"fmt"
	"time"

	"govkiosk/fleet"
	"govkiosk/fleet/updates"
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
