package kiosk

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
)

// logRecorder keeps every record logged, with its attributes as text.
type logRecorder struct {
	mu    *sync.Mutex
	recs  *[]map[string]string
	attrs []slog.Attr
}

func newLogRecorder() *logRecorder {
	return &logRecorder{mu: &sync.Mutex{}, recs: &[]map[string]string{}}
}

func (h *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (h *logRecorder) WithGroup(string) slog.Handler            { return h }
func (h *logRecorder) WithAttrs(as []slog.Attr) slog.Handler {
	return &logRecorder{mu: h.mu, recs: h.recs, attrs: append(append([]slog.Attr{}, h.attrs...), as...)}
}
func (h *logRecorder) Handle(_ context.Context, r slog.Record) error {
	m := map[string]string{"msg": r.Message}
	add := func(a slog.Attr) { m[a.Key] = a.Value.Resolve().String() }
	for _, a := range h.attrs {
		add(a)
	}
	r.Attrs(func(a slog.Attr) bool { add(a); return true })
	h.mu.Lock()
	*h.recs = append(*h.recs, m)
	h.mu.Unlock()
	return nil
}

func (h *logRecorder) records() []map[string]string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]map[string]string(nil), *h.recs...)
}

// ratingIn reports whether a record carries a satisfaction rating.
func ratingIn(rec map[string]string) bool {
	for k := range rec {
		if strings.Contains(k, "rating") {
			return true
		}
	}
	return strings.Contains(rec["msg"], "rating")
}

// TestRatingIsNotLoggedWithTheSession is reading the kiosk's log to learn
// how one citizen rated the service. A rating logged on its own, at the
// moment the session that gave it ends, is that citizen's rating: the next
// line names the session. Ratings are logged only as counts of several
// sessions, never with a session id, and not lost at shutdown.
func TestRatingIsNotLoggedWithTheSession(t *testing.T) {
	r := newRig(t)
	rec := newLogRecorder()
	r.c.d.Log = slog.New(rec)
	ctx := context.Background()
	session := func(stars int) {
		t.Helper()
		r.walkToConfirm(t)
		if err := r.c.VerifyCode(ctx, "424242"); err != nil {
			t.Fatal(err)
		}
		r.c.ReceiptDone()
		if err := r.c.Rate(stars); err != nil {
			t.Fatal(err)
		}
		r.c.Finish()
	}
	session(4)
	for i, rc := range rec.records() {
		if ratingIn(rc) {
			var near []map[string]string
			for _, j := range []int{i - 1, i + 1} {
				if j >= 0 && j < len(rec.records()) {
					near = append(near, rec.records()[j])
				}
			}
			t.Fatalf("one citizen's rating is logged on its own: %v, next to %v", rc, near)
		}
	}
	for _, stars := range []int{5, 5, 3, 1, 2} {
		session(stars)
	}
	var tallies []map[string]string
	for _, rc := range rec.records() {
		if ratingIn(rc) {
			tallies = append(tallies, rc)
		}
	}
	if len(tallies) != 1 {
		t.Fatalf("%d records carry ratings after 6 ratings, want the one tally of the first %d: %v", len(tallies), ratingBatch, tallies)
	}
	want := map[string]string{"rating_1": "1", "rating_2": "0", "rating_3": "1", "rating_4": "1", "rating_5": "2"}
	for k, v := range want {
		if tallies[0][k] != v {
			t.Errorf("tally %v: %s = %q, want %q", tallies[0], k, tallies[0][k], v)
		}
	}
	if _, ok := tallies[0]["session"]; ok {
		t.Errorf("the tally names a session: %v", tallies[0])
	}
	// The sixth rating is logged at shutdown, not dropped.
	if err := r.c.Close(ctx); err != nil {
		t.Fatal(err)
	}
	recs := rec.records()
	if last := recs[len(recs)-1]; !ratingIn(last) || last["rating_2"] != "1" || last["session"] != "" {
		t.Errorf("at shutdown the last record is %v, want the remaining rating", last)
	}
}
