package store

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"govkiosk/fleet"
)

// engines are the two stores every test of the suite runs against.
var engines = []struct {
	name string
	dsn  func(t *testing.T) string
}{
	{"sqlite", func(t *testing.T) string { return "sqlite://" + filepath.Join(t.TempDir(), "fleet.db") }},
	{"postgres", func(t *testing.T) string { return needPG(t).dsn(t) }},
}

// suite is the shared store test suite: each case gets a fresh store.
var suite = []struct {
	name string
	fn   func(t *testing.T, s *Store)
}{
	{"RegistryPresenceSnapshot", testRegistryPresenceSnapshot},
	{"OlderSnapshotKeepsNewest", testOlderSnapshotKeepsNewest},
	{"EventsIdempotent", testEventsIdempotent},
	{"KiosksFilterAndPages", testKiosksFilterAndPages},
	{"Commands", testCommands},
	{"Prune", testPrune},
	{"Summary", testSummary},
	{"GroupHistory", testGroupHistory},
}

func TestStore(t *testing.T) {
	for _, e := range engines {
		t.Run(e.name, func(t *testing.T) {
			for _, c := range suite {
				t.Run(c.name, func(t *testing.T) {
					s, err := Open(ctx(t), e.dsn(t))
					if err != nil {
						t.Fatal(err)
					}
					t.Cleanup(func() { s.Close() })
					c.fn(t, s)
				})
			}
		})
	}
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

var t0 = time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC)

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func snap(id string, at time.Time, seq uint64, paper string) fleet.Snapshot {
	return fleet.Snapshot{
		KioskID: id, At: at, Seq: seq, Version: "1.4.0", Backlog: 2, DiskFreeBytes: 5 << 30, TemperatureC: 41.5,
		Devices: []fleet.DeviceState{{Name: "printer", State: "online", Media: paper}, {Name: "scanner", State: "online", Media: "ready"}},
	}
}

func testRegistryPresenceSnapshot(t *testing.T, s *Store) {
	c := ctx(t)
	must(t, s.PutKiosk(c, fleet.KioskInfo{KioskID: "k1", Office: "TH-10-1001", Province: "TH-10"}))
	must(t, s.SetPresence(c, fleet.Presence{KioskID: "k1", Online: true, At: t0}))
	must(t, s.PutSnapshot(c, snap("k1", t0.Add(time.Minute), 1, "full")))
	v, err := s.Kiosk(c, "k1")
	must(t, err)
	if !v.Online || v.Office != "TH-10-1001" || v.Province != "TH-10" || !v.LastSeen.Equal(t0.Add(time.Minute)) {
		t.Errorf("kiosk = %+v, want online in TH-10-1001 last seen at the snapshot", v)
	}
	if v.Snapshot == nil || v.Snapshot.Version != "1.4.0" || v.Snapshot.Devices[0].Media != "full" || v.Snapshot.DiskFreeBytes != 5<<30 {
		t.Fatalf("snapshot = %+v", v.Snapshot)
	}
	// The registry entry changes without losing presence or snapshot.
	must(t, s.PutKiosk(c, fleet.KioskInfo{KioskID: "k1", Office: "TH-10-1002", Province: "TH-10"}))
	// A late presence message older than the current one changes nothing.
	must(t, s.SetPresence(c, fleet.Presence{KioskID: "k1", Online: false, At: t0.Add(-time.Hour)}))
	v, err = s.Kiosk(c, "k1")
	must(t, err)
	if v.Office != "TH-10-1002" || !v.Online || v.Snapshot == nil {
		t.Errorf("after re-registering and a stale offline: %+v", v)
	}
	must(t, s.SetPresence(c, fleet.Presence{KioskID: "k1", Online: false, At: t0.Add(2 * time.Minute)}))
	v, err = s.Kiosk(c, "k1")
	must(t, err)
	if v.Online || !v.LastSeen.Equal(t0.Add(2*time.Minute)) {
		t.Errorf("after going offline: online=%v lastSeen=%v", v.Online, v.LastSeen)
	}
	ps, err := s.Presences(c, "k1", time.Time{})
	must(t, err)
	if len(ps) != 3 || ps[0].Online || !ps[1].Online || ps[2].Online {
		t.Errorf("presence log = %+v, want offline (stale), online, offline", ps)
	}
	if _, err := s.Kiosk(c, "nope"); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown kiosk: err = %v, want ErrNotFound", err)
	}
	// A kiosk that reports before it is registered is kept too.
	must(t, s.PutSnapshot(c, snap("k2", t0, 1, "low")))
	if v, err := s.Kiosk(c, "k2"); err != nil || v.Snapshot == nil {
		t.Errorf("unregistered kiosk's snapshot: %+v, %v", v, err)
	}
}

