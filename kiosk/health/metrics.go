package health

import (
	"encoding/json"
	"math"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"govkiosk/drivers/device"
)

var nan = math.NaN()

// metrics live on a private registry, so several Monitors (tests) never clash
// and /metrics shows only the kiosk's own series plus Go runtime ones.
type metrics struct {
	reg               *prometheus.Registry
	deviceUp          *prometheus.GaugeVec
	backlog           prometheus.Gauge
	diskFree          prometheus.Gauge
	temperature       prometheus.Gauge
	heartbeatFailures prometheus.Counter
	lastState         map[string]device.State // current state label per device
}

func newMetrics(version string, kiosk *KioskMetrics) *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		deviceUp: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "govkiosk_device_up",
			Help: "1 if the device can serve a citizen (online or busy), else 0; state is its current state.",
		}, []string{"device", "state"}),
		backlog: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "govkiosk_outbox_backlog",
			Help: "Applications not yet acknowledged by the portal.",
		}),
		diskFree: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "govkiosk_disk_free_bytes",
			Help: "Free bytes on the data disk (NaN if not measured).",
		}),
		temperature: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "govkiosk_temperature_celsius",
			Help: "Hottest thermal zone (NaN if unknown).",
		}),
		heartbeatFailures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "govkiosk_heartbeat_failures_total",
			Help: "Heartbeats the portal did not accept.",
		}),
		lastState: map[string]device.State{},
	}
	build := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "govkiosk_build_info",
		Help: "Always 1; the version label is the kiosk software version.",
	}, []string{"version"})
	build.WithLabelValues(version).Set(1)
	m.diskFree.Set(nan)
	m.temperature.Set(nan)
	m.reg.MustRegister(m.deviceUp, m.backlog, m.diskFree, m.temperature, m.heartbeatFailures, build,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if kiosk != nil {
		m.reg.MustRegister(kiosk.collectors()...)
	}
	return m
}

// update is called under Monitor.refreshMu.
func (m *metrics) update(devs []device.Status, backlog int, diskFree uint64, diskKnown bool, tempC float64) {
	for _, d := range devs {
		if prev, ok := m.lastState[d.Device]; ok && prev != d.State {
			m.deviceUp.DeleteLabelValues(d.Device, string(prev))
		}
		m.lastState[d.Device] = d.State
		up := 0.0
		if d.Usable() {
			up = 1
		}
		m.deviceUp.WithLabelValues(d.Device, string(d.State)).Set(up)
	}
	m.backlog.Set(float64(backlog))
	if diskKnown {
		m.diskFree.Set(float64(diskFree))
	} else {
		m.diskFree.Set(nan)
	}
	m.temperature.Set(tempC)
}

// Handler serves GET /healthz (the snapshot as JSON; 200 once refreshed and
// no device is in hardwareError, else 503) and GET /metrics (Prometheus).
func (m *Monitor) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		hb, ok, why := m.healthy()
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		if !ok {
			w.Header().Set("X-Health-Reason", why)
			w.WriteHeader(http.StatusServiceUnavailable)
		}
		if err := json.NewEncoder(w).Encode(hb); err != nil {
			m.log.Debug("health: write /healthz", "err", err)
		}
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(m.metrics.reg, promhttp.HandlerOpts{
		ErrorLog: slogPromLogger{m},
		Registry: m.metrics.reg,
	}))
	return mux
}

type slogPromLogger struct{ m *Monitor }

func (l slogPromLogger) Println(v ...any) { l.m.log.Error("health: /metrics", "err", v) }
