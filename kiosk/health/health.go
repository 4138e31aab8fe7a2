// Package health aggregates the kiosk's device statuses, outbox backlog, free
// disk and temperature into one snapshot (the api.Heartbeat the portal
// receives), serves it on /healthz, exports it as Prometheus metrics on
// /metrics, and sends it to the portal every Interval. Health warnings are
// data: short stable strings such as "printer-paper-low" or "disk-low".
package health

import (
	"context"
	"errors"
	"log/slog"
	"math"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	backendclient "govkiosk/backend-client"
	"govkiosk/backend-client/api"
	"govkiosk/drivers/device"
)

// Checker reports one device's status now.
type Checker func(ctx context.Context) device.Status

// Options configure a Monitor.
type Options struct {
	KioskID, Version string
	Checkers         map[string]Checker // by device name
	Backlog          func() (int, error)
	DiskPath         string // statfs'd for free bytes; empty: not measured
	// Temperature reads the hottest thermal zone in °C (the sensors
	// driver's Temperature); nil: not measured.
	Temperature func() (float64, error)
	// Send delivers a heartbeat to the portal; nil: no heartbeat.
	Send func(ctx context.Context, hb api.Heartbeat) error
	// Sequence numbers the heartbeats sent (api.Heartbeat.Seq), across
	// restarts; nil: they carry none (and a portal that checks refuses them).
	Sequence *Sequence
	Interval time.Duration // device poll + heartbeat; default 60s
	// CheckTimeout bounds one Refresh's wait for the checkers; a checker that
	// has not answered by then is reported offline. Default min(Interval, 10s).
	CheckTimeout time.Duration
	Log          *slog.Logger
	Now          func() time.Time
	// Warnings adds warnings from elsewhere (the outbox's pressure), so the
	// monitoring team hears of a filling backlog long before it refuses.
	Warnings func() []string
	// Kiosk, when set, adds the kiosk's own counters (sessions, prints,
	// scans, …) to /metrics.
	Kiosk *KioskMetrics
	// UpdateState reports the updater's state and the version it rolled
	// back, if any (api.Heartbeat.UpdateState, UpdateFailed); nil: no
	// updater.
	UpdateState func() (state, failed string)
}

// Thresholds of the warnings.
const (
	DiskLowBytes        = 1 << 30 // "disk-low" below 1 GiB free
	BacklogHigh         = 20      // "backlog-high" above 20 unsent applications
	TemperatureHighC    = 75.0    // "temperature-high" above 75 °C
	defaultInterval     = 60 * time.Second
	defaultCheckTimeout = 10 * time.Second
)

// Monitor holds the latest health snapshot. Its methods are safe for
// concurrent use.
type Monitor struct {
	opts    Options
	names   []string
	log     *slog.Logger
	now     func() time.Time
	metrics *metrics

	refreshMu sync.Mutex    // one Refresh at a time
	sendNow   chan struct{} // SendNow wakes Run

	mu        sync.Mutex
	snap      api.Heartbeat
	refreshed bool
	byName    map[string]device.Status
	delivered time.Time // when the portal last took a heartbeat
}

// New builds a Monitor; nothing is polled until Refresh or Run.
func New(opts Options) *Monitor {
	if opts.Interval <= 0 {
		opts.Interval = defaultInterval
	}
	if opts.CheckTimeout <= 0 {
		opts.CheckTimeout = min(opts.Interval, defaultCheckTimeout)
	}
	m := &Monitor{
		opts:    opts,
		log:     opts.Log,
		now:     opts.Now,
		byName:  map[string]device.Status{},
		metrics: newMetrics(opts.Version, opts.Kiosk),
		sendNow: make(chan struct{}, 1),
	}
	if m.log == nil {
		m.log = slog.New(slog.DiscardHandler)
	}
	if m.now == nil {
		m.now = time.Now
	}
	for name := range opts.Checkers {
		m.names = append(m.names, name)
	}
	sort.Strings(m.names)
	m.snap = api.Heartbeat{KioskID: opts.KioskID, Version: opts.Version, Devices: []device.Status{}}
	return m
}

