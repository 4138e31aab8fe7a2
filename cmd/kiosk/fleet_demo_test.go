//go:build demo

package main

import (
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

// The demo kiosk joins the demo's embedded fleet service over mutual TLS
// with its enrollment certificate: it is shown online with a snapshot, and
// a remote self-test comes back answered.
func TestDemoKioskInTheFleet(t *testing.T) {
	if _, err := os.Stat("/usr/bin/scanimage"); err != nil {
		t.Skip("sane-utils is not installed (make deps installs it)")
	}
	ops := freePort(t)
	args := []string{"--demo", "--data", t.TempDir(), "--listen", freePort(t), "--ops-listen", ops, "--portal-listen", "127.0.0.1:0"}
	k := startKioskProc(t, args...)
	hc := &http.Client{Timeout: 5 * time.Second}
	type view struct {
		Kiosk    fleet.KioskView `json:"kiosk"`
		Commands []fleet.Command `json:"commands"`
	}
	get := func() (v view) {
		resp, err := hc.Get("http://" + ops + "/demo/fleet")
		if err != nil {
			return v
		}
		defer resp.Body.Close()
		json.NewDecoder(resp.Body).Decode(&v)
		return v
	}
	wait := func(what string, cond func(view) bool) view {
		deadline := time.Now().Add(60 * time.Second)
		for {
			if v := get(); cond(v) {
				return v
			}
			select {
			case <-k.done:
				t.Fatalf("the demo kiosk exited:\n%s", k.stderr)
			case <-time.After(200 * time.Millisecond):
			}
			if time.Now().After(deadline) {
				t.Fatalf("waited 60s for %s; stderr:\n%s", what, k.stderr)
			}
		}
	}
	v := wait("the kiosk online in the demo fleet with a snapshot", func(v view) bool {
		return v.Kiosk.Online && v.Kiosk.Snapshot != nil && len(v.Kiosk.Snapshot.Devices) > 0
	})
	if v.Kiosk.Snapshot.Version == "" || v.Kiosk.Snapshot.CertNotAfter.IsZero() {
		t.Errorf("snapshot %+v, want the version and the device certificate's expiry", v.Kiosk.Snapshot)
	}
	resp, err := hc.PostForm("http://"+ops+"/demo/fleet", url.Values{"name": {"selftest"}})
	if err != nil {
		t.Fatal(err)
	}
	var sent fleet.Command
	json.NewDecoder(resp.Body).Decode(&sent)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || sent.ID == "" {
		t.Fatalf("send selftest: %s %+v", resp.Status, sent)
	}
	wait("the self-test answered", func(v view) bool {
		for _, c := range v.Commands {
			if c.ID == sent.ID && c.State != "pending" && c.Result != "" {
				return true
			}
		}
		return false
	})

	// The banner gives the fleet console and its staff login; the console
	// lists the kiosk to that user only.
	m := regexp.MustCompile(`fleet console:\s+(http://127\.0\.0\.1:\d+/)\s+\(user (\S+), password (\S+);`).FindStringSubmatch(k.stdout.String())
	if m == nil {
		t.Fatalf("the banner gives no fleet console with its user and password:\n%s", k.stdout)
	}
	jar, _ := cookiejar.New(nil)
	staff := &http.Client{Jar: jar, Timeout: 10 * time.Second}
	resp, err = staff.PostForm(m[1]+"login", url.Values{"user": {m[2]}, "password": {"not " + m[3]}, "next": {"/"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("fleet console login with a wrong password = %s, want 401", resp.Status)
	}
	resp, err = staff.PostForm(m[1]+"login", url.Values{"user": {m[2]}, "password": {m[3]}, "next": {"/"}})
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), v.Kiosk.KioskID) {
		t.Errorf("fleet console after login = %s, want the kiosk %q listed:\n%s", resp.Status, v.Kiosk.KioskID, body)
	}
	resp, err = hc.Get(m[1] + "metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), `govkiosk_fleet_kiosk_online{kiosk="`+v.Kiosk.KioskID+`"`) {
		t.Errorf("fleet /metrics lacks the kiosk's series:\n%.2000s", body)
	}
	// The demo fleet keeps the embedded portal's revocation list, and its
	// staff member may enroll kiosks for the demo's office.
	if !regexp.MustCompile(`(?m)^govkiosk_fleet_crl_number [1-9]`).Match(body) {
		t.Errorf("fleet /metrics has no revocation list from the embedded portal:\n%.3000s", body)
	}
	resp, err = staff.Get(m[1] + "enroll?office=" + v.Kiosk.Office)
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `name="ttl"`) || !strings.Contains(string(body), "<option>"+v.Kiosk.KioskID+"</option>") {
		t.Errorf("fleet console enroll page = %s, want the form with the kiosk to replace:\n%s", resp.Status, body)
	}
}
