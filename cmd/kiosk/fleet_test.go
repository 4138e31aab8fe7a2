package main

import (
	"context"
	"log/slog"
	"net/url"
	"slices"
	"testing"
	"time"

	"govkiosk/backend-client/api"
	fleetclient "govkiosk/backend-client/fleet"
	"govkiosk/drivers/device"
	"govkiosk/fleet/fleettest"
	"govkiosk/fleet/hub"
	"govkiosk/fleet/memstore"
	"govkiosk/kiosk/health"
)

// The monitor's heartbeats become retained snapshots, and a warning that
// appears or clears between two of them an event; the first is the state,
// not news.
func TestFleetFeedSnapshotsAndWarningEvents(t *testing.T) {
	b := fleettest.Start(t, fleettest.Embedded)
	st := memstore.New()
	h, err := hub.New(hub.Options{Broker: b.URL, TLS: b.ClientTLS(t, fleettest.ServiceName), Store: st})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	hdone := make(chan struct{})
	go func() { h.Run(ctx); close(hdone) }()
	defer func() { cancel(); <-hdone }()
	rctx, rcancel := context.WithTimeout(ctx, 10*time.Second)
	defer rcancel()
	if err := h.Ready(rctx); err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(b.URL.String())
	c, err := fleetclient.Open(fleetclient.Options{KioskID: "k-feed", Broker: u, Dir: t.TempDir(), TLS: b.ClientTLS(t, "k-feed")})
	if err != nil {
		t.Fatal(err)
	}
	kdone := make(chan struct{})
	go func() { c.Run(ctx); close(kdone) }()
	defer func() { cancel(); <-kdone }()

	km := health.NewKioskMetrics()
	km.SessionEnded("receipt", true)
	km.SessionEnded("documents", false)
	km.SessionEnded("receipt", true)
	km.Rated(5)
	km.Rated(3)
	km.Rated(5)
	f := &fleetFeed{c: c, log: slog.New(slog.DiscardHandler), extra: func() (int, string, bool) { return 2, "cat-7", true }, counts: km.FleetCounts}
	hb := api.Heartbeat{KioskID: "k-feed", Version: "9.9", At: time.Now(), Backlog: 3, DiskFree: 5 << 30, UpdateState: "rolledBack", UpdateFailed: "9.10",
		Devices:  []device.Status{{Device: "printer", State: device.Online, Media: device.PaperLow}},
		Warnings: []string{"printer-paper-low"}}
	f.heartbeat(hb)
	hb.Warnings = []string{"door-open"}
	f.heartbeat(hb)

	fleettest.WaitFor(t, 15*time.Second, "the snapshot and two events recorded", func() bool {
		v, _ := st.Kiosk(ctx, "k-feed")
		ev, _ := st.Events(ctx, "k-feed", time.Time{}, 0)
		return v.Snapshot != nil && len(v.Snapshot.Warnings) == 1 && v.Snapshot.Warnings[0] == "door-open" && len(ev) == 2
	})
	v, _ := st.Kiosk(ctx, "k-feed")
	if s := v.Snapshot; s.NeedsAttention != 2 || s.Catalogue != "cat-7" || !s.OutOfService || s.Backlog != 3 || s.DiskFreeBytes != 5<<30 || s.Devices[0].Media != string(device.PaperLow) {
		t.Errorf("snapshot %+v", s)
	}
	if s := v.Snapshot; s.Sessions != 2 || !slices.Equal(s.Ratings, []uint64{0, 0, 1, 0, 2}) || s.UpdateState != "rolledBack" || s.UpdateFailed != "9.10" {
		t.Errorf("snapshot sessions %d, ratings %v, update state %q failed %q; want 2 completed, [0 0 1 0 2], rolledBack 9.10", s.Sessions, s.Ratings, s.UpdateState, s.UpdateFailed)
	}
	ev, _ := st.Events(ctx, "k-feed", time.Time{}, 0)
	if ev[0].Kind != "door-open" || ev[1].Kind != "cleared" || ev[1].Detail != "printer-paper-low" {
		t.Errorf("events %+v, want door-open then cleared printer-paper-low", ev)
	}
}

type recordingCtrl struct{ calls []bool }

func (r *recordingCtrl) SetOutOfService(out bool) { r.calls = append(r.calls, out) }

// The kiosk is back in service only when neither the door nor the fleet
// holds it out.
func TestServiceStateDoorAndFleet(t *testing.T) {
	r := &recordingCtrl{}
	s := &serviceState{ctrl: r, log: slog.New(slog.DiscardHandler)}
	s.SetOutOfService(true)            // door opens
	s.setRemote(true, "visit planned") // the fleet too
	s.SetOutOfService(false)           // door closes: still out
	if !s.outOfService() {
		t.Error("in service while the fleet holds the kiosk out")
	}
	s.setRemote(false, "")
	want := []bool{true, true, true, false}
	if len(r.calls) != len(want) {
		t.Fatalf("controller told %v, want %v", r.calls, want)
	}
	for i := range want {
		if r.calls[i] != want[i] {
			t.Fatalf("controller told %v, want %v", r.calls, want)
		}
	}
}
