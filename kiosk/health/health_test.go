package health

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"govkiosk/backend-client/api"
	"govkiosk/drivers/device"
)

var t0 = time.Date(2026, 3, 1, 9, 30, 0, 0, time.UTC)

// fixed returns a checker that reports st (and can be changed later).
type fixed struct {
	mu sync.Mutex
	st device.Status
}

func (f *fixed) set(st device.Status) { f.mu.Lock(); f.st = st; f.mu.Unlock() }
func (f *fixed) check(context.Context) device.Status {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.st
}

type rig struct {
	m                               *Monitor
	printer, scanner, qr, sensorsCk *fixed
	backlog                         int
}

func newRig(t *testing.T, mod func(*Options)) *rig {
	r := &rig{
		printer:   &fixed{st: device.Status{Device: "printer", State: device.Online, Media: device.PaperLow, Detail: "paper near end"}},
		scanner:   &fixed{st: device.Status{Device: "scanner", State: device.Online, Media: device.ScannerReady}},
		qr:        &fixed{st: device.Status{State: device.Online}}, // Device and At left for the monitor
		sensorsCk: &fixed{st: device.Status{Device: "sensors", State: device.Online, Action: device.ActionMaintenance, Detail: "door open"}},
		backlog:   3,
	}
	opts := Options{
		KioskID: "kiosk-01",
		Version: "1.2.3",
		Checkers: map[string]Checker{
			"printer": r.printer.check, "scanner": r.scanner.check,
			"qrreader": r.qr.check, "sensors": r.sensorsCk.check,
		},
		Backlog:     func() (int, error) { return r.backlog, nil },
		DiskPath:    t.TempDir(),
		Temperature: func() (float64, error) { return 51.5, nil },
		Now:         func() time.Time { return t0 },
	}
	if mod != nil {
		mod(&opts)
	}
	r.m = New(opts)
	return r
}

func TestRefresh(t *testing.T) {
	r := newRig(t, nil)
	hb := r.m.Refresh(context.Background())
	if hb.KioskID != "kiosk-01" || hb.Version != "1.2.3" || !hb.At.Equal(t0) || hb.Backlog != 3 {
		t.Errorf("heartbeat header %+v", hb)
	}
	if hb.DiskFree == 0 {
		t.Error("disk free not measured")
	}
	if hb.TemperatureC != 51.5 {
		t.Errorf("temperature %v, want 51.5 (hottest zone)", hb.TemperatureC)
	}
	var names []string
	for _, d := range hb.Devices {
		names = append(names, d.Device)
	}
	if !slices.Equal(names, []string{"printer", "qrreader", "scanner", "sensors"}) {
		t.Errorf("devices %v", names)
	}
	qr, ok := r.m.DeviceStatus("qrreader")
	if !ok || qr.Device != "qrreader" || !qr.At.Equal(t0) || qr.State != device.Online {
		t.Errorf("qrreader status %+v %v", qr, ok)
	}
	if _, ok := r.m.DeviceStatus("camera"); ok {
		t.Error("unknown device found")
	}
	want := []string{"door-open", "printer-paper-low"}
	if hb.DiskFree < DiskLowBytes { // a nearly full test machine
		want = []string{"disk-low", "door-open", "printer-paper-low"}
	}
	if !slices.Equal(hb.Warnings, want) || !slices.Equal(r.m.Warnings(), want) {
		t.Errorf("warnings %v / %v, want %v", hb.Warnings, r.m.Warnings(), want)
	}
	if s := r.m.Snapshot(); !s.At.Equal(t0) || len(s.Devices) != 4 {
		t.Errorf("snapshot %+v", s)
	}
	// Snapshot is a copy.
	s := r.m.Snapshot()
	s.Devices[0].State = device.HardwareError
	if p, _ := r.m.DeviceStatus("printer"); p.State != device.Online || r.m.Snapshot().Devices[0].State != device.Online {
		t.Error("snapshot shares memory with the monitor")
	}
	// The JSON form is the wire heartbeat.
	b, err := json.Marshal(hb)
	if err != nil {
		t.Fatal(err)
	}
	var back api.Heartbeat
	if err := json.Unmarshal(b, &back); err != nil || back.Backlog != 3 || len(back.Devices) != 4 {
		t.Errorf("round trip: %v %+v", err, back)
	}
}

