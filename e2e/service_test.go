package e2e

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// control posts to one of the demo kiosk's controls on its ops port.
func (w *world) control(t *testing.T, path, ctype string, body []byte) string {
	t.Helper()
	resp, err := httpClient.Post(w.opsURL+path, ctype, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	b.ReadFrom(resp.Body)
	if resp.StatusCode/100 != 2 {
		t.Fatalf("POST %s: %s %s", path, resp.Status, b.String())
	}
	return b.String()
}

func (w *world) form(t *testing.T, path string, v url.Values) string {
	t.Helper()
	return w.control(t, path, "application/x-www-form-urlencoded", []byte(v.Encode()))
}

// fleetEvent waits for the demo fleet to have recorded an event of kind
// from this kiosk and returns its detail.
func (w *world) fleetEvent(t *testing.T, kind string) string {
	t.Helper()
	const bound = 30 * time.Second
	for deadline := time.Now().Add(bound); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		resp, err := httpClient.Get(w.opsURL + "/demo/fleet")
		if err != nil {
			continue
		}
		var rec struct {
			Events []struct{ Kind, Detail string } `json:"events"`
		}
		json.NewDecoder(resp.Body).Decode(&rec)
		resp.Body.Close()
		for _, e := range rec.Events {
			if e.Kind == kind {
				return e.Detail
			}
		}
	}
	t.Fatalf("waited %v for the fleet to record a %s event", bound, kind)
	return ""
}

// TestTechnicianVisit: the cabinet door opens while a citizen is at the
// catalogue, and a technician services the kiosk from its touchscreen in
// Chromium: the session is wiped and the front says out of service; the
// technician's code enters service mode; the test print's QR (read by
// zbarimg too) is read back by the kiosk's camera; paper out is
// acknowledged once paper is back; the self-test reaches the fleet; the
// door closes and the attract screen is back. Every redraw here comes from
// the kiosk's event stream, as on the appliance.
func TestTechnicianVisit(t *testing.T) {
	w := setup(t)
	ctx := browser(t)
	w.launch(t, ctx)
	b := tab{t, ctx, nil}
	b.do("a citizen starts", click("start"), waitFor("lang-switch-en"))

	w.form(t, "/demo/door", url.Values{"door": {"open"}})
	b.do("the door opens: out of service, service mode offered", waitFor("out-of-service"), waitFor("svc-offer"), b.shot("service-offer"))
	if has(b, "lang-switch-en") || has(b, "start") {
		t.Fatal("the citizen's screen is still there with the door open")
	}

	w.control(t, "/demo/tech-token", "text/plain", nil)
	b.do("the technician code enters service mode", waitFor("service-mode"), waitFor("svc-device-printer"), b.shot("service-mode"))
	if d := w.fleetEvent(t, "service-enter"); !strings.HasPrefix(d, "token ") {
		t.Errorf("service-enter reported as %q", d)
	}

	receipts := filepath.Join(w.dataDir, "receipts")
	before, _ := filepath.Glob(filepath.Join(receipts, "job-*.png"))
	b.moveOn("print a test receipt", click("svc-print"))
	b.do("the test receipt is out", waitFor("svc-print-state"))
	var jobs []string
	for deadline := time.Now().Add(20 * time.Second); len(jobs) <= len(before) && time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		jobs, _ = filepath.Glob(filepath.Join(receipts, "job-*.png"))
	}
	if len(jobs) <= len(before) {
		t.Fatalf("waited 20s: no test receipt in %s", receipts)
	}
	if got := w.receiptQR(t, len(jobs)); !strings.HasPrefix(got, "GKTEST:") {
		t.Fatalf("zbarimg reads %q on the test receipt, want a GKTEST: code", got)
	}
	png, err := os.ReadFile(jobs[len(jobs)-1])
	if err != nil {
		t.Fatal(err)
	}
	if resp, err := httpClient.Post(w.opsURL+"/demo/frame", "image/png", bytes.NewReader(png)); err != nil || resp.StatusCode != http.StatusNoContent {
		t.Fatalf("the test receipt shown to the camera: %v %v", resp, err)
	}
	b.do("the test receipt is read back", named("wait for the read-back", chromedp.WaitVisible(chromedp.CSS(`[data-testid="svc-print-state"][data-readback="true"]`))))

	w.form(t, "/demo/printer", url.Values{"paper": {"out"}})
	b.do("paper out shows with its acknowledgement", chromedp.Navigate(w.kioskURL+"/"), waitFor("svc-ack-paper"))
	w.form(t, "/demo/printer", url.Values{"paper": {"ok"}})
	b.moveOn("paper replaced", click("svc-ack-paper"))
	b.do("paper acknowledged", named("wait for the acknowledgement", chromedp.WaitVisible(chromedp.CSS(`[data-key="svc.ok.acked"]`))))
	if has(b, "svc-ack-paper") {
		t.Error("paper replaced still offered after the acknowledgement")
	}

	b.moveOn("run the self-test", click("svc-selftest"))
	b.doWithin("the self-test report", slowBound, waitFor("svc-selftest-report"), b.shot("service-selftest"))
	ok := get(b, "the self-test verdict", chromedp.Evaluate[string](`document.querySelector('[data-testid="svc-selftest-report"]').dataset.ok`))
	kind := map[string]string{"true": "selftest-passed", "false": "selftest-failed"}[ok]
	if kind == "" {
		t.Fatalf("self-test verdict %q", ok)
	}
	if d := w.fleetEvent(t, kind); !strings.Contains(d, "printer") {
		t.Errorf("the fleet's self-test report names no printer: %q", d)
	}

	w.form(t, "/demo/door", url.Values{"door": {"closed"}})
	b.do("the door closes: the attract screen", waitFor("start"))
	if d := w.fleetEvent(t, "service-exit"); !strings.Contains(d, "door closed") {
		t.Errorf("service-exit reported as %q", d)
	}
}