// Refresh polls every checker now (concurrently, bounded by CheckTimeout),
// reads backlog, disk and temperature, updates the metrics and returns the
// new snapshot.
func (m *Monitor) Refresh(ctx context.Context) api.Heartbeat {
	m.refreshMu.Lock()
	defer m.refreshMu.Unlock()

	now := m.now()
	devs := m.poll(ctx, now)

	m.mu.Lock()
	backlog := m.snap.Backlog
	m.mu.Unlock()
	if m.opts.Backlog != nil {
		if n, err := m.opts.Backlog(); err != nil {
			m.log.Error("health: outbox backlog", "err", err)
		} else {
			backlog = n
		}
	}

	var diskFree uint64
	diskKnown := false
	if m.opts.DiskPath != "" {
		var st unix.Statfs_t
		if err := unix.Statfs(m.opts.DiskPath, &st); err != nil {
			m.log.Error("health: statfs", "path", m.opts.DiskPath, "err", err)
		} else {
			diskFree, diskKnown = st.Bavail*uint64(st.Bsize), true
		}
	}

	temp, tempKnown := math.NaN(), false
	if m.opts.Temperature != nil {
		if t, err := m.opts.Temperature(); err == nil {
			temp, tempKnown = t, true
		}
	}

	hb := api.Heartbeat{
		KioskID:  m.opts.KioskID,
		Version:  m.opts.Version,
		At:       now,
		Devices:  devs,
		Backlog:  backlog,
		DiskFree: diskFree,
	}
	if tempKnown {
		hb.TemperatureC = temp // JSON has no NaN: unknown is 0
	}
	if m.opts.UpdateState != nil {
		hb.UpdateState, hb.UpdateFailed = m.opts.UpdateState()
	}
	hb.Warnings = warnings(devs, backlog, diskFree, diskKnown, temp)
	if m.opts.Warnings != nil {
		hb.Warnings = append(hb.Warnings, m.opts.Warnings()...)
		slices.Sort(hb.Warnings)
		hb.Warnings = slices.Compact(hb.Warnings)
	}

	m.metrics.update(devs, backlog, diskFree, diskKnown, temp)

	m.mu.Lock()
	m.snap = hb
	m.refreshed = true
	clear(m.byName)
	for _, d := range devs {
		m.byName[d.Device] = d
	}
	m.mu.Unlock()
	return cloneHeartbeat(hb)
}

// poll runs every checker concurrently. A checker still running at the
// deadline is reported offline (it keeps its goroutine until it returns).
func (m *Monitor) poll(ctx context.Context, now time.Time) []device.Status {
	ctx, cancel := context.WithTimeout(ctx, m.opts.CheckTimeout)
	defer cancel()
	type result struct {
		i  int
		st device.Status
	}
	results := make(chan result, len(m.names))
	for i, name := range m.names {
		check := m.opts.Checkers[name]
		go func() { results <- result{i, check(ctx)} }()
	}
	devs := make([]device.Status, len(m.names))
	got := make([]bool, len(m.names))
collect:
	for range m.names {
		select {
		case r := <-results:
			devs[r.i], got[r.i] = r.st, true
		case <-ctx.Done():
			for { // take what already arrived
				select {
				case r := <-results:
					devs[r.i], got[r.i] = r.st, true
				default:
					break collect
				}
			}
		}
	}
	for i, name := range m.names {
		if !got[i] {
			devs[i] = device.Status{State: device.Offline, Action: device.ActionReset, Detail: "status check timed out"}
			m.log.Warn("health: device status check timed out", "device", name)
		}
		if devs[i].Device == "" {
			devs[i].Device = name
		}
		if devs[i].At.IsZero() {
			devs[i].At = now
		}
	}
	return devs
}

// Run refreshes and, if Options.Send is set, sends a heartbeat at once and
// then every Interval, and whenever SendNow asks, until ctx is done. Send
// failures are logged and counted, never fatal.
func (m *Monitor) Run(ctx context.Context) {
	t := time.NewTicker(m.opts.Interval)
	defer t.Stop()
	for {
		hb := m.Refresh(ctx)
		if m.opts.Send != nil && ctx.Err() == nil {
			m.send(ctx, hb)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-m.sendNow:
		}
	}
}

// SendNow makes Run refresh and send a heartbeat now rather than at the
// next interval: something the monitoring team must hear of at once has
// happened (the cabinet door opened). It does not wait for the send.
func (m *Monitor) SendNow() {
	select {
	case m.sendNow <- struct{}{}:
	default: // one is already due
	}
}

