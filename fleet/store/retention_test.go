package store

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"govkiosk/fleet"
)

// TestRetention: history older than Keep goes at each interval, the rest
// stays, and Run ends with its context.
func TestRetention(t *testing.T) {
	s, err := Open(ctx(t), filepath.Join(t.TempDir(), "fleet.db"))
	must(t, err)
	defer s.Close()
	for d := range 10 {
		must(t, s.AddEvent(ctx(t), fleet.Event{KioskID: "k1", Seq: uint64(d + 1), At: t0.Add(time.Duration(d) * 24 * time.Hour), Kind: "paper-low"}))
	}
	now := t0.Add(9 * 24 * time.Hour)
	ticks := make(chan time.Time)
	pruned := make(chan struct{}, 10)
	r := Retention{Keep: 5 * 24 * time.Hour, Every: time.Hour, Now: func() time.Time { return now },
		After: func(time.Duration) <-chan time.Time { pruned <- struct{}{}; return ticks }}
	c, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- r.Run(c, s) }()
	wait := func(what string) {
		t.Helper()
		select {
		case <-pruned:
		case <-time.After(10 * time.Second):
			t.Fatalf("waited 10 s for %s", what)
		}
	}
	wait("the first prune")
	ev, _ := s.Events(ctx(t), "k1", time.Time{}, 0)
	if len(ev) != 6 || ev[0].Seq != 5 {
		t.Fatalf("after the first prune: %d events from seq %d, want 6 from 5", len(ev), ev[0].Seq)
	}
	now = now.Add(2 * 24 * time.Hour)
	ticks <- now
	wait("the second prune")
	if ev, _ := s.Events(ctx(t), "k1", time.Time{}, 0); len(ev) != 4 {
		t.Fatalf("after the second prune: %d events, want 4", len(ev))
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not end with its context")
	}
}
