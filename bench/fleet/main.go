// Command fleet benchmarks the fleet's MQTT side on this machine: N
// simulated kiosks (bare MQTT 5 clients over mutual TLS, as the kiosk
// connects) against the fleet service with its embedded broker, run as a
// separate process so its CPU and memory are its own. It prints:
//
//   - the time from killing a kiosk's connection to the store showing it
//     offline, beside the will delay;
//
//   - CPU and memory of the fleet service with N kiosks connected;
//
//   - the bytes on the wire per kiosk per month in the default kiosk
//     configuration, counted below TLS by a counting net.Conn around the
//     real kiosk client (backend-client/fleet), beside the old HTTP
//     heartbeat's cost.
//
//     go run ./bench/fleet -kiosks 10000
package main

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"math"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/eclipse/paho.golang/paho"

	kioskfleet "govkiosk/backend-client/fleet"
	"govkiosk/backend-client/fleetwire"
	"govkiosk/fleet"
	"govkiosk/fleet/console"
	"govkiosk/fleet/exporter"
	"govkiosk/fleet/memstore"
	"govkiosk/fleet/pki"
	"govkiosk/fleet/service"
	"govkiosk/fleet/store"

	"golang.org/x/crypto/bcrypt"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench/fleet:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("bench/fleet", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		kiosks    = fs.Int("kiosks", 10000, "simulated kiosks")
		kill      = fs.Int("kill", 20, "kiosks whose connection is killed to time offline detection")
		willDelay = fs.Duration("will-delay", kioskfleet.DefaultWillDelay, "the kiosks' will delay")
		keepAlive = fs.Duration("keepalive", kioskfleet.DefaultKeepAlive, "the kiosks' MQTT keep-alive")
		settle    = fs.Duration("settle", 20*time.Second, "idle time with every kiosk connected before measuring the service")
		rate      = fs.Int("connect-concurrency", 64, "kiosks connecting at once")
		serve     = fs.String("serve-fleet", "", "internal: run the fleet service with the certificates in this directory")
		withProm  = fs.Bool("prometheus", false, "also run Debian's prometheus and prometheus-alertmanager with the shipped rules scraping the fleet's /metrics: time KioskOffline in Alertmanager, and time the console's pages")
		offAfter  = fs.Duration("offline-after", 30*time.Second, "with -prometheus: the fleet's offline limit for KioskOffline")
		scrape    = fs.Duration("scrape-interval", 15*time.Second, "with -prometheus: Prometheus' scrape and rule evaluation interval")
		pageReqs  = fs.Int("console-requests", 40, "with -prometheus: GETs of each console page timed")
		storeKind = fs.String("store", "", "the fleet service's store: memory, or sqlite (a file in a temporary directory); default memory, sqlite with -prometheus (the console's overview needs the SQL store)")
	)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *storeKind == "" {
		*storeKind = "memory"
		if *withProm {
			*storeKind = "sqlite"
		}
	}
	if *serve != "" {
		return serveFleet(ctx, *serve, *storeKind, *offAfter, stdout)
	}
	dir, err := os.MkdirTemp("", "bench-fleet-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	ca, err := pki.NewCA("bench kiosk CA", 24*time.Hour)
	if err != nil {
		return err
	}
	if _, err := ca.WritePEM(dir, "ca.pem"); err != nil {
		return err
	}
	server, err := ca.Server("127.0.0.1")
	if err != nil {
		return err
	}
	if _, _, err := pki.WriteKeyPair(server, dir, "broker"); err != nil {
		return err
	}

	// The fleet service in a process of its own.
	self, err := os.Executable()
	if err != nil {
		return err
	}
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	child := exec.CommandContext(cctx, self, "-serve-fleet", dir, "-store", *storeKind, "-offline-after", offAfter.String())
	child.Stderr = stderr
	out, err := child.StdoutPipe()
	if err != nil {
		return err
	}
	if err := child.Start(); err != nil {
		return err
	}
	defer func() { cancel(); child.Wait() }()
	var mqttAddr, httpAddr string
	sc := bufio.NewScanner(out)
	if sc.Scan() {
		fmt.Sscanf(sc.Text(), "READY %s %s", &mqttAddr, &httpAddr)
	}
	if mqttAddr == "" {
		return errors.New("the fleet service did not start")
	}
	go io.Copy(io.Discard, out)
	fc := &fleetHTTP{base: "http://" + httpAddr}
	pid := child.Process.Pid
	fmt.Fprintf(stdout, "fleet service pid %d, broker %s; %d kiosks, will delay %v, keep-alive %v\n\n", pid, mqttAddr, *kiosks, *willDelay, *keepAlive)

	// 1. Bytes on the wire of one kiosk with the real client.
	wire, err := measureWire(ctx, ca, mqttAddr, fc)
	if err != nil {
		return fmt.Errorf("wire measurement: %w", err)
	}
	printWire(stdout, wire, *keepAlive)

	// 2. N kiosks.
	cpu0, _ := procCPU(pid)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	sims := make([]*simKiosk, *kiosks)
	start := time.Now()
	var failed, retried atomic.Int64
	var wg sync.WaitGroup
	sem := make(chan struct{}, *rate)
	for i := range sims {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			id := fmt.Sprintf("bench-%05d", i)
			cert, err := ca.Client(id, key)
			if err != nil {
				failed.Add(1)
				return
			}
			k, err := connectSim(ctx, id, cert, ca.Pool(), mqttAddr, *willDelay, *keepAlive)
			for try := 1; err != nil && try < 3 && ctx.Err() == nil; try++ {
				retried.Add(1)
				k, err = connectSim(ctx, id, cert, ca.Pool(), mqttAddr, *willDelay, *keepAlive)
			}
			if err != nil {
				if failed.Add(1) <= 3 {
					fmt.Fprintf(stderr, "kiosk %s: %v\n", id, err)
				}
				return
			}
			sims[i] = k
		}()
	}
	wg.Wait()
	connectTook := time.Since(start)
	cpu1, _ := procCPU(pid)
	fmt.Fprintf(stdout, "connected %d kiosks (%d failed, %d attempts retried) in %v (%.0f/s); fleet service CPU for it %.1fs\n",
		*kiosks-int(failed.Load()), failed.Load(), retried.Load(), connectTook.Round(time.Millisecond), float64(*kiosks)/connectTook.Seconds(), cpu1-cpu0)
	if err := waitFor(ctx, 2*time.Minute, func() bool { n, _ := fc.online(); return n >= *kiosks-int(failed.Load()) }); err != nil {
		n, _ := fc.online()
		return fmt.Errorf("store shows %d online of %d: %w", n, *kiosks, err)
	}
	fmt.Fprintf(stdout, "store shows every connected kiosk online %v after the first connect\n", time.Since(start).Round(time.Millisecond))
	time.Sleep(*settle)
	cpu2, _ := procCPU(pid)
	rss, hwm := procMem(pid)
	fmt.Fprintf(stdout, "idle, %d kiosks connected: fleet service CPU %.2f%% of one core over %v, RSS %.0f MiB (peak %.0f MiB), %.1f KiB per kiosk\n\n",
		*kiosks, 100*(cpu2-cpu1)/settle.Seconds(), *settle, rss/1024, hwm/1024, rss/float64(max(*kiosks, 1)))

	var eng *engines
	if *withProm {
		if eng, err = startEngines(ctx, dir, httpAddr, *scrape, stderr); err != nil {
			return err
		}
		defer eng.stop()
		fmt.Fprintf(stdout, "prometheus %s (scrape and evaluation every %v), alertmanager %s, shipped rules and configuration; offline limit %v\n",
			eng.promURL, *scrape, eng.amURL, *offAfter)
		if *kiosks > 0 {
			pages, err := consolePages(fc.base, *pageReqs, "bench-00000")
			if err != nil {
				return fmt.Errorf("console pages: %w", err)
			}
			tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
			fmt.Fprintf(tw, "console page (%d kiosks, %d GETs each)\tp50\tp95\tbudget p95\n", *kiosks, *pageReqs)
			for _, p := range slices.Sorted(maps.Keys(pages)) {
				fmt.Fprintf(tw, "%s\t%v\t%v\t200ms\n", p, pages[p][0].Round(100*time.Microsecond), pages[p][1].Round(100*time.Microsecond))
			}
			tw.Flush()
			fmt.Fprintln(stdout)
		}
	}

	// 3. Kill some, time the offline.
	var live []*simKiosk
	for _, k := range sims {
		if k != nil {
			live = append(live, k)
		}
	}
	mrand.Shuffle(len(live), func(i, j int) { live[i], live[j] = live[j], live[i] })
	victims := live[:min(*kill, len(live))]
	killed := time.Now()
	for _, k := range victims {
		k.kill()
	}
	var alertDone chan []time.Duration
	if eng != nil {
		alertDone = make(chan []time.Duration, 1)
		go func() {
			var ds []time.Duration
			waiting := map[string]bool{}
			for _, k := range victims {
				waiting[k.id] = true
			}
			limit := time.Now().Add(*willDelay + *offAfter + 2*time.Minute + 2**scrape)
			for len(waiting) > 0 && time.Now().Before(limit) && ctx.Err() == nil {
				active, err := eng.activeOffline()
				if err == nil {
					for id := range waiting {
						if active[id] {
							ds = append(ds, time.Since(killed))
							delete(waiting, id)
						}
					}
				}
				time.Sleep(250 * time.Millisecond)
			}
			alertDone <- ds
		}()
	}
	var delays []time.Duration
	pending := map[string]bool{}
	for _, k := range victims {
		pending[k.id] = true
	}
	deadline := time.Now().Add(*willDelay + 3*time.Minute)
	for len(pending) > 0 && time.Now().Before(deadline) && ctx.Err() == nil {
		for id := range pending {
			if on, err := fc.kioskOnline(id); err == nil && !on {
				delays = append(delays, time.Since(killed))
				delete(pending, id)
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	slices.Sort(delays)
	cpu3, _ := procCPU(pid)
	if len(delays) > 0 {
		fmt.Fprintf(stdout, "killed %d kiosks' connections: shown offline after min %v, median %v, max %v (will delay %v: %v to %v beyond it); %d never within %v\n",
			len(victims), delays[0].Round(10*time.Millisecond), delays[len(delays)/2].Round(10*time.Millisecond), delays[len(delays)-1].Round(10*time.Millisecond),
			*willDelay, (delays[0] - *willDelay).Round(10*time.Millisecond), (delays[len(delays)-1] - *willDelay).Round(10*time.Millisecond), len(pending), *willDelay+3*time.Minute)
	}
	if alertDone != nil {
		ds := <-alertDone
		slices.Sort(ds)
		if len(ds) == 0 {
			fmt.Fprintf(stdout, "KioskOffline never active in Alertmanager for the %d killed kiosks within will delay + offline limit + 2m\n", len(victims))
		} else {
			limit := *willDelay + *offAfter
			fmt.Fprintf(stdout, "KioskOffline active in Alertmanager for %d of %d killed kiosks: after min %v, median %v, max %v; beyond will delay + offline limit (%v): max %v (budget 2m)\n",
				len(ds), len(victims), ds[0].Round(10*time.Millisecond), ds[len(ds)/2].Round(10*time.Millisecond), ds[len(ds)-1].Round(10*time.Millisecond),
				limit, (ds[len(ds)-1] - limit).Round(10*time.Millisecond))
		}
	}
	rss, hwm = procMem(pid)
	fmt.Fprintf(stdout, "fleet service while %d kiosks stayed connected: CPU %.2f%% of one core, RSS %.0f MiB (peak %.0f MiB)\n",
		len(live)-len(victims), 100*(cpu3-cpu2)/time.Since(killed).Seconds(), rss/1024, hwm/1024)
	for _, k := range live {
		k.kill()
	}
	return nil
}

// wireCost is what one kiosk's operations cost on the wire (bytes, both
// directions, TCP payload: TLS records with MQTT inside).
type wireCost struct {
	connect, reconnect, snapshot, event, command, ping float64
}

// A day of the default configuration, the counts the monthly figure
// scales: link drops are frequent on 3G/4G behind NAT; health changes and
// events are those of a busy kiosk (paper low and out, door, scanner jams,
// backlog changes); commands are rare.
const (
	dayReconnects = 24 // once an hour: a generous count for a mobile link behind NAT
	dayChanges    = 20 // snapshots because the health changed
	dayEvents     = 30
	dayCommands   = 2
)

func printWire(w io.Writer, c wireCost, keepAlive time.Duration) {
	interval := kioskfleet.DefaultSnapshotInterval
	pings := 86400 / keepAlive.Seconds()
	snaps := 86400/interval.Seconds() + dayChanges
	rows := []struct {
		what  string
		n     float64
		bytes float64
	}{
		{"first connect (full TLS handshake)", 1, c.connect},
		{"reconnects (TLS resumed)", dayReconnects, c.reconnect},
		{fmt.Sprintf("keep-alive pings (every %v)", keepAlive), pings, c.ping},
		{fmt.Sprintf("snapshots (hourly + %d changes)", dayChanges), snaps, c.snapshot},
		{"events", dayEvents, c.event},
		{"commands (request + reply)", dayCommands, c.command},
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "per kiosk, one day\tcount\tbytes each\tbytes/day\t")
	var day float64
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%.0f\t%.0f\t%.0f\t\n", r.what, r.n, r.bytes, r.n*r.bytes)
		day += r.n * r.bytes
	}
	tw.Flush()
	month := day * 30
	fmt.Fprintf(w, "\nbytes per kiosk per month:  MQTT 5 fleet link %.2f MB   |   old HTTP heartbeat 52–220 MB   |   budget 5 MB\n\n", month/1e6)
}

// countingConn counts the bytes through a connection, below TLS.
type countingConn struct {
	net.Conn
	n      *atomic.Int64
	writes *atomic.Int64
}

func (c countingConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	c.n.Add(int64(n))
	return n, err
}

func (c countingConn) Write(b []byte) (int, error) {
	n, err := c.Conn.Write(b)
	c.n.Add(int64(n))
	c.writes.Add(1)
	return n, err
}

// benchKiosk answers commands for the measured kiosk.
type benchKiosk struct{}

func (benchKiosk) Requeue(context.Context, string) error  { return nil }
func (benchKiosk) RefreshCatalogue(context.Context) error { return nil }
func (benchKiosk) SelfTest(context.Context) (string, bool) {
	return "printer      online  full   12ms\nscanner      online  ready  40ms\nqrreader     online         3ms\nsensors      online         1ms\ndisplay      online         1ms\nportal       online         80ms\n", true
}
func (benchKiosk) Logs(int) []string            { return nil }
func (benchKiosk) SetOutOfService(bool, string) {}

// typicalSnapshot is a healthy kiosk's snapshot.
func typicalSnapshot(now time.Time, backlog int) fleetwire.Snapshot {
	return fleetwire.Snapshot{
		At: now.Unix(), Seq: uint64(now.UnixMilli()), Version: "1.4.2", Catalogue: "2026-11-30.2", Backlog: backlog,
		Devices: []fleetwire.Device{{Name: "display", State: "online"}, {Name: "printer", State: "online", Media: "full"},
			{Name: "qrreader", State: "online"}, {Name: "scanner", State: "online", Media: "ready"}, {Name: "sensors", State: "online"}},
		DiskFreeMB: 51234, TemperatureC: 41.5, CertNotAfter: now.Add(60 * 24 * time.Hour).Unix(),
	}
}

// measureWire runs the real kiosk client through a counting connection and
// counts each kind of traffic.
func measureWire(ctx context.Context, ca *pki.CA, addr string, fc *fleetHTTP) (wireCost, error) {
	var c wireCost
	var n, writes atomic.Int64
	var conn atomic.Pointer[net.Conn]
	var dials atomic.Int64
	const id = "bench-wire"
	cert, err := ca.Client(id, nil)
	if err != nil {
		return c, err
	}
	dir, err := os.MkdirTemp("", "bench-fleet-kiosk-")
	if err != nil {
		return c, err
	}
	defer os.RemoveAll(dir)
	u, _ := url.Parse("tls://" + addr)
	const keepAlive = 5 * time.Second // only to see pings soon; a ping is the same bytes at any keep-alive
	kc, err := kioskfleet.Open(kioskfleet.Options{
		KioskID: id, Broker: u, Dir: dir, Kiosk: benchKiosk{}, KeepAlive: keepAlive,
		TLS: &tls.Config{Certificates: []tls.Certificate{cert}, RootCAs: ca.Pool(), MinVersion: tls.VersionTLS12},
		Dial: func(ctx context.Context, addr string) (net.Conn, error) {
			raw, err := (&net.Dialer{}).DialContext(ctx, "tcp", addr)
			if err != nil {
				return nil, err
			}
			var nc net.Conn = raw
			conn.Store(&nc)
			dials.Add(1)
			return countingConn{raw, &n, &writes}, nil
		},
	})
	if err != nil {
		return c, err
	}
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { kc.Run(rctx); close(done) }()
	defer func() { cancel(); <-done }()
	settle := func() { time.Sleep(300 * time.Millisecond) }
	if err := waitFor(ctx, 30*time.Second, func() bool { v, err := fc.kiosk(id); return err == nil && v.Online }); err != nil {
		return c, fmt.Errorf("measured kiosk not online: %w", err)
	}
	settle()
	c.connect = float64(n.Swap(0))

	now := time.Now()
	kc.SetSnapshot(typicalSnapshot(now, 0))
	if err := waitFor(ctx, 30*time.Second, func() bool { v, err := fc.kiosk(id); return err == nil && v.Snapshot != nil }); err != nil {
		return c, fmt.Errorf("snapshot not recorded: %w", err)
	}
	settle()
	c.snapshot = float64(n.Swap(0))

	kc.Event("printer-paper-low", "printer", "")
	if err := waitFor(ctx, 30*time.Second, func() bool { e, err := fc.events(id); return err == nil && e >= 1 }); err != nil {
		return c, fmt.Errorf("event not recorded: %w", err)
	}
	settle()
	c.event = float64(n.Swap(0))

	cmdID, err := fc.send(id, fleetwire.CmdSelfTest)
	if err != nil {
		return c, err
	}
	if err := waitFor(ctx, 30*time.Second, func() bool { st, err := fc.command(cmdID); return err == nil && st == "done" }); err != nil {
		return c, fmt.Errorf("command not answered: %w", err)
	}
	settle()
	c.command = float64(n.Swap(0))

	// Idle: only keep-alive pings, one write (PINGREQ) each.
	writes.Store(0)
	n.Store(0)
	time.Sleep(3*keepAlive + keepAlive/2)
	if w := writes.Load(); w > 0 {
		c.ping = float64(n.Load()) / float64(w)
	}

	// A dropped link: the client reconnects with a resumed TLS session.
	before := dials.Load()
	n.Store(0)
	if p := conn.Load(); p != nil {
		(*p).Close()
	}
	if err := waitFor(ctx, 60*time.Second, func() bool { return dials.Load() > before && kc.Connected() }); err != nil {
		return c, fmt.Errorf("no reconnect: %w", err)
	}
	time.Sleep(time.Second)
	c.reconnect = float64(n.Load())
	return c, nil
}

// simKiosk is a bare MQTT 5 client shaped like a kiosk: persistent
// session, retained online status with a delayed Last Will, a
// subscription to its commands and a retained snapshot.
type simKiosk struct {
	id  string
	raw net.Conn
	cli *paho.Client
}

func connectSim(ctx context.Context, id string, cert tls.Certificate, roots *x509.CertPool, addr string, willDelay, keepAlive time.Duration) (*simKiosk, error) {
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	raw, err := (&net.Dialer{}).DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	tc := tls.Client(raw, &tls.Config{Certificates: []tls.Certificate{cert}, RootCAs: roots, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12})
	if err := tc.HandshakeContext(ctx); err != nil {
		raw.Close()
		return nil, err
	}
	cli := paho.NewClient(paho.ClientConfig{ClientID: id, Conn: tc})
	wd := uint32(willDelay / time.Second)
	se := uint32(kioskfleet.DefaultSessionExpiry / time.Second)
	status := fleetwire.Topic(id, fleetwire.KindStatus)
	ack, err := cli.Connect(ctx, &paho.Connect{
		ClientID: id, KeepAlive: uint16(keepAlive / time.Second), CleanStart: false,
		WillMessage:    &paho.WillMessage{Topic: status, Payload: []byte(fleetwire.Offline), QoS: 1, Retain: true},
		WillProperties: &paho.WillProperties{WillDelayInterval: &wd},
		Properties:     &paho.ConnectProperties{SessionExpiryInterval: &se},
	})
	if err != nil {
		raw.Close()
		return nil, err
	}
	if ack.ReasonCode != 0 {
		raw.Close()
		return nil, fmt.Errorf("connack %d", ack.ReasonCode)
	}
	if _, err := cli.Subscribe(ctx, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: fleetwire.Topic(id, fleetwire.KindCmd), QoS: 1}}}); err != nil {
		raw.Close()
		return nil, err
	}
	if _, err := cli.Publish(ctx, &paho.Publish{Topic: status, QoS: 1, Retain: true, Payload: []byte(fleetwire.Online)}); err != nil {
		raw.Close()
		return nil, err
	}
	snap, _ := fleetwire.Marshal(typicalSnapshot(time.Now(), mrand.IntN(3)))
	if _, err := cli.Publish(ctx, &paho.Publish{Topic: fleetwire.Topic(id, fleetwire.KindSnapshot), QoS: 1, Retain: true, Payload: snap}); err != nil {
		raw.Close()
		return nil, err
	}
	return &simKiosk{id: id, raw: raw, cli: cli}, nil
}

