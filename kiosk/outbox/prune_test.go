package outbox

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestDeliveredRowsArePruned is reading the outbox long after the citizens
// went: a delivered packet's row (its provisional and tracking numbers and
// when it was sent) is kept only KeepDelivered, and after a purge SQLite's
// -wal file, which keeps earlier versions of the rows' pages, is truncated.
func TestDeliveredRowsArePruned(t *testing.T) {
	dir := t.TempDir()
	clk := &fakeClock{t: time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)}
	opts := func(op *Options) { op.Now, op.KeepDelivered = clk.Now, 24*time.Hour }
	o := open(t, dir, opts)
	stop := run(t, o, newPortal())
	old, recent := testPacket(1), testPacket(2)
	mustEnqueue(t, o, old)
	waitPurged(t, o, old.ID)
	clk.Set(clk.Now().Add(25 * time.Hour))
	mustEnqueue(t, o, recent)
	waitPurged(t, o, recent.ID)
	stop() // the last delivery's clean-up is over

	wal := filepath.Join(dir, "outbox.db-wal")
	if st, err := os.Stat(wal); err == nil && st.Size() > 0 {
		t.Errorf("%s holds %d bytes after the purge, want it truncated", wal, st.Size())
	}
	if _, ok, err := o.Get(old.ID); err != nil || ok {
		t.Errorf("a row delivered more than KeepDelivered ago is still there (%v)", err)
	}
	if e, ok, err := o.Get(recent.ID); err != nil || !ok || e.State != StatePurged {
		t.Errorf("a row delivered just now: %+v %v %v", e, ok, err)
	}

	// A kiosk that delivers nothing more still drops it in time: at the
	// latest when it starts again.
	o.Close()
	clk.Set(clk.Now().Add(25 * time.Hour))
	o = open(t, dir, opts)
	if _, ok, err := o.Get(recent.ID); err != nil || ok {
		t.Errorf("after a restart past KeepDelivered the row is still there (%v)", err)
	}
}
