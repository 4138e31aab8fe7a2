// Package exporter exports the fleet's state, as the Store holds it, as
// Prometheus series: a prometheus.Collector that reads every kiosk once per
// scrape. The alert rules in fleet/alerting are written against these names.
//
// Per kiosk (labels kiosk, office, province; all three bounded by the
// registry):
//
//	govkiosk_fleet_kiosk_online                       1 online, 0 offline (presence, MQTT Last Will)
//	govkiosk_fleet_kiosk_last_seen_timestamp_seconds  last presence change or snapshot
//	govkiosk_fleet_device_state{device,state}         one series per XFS4IoT state, 1 for the current one
//	govkiosk_fleet_device_media{device,media}         one series per media state of the device's class
//	govkiosk_fleet_kiosk_backlog                      applications not yet acknowledged
//	govkiosk_fleet_kiosk_needs_attention              packets parked for a person
//	govkiosk_fleet_kiosk_disk_free_bytes
//	govkiosk_fleet_kiosk_temperature_celsius
//	govkiosk_fleet_kiosk_version_info{version}        always 1
//	govkiosk_fleet_kiosk_cert_expiry_timestamp_seconds
//	govkiosk_fleet_kiosk_out_of_service               1 while taken out of service
//
// Fleet-wide:
//
//	govkiosk_fleet_office_kiosks{province,office,status}  status total|online|offline|problem
//	govkiosk_fleet_province_kiosks{province,status}
//	govkiosk_fleet_release_info{version}                  the version the fleet should run
//	govkiosk_fleet_offline_after_seconds                  how long offline before KioskOffline
//	govkiosk_fleet_store_up                               0 if the store could not be read
//
// A state change sets a series to 0 and another to 1; it never deletes a
// series, so rules and graphs see the change.
package exporter

import (
	"context"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"govkiosk/fleet"
)

// Opts tunes the exporter; the zero value of a field takes DefaultOpts'.
type Opts struct {
	// OfflineAfter is how long a kiosk may be offline before KioskOffline
	// fires; the rules read it from govkiosk_fleet_offline_after_seconds.
	OfflineAfter time.Duration
	// Release is the version the fleet should run (version drift is any
	// other); empty means the version most kiosks run.
	Release string
	// Timeout bounds one scrape's reading of the store.
	Timeout time.Duration
	// PageSize is how many kiosks one store read returns.
	PageSize int
	Logger   *slog.Logger
}

// DefaultOpts are the defaults.
var DefaultOpts = Opts{OfflineAfter: 10 * time.Minute, Timeout: 20 * time.Second, PageSize: 5000}

// DeviceStates are the XFS4IoT device states, each a series of
// govkiosk_fleet_device_state.
var DeviceStates = []string{"online", "offline", "noDevice", "hardwareError", "userError", "busy"}

// mediaStates are the media states of each device class; a device not
// named here gets all of them.
var mediaStates = map[string][]string{
	"printer": {"full", "low", "out", "jammed"},
	"scanner": {"ready", "jammed", "coverOpen"},
}

var allMedia = []string{"full", "low", "out", "jammed", "ready", "coverOpen"}

// Collector is the prometheus.Collector; register it on the fleet
// service's registry.
type Collector struct {
	store fleet.Store
	o     Opts
	log   *slog.Logger

	online, lastSeen, devState, media, backlog, attention, disk, temp, version, cert, oos,
	office, province, release, offlineAfter, storeUp *prometheus.Desc
}

var _ prometheus.Collector = (*Collector)(nil)

// New returns a Collector over the store.
func New(s fleet.Store, o *Opts) *Collector {
	opts := DefaultOpts
	if o != nil {
		if o.OfflineAfter > 0 {
			opts.OfflineAfter = o.OfflineAfter
		}
		if o.Timeout > 0 {
			opts.Timeout = o.Timeout
		}
		if o.PageSize > 0 {
			opts.PageSize = o.PageSize
		}
		opts.Release, opts.Logger = o.Release, o.Logger
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	k := []string{"kiosk", "office", "province"}
	d := func(name, help string, extra ...string) *prometheus.Desc {
		return prometheus.NewDesc("govkiosk_fleet_"+name, help, append(append([]string{}, k...), extra...), nil)
	}
	return &Collector{
		store: s, o: opts, log: log,
		online:    d("kiosk_online", "1 if the kiosk is online (its MQTT status), else 0."),
		lastSeen:  d("kiosk_last_seen_timestamp_seconds", "When the fleet last heard from the kiosk (presence or snapshot)."),
		devState:  d("device_state", "1 for the device's current XFS4IoT state, 0 for the others.", "device", "state"),
		media:     d("device_media", "1 for the device's current media state (paper, feeder), 0 for the others.", "device", "media"),
		backlog:   d("kiosk_backlog", "Applications on the kiosk not yet acknowledged by the portal."),
		attention: d("kiosk_needs_attention", "Packets parked on the kiosk for a person to look at."),
		disk:      d("kiosk_disk_free_bytes", "Free bytes on the kiosk's data disk."),
		temp:      d("kiosk_temperature_celsius", "The kiosk's hottest thermal zone."),
		version:   d("kiosk_version_info", "Always 1; version is the kiosk software version.", "version"),
		cert:      d("kiosk_cert_expiry_timestamp_seconds", "When the kiosk's device certificate expires."),
		oos:       d("kiosk_out_of_service", "1 while the kiosk is out of service."),
		office: prometheus.NewDesc("govkiosk_fleet_office_kiosks", "Kiosks of an office: total, online, offline, problem (offline or needing a look).",
			[]string{"province", "office", "status"}, nil),
		province: prometheus.NewDesc("govkiosk_fleet_province_kiosks", "Kiosks of a province: total, online, offline, problem.",
			[]string{"province", "status"}, nil),
		release:      prometheus.NewDesc("govkiosk_fleet_release_info", "Always 1; version is what the fleet should run.", []string{"version"}, nil),
		offlineAfter: prometheus.NewDesc("govkiosk_fleet_offline_after_seconds", "How long a kiosk may be offline before KioskOffline fires.", nil, nil),
		storeUp:      prometheus.NewDesc("govkiosk_fleet_store_up", "1 if the last scrape read the store, else 0.", nil, nil),
	}
}

// Describe sends every Desc.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.online, c.lastSeen, c.devState, c.media, c.backlog, c.attention, c.disk,
		c.temp, c.version, c.cert, c.oos, c.office, c.province, c.release, c.offlineAfter, c.storeUp} {
		ch <- d
	}
}

