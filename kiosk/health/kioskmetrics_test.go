package health

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"govkiosk/backend-client/api"
	"govkiosk/kiosk"
	"govkiosk/kiosk/outbox"
)

var _ kiosk.Metrics = (*KioskMetrics)(nil)

type fakeSender struct{ fail bool }

func (fakeSender) CreateUpload(context.Context, string, string, int64) (string, error) {
	return "u", nil
}
func (f fakeSender) Upload(context.Context, string, io.ReaderAt, int64) error {
	if f.fail {
		return errors.New("link down")
	}
	return nil
}
func (fakeSender) Finalise(context.Context, api.FinaliseRequest) (api.SubmitResult, error) {
	return api.SubmitResult{}, nil
}

var _ outbox.Sender = fakeSender{}

// TestKioskMetricsOnMetrics: the kiosk's counters are served on /metrics
// with bounded labels; a value that is not a code word becomes "other".
func TestKioskMetricsOnMetrics(t *testing.T) {
	km := NewKioskMetrics()
	tick := time.Unix(1000, 0)
	km.now = func() time.Time { tick = tick.Add(1500 * time.Millisecond); return tick }
	m := New(Options{KioskID: "KIOSK-0001", Interval: time.Minute, Kiosk: km})
	km.SessionStarted()
	km.SessionStarted()
	km.SessionEnded("thanks", true)
	km.SessionEnded("documents", false)
	km.Submission("provisional")
	km.PrintJob(true)
	km.PrintJob(false)
	km.Scanned(3, false)
	km.Scanned(0, true)
	km.QRRead("tracking")
	km.QRRead("Nguyễn Thị Hồng Nhung 049190012345") // never a label
	km.LoginFailed("err.login_denied")
	km.Rated(4)
	km.Rated(9) // out of range: not counted
	ctx := context.Background()
	up := km.MeterSender(fakeSender{})
	if err := up.Upload(ctx, "u", nil, 2048); err != nil {
		t.Fatal(err)
	}
	if err := km.MeterSender(fakeSender{fail: true}).Upload(ctx, "u", nil, 4096); err == nil {
		t.Fatal("the failing upload succeeded")
	}
	rec := get(t, m.Handler(), http.MethodGet, "/metrics")
	if rec.Code != http.StatusOK {
		t.Fatalf("/metrics: %d", rec.Code)
	}
	body := rec.Body.String()
	for _, want := range []string{
		"govkiosk_sessions_started_total 2",
		`govkiosk_sessions_ended_total{outcome="completed",step="thanks"} 1`,
		`govkiosk_sessions_ended_total{outcome="abandoned",step="documents"} 1`,
		`govkiosk_submissions_total{result="provisional"} 1`,
		`govkiosk_print_jobs_total{result="ok"} 1`,
		`govkiosk_print_jobs_total{result="failed"} 1`,
		"govkiosk_scanned_pages_total 3",
		"govkiosk_scanner_jams_total 1",
		`govkiosk_qr_reads_total{kind="tracking"} 1`,
		`govkiosk_qr_reads_total{kind="other"} 1`,
		`govkiosk_login_failures_total{reason="err.login_denied"} 1`,
		"govkiosk_rating_stars_count 1",
		"govkiosk_rating_stars_sum 4",
		"govkiosk_upload_bytes_total 2048",
		`govkiosk_upload_duration_seconds_sum{result="ok"} 1.5`,
		`govkiosk_upload_duration_seconds_count{result="error"} 1`,
	} {
		if !strings.Contains(body, want+"\n") {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	if strings.Contains(body, "Nguy") || strings.Contains(body, "049190012345") {
		t.Error("/metrics carries a citizen's data")
	}
}
