package kiosk

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"govkiosk/drivers/device"
)

// metricsRecorder keeps every Metrics call as a line.
type metricsRecorder struct {
	mu    sync.Mutex
	calls []string
}

func (m *metricsRecorder) add(f string, a ...any) {
	m.mu.Lock()
	m.calls = append(m.calls, fmt.Sprintf(f, a...))
	m.mu.Unlock()
}
func (m *metricsRecorder) SessionStarted() { m.add("started") }
func (m *metricsRecorder) SessionEnded(step string, completed bool) {
	m.add("ended %s %v", step, completed)
}
func (m *metricsRecorder) Submission(result string)       { m.add("submission %s", result) }
func (m *metricsRecorder) PrintJob(ok bool)               { m.add("print %v", ok) }
func (m *metricsRecorder) Scanned(pages int, jammed bool) { m.add("scanned %d %v", pages, jammed) }
func (m *metricsRecorder) QRRead(kind string)             { m.add("qr %s", kind) }
func (m *metricsRecorder) LoginFailed(reason string)      { m.add("login-failed %s", reason) }
func (m *metricsRecorder) Rated(stars int)                { m.add("rated %d", stars) }

func (m *metricsRecorder) got() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]string(nil), m.calls...)
}

// TestMetricsAtTransitions: the controller reports a whole session, an
// abandoned one, a jam and QR reads, each once, with nothing of the citizen.
func TestMetricsAtTransitions(t *testing.T) {
	r := newRig(t)
	rec := &metricsRecorder{}
	r.c.d.Metrics = rec
	ctx := context.Background()

	r.walkToConfirm(t)
	if err := r.c.VerifyCode(ctx, "424242"); err != nil {
		t.Fatal(err)
	}
	r.c.ReceiptDone()
	if err := r.c.Rate(4); err != nil {
		t.Fatal(err)
	}
	r.c.Finish()
	full := rec.got()
	for _, want := range []string{"started", "submission accepted", "print true", "rated 4", "ended thanks true"} {
		if !slices.Contains(full, want) {
			t.Errorf("a whole session did not report %q: %v", want, full)
		}
	}
	if n := len(slices.DeleteFunc(slices.Clone(full), func(s string) bool { return s != "started" })); n != 1 {
		t.Errorf("%d starts for one session: %v", n, full)
	}

	// A second citizen walks away at the documents after a jam.
	r.scanner.err = device.ErrScannerJammed
	r.walkToDocuments()
	r.c.ScanDocument(ctx)
	r.c.Cancel()
	rest := rec.got()[len(full):]
	if !slices.Contains(rest, "scanned 0 true") || !slices.Contains(rest, "ended documents false") {
		t.Errorf("abandoned session with a jam: %v", rest)
	}

	r.c.HandleScan(ctx, []byte("https://evil.example/t/QN-2026-000009"))
	if last := rec.got()[len(rec.got())-1]; last != "qr unknown" {
		t.Errorf("foreign QR: last call %q, want qr unknown", last)
	}
	for _, c := range rec.got() {
		for _, pii := range []string{"Nguyễn", "marriage", "424242"} {
			if strings.Contains(c, pii) {
				t.Errorf("metrics call %q carries %q", c, pii)
			}
		}
	}
}
