//go:build demo

package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"govkiosk/fleet"
)

// TestDemoServiceMode walks a technician's visit on the demo kiosk, as a
// browser without script: the door opens mid-session (the session is
// wiped, the screen says out of service and offers service mode); a token
// for another office is refused, the office's own enters service mode; a
// test print is read back when its printed PNG is shown to the kiosk's
// camera; paper out is acknowledged only once the paper is back; the
// self-test is reported to the fleet; closing the door ends service mode
// and brings back the attract screen.
func TestDemoServiceMode(t *testing.T) {
	if _, err := os.Stat("/usr/bin/scanimage"); err != nil {
		t.Fatal("sane-utils is not installed (make deps installs it): the demo's scanner is the SANE test backend")
	}
	ops, listen := freePort(t), freePort(t)
	k := startKioskProc(t, "--demo", "--data", t.TempDir(), "--listen", listen, "--ops-listen", ops, "--portal-listen", "127.0.0.1:0")
	ready := regexp.MustCompile(`kiosk ready: open (\S+)`)
	var launch string
	for deadline := time.Now().Add(60 * time.Second); launch == ""; {
		if m := ready.FindStringSubmatch(k.stdout.String()); m != nil {
			launch = m[1]
			break
		}
		select {
		case <-k.done:
			t.Fatalf("the demo kiosk exited before it was ready:\n%s", k.stderr)
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("no \"kiosk ready\" within 60s; stderr:\n%s", k.stderr)
		}
	}
	jar, _ := cookiejar.New(nil)
	c := &citizen{t: t, k: &demoKiosk{proc: k, ui: "http://" + listen}, c: &http.Client{Jar: jar, Timeout: time.Minute}}
	hc := &http.Client{Timeout: 10 * time.Second}
	control := func(path string, form url.Values) string {
		t.Helper()
		resp, err := hc.PostForm("http://"+ops+path, form)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode/100 != 2 {
			t.Fatalf("POST %s: %s %s", path, resp.Status, b)
		}
		return string(b)
	}
	// screen waits until the kiosk's screen shows all of want.
	screen := func(what string, want ...string) string {
		t.Helper()
		var page string
		for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
			page = c.get(c.k.ui + "/")
			ok := true
			for _, w := range want {
				ok = ok && strings.Contains(page, w)
			}
			if ok {
				return page
			}
		}
		t.Fatalf("waited 30s for the screen to show %s (%q):\n%.3000s\nkiosk stderr:\n%s", what, want, page, tail(k.stderr.String(), 3000))
		return ""
	}
	type record struct {
		Events []fleet.Event `json:"events"`
	}
	fleetEvent := func(what, kind string) fleet.Event {
		t.Helper()
		for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
			resp, err := hc.Get("http://" + ops + "/demo/fleet")
			if err != nil {
				continue
			}
			var r record
			json.NewDecoder(resp.Body).Decode(&r)
			resp.Body.Close()
			for _, e := range r.Events {
				if e.Kind == kind {
					return e
				}
			}
		}
		t.Fatalf("waited 30s for the fleet to record %s (event %s); stderr:\n%s", what, kind, tail(k.stderr.String(), 3000))
		return fleet.Event{}
	}

	// A citizen has started.
	c.at(c.get(launch), "attract")
	c.at(c.touch("/start"), "catalogue")

	// The door opens: the session is gone, the front says out of service.
	control("/demo/door", url.Values{"door": {"open"}})
	screen("out of service with the offer of service mode", `data-testid="out-of-service"`, `data-service="waiting"`, `data-testid="svc-offer"`)
	if page := c.touch("/start"); !strings.Contains(page, `data-testid="out-of-service"`) {
		t.Fatal("a session started while the door is open")
	}

	// A token for another office is refused; the office's own is taken.
	control("/demo/tech-token", url.Values{"office": {"XX-OTHER"}})
	screen("the other office's token refused", `data-key="svc.err.tech_office"`, `data-service="waiting"`)
	token := strings.TrimSpace(control("/demo/tech-token", nil))
	screen("service mode", `data-service="active"`, `data-testid="svc-devices"`, `data-testid="svc-device-printer"`)
	fleetEvent("the entry", "service-enter")

	// Test print, read back by the kiosk's own camera from the printed PNG.
	jobsBefore := strings.Fields(c.getOps(hc, ops, "/demo/receipts"))
	c.touch("/service/print")
	var jobs []string
	for deadline := time.Now().Add(30 * time.Second); len(jobs) <= len(jobsBefore) && time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		jobs = strings.Fields(c.getOps(hc, ops, "/demo/receipts"))
	}
	if len(jobs) <= len(jobsBefore) {
		t.Fatalf("the test print never came out of the printer; stderr:\n%s", tail(k.stderr.String(), 3000))
	}
	png, err := os.ReadFile(jobs[len(jobs)-1])
	if err != nil {
		t.Fatal(err)
	}
	screen("the test print waiting to be read back", `data-readback="false"`)
	resp, err := hc.Post("http://"+ops+"/demo/frame", "image/png", bytes.NewReader(png))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("the printed test receipt shown to the camera: %s (no QR code read in it)", resp.Status)
	}
	screen("the test print read back", `data-readback="true"`)

	// A test scan from SANE's test scanner, shown on screen.
	if page := c.touch("/service/scan"); !strings.Contains(page, `data-testid="svc-scan-page"`) {
		t.Fatalf("no test scan on screen:\n%.2000s\nkiosk stderr:\n%s", page, tail(k.stderr.String(), 2000))
	}
	if resp, err := c.c.Get(c.k.ui + "/service/scan.png?n=1"); err != nil || resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "image/png" {
		t.Fatalf("the test scan's picture: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}

	// Paper out: acknowledged only once paper is back.
	control("/demo/printer", url.Values{"paper": {"out"}})
	screen("the printer out of paper with its acknowledgement", `data-media="out"`, `data-testid="svc-ack-paper"`)
	if page := c.touch("/service/ack", "what", "paper"); !strings.Contains(page, `data-key="svc.err.still_fault"`) {
		t.Errorf("paper replaced while the printer still reports no paper was not refused:\n%.2000s", page)
	}
	control("/demo/printer", url.Values{"paper": {"ok"}})
	if page := c.touch("/service/ack", "what", "paper"); !strings.Contains(page, `data-key="svc.ok.acked"`) || strings.Contains(page, `data-testid="svc-ack-paper"`) {
		t.Errorf("paper replaced was not acknowledged:\n%.2000s", page)
	}

	// The self-test from the screen, reported to the fleet.
	page := c.touch("/service/selftest")
	if !strings.Contains(page, `data-testid="svc-selftest-report"`) {
		t.Fatalf("no self-test report on screen:\n%.2000s", page)
	}
	kind := "selftest-passed"
	if strings.Contains(page, `data-ok="false"`) {
		kind = "selftest-failed"
	}
	if e := fleetEvent("the self-test", kind); !strings.Contains(e.Detail, "printer") {
		t.Errorf("the fleet's self-test report: %q", e.Detail)
	}

	// A used token does not work twice. The reader drops a code repeated
	// within its debounce (2s), so it is held to the reader until read.
	replayed := false
	for deadline := time.Now().Add(30 * time.Second); !replayed && time.Now().Before(deadline); time.Sleep(500 * time.Millisecond) {
		resp, err := hc.Post("http://"+ops+"/demo/qr", "text/plain", strings.NewReader(token))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		replayed = strings.Contains(c.get(c.k.ui+"/"), `data-key="svc.err.tech_replayed"`)
	}
	if !replayed {
		t.Errorf("the used technician token was not refused as replayed; stderr:\n%s", tail(k.stderr.String(), 2000))
	}

	// The door closes: service mode ends, citizens are served again.
	control("/demo/door", url.Values{"door": {"closed"}})
	screen("the attract screen", `data-step="attract"`)
	if e := fleetEvent("the exit", "service-exit"); !strings.Contains(e.Detail, "door closed") {
		t.Errorf("service exit reported as %q", e.Detail)
	}
}

// getOps reads one of the demo's controls.
func (c *citizen) getOps(hc *http.Client, ops, path string) string {
	c.t.Helper()
	resp, err := hc.Get("http://" + ops + path)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}
