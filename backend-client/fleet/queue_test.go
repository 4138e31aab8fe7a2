package fleet

import (
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"govkiosk/backend-client/fleetwire"
)

func TestQueueBoundedSummarisedDurable(t *testing.T) {
	dir := t.TempDir()
	q, err := openQueue(dir, 3, time.Time{}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"a", "b", "c", "d", "e"} {
		if _, err := q.add(fleetwire.Event{Kind: k}); err != nil {
			t.Fatal(err)
		}
	}
	// Reopened, as after a restart: the newest three, the oldest of them
	// counting the two dropped.
	q, err = openQueue(dir, 3, time.Time{}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	h, ok := q.head()
	if !ok || h.Kind != "c" || h.Seq != 3 || h.Summarised != 2 || q.len() != 3 {
		t.Fatalf("head %+v (len %d), want c seq 3 summarising 2 of 3", h, q.len())
	}
	if err := q.done(h.Seq); err != nil {
		t.Fatal(err)
	}
	if err := q.done(h.Seq); err != nil { // a repeated acknowledgement changes nothing
		t.Fatal(err)
	}
	e, err := q.add(fleetwire.Event{Kind: "f"})
	if err != nil || e.Seq != 6 {
		t.Fatalf("next event seq %d, %v; want 6 (numbers never repeat)", e.Seq, err)
	}
	q, _ = openQueue(dir, 3, time.Time{}, slog.New(slog.DiscardHandler))
	var kinds []string
	for q.len() > 0 {
		h, _ := q.head()
		kinds = append(kinds, h.Kind)
		q.done(h.Seq)
	}
	if got := strings.Join(kinds, ""); got != "def" {
		t.Errorf("delivered %q, want def in order", got)
	}
}

func TestQueueCorruptFileSetAside(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, queueFile), []byte("garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1798000000, 0)
	q, err := openQueue(dir, 3, now, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("openQueue on a corrupt file: %v, want a new queue", err)
	}
	if e, _ := q.add(fleetwire.Event{Kind: "x"}); e.Seq != uint64(now.UnixMilli()) {
		t.Errorf("seq after a lost queue %d, want the clock's %d", e.Seq, now.UnixMilli())
	}
	if b, err := os.ReadFile(filepath.Join(dir, queueFile+".corrupt-1798000000")); err != nil || string(b) != "garbage" {
		t.Errorf("corrupt file not kept aside: %q, %v", b, err)
	}
}