func TestRefreshWithoutThermalOrDisk(t *testing.T) {
	r := newRig(t, func(o *Options) {
		o.Temperature = func() (float64, error) { return 0, errors.New("no thermal zones") }
		o.DiskPath = ""
		o.Backlog = func() (int, error) { return 0, errors.New("db locked") }
	})
	hb := r.m.Refresh(context.Background())
	if hb.TemperatureC != 0 || hb.DiskFree != 0 || hb.Backlog != 0 {
		t.Errorf("heartbeat %+v, want zero temperature, disk and backlog", hb)
	}
	if _, err := json.Marshal(hb); err != nil { // NaN must not leak into JSON
		t.Fatal(err)
	}
	fams := scrape(t, r.m)
	if v := gauge(t, fams, "govkiosk_temperature_celsius", nil); !math.IsNaN(v) {
		t.Errorf("temperature metric %v, want NaN", v)
	}
	if slices.Contains(hb.Warnings, "disk-low") {
		t.Error("disk-low without a disk measurement")
	}
}

func TestSlowCheckerReportedOffline(t *testing.T) {
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	r := newRig(t, func(o *Options) {
		o.CheckTimeout = 20 * time.Millisecond
		o.Checkers["display"] = func(ctx context.Context) device.Status {
			<-release // ignores cancellation entirely
			return device.Status{}
		}
	})
	hb := r.m.Refresh(context.Background())
	d, ok := r.m.DeviceStatus("display")
	if !ok || d.State != device.Offline || !strings.Contains(d.Detail, "timed out") {
		t.Errorf("display %+v %v", d, ok)
	}
	if p, _ := r.m.DeviceStatus("printer"); p.State != device.Online || len(hb.Devices) != 5 {
		t.Errorf("other devices lost: %+v", hb.Devices)
	}
}

func get(t *testing.T, h http.Handler, method, path string) *httptest.ResponseRecorder {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(method, path, nil))
	return rec
}

func TestHealthz(t *testing.T) {
	tests := []struct {
		name      string
		refresh   bool
		scanner   device.State
		wantCode  int
		wantState device.State
	}{
		{"before first refresh", false, device.Online, http.StatusServiceUnavailable, ""},
		{"all usable", true, device.Online, http.StatusOK, device.Online},
		{"user error is still healthy", true, device.UserError, http.StatusOK, device.UserError},
		{"offline is still healthy", true, device.Offline, http.StatusOK, device.Offline},
		{"hardware error", true, device.HardwareError, http.StatusServiceUnavailable, device.HardwareError},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRig(t, nil)
			r.scanner.set(device.Status{Device: "scanner", State: tt.scanner})
			if tt.refresh {
				r.m.Refresh(context.Background())
			}
			rec := get(t, r.m.Handler(), http.MethodGet, "/healthz")
			if rec.Code != tt.wantCode {
				t.Fatalf("code %d, want %d", rec.Code, tt.wantCode)
			}
			if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
				t.Errorf("content type %q", ct)
			}
			var hb api.Heartbeat
			if err := json.NewDecoder(rec.Body).Decode(&hb); err != nil {
				t.Fatal(err)
			}
			if hb.KioskID != "kiosk-01" {
				t.Errorf("body %+v", hb)
			}
			if tt.refresh {
				if len(hb.Devices) != 4 || hb.Devices[2].Device != "scanner" || hb.Devices[2].State != tt.wantState {
					t.Errorf("devices %+v", hb.Devices)
				}
			}
		})
	}
	r := newRig(t, nil)
	if rec := get(t, r.m.Handler(), http.MethodPost, "/healthz"); rec.Code != http.StatusMethodNotAllowed {
		t.Errorf("POST /healthz: %d", rec.Code)
	}
}