func testOlderSnapshotKeepsNewest(t *testing.T, s *Store) {
	c := ctx(t)
	must(t, s.PutSnapshot(c, snap("k1", t0.Add(time.Minute), 2, "out")))
	must(t, s.PutSnapshot(c, snap("k1", t0, 1, "full"))) // delivered late
	v, err := s.Kiosk(c, "k1")
	must(t, err)
	if v.Snapshot.Seq != 2 || v.Snapshot.Devices[0].Media != "out" {
		t.Errorf("current snapshot = seq %d paper %s, want the newer (2, out)", v.Snapshot.Seq, v.Snapshot.Devices[0].Media)
	}
	h, err := s.Snapshots(c, "k1", time.Time{})
	must(t, err)
	if len(h) != 2 || h[0].Seq != 1 || h[1].Seq != 2 {
		t.Errorf("history = %+v, want both oldest first", h)
	}
	// The same snapshot twice is kept once.
	must(t, s.PutSnapshot(c, snap("k1", t0, 1, "full")))
	if h, _ := s.Snapshots(c, "k1", time.Time{}); len(h) != 2 {
		t.Errorf("history after a repeat has %d snapshots, want 2", len(h))
	}
}

func testEventsIdempotent(t *testing.T, s *Store) {
	c := ctx(t)
	for i := 3; i >= 1; i-- { // out of order
		must(t, s.AddEvent(c, fleet.Event{KioskID: "k1", Seq: uint64(i), At: t0.Add(time.Duration(i) * time.Second), Kind: "paper-low", Device: "printer"}))
	}
	must(t, s.AddEvent(c, fleet.Event{KioskID: "k1", Seq: 2, At: t0, Kind: "something else"})) // redelivery
	must(t, s.AddEvent(c, fleet.Event{KioskID: "k2", Seq: 1, At: t0, Kind: "door-open", Summarised: 4}))
	ev, err := s.Events(c, "k1", time.Time{}, 0)
	must(t, err)
	if len(ev) != 3 {
		t.Fatalf("events = %+v, want 3", ev)
	}
	for i, e := range ev {
		if e.Seq != uint64(i+1) || e.Kind != "paper-low" || e.Device != "printer" {
			t.Errorf("event %d = %+v", i, e)
		}
	}
	if ev, _ := s.Events(c, "k1", t0.Add(2*time.Second), 1); len(ev) != 1 || ev[0].Seq != 2 {
		t.Errorf("since+limit: %+v, want seq 2 only", ev)
	}
	if ev, _ := s.Events(c, "k2", time.Time{}, 0); len(ev) != 1 || ev[0].Summarised != 4 {
		t.Errorf("k2 events = %+v", ev)
	}
}

// fleetOf registers n kiosks over two provinces and three offices; every
// third is offline, every fifth has paper out; "v2" on the even ones.
func fleetOf(t *testing.T, s *Store, n int) {
	c := ctx(t)
	for i := range n {
		id := fmt.Sprintf("k%03d", i)
		prov := []string{"TH-10", "VN-49"}[i%2]
		must(t, s.PutKiosk(c, fleet.KioskInfo{KioskID: id, Province: prov, Office: fmt.Sprintf("%s-%d", prov, i%3)}))
		must(t, s.SetPresence(c, fleet.Presence{KioskID: id, Online: i%3 != 0, At: t0}))
		sn := snap(id, t0, 1, "full")
		if i%5 == 0 {
			sn.Devices[0].Media = "out"
		}
		if i%2 == 0 {
			sn.Version = "v2"
		}
		must(t, s.PutSnapshot(c, sn))
	}
}

func ids(vs []fleet.KioskView) []string {
	var out []string
	for _, v := range vs {
		out = append(out, v.KioskID)
	}
	return out
}

