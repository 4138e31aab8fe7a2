//go:build demo

package main

import (
	"encoding/json"
	"net/http"
	"net/url"
	"os"
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
}