func scrape(t *testing.T, m *Monitor) map[string]*dto.MetricFamily {
	t.Helper()
	rec := get(t, m.Handler(), http.MethodGet, "/metrics")
	if rec.Code != http.StatusOK {
		t.Fatalf("/metrics: %d %s", rec.Code, rec.Body)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(rec.Body)
	if err != nil {
		t.Fatal(err)
	}
	return fams
}

// gauge returns the value of the series of name whose labels include want;
// it fails if there is none. Counters are read too.
func gauge(t *testing.T, fams map[string]*dto.MetricFamily, name string, want map[string]string) float64 {
	t.Helper()
	v, ok := series(fams, name, want)
	if !ok {
		t.Fatalf("no series %s%v", name, want)
	}
	return v
}

func series(fams map[string]*dto.MetricFamily, name string, want map[string]string) (float64, bool) {
	f, ok := fams[name]
	if !ok {
		return 0, false
	}
next:
	for _, m := range f.GetMetric() {
		labels := map[string]string{}
		for _, l := range m.GetLabel() {
			labels[l.GetName()] = l.GetValue()
		}
		for k, v := range want {
			if labels[k] != v {
				continue next
			}
		}
		switch {
		case m.Gauge != nil:
			return m.GetGauge().GetValue(), true
		case m.Counter != nil:
			return m.GetCounter().GetValue(), true
		}
	}
	return 0, false
}

func TestMetrics(t *testing.T) {
	r := newRig(t, nil)
	r.scanner.set(device.Status{Device: "scanner", State: device.HardwareError, Action: device.ActionReset})
	r.m.Refresh(context.Background())
	fams := scrape(t, r.m)

	checks := []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"govkiosk_device_up", map[string]string{"device": "printer", "state": "online"}, 1},
		{"govkiosk_device_up", map[string]string{"device": "scanner", "state": "hardwareError"}, 0},
		{"govkiosk_device_up", map[string]string{"device": "qrreader", "state": "online"}, 1},
		{"govkiosk_outbox_backlog", nil, 3},
		{"govkiosk_temperature_celsius", nil, 51.5},
		{"govkiosk_heartbeat_failures_total", nil, 0},
		{"govkiosk_build_info", map[string]string{"version": "1.2.3"}, 1},
	}
	for _, c := range checks {
		if got := gauge(t, fams, c.name, c.labels); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	if v := gauge(t, fams, "govkiosk_disk_free_bytes", nil); !(v > 0) {
		t.Errorf("disk free %v", v)
	}

	// A state change replaces the series instead of leaving the old one.
	r.scanner.set(device.Status{Device: "scanner", State: device.Online})
	r.backlog = 25
	r.m.Refresh(context.Background())
	fams = scrape(t, r.m)
	if _, ok := series(fams, "govkiosk_device_up", map[string]string{"device": "scanner", "state": "hardwareError"}); ok {
		t.Error("stale hardwareError series still exported")
	}
	if v := gauge(t, fams, "govkiosk_device_up", map[string]string{"device": "scanner", "state": "online"}); v != 1 {
		t.Errorf("scanner up = %v", v)
	}
	if v := gauge(t, fams, "govkiosk_outbox_backlog", nil); v != 25 {
		t.Errorf("backlog %v", v)
	}
}

