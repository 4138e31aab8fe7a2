package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	"govkiosk/fleet/alerting"
)

// benchStaff and benchPassword log the bench in to the child's console.
const benchStaff, benchPassword = "bench", "bench-password"

// engines are Debian's Prometheus and Alertmanager on private ports and
// data directories, with the shipped rules and Alertmanager configuration,
// Prometheus scraping the fleet service's /metrics.
type engines struct {
	amURL, promURL string
	stop           func()
}

func freeLoopback() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

func startEngines(ctx context.Context, dir, fleetAddr string, scrape time.Duration, stderr io.Writer) (*engines, error) {
	promBin, err := exec.LookPath("prometheus")
	if err != nil {
		return nil, errors.New("-prometheus needs Debian's prometheus (make deps installs it)")
	}
	amBin, err := exec.LookPath("prometheus-alertmanager")
	if err != nil {
		return nil, errors.New("-prometheus needs Debian's prometheus-alertmanager (make deps installs it)")
	}
	amAddr, err := freeLoopback()
	if err != nil {
		return nil, err
	}
	promAddr, err := freeLoopback()
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, "alertmanager.yml"), alerting.AlertmanagerConfig, 0o644); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, "rules.yml"), alerting.Rules, 0o644); err != nil {
		return nil, err
	}
	cfg := fmt.Sprintf(`global:
  scrape_interval: %s
  scrape_timeout: %s
  evaluation_interval: %s
rule_files: [rules.yml]
alerting:
  alertmanagers:
    - static_configs:
        - targets: ["%s"]
scrape_configs:
  - job_name: fleet
    static_configs:
      - targets: ["%s"]
`, scrape, scrape, scrape, amAddr, fleetAddr)
	if err := os.WriteFile(filepath.Join(dir, "prometheus.yml"), []byte(cfg), 0o644); err != nil {
		return nil, err
	}
	var cmds []*exec.Cmd
	e := &engines{amURL: "http://" + amAddr, promURL: "http://" + promAddr, stop: func() {
		for _, c := range cmds {
			c.Process.Kill()
			c.Wait()
		}
	}}
	for _, args := range [][]string{
		{amBin, "--config.file=" + filepath.Join(dir, "alertmanager.yml"), "--storage.path=" + filepath.Join(dir, "am"),
			"--web.listen-address=" + amAddr, "--cluster.listen-address="},
		{promBin, "--config.file=" + filepath.Join(dir, "prometheus.yml"), "--storage.tsdb.path=" + filepath.Join(dir, "prom"),
			"--web.listen-address=" + promAddr},
	} {
		log, err := os.Create(filepath.Join(dir, filepath.Base(args[0])+".log"))
		if err != nil {
			e.stop()
			return nil, err
		}
		c := exec.Command(args[0], args[1:]...)
		c.Stdout, c.Stderr = log, log
		if err := c.Start(); err != nil {
			e.stop()
			return nil, err
		}
		cmds = append(cmds, c)
	}
	for _, u := range []string{e.amURL + "/-/ready", e.promURL + "/-/ready"} {
		if err := waitFor(ctx, time.Minute, func() bool {
			resp, err := hc.Get(u)
			if err != nil {
				return false
			}
			resp.Body.Close()
			return resp.StatusCode == 200
		}); err != nil {
			e.stop()
			return nil, fmt.Errorf("%s not ready within 1m (logs in %s): %w", u, dir, err)
		}
	}
	return e, nil
}

// activeOffline returns the kiosks with an active KioskOffline in
// Alertmanager.
func (e *engines) activeOffline() (map[string]bool, error) {
	resp, err := hc.Get(e.amURL + "/api/v2/alerts?filter=" + url.QueryEscape(`alertname="KioskOffline"`))
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		return nil, fmt.Errorf("GET /api/v2/alerts: %s", resp.Status)
	}
	var as []struct {
		Labels map[string]string `json:"labels"`
		Status struct {
			State string `json:"state"`
		} `json:"status"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&as); err != nil {
		return nil, err
	}
	out := map[string]bool{}
	for _, a := range as {
		if a.Status.State == "active" {
			out[a.Labels["kiosk"]] = true
		}
	}
	return out, nil
}

// consolePages logs in to the child's console and times n GETs of each
// page, returning p50 and p95 per page.
func consolePages(base string, n int, kioskID string) (map[string][2]time.Duration, error) {
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Timeout: 30 * time.Second}
	resp, err := c.PostForm(base+"/login", url.Values{"user": {benchStaff}, "password": {benchPassword}, "next": {"/"}})
	if err != nil {
		return nil, err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		return nil, fmt.Errorf("console login: %s", resp.Status)
	}
	out := map[string][2]time.Duration{}
	for _, page := range []string{"/", "/?status=online&page=" + strconv.Itoa(20), "/overview", "/kiosk/" + kioskID} {
		var ds []time.Duration
		for range n {
			t := time.Now()
			resp, err := c.Get(base + page)
			if err != nil {
				return nil, err
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				return nil, fmt.Errorf("GET %s: %s", page, resp.Status)
			}
			ds = append(ds, time.Since(t))
		}
		slices.Sort(ds)
		out[page] = [2]time.Duration{ds[len(ds)/2], ds[len(ds)*95/100]}
	}
	return out, nil
}
