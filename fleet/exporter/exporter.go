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
	"io"
	"log/slog"
	"maps"
	"slices"
	"strings"
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
	// Extra functions write more series in the text format after the
	// fleet's, on every scrape of Handler (the revocation list's, fleet/crl).
	Extra  []func(io.Writer) error
	Logger *slog.Logger
}

// DefaultOpts are the defaults.
var DefaultOpts = Opts{OfflineAfter: 10 * time.Minute, Timeout: 20 * time.Second, PageSize: 10000}

// DeviceStates are the XFS4IoT device states, each a series of
// govkiosk_fleet_device_state.
var DeviceStates = []string{"online", "offline", "noDevice", "hardwareError", "userError", "busy"}

// mediaStates are the media states of each device class; a device not
// named here gets all of them.
var mediaStates = map[string][]string{
	"printer": {"full", "low", "out", "jammed"},
	"scanner": {"ready", "jammed", "coverOpen"},
}

// UpdateStates are the kiosk updater's states, in label order, each a
// series of govkiosk_fleet_kiosk_update_state.
var UpdateStates = []string{"committed", "downloading", "idle", "installed", "rolledBack"}

var allMedia = []string{"full", "low", "out", "jammed", "ready", "coverOpen"}

// family is one metric family: its Desc for the registry and what the
// text exposition needs.
type family struct {
	name, help string
	labels     []string
	desc       *prometheus.Desc
}

func newFamily(name, help string, labels ...string) *family {
	return &family{name: name, help: help, labels: labels, desc: prometheus.NewDesc(name, help, labels, nil)}
}

// emitFunc receives each series: its family, value and label values.
type emitFunc func(f *family, v float64, lv ...string)

// Collector is the prometheus.Collector; register it on the fleet
// service's registry, or serve Handler, which writes the same series
// without building them as client_golang metrics (several times cheaper
// at 10,000 kiosks: see BenchmarkScrape10k).
type Collector struct {
	store fleet.Store
	o     Opts
	log   *slog.Logger

	online, lastSeen, devState, media, backlog, attention, disk, temp, version, cert, oos, update,
	office, province, release, offlineAfter, storeUp *family
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
		opts.Release, opts.Logger, opts.Extra = o.Release, o.Logger, o.Extra
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	k := func(name, help string, extra ...string) *family {
		return newFamily("govkiosk_fleet_"+name, help, append([]string{"kiosk", "office", "province"}, extra...)...)
	}
	return &Collector{
		store: s, o: opts, log: log,
		online:       k("kiosk_online", "1 if the kiosk is online (its MQTT status), else 0."),
		lastSeen:     k("kiosk_last_seen_timestamp_seconds", "When the fleet last heard from the kiosk (presence or snapshot)."),
		devState:     k("device_state", "1 for the device's current XFS4IoT state, 0 for the others.", "device", "state"),
		media:        k("device_media", "1 for the device's current media state (paper, feeder), 0 for the others.", "device", "media"),
		backlog:      k("kiosk_backlog", "Applications on the kiosk not yet acknowledged by the portal."),
		attention:    k("kiosk_needs_attention", "Packets parked on the kiosk for a person to look at."),
		disk:         k("kiosk_disk_free_bytes", "Free bytes on the kiosk's data disk."),
		temp:         k("kiosk_temperature_celsius", "The kiosk's hottest thermal zone."),
		version:      k("kiosk_version_info", "Always 1; version is the kiosk software version.", "version"),
		cert:         k("kiosk_cert_expiry_timestamp_seconds", "When the kiosk's device certificate expires."),
		oos:          k("kiosk_out_of_service", "1 while the kiosk is out of service."),
		update:       k("kiosk_update_state", "1 for the kiosk updater's current state, 0 for the others (kiosks that report one).", "state"),
		office:       newFamily("govkiosk_fleet_office_kiosks", "Kiosks of an office: total, online, offline, problem (offline or needing a look).", "province", "office", "status"),
		province:     newFamily("govkiosk_fleet_province_kiosks", "Kiosks of a province: total, online, offline, problem.", "province", "status"),
		release:      newFamily("govkiosk_fleet_release_info", "Always 1; version is what the fleet should run.", "version"),
		offlineAfter: newFamily("govkiosk_fleet_offline_after_seconds", "How long a kiosk may be offline before KioskOffline fires."),
		storeUp:      newFamily("govkiosk_fleet_store_up", "1 if the last scrape read the store, else 0."),
	}
}

// Describe sends every Desc.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, f := range []*family{c.online, c.lastSeen, c.devState, c.media, c.backlog, c.attention, c.disk,
		c.temp, c.version, c.cert, c.oos, c.update, c.office, c.province, c.release, c.offlineAfter, c.storeUp} {
		ch <- f.desc
	}
}

type counts struct{ total, online, problem int }

// Collect reads every kiosk from the store and sends its series.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	c.series(func(f *family, v float64, lv ...string) {
		ch <- prometheus.MustNewConstMetric(f.desc, prometheus.GaugeValue, v, lv...)
	})
}

