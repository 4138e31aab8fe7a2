package health

import (
	"context"
	"io"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"govkiosk/kiosk/outbox"
)

// KioskMetrics counts what happens at the kiosk for the monitoring team:
// sessions, submissions, uploads, prints, scans, QR reads, login failures
// and ratings. It implements kiosk.Metrics (the controller calls it at its
// transitions) and, given to Options.Kiosk, is served on /metrics. Every
// label value comes from a fixed set in the kiosk's code (a step, a message
// key, a QR kind); anything else is counted as "other", so no citizen's
// data can become a label.
type KioskMetrics struct {
	sessionsStarted prometheus.Counter
	sessionsEnded   *prometheus.CounterVec // outcome, step
	submissions     *prometheus.CounterVec // result
	uploadBytes     prometheus.Counter
	uploadSeconds   *prometheus.HistogramVec // result
	printJobs       *prometheus.CounterVec   // result
	scannedPages    prometheus.Counter
	scanJams        prometheus.Counter
	qrReads         *prometheus.CounterVec // kind
	loginFailures   *prometheus.CounterVec // reason
	ratings         prometheus.Histogram
	// completed and rated mirror the completed sessions and the ratings
	// per star for the fleet snapshot (FleetCounts).
	completed atomic.Uint64
	rated     [5]atomic.Uint64
	now       func() time.Time

	certNotAfter atomic.Int64 // Unix seconds; 0: not known
	certExpiry   prometheus.GaugeFunc
}

// NewKioskMetrics returns the counters, all at zero.
func NewKioskMetrics() *KioskMetrics {
	m := &KioskMetrics{
		sessionsStarted: prometheus.NewCounter(prometheus.CounterOpts{Name: "govkiosk_sessions_started_total",
			Help: "Citizen sessions started (the start screen touched)."}),
		sessionsEnded: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "govkiosk_sessions_ended_total",
			Help: "Citizen sessions ended: outcome completed (at or past the receipt) or abandoned, step the last screen reached."},
			[]string{"outcome", "step"}),
		submissions: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "govkiosk_submissions_total",
			Help: "Applications submitted: result accepted (portal number on the receipt), provisional (kiosk number) or refused."},
			[]string{"result"}),
		uploadBytes: prometheus.NewCounter(prometheus.CounterOpts{Name: "govkiosk_upload_bytes_total",
			Help: "Bytes of document files whose upload to the portal completed."}),
		uploadSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "govkiosk_upload_duration_seconds",
			Help: "Time of one document upload attempt, by result ok or error.", Buckets: prometheus.ExponentialBuckets(0.25, 2, 10)},
			[]string{"result"}),
		printJobs: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "govkiosk_print_jobs_total",
			Help: "Receipts printed or reprinted, by result ok or failed."}, []string{"result"}),
		scannedPages: prometheus.NewCounter(prometheus.CounterOpts{Name: "govkiosk_scanned_pages_total",
			Help: "Document pages scanned."}),
		scanJams: prometheus.NewCounter(prometheus.CounterOpts{Name: "govkiosk_scanner_jams_total",
			Help: "Scans that ended in a paper jam."}),
		qrReads: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "govkiosk_qr_reads_total",
			Help: "QR codes read, by kind (tracking, identity, provisioning, unknown)."}, []string{"kind"}),
		loginFailures: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "govkiosk_login_failures_total",
			Help: "Failed national-ID logins, by the message the citizen was shown."}, []string{"reason"}),
		ratings: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "govkiosk_rating_stars",
			Help: "Satisfaction ratings given, 1 to 5 stars.", Buckets: []float64{1, 2, 3, 4, 5}}),
		now: time.Now,
	}
	m.certExpiry = prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "govkiosk_device_cert_expiry_seconds",
		Help: "When the device certificate the kiosk presents expires, in Unix seconds (0: not known); renewed automatically a third before."},
		func() float64 { return float64(m.certNotAfter.Load()) })
	return m
}

// SetCertNotAfter records when the device certificate expires.
func (m *KioskMetrics) SetCertNotAfter(t time.Time) { m.certNotAfter.Store(t.Unix()) }

func (m *KioskMetrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{m.sessionsStarted, m.sessionsEnded, m.submissions, m.uploadBytes, m.uploadSeconds,
		m.printJobs, m.scannedPages, m.scanJams, m.qrReads, m.loginFailures, m.ratings, m.certExpiry}
}

// label returns v if it is a plausible code-defined value (lower-case
// letters, digits, . _ -, at most 40 bytes), else "other".
func label(v string) string {
	if v == "" || len(v) > 40 {
		return "other"
	}
	for _, r := range v {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-') {
			return "other"
		}
	}
	return v
}

// SessionStarted counts a session started.
func (m *KioskMetrics) SessionStarted() { m.sessionsStarted.Inc() }

// SessionEnded counts a session ended at step.
func (m *KioskMetrics) SessionEnded(step string, completed bool) {
	outcome := "abandoned"
	if completed {
		outcome = "completed"
	}
	m.sessionsEnded.WithLabelValues(outcome, label(step)).Inc()
	if completed {
		m.completed.Add(1)
	}
}

// FleetCounts returns the sessions completed and the ratings given per
// star (ratings[0] the 1-star count) since the counters were made: what
// the fleet snapshot carries.
func (m *KioskMetrics) FleetCounts() (sessions uint64, ratings []uint64) {
	ratings = make([]uint64, len(m.rated))
	for i := range m.rated {
		ratings[i] = m.rated[i].Load()
	}
	return m.completed.Load(), ratings
}

// Submission counts a submission by result.
func (m *KioskMetrics) Submission(result string) { m.submissions.WithLabelValues(label(result)).Inc() }

// PrintJob counts a print job.
func (m *KioskMetrics) PrintJob(ok bool) {
	if ok {
		m.printJobs.WithLabelValues("ok").Inc()
	} else {
		m.printJobs.WithLabelValues("failed").Inc()
	}
}

// Scanned counts a document's pages and a jam.
func (m *KioskMetrics) Scanned(pages int, jammed bool) {
	if pages > 0 {
		m.scannedPages.Add(float64(pages))
	}
	if jammed {
		m.scanJams.Inc()
	}
}

// QRRead counts a QR code read.
func (m *KioskMetrics) QRRead(kind string) { m.qrReads.WithLabelValues(label(kind)).Inc() }

// LoginFailed counts a failed login.
func (m *KioskMetrics) LoginFailed(reason string) {
	m.loginFailures.WithLabelValues(label(reason)).Inc()
}

// Rated counts a rating of 1 to 5 stars.
func (m *KioskMetrics) Rated(stars int) {
	if stars >= 1 && stars <= 5 {
		m.ratings.Observe(float64(stars))
		m.rated[stars-1].Add(1)
	}
}

// MeterSender wraps the outbox's sender so document uploads are counted
// (bytes of completed uploads, time of each attempt).
func (m *KioskMetrics) MeterSender(s outbox.Sender) outbox.Sender { return meteredSender{s, m} }

type meteredSender struct {
	outbox.Sender
	m *KioskMetrics
}

func (s meteredSender) Upload(ctx context.Context, uploadURL string, data io.ReaderAt, size int64) error {
	start := s.m.now()
	err := s.Sender.Upload(ctx, uploadURL, data, size)
	result := "ok"
	if err != nil {
		result = "error"
	} else {
		s.m.uploadBytes.Add(float64(size))
	}
	s.m.uploadSeconds.WithLabelValues(result).Observe(s.m.now().Sub(start).Seconds())
	return err
}
