package memstore

import (
	"context"
	"testing"
	"time"

	"govkiosk/fleet"
)

func TestStore(t *testing.T) {
	ctx := context.Background()
	s := New()
	t0 := time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC)
	for _, e := range []fleet.Event{{KioskID: "k1", Seq: 2, At: t0.Add(time.Minute), Kind: "paper-low"}, {KioskID: "k1", Seq: 1, At: t0, Kind: "door-open"}, {KioskID: "k1", Seq: 2, At: t0, Kind: "again"}} {
		if err := s.AddEvent(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	ev, _ := s.Events(ctx, "k1", time.Time{}, 0)
	if len(ev) != 2 || ev[0].Seq != 1 || ev[1].Kind != "paper-low" {
		t.Fatalf("events = %+v, want seq 1 then the first seq 2", ev)
	}
	s.SetPresence(ctx, fleet.Presence{KioskID: "k1", Online: true, At: t0})
	s.SetPresence(ctx, fleet.Presence{KioskID: "k2", Online: true, At: t0})
	s.PutSnapshot(ctx, fleet.Snapshot{KioskID: "k2", At: t0, Warnings: []string{"printer-paper-out"}})
	views, total, _ := s.Kiosks(ctx, fleet.Filter{Limit: 1})
	if total != 2 || len(views) != 1 || views[0].KioskID != "k2" {
		t.Fatalf("Kiosks = %d %+v, want the kiosk with a problem first", total, views)
	}
	views[0].Snapshot.Warnings[0] = "changed"
	v, _ := s.Kiosk(ctx, "k2")
	if v.Snapshot.Warnings[0] != "printer-paper-out" {
		t.Error("a view shares the store's slices")
	}
	s.PutCommand(ctx, fleet.Command{ID: "c1", KioskID: "k1", State: "done", SentAt: t0})
	s.PutCommand(ctx, fleet.Command{ID: "c2", KioskID: "k1", State: "pending", SentAt: t0})
	s.Prune(ctx, t0.Add(30*time.Second))
	ev, _ = s.Events(ctx, "k1", time.Time{}, 0)
	cmds, _ := s.Commands(ctx, "k1", 0)
	if len(ev) != 1 || len(cmds) != 1 || cmds[0].ID != "c2" {
		t.Errorf("after Prune: events %+v commands %+v", ev, cmds)
	}
}
