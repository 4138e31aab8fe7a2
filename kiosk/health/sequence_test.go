package health

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	backendclient "govkiosk/backend-client"
	"govkiosk/backend-client/api"
)

// Heartbeat numbers grow across restarts, even when the clock goes back,
// and start above the clock when the file is lost or corrupt.
func TestSequenceSurvivesRestartsAndClockSteps(t *testing.T) {
	path := filepath.Join(t.TempDir(), "heartbeat.seq")
	log := slog.New(slog.DiscardHandler)
	t0 := time.Date(2026, 3, 6, 9, 0, 0, 0, time.UTC)
	s := OpenSequence(path, log)
	a, err := s.Next(t0)
	if err != nil || a != uint64(t0.UnixMilli()) {
		t.Fatalf("first: %d %v", a, err)
	}
	b, _ := s.Next(t0) // the same millisecond
	if b != a+1 {
		t.Fatalf("second: %d after %d", b, a)
	}
	// A restart with the clock an hour back: still above.
	s = OpenSequence(path, log)
	c, err := s.Next(t0.Add(-time.Hour))
	if err != nil || c != b+1 {
		t.Fatalf("after a restart with the clock back: %d after %d (%v)", c, b, err)
	}
	// The file lost or corrupt: the clock, which moved on, is the floor.
	os.WriteFile(path, []byte("garbage"), 0o600)
	s = OpenSequence(path, log)
	d, _ := s.Next(t0.Add(time.Minute))
	if d <= c {
		t.Fatalf("after a corrupt file: %d, not above %d", d, c)
	}
	// A number is on disk before it is used.
	if got, _ := os.ReadFile(path); strings.TrimSpace(string(got)) != fmt.Sprint(d) {
		t.Errorf("file holds %q, last number %d", got, d)
	}
	// It cannot be kept: an error, no number.
	bad := OpenSequence(filepath.Join(t.TempDir(), "no", "such", "dir", "seq"), log)
	if n, err := bad.Next(t0); err == nil {
		t.Errorf("number %d without a place to keep it", n)
	}
}

type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}
func (l *logBuffer) String() string { l.mu.Lock(); defer l.mu.Unlock(); return l.b.String() }

// The monitor numbers each heartbeat it sends, and says loudly when the
// portal refuses one as a replay or as stale.
func TestHeartbeatsNumberedAndRefusalsLogged(t *testing.T) {
	var logs logBuffer
	var mu sync.Mutex
	var seqs []uint64
	answers := []error{
		nil,
		fmt.Errorf("%w: %w", backendclient.ErrHeartbeatReplayed, &backendclient.APIError{StatusCode: 409, Code: "heartbeat-replayed"}),
		fmt.Errorf("%w: %w", backendclient.ErrHeartbeatStale, &backendclient.APIError{StatusCode: 400, Code: "heartbeat-stale"}),
	}
	m := New(Options{
		KioskID: "kiosk-01", Log: slog.New(slog.NewTextHandler(&logs, nil)),
		Sequence: OpenSequence(filepath.Join(t.TempDir(), "heartbeat.seq"), slog.New(slog.DiscardHandler)),
		Send: func(ctx context.Context, hb api.Heartbeat) error {
			mu.Lock()
			defer mu.Unlock()
			seqs = append(seqs, hb.Seq)
			return answers[len(seqs)-1]
		},
	})
	for range answers {
		m.send(context.Background(), m.Refresh(context.Background()))
	}
	if len(seqs) != 3 || seqs[0] == 0 || seqs[1] <= seqs[0] || seqs[2] <= seqs[1] {
		t.Errorf("heartbeat seqs %v", seqs)
	}
	out := logs.String()
	for _, want := range []string{"refused the heartbeat as a replay", "refused the heartbeat's time"} {
		if !strings.Contains(out, want) || !strings.Contains(out, "level=ERROR") {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}
}