// series reads every kiosk and emits every series, all of a family
// together, in the order the registry sorts them into (label values in
// label-name order), so its sort of several hundred thousand series finds
// them sorted already.
func (c *Collector) series(emit emitFunc) {
	ctx, cancel := context.WithTimeout(context.Background(), c.o.Timeout)
	defer cancel()
	emit(c.offlineAfter, c.o.OfflineAfter.Seconds())
	var views []fleet.KioskView
	up := 1.0
	for off := 0; ; {
		page, total, err := c.store.Kiosks(ctx, fleet.Filter{Offset: off, Limit: c.o.PageSize})
		if err != nil {
			c.log.Error("exporter: read the store", "err", err)
			up = 0
			break
		}
		views = append(views, page...)
		off += len(page)
		if len(page) == 0 || off >= total {
			break
		}
	}
	emit(c.storeUp, up)
	slices.SortFunc(views, func(a, b fleet.KioskView) int { return strings.Compare(a.KioskID, b.KioskID) })
	// A kiosk whose state changed between two pages is on both (the store
	// lists problems first): a series twice would fail the scrape.
	views = slices.CompactFunc(views, func(a, b fleet.KioskView) bool { return a.KioskID == b.KioskID })
	c.perKiosk(emit, views)
	c.perDevice(emit, views)
	c.fleetWide(emit, views)
}

func (c *Collector) fleetWide(emit emitFunc, views []fleet.KioskView) {
	type place struct{ province, office string }
	offices := map[place]*counts{}
	versions := map[string]int{}
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
	}
	provinces := map[string]*counts{}
	for p, n := range offices {
		c.counts(emit, c.office, n, p.province, p.office)
		pn := provinces[p.province]
		if pn == nil {
			pn = &counts{}
			provinces[p.province] = pn
		}
		pn.total, pn.online, pn.problem = pn.total+n.total, pn.online+n.online, pn.problem+n.problem
	}
	for p, n := range provinces {
		c.counts(emit, c.province, n, p)
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
		emit(c.release, 1, release)
	}
}

func (c *Collector) counts(emit emitFunc, f *family, n *counts, labels ...string) {
	for _, s := range []struct {
		status string
		n      int
	}{{"total", n.total}, {"online", n.online}, {"offline", n.total - n.online}, {"problem", n.problem}} {
		emit(f, float64(s.n), append(labels, s.status)...)
	}
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// perKiosk emits the one-series-per-kiosk families, views sorted by id.
func (c *Collector) perKiosk(emit emitFunc, views []fleet.KioskView) {
	g := func(f *family, v *fleet.KioskView, val float64, extra ...string) {
		emit(f, val, append([]string{v.KioskID, v.Office, v.Province}, extra...)...)
	}
	families := []func(v *fleet.KioskView, s *fleet.Snapshot){
		func(v *fleet.KioskView, _ *fleet.Snapshot) { g(c.online, v, b2f(v.Online)) },
		func(v *fleet.KioskView, _ *fleet.Snapshot) {
			if !v.LastSeen.IsZero() {
				g(c.lastSeen, v, float64(v.LastSeen.UnixMilli())/1e3)
			}
		},
		func(v *fleet.KioskView, s *fleet.Snapshot) { g(c.backlog, v, float64(s.Backlog)) },
		func(v *fleet.KioskView, s *fleet.Snapshot) { g(c.attention, v, float64(s.NeedsAttention)) },
		func(v *fleet.KioskView, s *fleet.Snapshot) { g(c.disk, v, float64(s.DiskFreeBytes)) },
		func(v *fleet.KioskView, s *fleet.Snapshot) { g(c.temp, v, s.TemperatureC) },
		func(v *fleet.KioskView, s *fleet.Snapshot) {
			if s.Version != "" {
				g(c.version, v, 1, s.Version)
			}
		},
		func(v *fleet.KioskView, s *fleet.Snapshot) {
			if !s.CertNotAfter.IsZero() {
				g(c.cert, v, float64(s.CertNotAfter.Unix()))
			}
		},
		func(v *fleet.KioskView, s *fleet.Snapshot) { g(c.oos, v, b2f(s.OutOfService)) },
		func(v *fleet.KioskView, s *fleet.Snapshot) {
			if s.UpdateState != "" {
				for _, st := range UpdateStates {
					g(c.update, v, b2f(s.UpdateState == st), st)
				}
			}
		},
	}
	for fi, f := range families {
		for i := range views {
			v := &views[i]
			if v.Snapshot == nil && fi > 1 { // online and last seen need no snapshot
				continue
			}
			f(v, v.Snapshot)
		}
	}
}

// perDevice emits device state, then device media, each by device name,
// then kiosk id, then state: the order of their labels (device, kiosk,
// media|office, …).
func (c *Collector) perDevice(emit emitFunc, views []fleet.KioskView) {
	names := map[string]bool{}
	for i := range views {
		if s := views[i].Snapshot; s != nil {
			for _, d := range s.Devices {
				if d.Name != "" {
					names[d.Name] = true
				}
			}
		}
	}
	sorted := slices.Sorted(maps.Keys(names))
	find := func(s *fleet.Snapshot, name string) (fleet.DeviceState, bool) {
		for _, d := range s.Devices {
			if d.Name == name {
				return d, true // the first, if a device is repeated
			}
		}
		return fleet.DeviceState{}, false
	}
	for _, media := range []bool{false, true} {
		for _, name := range sorted {
			ms, ok := mediaStates[name]
			if !ok {
				ms = allMedia
			}
			ms = slices.Sorted(slices.Values(ms))
			for i := range views {
				v := &views[i]
				if v.Snapshot == nil {
					continue
				}
				d, ok := find(v.Snapshot, name)
				switch {
				case !ok:
				case !media:
					for _, st := range sortedStates {
						emit(c.devState, b2f(d.State == st), v.KioskID, v.Office, v.Province, name, st)
					}
				case d.Media != "":
					for _, m := range ms {
						emit(c.media, b2f(d.Media == m), v.KioskID, v.Office, v.Province, name, m)
					}
				}
			}
		}
	}
}

var sortedStates = slices.Sorted(slices.Values(DeviceStates))