func testKiosksFilterAndPages(t *testing.T, s *Store) {
	c := ctx(t)
	fleetOf(t, s, 30)
	must(t, s.PutKiosk(c, fleet.KioskInfo{KioskID: "k999", Province: "TH-10", Retired: true, Identity: fleet.IdentityRevoked}))
	check := func(f fleet.Filter, want func(i int) bool) {
		t.Helper()
		var wantIDs []string
		for i := range 30 {
			if want(i) {
				wantIDs = append(wantIDs, fmt.Sprintf("k%03d", i))
			}
		}
		f.Limit = 100
		vs, total, err := s.Kiosks(c, f)
		must(t, err)
		got := ids(vs)
		slices.Sort(got)
		if total != len(wantIDs) || !slices.Equal(got, wantIDs) {
			t.Errorf("Kiosks(%+v) = %d %v, want %d %v", f, total, got, len(wantIDs), wantIDs)
		}
	}
	check(fleet.Filter{}, func(int) bool { return true })
	check(fleet.Filter{Province: "VN-49"}, func(i int) bool { return i%2 == 1 })
	check(fleet.Filter{Office: "TH-10-1"}, func(i int) bool { return i%2 == 0 && i%3 == 1 })
	check(fleet.Filter{Version: "v2"}, func(i int) bool { return i%2 == 0 })
	check(fleet.Filter{Status: "online"}, func(i int) bool { return i%3 != 0 })
	check(fleet.Filter{Status: "offline"}, func(i int) bool { return i%3 == 0 })
	check(fleet.Filter{Status: "problem"}, func(i int) bool { return i%3 == 0 || i%5 == 0 })
	check(fleet.Filter{Status: "problem", Province: "TH-10", Version: "v2"}, func(i int) bool { return i%2 == 0 && (i%3 == 0 || i%5 == 0) })
	// The retired kiosk only with the status retired, with why it left.
	if vs, total, err := s.Kiosks(c, fleet.Filter{Status: "retired", Province: "TH-10"}); err != nil || total != 1 || len(vs) != 1 ||
		vs[0].KioskID != "k999" || !vs[0].Retired || vs[0].Identity != fleet.IdentityRevoked {
		t.Errorf("Kiosks(retired) = %+v, %d, %v; want k999, revoked", vs, total, err)
	}
	if _, _, err := s.Kiosks(c, fleet.Filter{Status: "sideways"}); err == nil {
		t.Error("an unknown status is not an error")
	}

	// Pages: problems first, then by id, each kiosk once, total on each page.
	var all []string
	for off := 0; ; off += 7 {
		vs, total, err := s.Kiosks(c, fleet.Filter{Offset: off, Limit: 7})
		must(t, err)
		if total != 30 {
			t.Fatalf("total = %d, want 30", total)
		}
		if len(vs) == 0 {
			break
		}
		if len(vs) > 7 {
			t.Fatalf("page of %d, limit 7", len(vs))
		}
		all = append(all, ids(vs)...)
	}
	var problems, fine []string
	for i := range 30 {
		id := fmt.Sprintf("k%03d", i)
		if i%3 == 0 || i%5 == 0 {
			problems = append(problems, id)
		} else {
			fine = append(fine, id)
		}
	}
	if want := append(problems, fine...); !slices.Equal(all, want) {
		t.Errorf("pages = %v\nwant    %v", all, want)
	}
	if vs, _, _ := s.Kiosks(c, fleet.Filter{}); len(vs) != min(30, DefaultLimit) {
		t.Errorf("no limit: %d kiosks, want %d", len(vs), min(30, DefaultLimit))
	}
}

func testCommands(t *testing.T, s *Store) {
	c := ctx(t)
	cmd := fleet.Command{ID: "c1", KioskID: "k1", Name: "selftest", By: "anan", SentAt: t0, State: "pending"}
	must(t, s.PutCommand(c, cmd))
	must(t, s.PutCommand(c, fleet.Command{ID: "c2", KioskID: "k1", Name: "logs", Args: "50", By: "binh", SentAt: t0.Add(time.Minute), State: "pending"}))
	cmd.State, cmd.Result, cmd.AnsweredAt = "done", "printer ok; scanner ok", t0.Add(30*time.Second)
	must(t, s.PutCommand(c, cmd))
	got, err := s.Command(c, "c1")
	must(t, err)
	if got.State != "done" || got.Result != "printer ok; scanner ok" || !got.AnsweredAt.Equal(t0.Add(30*time.Second)) || got.By != "anan" || !got.SentAt.Equal(t0) {
		t.Errorf("command = %+v", got)
	}
	list, err := s.Commands(c, "k1", 0)
	must(t, err)
	if len(list) != 2 || list[0].ID != "c2" || list[1].ID != "c1" || list[0].Args != "50" {
		t.Errorf("commands = %+v, want c2 then c1", list)
	}
	if _, err := s.Command(c, "c9"); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown command: %v", err)
	}
}