// send numbers hb and sends it, logging what the portal refused.
func (m *Monitor) send(ctx context.Context, hb api.Heartbeat) {
	if m.opts.Sequence != nil {
		seq, err := m.opts.Sequence.Next(m.now())
		if err != nil {
			// Without a number kept on disk a restart could repeat it.
			m.metrics.heartbeatFailures.Inc()
			m.log.Error("health: heartbeat not sent: its sequence could not be kept", "err", err)
			return
		}
		hb.Seq = seq
	}
	sctx, cancel := context.WithTimeout(ctx, m.opts.Interval)
	defer cancel()
	err := m.opts.Send(sctx, hb)
	if err == nil {
		at := m.now()
		m.mu.Lock()
		m.delivered = at
		m.mu.Unlock()
		return
	}
	m.metrics.heartbeatFailures.Inc()
	switch {
	case errors.Is(err, backendclient.ErrHeartbeatReplayed):
		m.log.Error("health: the portal refused the heartbeat as a replay: its seq is not above the last one the portal took (sequence file lost and clock turned back?)",
			"seq", hb.Seq, "err", err)
	case errors.Is(err, backendclient.ErrHeartbeatStale):
		m.log.Error("health: the portal refused the heartbeat's time: is the kiosk's clock right?", "at", hb.At, "err", err)
	default:
		m.log.Warn("health: heartbeat not delivered", "err", err)
	}
}

// LastDelivered is when the portal last took a heartbeat (the zero time:
// not since the monitor started).
func (m *Monitor) LastDelivered() time.Time {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.delivered
}

// Snapshot returns the latest snapshot (zero time and no devices before the
// first Refresh).
func (m *Monitor) Snapshot() api.Heartbeat {
	m.mu.Lock()
	defer m.mu.Unlock()
	return cloneHeartbeat(m.snap)
}

// DeviceStatus returns the latest status of the named device.
func (m *Monitor) DeviceStatus(name string) (device.Status, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	st, ok := m.byName[name]
	return st, ok
}

// Warnings returns the warnings of the latest snapshot, sorted.
func (m *Monitor) Warnings() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.snap.Warnings)
}

// healthy reports whether /healthz answers 200, and why not.
func (m *Monitor) healthy() (api.Heartbeat, bool, string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	hb := cloneHeartbeat(m.snap)
	if !m.refreshed {
		return hb, false, "not refreshed yet"
	}
	for _, d := range m.snap.Devices {
		if d.State == device.HardwareError {
			return hb, false, d.Device + " hardware error"
		}
	}
	return hb, true, ""
}

func cloneHeartbeat(hb api.Heartbeat) api.Heartbeat {
	hb.Devices = slices.Clone(hb.Devices)
	hb.Warnings = slices.Clone(hb.Warnings)
	return hb
}

// warnings derives the health warnings from one snapshot's data.
func warnings(devs []device.Status, backlog int, diskFree uint64, diskKnown bool, tempC float64) []string {
	var w []string
	for _, d := range devs {
		switch d.State {
		case device.Offline:
			w = append(w, d.Device+"-offline")
		case device.NoDevice:
			w = append(w, d.Device+"-missing")
		case device.HardwareError:
			w = append(w, d.Device+"-hardware-error")
		case device.UserError:
			w = append(w, d.Device+"-user-error")
		}
		switch d.Media {
		case device.PaperLow:
			w = append(w, d.Device+"-paper-low")
		case device.PaperOut:
			w = append(w, d.Device+"-paper-out")
		case device.PaperJammed: // == device.ScannerJammed
			w = append(w, d.Device+"-jammed")
		case device.ScannerCoverOpen:
			w = append(w, d.Device+"-cover-open")
		}
		if d.Device == "sensors" {
			if det := strings.ToLower(d.Detail); strings.Contains(det, "door open") || strings.Contains(det, "door-open") {
				w = append(w, "door-open")
			}
		}
	}
	if diskKnown && diskFree < DiskLowBytes {
		w = append(w, "disk-low")
	}
	if backlog > BacklogHigh {
		w = append(w, "backlog-high")
	}
	if !math.IsNaN(tempC) && tempC > TemperatureHighC {
		w = append(w, "temperature-high")
	}
	slices.Sort(w)
	return slices.Compact(w)
}
