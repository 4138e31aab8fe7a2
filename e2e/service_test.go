package e2e

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"govkiosk/backend-client/fleetwire"
)

// refuse answers an intake request as a portal refusing the application
// for good (422). The first refusal is held past the kiosk's submit wait,
// so the citizen still leaves with a provisional receipt and the packet is
// parked afterwards, as when the portal's intake refuses later.
func (p *faultProxy) refuse(w http.ResponseWriter, r *http.Request) {
	if p.refused.Add(1) == 1 {
		select {
		case <-time.After(submitWait + time.Second):
		case <-r.Context().Done():
			return
		}
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusUnprocessableEntity)
	w.Write([]byte(`{"code":"invalid_packet","message":"the portal's intake refused the application"}`))
}

// submitWait is the kiosk's --submit-wait in setup.
const submitWait = 4 * time.Second

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
	return w.fleetEventWith(t, kind, "")
}

// fleetEventWith is fleetEvent for an event whose detail holds part.
func (w *world) fleetEventWith(t *testing.T, kind, part string) string {
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
			if e.Kind == kind && strings.Contains(e.Detail, part) {
				return e.Detail
			}
		}
	}
	t.Fatalf("waited %v for the fleet to record a %s event with %q", bound, kind, part)
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

	// Before the visit the portal's intake refused an application for good:
	// the citizen left with a provisional receipt, the packet is parked.
	w.proxy.refuseIntake.Store(true)
	earlier := w.walk(t, ctx, "vi", walkOpts{})
	if !earlier.provisional {
		t.Fatalf("the refused application got %q, want a provisional receipt", earlier.reference)
	}

	b.do("a citizen starts", click("start"), waitFor("lang-switch-en"))

	w.form(t, "/demo/door", url.Values{"door": {"open"}})
	b.do("the door opens: out of service, service mode offered", waitFor("out-of-service"), waitFor("svc-offer"), b.shot("service-offer"))
	if has(b, "lang-switch-en") || has(b, "start") {
		t.Fatal("the citizen's screen is still there with the door open")
	}

	// A technician without a code gets a one-time PIN from the fleet: the
	// fleet sends only its hash; typed on the screen's pad it opens service
	// mode, by its id.
	pin, sp, err := fleetwire.NewServicePIN(rand.Reader, "T-0042", time.Now(), 10*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	w.form(t, "/demo/fleet", url.Values{"name": {fleetwire.CmdServicePIN}, "args": {sp.Encode()}})
	w.fleetCommandDone(t, fleetwire.CmdServicePIN)
	for i, d := range pin {
		b.moveOn("type a PIN digit", click("svc-pin-key-"+string(d)))
		b.do("the digit counted", named(fmt.Sprintf("wait for %d digits", i+1), chromedp.WaitVisible(chromedp.CSS(fmt.Sprintf(`[data-testid="svc-pin-typed"][data-typed="%d"]`, i+1)))))
	}
	if screen := get(b, "screen", chromedp.Text(chromedp.CSS("body"))); strings.Contains(screen, pin) {
		t.Fatal("the PIN typed is shown on the screen")
	}
	b.do("the PIN enters service mode", click("svc-pin-enter"), waitFor("service-mode"))
	if d := w.fleetEventWith(t, "service-enter", sp.ID); d != "token "+sp.ID {
		t.Errorf("service-enter by PIN reported as %q, want pin %s", d, sp.ID)
	}
	b.do("leave, back to the offer", click("svc-leave"), waitFor("svc-offer"))

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

	// The network test reaches the portal with the kiosk's own client.
	b.moveOn("test the network", click("svc-network"))
	b.do("the network report", waitFor("svc-net"))
	if ok := get(b, "portal reached", chromedp.AttributeValue(css("svc-net"), "data-portal-ok")).Value; ok != "true" {
		t.Errorf("the network test says the portal is not reachable: %q", get(b, "portal line", chromedp.Text(css("svc-net-portal"))))
	}

	// The parked application, with the portal's reason, is sent again.
	parked := w.parkedOnScreen(t, b)
	if reason := get(b, "the parked packet's reason", chromedp.Text(css("svc-parked-"+parked))); !strings.Contains(reason, "422") && !strings.Contains(reason, "refused") {
		t.Errorf("the parked packet shows %q, want the portal's refusal", reason)
	}
	w.proxy.refuseIntake.Store(false) // the portal takes it now
	b.moveOn("send it again", click("svc-requeue-"+parked))
	b.do("requeued", named("wait for the requeue notice", chromedp.WaitVisible(chromedp.CSS(`[data-key="svc.ok.requeued"]`))))
	if has(b, "svc-parked-"+parked) {
		t.Error("the packet is still shown parked after Send again")
	}
	w.delivered(t, earlier.reference)

	w.form(t, "/demo/door", url.Values{"door": {"closed"}})
	b.do("the door closes: the attract screen", waitFor("start"))
	if d := w.fleetEventWith(t, "service-exit", "door closed"); !strings.HasPrefix(d, "token ") {
		t.Errorf("service-exit reported as %q", d)
	}
}

// fleetCommandDone waits for the demo fleet's newest command of name to be
// answered done by the kiosk.
func (w *world) fleetCommandDone(t *testing.T, name string) {
	t.Helper()
	const bound = 30 * time.Second
	state := ""
	for deadline := time.Now().Add(bound); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		resp, err := httpClient.Get(w.opsURL + "/demo/fleet")
		if err != nil {
			continue
		}
		var rec struct {
			Commands []struct{ Name, State, Result string } `json:"commands"`
		}
		json.NewDecoder(resp.Body).Decode(&rec)
		resp.Body.Close()
		for _, c := range rec.Commands {
			if c.Name == name {
				if state = c.State + ": " + c.Result; c.State == "done" {
					return
				}
				break
			}
		}
	}
	t.Fatalf("waited %v for the kiosk to answer the %s command (last: %q)", bound, name, state)
}

// parkedOnScreen waits for the service screen to show a parked packet
// and returns its id.
func (w *world) parkedOnScreen(t *testing.T, b tab) string {
	t.Helper()
	const bound = 30 * time.Second
	for deadline := time.Now().Add(bound); time.Now().Before(deadline); time.Sleep(500 * time.Millisecond) {
		b.do("the outbox section", chromedp.Navigate(w.kioskURL+"/"), waitFor("svc-outbox"))
		id := get(b, "a parked packet", chromedp.Evaluate[string](`(document.querySelector('[data-testid^="svc-parked-"]')||{dataset:{}}).getAttribute?.('data-testid')?.slice(11) ?? ""`))
		if id != "" {
			return id
		}
	}
	t.Fatalf("waited %v for the service screen to show a parked packet", bound)
	return ""
}

// delivered waits for the portal to hold the application the kiosk gave
// the provisional number.
func (w *world) delivered(t *testing.T, provisional string) {
	t.Helper()
	const bound = 30 * time.Second
	for deadline := time.Now().Add(bound); time.Now().Before(deadline); time.Sleep(300 * time.Millisecond) {
		for _, a := range w.applications(t) {
			if a.ProvisionalNumber == provisional {
				return
			}
		}
	}
	t.Fatalf("waited %v for the portal to receive the requeued application %s", bound, provisional)
}