type counts struct{ total, online, problem int }

// Collect reads every kiosk from the store and sends its series.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), c.o.Timeout)
	defer cancel()
	ch <- prometheus.MustNewConstMetric(c.offlineAfter, prometheus.GaugeValue, c.o.OfflineAfter.Seconds())
	type place struct{ province, office string }
	offices := map[place]*counts{}
	versions := map[string]int{}
	up := 1.0
	for off := 0; ; {
		views, total, err := c.store.Kiosks(ctx, fleet.Filter{Offset: off, Limit: c.o.PageSize})
		if err != nil {
			c.log.Error("exporter: read the store", "err", err)
			up = 0
			break
		}
		for i := range views {
			v := &views[i]
			n := offices[place{v.Province, v.Office}]
			if n == nil {
				n = &counts{}
				offices[place{v.Province, v.Office}] = n
			}
			n.total++
			if v.Online {
				n.online++
			}
			if len(v.Problems()) > 0 {
				n.problem++
			}
			if v.Snapshot != nil && v.Snapshot.Version != "" {
				versions[v.Snapshot.Version]++
			}
			c.kiosk(ch, v)
		}
		off += len(views)
		if len(views) == 0 || off >= total {
			break
		}
	}
	ch <- prometheus.MustNewConstMetric(c.storeUp, prometheus.GaugeValue, up)
	provinces := map[string]*counts{}
	for p, n := range offices {
		c.counts(ch, c.office, n, p.province, p.office)
		pn := provinces[p.province]
		if pn == nil {
			pn = &counts{}
			provinces[p.province] = pn
		}
		pn.total, pn.online, pn.problem = pn.total+n.total, pn.online+n.online, pn.problem+n.problem
	}
	for p, n := range provinces {
		c.counts(ch, c.province, n, p)
	}
	release := c.o.Release
	if release == "" {
		best := 0
		for v, n := range versions {
			if n > best || n == best && v > release {
				release, best = v, n
			}
		}
	}
	if release != "" {
		ch <- prometheus.MustNewConstMetric(c.release, prometheus.GaugeValue, 1, release)
	}
}

func (c *Collector) counts(ch chan<- prometheus.Metric, d *prometheus.Desc, n *counts, labels ...string) {
	for _, s := range []struct {
		status string
		n      int
	}{{"total", n.total}, {"online", n.online}, {"offline", n.total - n.online}, {"problem", n.problem}} {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, float64(s.n), append(labels, s.status)...)
	}
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func (c *Collector) kiosk(ch chan<- prometheus.Metric, v *fleet.KioskView) {
	k := []string{v.KioskID, v.Office, v.Province}
	g := func(d *prometheus.Desc, val float64, extra ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, val, append(k, extra...)...)
	}
	g(c.online, b2f(v.Online))
	if !v.LastSeen.IsZero() {
		g(c.lastSeen, float64(v.LastSeen.UnixMilli())/1e3)
	}
	s := v.Snapshot
	if s == nil {
		return
	}
	seen := make(map[string]bool, len(s.Devices))
	for _, d := range s.Devices {
		if d.Name == "" || seen[d.Name] {
			continue // a repeated device would be a duplicate series
		}
		seen[d.Name] = true
		for _, st := range DeviceStates {
			g(c.devState, b2f(d.State == st), d.Name, st)
		}
		if d.Media == "" {
			continue
		}
		ms, ok := mediaStates[d.Name]
		if !ok {
			ms = allMedia
		}
		for _, m := range ms {
			g(c.media, b2f(d.Media == m), d.Name, m)
		}
	}
	g(c.backlog, float64(s.Backlog))
	g(c.attention, float64(s.NeedsAttention))
	g(c.disk, float64(s.DiskFreeBytes))
	g(c.temp, s.TemperatureC)
	if s.Version != "" {
		g(c.version, 1, s.Version)
	}
	if !s.CertNotAfter.IsZero() {
		g(c.cert, float64(s.CertNotAfter.Unix()))
	}
	g(c.oos, b2f(s.OutOfService))
}
