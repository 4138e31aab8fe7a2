package provisioning

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/creack/pty"

	"govkiosk/drivers/device"
)

// stepClock advances by step on every call.
func stepClock(start time.Time, step time.Duration) func() time.Time {
	t := start.Add(-step)
	return func() time.Time { t = t.Add(step); return t }
}

func sampleChecks() []Check {
	return []Check{
		{Name: "printer", Run: func(context.Context) device.Status {
			return device.Status{Device: "printer", State: device.Online, Media: device.PaperLow}
		}},
		{Name: "scanner", Run: func(context.Context) device.Status {
			return device.Status{Device: "scanner", State: device.UserError, Media: device.ScannerCoverOpen,
				Action: device.ActionClear, Detail: "cover\nopen"}
		}},
		{Name: "sensors", Run: func(context.Context) device.Status { panic("gpio exploded") }},
	}
}

func TestSelfTestReport(t *testing.T) {
	rep := SelfTest(context.Background(), "KSK-0042", sampleChecks(), stepClock(testNow, 5*time.Millisecond))
	if rep.OK {
		t.Error("report OK with failing checks")
	}
	if rep.KioskID != "KSK-0042" || !rep.At.Equal(testNow) {
		t.Errorf("header = %q %v", rep.KioskID, rep.At)
	}
	want := []struct {
		name  string
		state device.State
		ok    bool
	}{
		{"printer", device.Online, true},
		{"scanner", device.UserError, false},
		{"sensors", device.HardwareError, false},
	}
	if len(rep.Results) != len(want) {
		t.Fatalf("%d results, want %d", len(rep.Results), len(want))
	}
	for i, w := range want {
		r := rep.Results[i]
		if r.Name != w.name || r.Status.State != w.state || r.OK != w.ok || r.Took != 5*time.Millisecond {
			t.Errorf("result %d = %+v, want %+v", i, r, w)
		}
		if r.Status.Device != w.name || r.Status.At.IsZero() {
			t.Errorf("result %d status not filled: %+v", i, r.Status)
		}
	}
	if d := rep.Results[2].Status.Detail; !strings.Contains(d, "panicked: gpio exploded") {
		t.Errorf("panic detail = %q", d)
	}

	var text bytes.Buffer
	if err := rep.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(text.String(), "\n"), "\n")
	if len(lines) != 4 {
		t.Fatalf("text has %d lines, want 4:\n%s", len(lines), text.String())
	}
	for i, want := range [][]string{
		{"PASS", "printer", "online", "media=low", "action=-", "5ms"},
		{"FAIL", "scanner", "userError", "media=coverOpen", "action=clear", "cover open"},
		{"FAIL", "sensors", "hardwareError", "media=-", "action=maintenance", "check panicked: gpio exploded"},
		{"FAIL: kiosk KSK-0042, 1 of 3 checks passed at 2026-03-01T10:00:00Z"},
	} {
		for _, w := range want {
			if !strings.Contains(lines[i], w) {
				t.Errorf("line %d %q lacks %q", i, lines[i], w)
			}
		}
		if i < 3 && !strings.HasPrefix(lines[i], want[0]+" ") {
			t.Errorf("line %d %q does not start with %s", i, lines[i], want[0])
		}
	}

	var js bytes.Buffer
	if err := rep.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{`"kioskId": "KSK-0042"`, `"ok": false`, `"took": "5ms"`, `"state": "hardwareError"`, `"media": "coverOpen"`} {
		if !strings.Contains(js.String(), w) {
			t.Errorf("JSON lacks %s:\n%s", w, js.String())
		}
	}
	var back Report
	if err := json.Unmarshal(js.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	if len(back.Results) != 3 || back.Results[1].Took != 5*time.Millisecond || back.Results[2].Status.State != device.HardwareError || back.OK {
		t.Errorf("JSON round trip = %+v", back)
	}
}

func TestSelfTestAllPassAndTimeout(t *testing.T) {
	ok := SelfTest(context.Background(), "K", sampleChecks()[:1], nil)
	if !ok.OK {
		t.Errorf("all-pass report not OK: %+v", ok)
	}
	var buf bytes.Buffer
	if err := ok.WriteText(&buf); err != nil || !strings.Contains(buf.String(), "PASS: kiosk K, 1 of 1") {
		t.Errorf("summary = %q (%v)", buf.String(), err)
	}

	// A check that only returns when its context ends: with the parent
	// already cancelled the self-test must not hang, and reports a failure.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	block := make(chan struct{})
	defer close(block)
	rep := SelfTest(ctx, "K", []Check{
		{Name: "stuck", Run: func(context.Context) device.Status { <-block; return device.Status{State: device.Online} }},
		{Name: "nil"},
	}, nil)
	if rep.OK || len(rep.Results) != 2 {
		t.Fatalf("report = %+v", rep)
	}
	for _, r := range rep.Results {
		if r.OK || r.Status.State != device.HardwareError {
			t.Errorf("%s = %+v, want hardwareError", r.Name, r.Status)
		}
	}
}

func TestSerialPortCheck(t *testing.T) {
	ptmx, tty, err := pty.Open()
	if err != nil {
		t.Fatalf("pty: %v", err)
	}
	defer ptmx.Close()
	defer tty.Close()
	notTTY := filepath.Join(t.TempDir(), "plain")
	if err := os.WriteFile(notTTY, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, port string
		want       device.State
	}{
		{"pty opens", tty.Name(), device.Online},
		{"missing", filepath.Join(t.TempDir(), "ttyNOPE"), device.NoDevice},
		{"not a tty", notTTY, device.HardwareError},
	}
	for _, tc := range tests {
		st := SerialPortCheck("qrreader", tc.port, 9600, nil).Run(context.Background())
		if st.State != tc.want || st.Device != "qrreader" {
			t.Errorf("%s: status = %+v, want %s", tc.name, st, tc.want)
		}
	}
}

func TestPortalCheck(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/good/api/v1/catalogue" {
			w.Write([]byte(`{}`))
			return
		}
		http.Error(w, "down", http.StatusServiceUnavailable)
	}))
	defer srv.Close()
	tests := []struct {
		url  string
		want device.State
	}{
		{srv.URL + "/good", device.Online},
		{srv.URL + "/bad", device.Offline},
		{"http://127.0.0.1:1", device.Offline},
		{"::bad", device.HardwareError},
	}
	for _, tc := range tests {
		st := PortalCheck(tc.url, srv.Client(), nil).Run(context.Background())
		if st.State != tc.want || st.Device != "portal" {
			t.Errorf("%s: %+v, want %s", tc.url, st, tc.want)
		}
	}
}

func TestTookFormat(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0:                       "<1ms",
		999 * time.Microsecond:  "<1ms",
		1499 * time.Microsecond: "1ms",
		2500 * time.Millisecond: "2.5s",
	} {
		if got := took(d); got != want {
			t.Errorf("took(%v) = %q, want %q", d, got, want)
		}
	}
}
