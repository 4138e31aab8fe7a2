package exporter

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"govkiosk/fleet"
	"govkiosk/fleet/store"
)

var t0 = time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC)

func newStore(t testing.TB) *store.Store {
	t.Helper()
	s, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "fleet.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func kioskSnap(id, version, paper string) fleet.Snapshot {
	return fleet.Snapshot{
		KioskID: id, At: t0, Seq: 1, Version: version, Backlog: 3, NeedsAttention: 1, DiskFreeBytes: 7e9, TemperatureC: 44,
		CertNotAfter: t0.Add(30 * 24 * time.Hour),
		Devices: []fleet.DeviceState{
			{Name: "printer", State: "online", Media: paper},
			{Name: "scanner", State: "online", Media: "ready"},
			{Name: "qr", State: "online"},
		},
	}
}

func put(t testing.TB, s fleet.Store, id, province, office string, online bool, sn fleet.Snapshot) {
	t.Helper()
	ctx := context.Background()
	must(t, s.PutKiosk(ctx, fleet.KioskInfo{KioskID: id, Province: province, Office: office}))
	must(t, s.SetPresence(ctx, fleet.Presence{KioskID: id, Online: online, At: t0}))
	must(t, s.PutSnapshot(ctx, sn))
}

// gather returns every series as "name{labels} value".
func gather(t *testing.T, c prometheus.Collector) map[string]float64 {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	must(t, reg.Register(c))
	mfs, err := reg.Gather()
	must(t, err)
	out := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			out[series(mf.GetName(), m)] = m.GetGauge().GetValue()
		}
	}
	return out
}

func series(name string, m *dto.Metric) string {
	var l []string
	for _, p := range m.GetLabel() {
		l = append(l, p.GetName()+"="+p.GetValue())
	}
	return name + "{" + strings.Join(l, ",") + "}"
}

