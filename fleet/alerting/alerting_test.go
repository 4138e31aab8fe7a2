package alerting

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"govkiosk/fleet"
	"govkiosk/fleet/exporter"
	"govkiosk/fleet/store"
)

// tool finds a Debian binary the test needs, failing clearly without it.
func tool(t *testing.T, name, pkg string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("%s not found (Debian package %s; `make deps` installs it): %v", name, pkg, err)
	}
	return p
}

func runTool(t *testing.T, bin string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", filepath.Base(bin), strings.Join(args, " "), err, out)
	}
	return string(out)
}

// TestPromtool checks the shipped rules and runs their unit tests.
func TestPromtool(t *testing.T) {
	t.Parallel()
	promtool := tool(t, "promtool", "prometheus")
	out := runTool(t, promtool, "check", "rules", "rules.yml")
	if !strings.Contains(out, "SUCCESS: 10 rules found") {
		t.Errorf("promtool check rules: want 10 rules:\n%s", out)
	}
	out = runTool(t, promtool, "test", "rules", "rules_test.yml")
	if !strings.Contains(out, "SUCCESS") {
		t.Errorf("promtool test rules:\n%s", out)
	}
}

// TestAmtool checks the shipped Alertmanager configuration.
func TestAmtool(t *testing.T) {
	t.Parallel()
	amtool := tool(t, "amtool", "prometheus-alertmanager")
	out := runTool(t, amtool, "check-config", "alertmanager.yml")
	if !strings.Contains(out, "SUCCESS") || !strings.Contains(out, "1 inhibit rules") {
		t.Errorf("amtool check-config:\n%s", out)
	}
}

// TestEmbedded: what the package embeds is what promtool tests.
func TestEmbedded(t *testing.T) {
	for name, b := range map[string][]byte{"rules.yml": Rules, "alertmanager.yml": AlertmanagerConfig} {
		disk, err := os.ReadFile(name)
		if err != nil || !bytes.Equal(disk, b) {
			t.Errorf("%s: embedded copy differs from the file (%v)", name, err)
		}
	}
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// start runs a server for the rest of the test, its output in a log file
// that a failure prints.
func start(t *testing.T, bin string, args ...string) (logFile string) {
	t.Helper()
	logFile = filepath.Join(t.TempDir(), filepath.Base(bin)+".log")
	f, err := os.Create(logFile)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", bin, err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); f.Close(); close(done) }()
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			b, _ := os.ReadFile(logFile)
			t.Logf("%s log:\n%s", filepath.Base(bin), lastLines(string(b), 40))
		}
	})
	return logFile
}

func lastLines(s string, n int) string {
	l := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(l[max(0, len(l)-n):], "\n")
}

// amAlert is the part of Alertmanager's GET /api/v2/alerts the test reads.
type amAlert struct {
	Labels map[string]string `json:"labels"`
	Status struct {
		State       string   `json:"state"`
		InhibitedBy []string `json:"inhibitedBy"`
	} `json:"status"`
}