func TestRunSendsHeartbeats(t *testing.T) {
	sent := make(chan api.Heartbeat, 16)
	var mu sync.Mutex
	calls := 0
	r := newRig(t, func(o *Options) {
		o.Interval = 5 * time.Millisecond
		o.Send = func(ctx context.Context, hb api.Heartbeat) error {
			mu.Lock()
			calls++
			n := calls
			mu.Unlock()
			select {
			case sent <- hb:
			default:
			}
			if n == 1 {
				return errors.New("portal unreachable") // never fatal
			}
			return nil
		}
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { r.m.Run(ctx); close(done) }()
	for i := range 3 {
		select {
		case hb := <-sent:
			if hb.KioskID != "kiosk-01" || len(hb.Devices) != 4 || hb.Backlog != 3 {
				t.Errorf("heartbeat %d: %+v", i, hb)
			}
		case <-time.After(20 * time.Second):
			t.Fatalf("heartbeat %d never sent", i)
		}
	}
	cancel()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
	fams := scrape(t, r.m)
	if v := gauge(t, fams, "govkiosk_heartbeat_failures_total", nil); v != 1 {
		t.Errorf("heartbeat failures %v, want 1", v)
	}
	if rec := get(t, r.m.Handler(), http.MethodGet, "/healthz"); rec.Code != http.StatusOK {
		t.Errorf("/healthz after Run: %d", rec.Code)
	}
}

func TestWarnings(t *testing.T) {
	dev := func(name string, st device.State, media, detail string) device.Status {
		return device.Status{Device: name, State: st, Media: media, Detail: detail}
	}
	ok := []device.Status{dev("printer", device.Online, device.PaperFull, ""), dev("sensors", device.Online, "", "")}
	nan := math.NaN()
	tests := []struct {
		name      string
		devs      []device.Status
		backlog   int
		disk      uint64
		diskKnown bool
		temp      float64
		want      []string
	}{
		{"all fine", ok, 0, 10 << 30, true, 40, nil},
		{"paper low", []device.Status{dev("printer", device.Online, device.PaperLow, "paper near end")}, 0, 10 << 30, true, nan, []string{"printer-paper-low"}},
		{"paper out", []device.Status{dev("printer", device.UserError, device.PaperOut, "paper out")}, 0, 10 << 30, true, nan, []string{"printer-paper-out", "printer-user-error"}},
		{"scanner jam and cover", []device.Status{dev("scanner", device.UserError, device.ScannerJammed, ""), dev("scanner2", device.Online, device.ScannerCoverOpen, "")}, 0, 10 << 30, true, nan, []string{"scanner-jammed", "scanner-user-error", "scanner2-cover-open"}},
		{"scanner empty is normal", []device.Status{dev("scanner", device.Online, device.ScannerEmpty, "")}, 0, 10 << 30, true, nan, nil},
		{"door open", []device.Status{dev("sensors", device.Online, "", "door open")}, 0, 10 << 30, true, nan, []string{"door-open"}},
		{"door elsewhere ignored", []device.Status{dev("printer", device.Online, device.PaperFull, "door open")}, 0, 10 << 30, true, nan, nil},
		{"missing, offline, broken", []device.Status{dev("qrreader", device.NoDevice, "", ""), dev("display", device.Offline, "", ""), dev("scanner", device.HardwareError, "", "")}, 0, 10 << 30, true, nan, []string{"display-offline", "qrreader-missing", "scanner-hardware-error"}},
		{"disk low", ok, 0, 1<<30 - 1, true, nan, []string{"disk-low"}},
		{"disk exactly 1 GiB", ok, 0, 1 << 30, true, nan, nil},
		{"disk unknown", ok, 0, 0, false, nan, nil},
		{"backlog 20 fine", ok, 20, 10 << 30, true, nan, nil},
		{"backlog high", ok, 21, 10 << 30, true, nan, []string{"backlog-high"}},
		{"hot", ok, 0, 10 << 30, true, 80, []string{"temperature-high"}},
		{"everything", []device.Status{dev("printer", device.Online, device.PaperLow, ""), dev("sensors", device.Online, "", "Door open")}, 99, 1 << 20, true, 90,
			[]string{"backlog-high", "disk-low", "door-open", "printer-paper-low", "temperature-high"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := warnings(tt.devs, tt.backlog, tt.disk, tt.diskKnown, tt.temp)
			if !slices.Equal(got, tt.want) {
				t.Errorf("warnings = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestExtraWarningsJoinTheHeartbeat(t *testing.T) {
	m := New(Options{
		KioskID: "KIOSK-0001", Interval: time.Minute,
		Warnings: func() []string { return []string{"outbox-backlog-high", "outbox-backlog-high"} },
	})
	hb := m.Refresh(context.Background())
	if !slices.Contains(hb.Warnings, "outbox-backlog-high") {
		t.Fatalf("warnings %v lack the outbox's", hb.Warnings)
	}
	n := 0
	for _, w := range hb.Warnings {
		if w == "outbox-backlog-high" {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("warning repeated %d times: %v", n, hb.Warnings)
	}
}

func TestHeartbeatCarriesUpdateState(t *testing.T) {
	state, failed := "downloading", ""
	r := newRig(t, func(o *Options) { o.UpdateState = func() (string, string) { return state, failed } })
	if hb := r.m.Refresh(context.Background()); hb.UpdateState != "downloading" || hb.UpdateFailed != "" {
		t.Errorf("update state %q, %q; want downloading", hb.UpdateState, hb.UpdateFailed)
	}
	state, failed = "rolledBack", "2.0.0"
	if hb := r.m.Refresh(context.Background()); hb.UpdateState != "rolledBack" || hb.UpdateFailed != "2.0.0" {
		t.Errorf("update state %q, %q after a rollback", hb.UpdateState, hb.UpdateFailed)
	}
	if hb := newRig(t, nil).m.Refresh(context.Background()); hb.UpdateState != "" {
		t.Errorf("UpdateState %q without an updater", hb.UpdateState)
	}
}