func testPrune(t *testing.T, s *Store) {
	c := ctx(t)
	for i := range 4 {
		at := t0.Add(time.Duration(i) * 24 * time.Hour)
		must(t, s.PutSnapshot(c, snap("k1", at, uint64(i+1), "full")))
		must(t, s.AddEvent(c, fleet.Event{KioskID: "k1", Seq: uint64(i + 1), At: at, Kind: "paper-low"}))
		must(t, s.SetPresence(c, fleet.Presence{KioskID: "k1", Online: i%2 == 0, At: at}))
		must(t, s.PutCommand(c, fleet.Command{ID: fmt.Sprint("done", i), KioskID: "k1", Name: "selftest", SentAt: at, State: "done"}))
	}
	must(t, s.PutCommand(c, fleet.Command{ID: "waiting", KioskID: "k1", Name: "restart", SentAt: t0, State: "pending"}))
	cut := t0.Add(2 * 24 * time.Hour)
	must(t, s.Prune(c, cut))
	sn, _ := s.Snapshots(c, "k1", time.Time{})
	ev, _ := s.Events(c, "k1", time.Time{}, 0)
	ps, _ := s.Presences(c, "k1", time.Time{})
	cmds, _ := s.Commands(c, "k1", 0)
	if len(sn) != 2 || len(ev) != 2 || len(ps) != 2 || sn[0].Seq != 3 || ev[0].Seq != 3 || !ps[0].At.Equal(cut) {
		t.Errorf("after prune: %d snapshots, %d events, %d presences; want 2 of each from the cut", len(sn), len(ev), len(ps))
	}
	var cmdIDs []string
	for _, c := range cmds {
		cmdIDs = append(cmdIDs, c.ID)
	}
	slices.Sort(cmdIDs)
	if !slices.Equal(cmdIDs, []string{"done2", "done3", "waiting"}) {
		t.Errorf("commands after prune = %v, want the recent ones and the pending one", cmdIDs)
	}
	v, err := s.Kiosk(c, "k1")
	must(t, err)
	if v.Snapshot == nil || v.Snapshot.Seq != 4 {
		t.Errorf("prune lost the current state: %+v", v.Snapshot)
	}
}

func testSummary(t *testing.T, s *Store) {
	fleetOf(t, s, 30)
	prov, err := s.Summary(ctx(t), false)
	must(t, err)
	want := []fleet.GroupCount{{Province: "TH-10", Total: 15, Online: 10, Problem: 7}, {Province: "VN-49", Total: 15, Online: 10, Problem: 7}}
	// TH-10 holds the even i: offline i%3==0 → 0,6,12,18,24 (5); paper out
	// i%5==0 → 0,10,20 (10, 20 online): 7 problems. VN-49 the odd: 3,9,15,
	// 21,27 offline, 5, 25 paper (15 already offline): 7.
	if !slices.Equal(prov, want) {
		t.Errorf("per province = %+v, want %+v", prov, want)
	}
	off, err := s.Summary(ctx(t), true)
	must(t, err)
	if len(off) != 6 || off[0].Office != "TH-10-0" || off[0].Total != 5 {
		t.Errorf("per office = %+v", off)
	}
	sum := 0
	for _, g := range off {
		sum += g.Total
	}
	if sum != 30 {
		t.Errorf("offices hold %d kiosks, want 30", sum)
	}
}

func TestOpenErrors(t *testing.T) {
	for _, dsn := range []string{"", "mysql://u:secret@host/db", "sqlite://"} {
		_, err := Open(ctx(t), dsn)
		if !errors.Is(err, ErrBadDSN) {
			t.Errorf("Open(%q) = %v, want ErrBadDSN", dsn, err)
		}
		if err != nil && strings.Contains(err.Error(), "secret") {
			t.Errorf("Open(%q) error shows the password: %v", dsn, err)
		}
	}
}