// kill ends the connection abruptly, as a power cut or a dead link would:
// no DISCONNECT, a TCP reset.
func (k *simKiosk) kill() {
	if tc, ok := k.raw.(*net.TCPConn); ok {
		tc.SetLinger(0)
	}
	k.raw.Close()
}

func waitFor(ctx context.Context, within time.Duration, cond func() bool) error {
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			return fmt.Errorf("not within %v", within)
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		time.Sleep(50 * time.Millisecond)
	}
	return nil
}

// procCPU is a process's user+system CPU in seconds.
func procCPU(pid int) (float64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	ut, _ := strconv.ParseFloat(f[11], 64)
	st, _ := strconv.ParseFloat(f[12], 64)
	return (ut + st) / 100, nil // USER_HZ
}

// procMem is a process's resident and peak resident memory in KiB.
func procMem(pid int) (rss, hwm float64) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return math.NaN(), math.NaN()
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) >= 2 && f[0] == "VmRSS:" {
			rss, _ = strconv.ParseFloat(f[1], 64)
		}
		if len(f) >= 2 && f[0] == "VmHWM:" {
			hwm, _ = strconv.ParseFloat(f[1], 64)
		}
	}
	return rss, hwm
}

// serveFleet is the child: the fleet service with the embedded broker and
// the memory store, and a small HTTP API for the bench to read the store.
func serveFleet(ctx context.Context, dir, storeKind string, offlineAfter time.Duration, stdout io.Writer) error {
	server, err := tls.LoadX509KeyPair(filepath.Join(dir, "broker.crt"), filepath.Join(dir, "broker.key"))
	if err != nil {
		return err
	}
	caPEM, err := os.ReadFile(filepath.Join(dir, "ca.pem"))
	if err != nil {
		return err
	}
	kioskCAs := x509.NewCertPool()
	kioskCAs.AppendCertsFromPEM(caPEM)
	var st fleet.Store = memstore.New()
	if storeKind == "sqlite" {
		s, err := store.Open(ctx, filepath.Join(dir, "fleet.db"))
		if err != nil {
			return err
		}
		st = s
	} else if storeKind != "memory" {
		return fmt.Errorf("-store %q: memory or sqlite", storeKind)
	}
	defer st.Close()
	svc, err := service.Start(ctx, service.Options{
		MQTTListen: "127.0.0.1:0", ServerCert: &server, KioskCAs: kioskCAs, Store: st,
		Log: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError})),
	})
	if err != nil {
		return err
	}
	defer svc.Close()
	hash, err := bcrypt.GenerateFromPassword([]byte(benchPassword), bcrypt.MinCost)
	if err != nil {
		return err
	}
	con, err := console.New(console.Options{Store: st, Commander: svc.Hub, Users: console.Users{benchStaff: hash}})
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", exporter.New(st, &exporter.Opts{OfflineAfter: offlineAfter}).Handler())
	mux.Handle("/", con)
	mux.HandleFunc("GET /online", func(w http.ResponseWriter, r *http.Request) {
		_, n, _ := st.Kiosks(r.Context(), fleet.Filter{Status: "online", Limit: 1})
		fmt.Fprint(w, n)
	})
	mux.HandleFunc("GET /kiosk", func(w http.ResponseWriter, r *http.Request) {
		v, err := st.Kiosk(r.Context(), r.FormValue("id"))
		if err != nil {
			http.NotFound(w, r)
			return
		}
		json.NewEncoder(w).Encode(v)
	})
	mux.HandleFunc("GET /events", func(w http.ResponseWriter, r *http.Request) {
		ev, _ := st.Events(r.Context(), r.FormValue("id"), time.Time{}, 0)
		fmt.Fprint(w, len(ev))
	})
	mux.HandleFunc("GET /command", func(w http.ResponseWriter, r *http.Request) {
		c, err := st.Command(r.Context(), r.FormValue("id"))
		if err != nil {
			http.NotFound(w, r)
			return
		}
		fmt.Fprint(w, c.State)
	})
	mux.HandleFunc("POST /command", func(w http.ResponseWriter, r *http.Request) {
		c, err := svc.Hub.Send(r.Context(), fleet.Command{KioskID: r.FormValue("kiosk"), Name: r.FormValue("name"), By: "bench"})
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		fmt.Fprint(w, c.ID)
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	defer srv.Close()
	fmt.Fprintf(stdout, "READY %s %s\n", svc.Broker.Addr(), ln.Addr())
	<-ctx.Done()
	return nil
}

// fleetHTTP reads the child's store.
type fleetHTTP struct{ base string }

var hc = &http.Client{Timeout: 10 * time.Second}

func (f *fleetHTTP) get(path string) (string, error) {
	resp, err := hc.Get(f.base + path)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("%s: %s", path, resp.Status)
	}
	return string(b), err
}

func (f *fleetHTTP) online() (int, error) {
	s, err := f.get("/online")
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(s)
}

func (f *fleetHTTP) kiosk(id string) (fleet.KioskView, error) {
	var v fleet.KioskView
	s, err := f.get("/kiosk?id=" + url.QueryEscape(id))
	if err != nil {
		return v, err
	}
	return v, json.Unmarshal([]byte(s), &v)
}

func (f *fleetHTTP) kioskOnline(id string) (bool, error) {
	v, err := f.kiosk(id)
	return v.Online, err
}

func (f *fleetHTTP) events(id string) (int, error) {
	s, err := f.get("/events?id=" + url.QueryEscape(id))
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(s)
}

func (f *fleetHTTP) command(id string) (string, error) {
	return f.get("/command?id=" + url.QueryEscape(id))
}

func (f *fleetHTTP) send(kiosk, name string) (string, error) {
	resp, err := hc.PostForm(f.base+"/command", url.Values{"kiosk": {kiosk}, "name": {name}})
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("send command: %s: %s", resp.Status, b)
	}
	return string(b), nil
}