func TestCollect(t *testing.T) {
	s := newStore(t)
	put(t, s, "k1", "TH-10", "TH-10-1", true, kioskSnap("k1", "1.4.0", "out"))
	put(t, s, "k2", "TH-10", "TH-10-1", false, kioskSnap("k2", "1.4.0", "full"))
	put(t, s, "k3", "VN-49", "VN-49-7", true, kioskSnap("k3", "1.3.9", "low"))
	c := New(s, &Opts{OfflineAfter: 90 * time.Second})
	got := gather(t, c)
	k1 := "kiosk=k1,office=TH-10-1,province=TH-10"
	want := map[string]float64{
		"govkiosk_fleet_kiosk_online{" + k1 + "}":                                                       1,
		"govkiosk_fleet_kiosk_online{kiosk=k2,office=TH-10-1,province=TH-10}":                           0,
		"govkiosk_fleet_kiosk_last_seen_timestamp_seconds{" + k1 + "}":                                  float64(t0.Unix()),
		"govkiosk_fleet_device_media{device=printer,kiosk=k1,media=out,office=TH-10-1,province=TH-10}":  1,
		"govkiosk_fleet_device_media{device=printer,kiosk=k1,media=full,office=TH-10-1,province=TH-10}": 0,
		"govkiosk_fleet_device_state{device=scanner," + k1 + ",state=online}":                           1,
		"govkiosk_fleet_device_state{device=scanner," + k1 + ",state=hardwareError}":                    0,
		"govkiosk_fleet_kiosk_backlog{" + k1 + "}":                                                      3,
		"govkiosk_fleet_kiosk_needs_attention{" + k1 + "}":                                              1,
		"govkiosk_fleet_kiosk_disk_free_bytes{" + k1 + "}":                                              7e9,
		"govkiosk_fleet_kiosk_temperature_celsius{" + k1 + "}":                                          44,
		"govkiosk_fleet_kiosk_version_info{" + k1 + ",version=1.4.0}":                                   1,
		"govkiosk_fleet_kiosk_cert_expiry_timestamp_seconds{" + k1 + "}":                                float64(t0.Add(30 * 24 * time.Hour).Unix()),
		"govkiosk_fleet_kiosk_out_of_service{" + k1 + "}":                                               0,
		"govkiosk_fleet_office_kiosks{office=TH-10-1,province=TH-10,status=total}":                      2,
		"govkiosk_fleet_office_kiosks{office=TH-10-1,province=TH-10,status=offline}":                    1,
		"govkiosk_fleet_office_kiosks{office=TH-10-1,province=TH-10,status=problem}":                    2,
		"govkiosk_fleet_province_kiosks{province=VN-49,status=online}":                                  1,
		"govkiosk_fleet_province_kiosks{province=VN-49,status=problem}":                                 1, // needsAttention
		"govkiosk_fleet_release_info{version=1.4.0}":                                                    1,
		"govkiosk_fleet_offline_after_seconds{}":                                                        90,
		"govkiosk_fleet_store_up{}":                                                                     1,
	}
	for k, v := range want {
		if g, ok := got[k]; !ok || g != v {
			t.Errorf("%s = %v (present %v), want %v", k, g, ok, v)
		}
	}
	// The qr reader has no media, the scanner only its own media states.
	for k := range got {
		if strings.Contains(k, "device=qr") && strings.HasPrefix(k, "govkiosk_fleet_device_media") ||
			strings.Contains(k, "device=scanner") && strings.Contains(k, "media=full") {
			t.Errorf("unexpected series %s", k)
		}
	}
	if n := len(DeviceStates); countPrefix(got, "govkiosk_fleet_device_state{device=printer,"+k1) != n {
		t.Errorf("printer of k1 has %d state series, want one per state (%d)", countPrefix(got, "govkiosk_fleet_device_state{device=printer,"+k1), n)
	}

	// A state change flips values, it deletes no series.
	sn := kioskSnap("k1", "1.4.0", "full")
	sn.At, sn.Seq = t0.Add(time.Minute), 2
	sn.Devices[1].State = "hardwareError"
	must(t, s.PutSnapshot(context.Background(), sn))
	after := gather(t, c)
	for k := range got {
		if _, ok := after[k]; !ok {
			t.Errorf("series %s vanished after a state change", k)
		}
	}
	if after["govkiosk_fleet_device_state{device=scanner,"+k1+",state=hardwareError}"] != 1 ||
		after["govkiosk_fleet_device_state{device=scanner,"+k1+",state=online}"] != 0 ||
		after["govkiosk_fleet_device_media{device=printer,kiosk=k1,media=full,office=TH-10-1,province=TH-10}"] != 1 {
		t.Error("the state change is not in the values")
	}

	// A configured release overrides the majority.
	if g := gather(t, New(s, &Opts{Release: "1.5.0"})); g["govkiosk_fleet_release_info{version=1.5.0}"] != 1 || len(filter(g, "govkiosk_fleet_release_info")) != 1 {
		t.Errorf("release info = %v", filter(g, "govkiosk_fleet_release_info"))
	}
	problems, err := testutil.CollectAndLint(c)
	must(t, err)
	for _, p := range problems {
		t.Errorf("lint: %s: %s", p.Metric, p.Text)
	}
}

func countPrefix(m map[string]float64, p string) int { return len(filter(m, p)) }

func filter(m map[string]float64, p string) map[string]float64 {
	out := map[string]float64{}
	for k, v := range m {
		if strings.HasPrefix(k, p) {
			out[k] = v
		}
	}
	return out
}

type brokenStore struct{ fleet.Store }

func (brokenStore) Kiosks(context.Context, fleet.Filter) ([]fleet.KioskView, int, error) {
	return nil, 0, errors.New("database is down")
}

// TestStoreDown: an unreadable store is a series saying so, not a failed
// scrape.
func TestStoreDown(t *testing.T) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(New(brokenStore{}, nil))
	srv := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	must(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), "govkiosk_fleet_store_up 0") {
		t.Errorf("status %d, body:\n%s", resp.StatusCode, body)
	}
}