// TestMigrations: opening again applies nothing twice, a plain path works,
// and a database from a newer program is refused, not damaged.
func TestMigrations(t *testing.T) {
	for _, e := range engines {
		t.Run(e.name, func(t *testing.T) {
			dsn := e.dsn(t)
			s, err := Open(ctx(t), dsn)
			must(t, err)
			must(t, s.PutKiosk(ctx(t), fleet.KioskInfo{KioskID: "k1"}))
			s.Close()
			s, err = Open(ctx(t), dsn)
			must(t, err)
			if _, err := s.Kiosk(ctx(t), "k1"); err != nil {
				t.Errorf("reopened store lost its kiosk: %v", err)
			}
			must(t, s.exec(ctx(t), `INSERT INTO schema_migrations (version) VALUES (?)`, len(migrations)+5))
			s.Close()
			if _, err := Open(ctx(t), dsn); err == nil || !strings.Contains(err.Error(), "newer") {
				t.Errorf("newer schema: err = %v, want a refusal naming it newer", err)
			}
		})
	}
	path := filepath.Join(t.TempDir(), "plain.db")
	s, err := Open(ctx(t), path)
	must(t, err)
	s.Close()
}

func testGroupHistory(t *testing.T, s *Store) {
	c := ctx(t)
	for _, k := range []fleet.KioskInfo{{KioskID: "a1", Province: "TH-10", Office: "TH-10-1"}, {KioskID: "a2", Province: "TH-10", Office: "TH-10-2"},
		{KioskID: "b1", Province: "VN-49", Office: "VN-49-1"}} {
		must(t, s.PutKiosk(c, k))
	}
	day := func(d int, h int) time.Time {
		return t0.Add(time.Duration(d)*24*time.Hour + time.Duration(h)*time.Hour)
	}
	// a1: 10 sessions on day 0, restart on day 1 (counter 4 → 4 more), 6 on day 2.
	for i, sn := range []struct {
		at       time.Time
		sessions uint64
	}{{day(0, 1), 0}, {day(0, 9), 10}, {day(1, 2), 4}, {day(1, 5), 4}, {day(2, 3), 10}} {
		x := snap("a1", sn.at, uint64(i+1), "full")
		x.Sessions = sn.sessions
		must(t, s.PutSnapshot(c, x))
	}
	for i, sn := range []uint64{100, 103} { // a2: 3 on day 1
		x := snap("a2", day(1, i+1), uint64(i+1), "full")
		x.Sessions = sn
		must(t, s.PutSnapshot(c, x))
	}
	x := snap("b1", day(0, 2), 1, "full")
	must(t, s.PutSnapshot(c, x))
	x = snap("b1", day(0, 3), 2, "full")
	x.Sessions = 50
	must(t, s.PutSnapshot(c, x))
	for _, p := range []fleet.Presence{{KioskID: "a1", At: day(0, 5)}, {KioskID: "a1", Online: true, At: day(0, 6)}, {KioskID: "a1", At: day(2, 1)},
		{KioskID: "a2", At: day(2, 7)}, {KioskID: "b1", At: day(1, 1)}} {
		must(t, s.SetPresence(c, p))
	}
	midnight := func(d int) time.Time { return t0.Truncate(24 * time.Hour).Add(time.Duration(d) * 24 * time.Hour) }
	got, err := s.GroupHistory(c, "TH-10", "", t0)
	must(t, err)
	want := []fleet.GroupDay{{Day: midnight(0), Outages: 1, Sessions: 10}, {Day: midnight(1), Sessions: 4 + 3}, {Day: midnight(2), Outages: 2, Sessions: 6}}
	if !slices.Equal(got, want) {
		t.Errorf("TH-10 history = %+v\nwant %+v", got, want)
	}
	got, err = s.GroupHistory(c, "", "TH-10-2", t0)
	must(t, err)
	if want := []fleet.GroupDay{{Day: midnight(1), Sessions: 3}, {Day: midnight(2), Outages: 1}}; !slices.Equal(got, want) {
		t.Errorf("TH-10-2 history = %+v, want %+v", got, want)
	}
	got, err = s.GroupHistory(c, "", "", day(1, 0))
	must(t, err)
	if want := []fleet.GroupDay{{Day: midnight(1), Outages: 1, Sessions: 3}, {Day: midnight(2), Outages: 2, Sessions: 6}}; !slices.Equal(got, want) {
		t.Errorf("fleet history since day 1 = %+v, want %+v", got, want)
	}
}