// TestAlertsReachAlertmanager runs the fleet exporter over a store, a real
// Prometheus scraping it every second with the shipped rules (their "for"
// shortened to 1s), and a real Alertmanager with the shipped configuration:
// the paper-out alert of an online kiosk reaches Alertmanager active, and
// an offline kiosk's KioskOffline inhibits its own paper-out alert.
func TestAlertsReachAlertmanager(t *testing.T) {
	t.Parallel()
	promBin := tool(t, "prometheus", "prometheus")
	amBin := tool(t, "prometheus-alertmanager", "prometheus-alertmanager")
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()

	// The fleet: K-ON online with paper out, K-OFF offline (and paper out,
	// as its last snapshot said), K-OK fine.
	st, err := store.Open(ctx, filepath.Join(dir, "fleet.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	now := time.Now()
	for _, k := range []struct {
		id, paper string
		online    bool
	}{{"K-ON", "out", true}, {"K-OFF", "out", false}, {"K-OK", "full", true}} {
		must(t, st.PutKiosk(ctx, fleet.KioskInfo{KioskID: k.id, Office: "TH-10-1001", Province: "TH-10"}))
		must(t, st.SetPresence(ctx, fleet.Presence{KioskID: k.id, Online: k.online, At: now.Add(-time.Minute)}))
		must(t, st.PutSnapshot(ctx, fleet.Snapshot{KioskID: k.id, At: now.Add(-2 * time.Minute), Seq: 1, Version: "1.4.0",
			DiskFreeBytes: 8e9, TemperatureC: 40,
			Devices: []fleet.DeviceState{{Name: "printer", State: "online", Media: k.paper}, {Name: "scanner", State: "online", Media: "ready"}}}))
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: exporter.New(st, &exporter.Opts{OfflineAfter: time.Second}).Handler(), ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(l)
	defer srv.Close()

	// Alertmanager with the shipped configuration.
	amPort := freePort(t)
	amURL := fmt.Sprintf("http://127.0.0.1:%d", amPort)
	start(t, amBin, "--config.file="+filepath.Join(mustAbs(t, "alertmanager.yml")),
		"--storage.path="+filepath.Join(dir, "am"), fmt.Sprintf("--web.listen-address=127.0.0.1:%d", amPort),
		"--cluster.listen-address=")

	// Prometheus with the shipped rules, "for" shortened.
	rules := regexp.MustCompile(`(?m)^(\s+for:) \S+$`).ReplaceAll(Rules, []byte("$1 1s"))
	if bytes.Equal(rules, Rules) {
		t.Fatal("no `for:` found to shorten in rules.yml")
	}
	must(t, os.WriteFile(filepath.Join(dir, "rules.yml"), rules, 0o644))
	promCfg := fmt.Sprintf(`global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files: [rules.yml]
alerting:
  alertmanagers:
    - static_configs:
        - targets: ["127.0.0.1:%d"]
scrape_configs:
  - job_name: fleet
    static_configs:
      - targets: ["%s"]
`, amPort, l.Addr())
	must(t, os.WriteFile(filepath.Join(dir, "prometheus.yml"), []byte(promCfg), 0o644))
	promPort := freePort(t)
	start(t, promBin, "--config.file="+filepath.Join(dir, "prometheus.yml"), "--storage.tsdb.path="+filepath.Join(dir, "tsdb"),
		fmt.Sprintf("--web.listen-address=127.0.0.1:%d", promPort), "--rules.alert.resend-delay=1s", "--log.level=warn")

	type want struct {
		alert, kiosk string
		inhibited    bool
	}
	wants := []want{{"KioskPaperOut", "K-ON", false}, {"KioskOffline", "K-OFF", false}, {"KioskPaperOut", "K-OFF", true}}
	var last []amAlert
	var lastErr error
	for {
		last, lastErr = alerts(ctx, amURL)
		missing := wants[:0:0]
		for _, w := range wants {
			if !has(last, w.alert, w.kiosk, w.inhibited) {
				missing = append(missing, w)
			}
		}
		if lastErr == nil && len(missing) == 0 {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("waited 90 s for Alertmanager (%s/api/v2/alerts) to hold %+v; still missing %+v; last answer %+v (err %v)",
				amURL, wants, missing, last, lastErr)
		case <-time.After(500 * time.Millisecond):
		}
	}
	for _, a := range last {
		if a.Labels["kiosk"] == "K-OK" {
			t.Errorf("an alert for the healthy kiosk: %+v", a)
		}
		if a.Labels["office"] != "TH-10-1001" || a.Labels["province"] != "TH-10" {
			t.Errorf("alert without its office and province (Alertmanager groups by them): %+v", a)
		}
	}
}

func mustAbs(t *testing.T, p string) string {
	a, err := filepath.Abs(p)
	must(t, err)
	return a
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func has(as []amAlert, name, kiosk string, inhibited bool) bool {
	for _, a := range as {
		if a.Labels["alertname"] == name && a.Labels["kiosk"] == kiosk {
			if inhibited {
				return a.Status.State == "suppressed" && len(a.Status.InhibitedBy) > 0
			}
			return a.Status.State == "active" && len(a.Status.InhibitedBy) == 0
		}
	}
	return false
}

func alerts(ctx context.Context, base string) ([]amAlert, error) {
	rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(rctx, "GET", base+"/api/v2/alerts", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		return nil, fmt.Errorf("GET /api/v2/alerts: %s", resp.Status)
	}
	var as []amAlert
	return as, json.NewDecoder(resp.Body).Decode(&as)
}