// TestTextMatchesRegistry: Handler writes exactly the series the
// Collector gives a registry, label values escaped, gzip when asked.
func TestTextMatchesRegistry(t *testing.T) {
	s := newStore(t)
	put(t, s, "k1", "TH-10", `TH "10" \ 1`, true, kioskSnap("k1", "1.4.0", "out"))
	put(t, s, "k2", "TH-10", "TH-10-1", false, kioskSnap("k2", "1.3.9", "full"))
	sn := kioskSnap("k3", "1.4.0", "low")
	sn.Devices = append(sn.Devices, fleet.DeviceState{Name: "camera", State: "hardwareError", Media: "ready"})
	put(t, s, "k3", "VN-49", "VN-49-7", true, sn)
	must(t, s.PutKiosk(context.Background(), fleet.KioskInfo{KioskID: "k0", Province: "VN-49", Office: "VN-49-7"})) // never heard of
	c := New(s, nil)

	reg := prometheus.NewPedanticRegistry()
	must(t, reg.Register(c))
	want, err := reg.Gather()
	must(t, err)

	srv := httptest.NewServer(c.Handler())
	defer srv.Close()
	resp, err := http.Get(srv.URL) // the client asks for gzip and unpacks it
	must(t, err)
	defer resp.Body.Close()
	if !resp.Uncompressed {
		t.Error("the handler did not gzip for a client that accepts it")
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	got, err := parser.TextToMetricFamilies(resp.Body)
	must(t, err)
	if len(got) != len(want) {
		t.Errorf("%d families in the text, %d in the registry", len(got), len(want))
	}
	for _, wf := range want {
		gf := got[wf.GetName()]
		if gf == nil {
			t.Errorf("family %s missing from the text", wf.GetName())
			continue
		}
		if gf.GetHelp() != wf.GetHelp() || gf.GetType() != wf.GetType() {
			t.Errorf("%s: help/type %q %v, want %q %v", wf.GetName(), gf.GetHelp(), gf.GetType(), wf.GetHelp(), wf.GetType())
		}
		ws, gs := map[string]float64{}, map[string]float64{}
		for _, m := range wf.GetMetric() {
			ws[series(wf.GetName(), m)] = m.GetGauge().GetValue()
		}
		for _, m := range gf.GetMetric() {
			slices.SortFunc(m.Label, func(a, b *dto.LabelPair) int { return strings.Compare(a.GetName(), b.GetName()) })
			gs[series(gf.GetName(), m)] = m.GetGauge().GetValue()
		}
		if !maps.Equal(ws, gs) {
			t.Errorf("%s: text %v\nregistry %v", wf.GetName(), gs, ws)
		}
	}
}

// BenchmarkScrape10k measures one whole scrape (store read, series, text
// exposition) of a fleet of 10,000 kiosks in the SQLite store.
func BenchmarkScrape10k(b *testing.B) {
	s := newStore(b)
	ctx := context.Background()
	n := 10000
	if testing.Short() {
		n = 1000
	}
	for i := range n {
		id := fmt.Sprintf("K%05d", i)
		prov := fmt.Sprintf("P%02d", i%63)
		sn := kioskSnap(id, "1.4.0", "full")
		must(b, s.PutKiosk(ctx, fleet.KioskInfo{KioskID: id, Province: prov, Office: fmt.Sprintf("%s-%03d", prov, i%700)}))
		must(b, s.SetPresence(ctx, fleet.Presence{KioskID: id, Online: i%50 != 0, At: t0}))
		must(b, s.PutSnapshot(ctx, sn))
	}
	c := New(s, nil)
	reg := prometheus.NewRegistry()
	reg.MustRegister(c)
	for _, h := range []struct {
		name string
		h    http.Handler
	}{{"registry", promhttp.HandlerFor(reg, promhttp.HandlerOpts{})}, {"text", c.Handler()}} {
		b.Run(h.name, func(b *testing.B) {
			var bytes, lines int
			for b.Loop() {
				rec := httptest.NewRecorder()
				h.h.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
				if rec.Code != 200 {
					b.Fatalf("scrape: %d", rec.Code)
				}
				bytes = rec.Body.Len()
				lines = strings.Count(rec.Body.String(), "\n")
			}
			b.ReportMetric(float64(bytes), "bytes/scrape")
			b.ReportMetric(float64(lines), "lines/scrape")
		})
	}
}

// shiftingStore changes a kiosk's state after the first page is read, as
// MQTT may during a scrape.
type shiftingStore struct {
	*store.Store
	t     *testing.T
	calls int
}

func (s *shiftingStore) Kiosks(ctx context.Context, f fleet.Filter) ([]fleet.KioskView, int, error) {
	v, n, err := s.Store.Kiosks(ctx, f)
	if s.calls++; s.calls == 1 {
		must(s.t, s.SetPresence(ctx, fleet.Presence{KioskID: "k3", Online: false, At: t0.Add(time.Minute)}))
	}
	return v, n, err
}

// TestPagesShiftDuringScrape: a kiosk that moves between pages is not a
// duplicate series (which would fail the whole scrape).
func TestPagesShiftDuringScrape(t *testing.T) {
	s := newStore(t)
	for _, id := range []string{"k1", "k2", "k3"} {
		sn := kioskSnap(id, "1.4.0", "full")
		sn.NeedsAttention = 0 // all fine: k3 going offline moves it to the front
		put(t, s, id, "TH-10", "TH-10-1", true, sn)
	}
	reg := prometheus.NewPedanticRegistry()
	must(t, reg.Register(New(&shiftingStore{Store: s, t: t}, &Opts{PageSize: 2})))
	if _, err := reg.Gather(); err != nil {
		t.Fatalf("scrape while pages shift: %v", err)
	}
}

// The updater's state is an enum: one series per state, 1 for the current,
// so a state change keeps every series; a kiosk without an updater has none.
func TestUpdateState(t *testing.T) {
	s := newStore(t)
	sn := kioskSnap("k-upd", "1.1.0", "full")
	sn.UpdateState, sn.UpdateFailed = "rolledBack", "1.2.0"
	put(t, s, "k-upd", "TH-10", "TH-10-1001", true, sn)
	put(t, s, "k-none", "TH-10", "TH-10-1001", true, kioskSnap("k-none", "1.1.0", "full"))
	c := New(s, nil)
	got := gather(t, c)
	for _, st := range UpdateStates {
		key := "govkiosk_fleet_kiosk_update_state{kiosk=k-upd,office=TH-10-1001,province=TH-10,state=" + st + "}"
		want := 0.0
		if st == "rolledBack" {
			want = 1
		}
		if v, ok := got[key]; !ok || v != want {
			t.Errorf("%s = %v (present %v), want %v", key, v, ok, want)
		}
	}
	for k := range got {
		if strings.Contains(k, "update_state") && strings.Contains(k, "k-none") {
			t.Errorf("a kiosk without an update state has %s", k)
		}
	}
	var text strings.Builder
	must(t, c.WriteText(&text))
	if !strings.Contains(text.String(), `govkiosk_fleet_kiosk_update_state{kiosk="k-upd",office="TH-10-1001",province="TH-10",state="rolledBack"} 1`) {
		t.Errorf("the text exposition lacks the update state:\n%.3000s", text.String())
	}
}

// A kiosk revoked or retired leaves the export (so KioskOffline, which
// reads govkiosk_fleet_kiosk_online, never pages for it) and the counts;
// the Extra writers' series follow the fleet's.
func TestRetiredNotExported(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	put(t, s, "k-live", "TH-10", "TH-10-1001", false, kioskSnap("k-live", "1.1.0", "full"))
	put(t, s, "k-stolen", "TH-10", "TH-10-1001", false, kioskSnap("k-stolen", "1.1.0", "full"))
	must(t, s.PutKiosk(ctx, fleet.KioskInfo{KioskID: "k-stolen", Province: "TH-10", Office: "TH-10-1001", Retired: true, Identity: fleet.IdentityRevoked}))
	c := New(s, &Opts{Extra: []func(io.Writer) error{func(w io.Writer) error {
		_, err := io.WriteString(w, "govkiosk_fleet_crl_number 3\n")
		return err
	}}})
	var text strings.Builder
	must(t, c.WriteText(&text))
	out := text.String()
	if !strings.Contains(out, `govkiosk_fleet_kiosk_online{kiosk="k-live"`) || strings.Contains(out, `kiosk="k-stolen"`) {
		t.Errorf("want k-live exported and the revoked k-stolen not:\n%.3000s", out)
	}
	if !strings.Contains(out, `govkiosk_fleet_office_kiosks{province="TH-10",office="TH-10-1001",status="total"} 1`) {
		t.Errorf("the office's count includes the revoked kiosk:\n%.3000s", out)
	}
	if !strings.HasSuffix(out, "govkiosk_fleet_crl_number 3\n") {
		t.Errorf("the Extra series are not at the end:\n%.300s", out[max(0, len(out)-300):])
	}
}
