package ui

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"

	"govkiosk/backend-client/fleetwire"
	"govkiosk/drivers/device"
	"govkiosk/kiosk"
	"govkiosk/kiosk/lang"
	"govkiosk/kiosk/outbox"
)

type oneTimeVerifier struct {
	mu   sync.Mutex
	used bool
}

func (v *oneTimeVerifier) Verify(data []byte) (fleetwire.TechClaims, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if string(data) != fleetwire.TechTokenPrefix+"good" {
		return fleetwire.TechClaims{}, fleetwire.ErrTechSignature
	}
	if v.used {
		return fleetwire.TechClaims{}, errors.New("replayed")
	}
	v.used = true
	return fleetwire.TechClaims{ID: "tok-1", Office: "QN-01", Technician: "T-1"}, nil
}

type listOutbox struct {
	mu      sync.Mutex
	entries []outbox.Entry
}

func (o *listOutbox) List() ([]outbox.Entry, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]outbox.Entry(nil), o.entries...), nil
}

func (o *listOutbox) Requeue(id string) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	for i := range o.entries {
		if o.entries[i].ID == id {
			o.entries[i].State = outbox.StateQueued
		}
	}
	return nil
}

func (o *listOutbox) Kick() {}

type serviceRig struct {
	s     *Server
	svc   *kiosk.Service
	ob    *listOutbox
	mu    sync.Mutex
	paper string
	code  string
}

func newServiceRig(t *testing.T) *serviceRig {
	t.Helper()
	r := &serviceRig{ob: &listOutbox{entries: []outbox.Entry{{ID: "pkt-9", State: outbox.StateNeedsAttention, LastError: "refused: form"}}}, paper: device.PaperOut}
	var err error
	r.svc, err = kiosk.NewService(kiosk.ServiceDeps{
		Verifier: &oneTimeVerifier{},
		Devices: []kiosk.ServiceDevice{
			{Name: "printer", Status: func(context.Context) device.Status {
				r.mu.Lock()
				defer r.mu.Unlock()
				return device.Status{Device: "printer", State: device.Online, Media: r.paper, Action: device.ActionClear}
			}},
			{Name: "scanner", Status: func(context.Context) device.Status {
				return device.Status{Device: "scanner", State: device.NoDevice, Action: device.ActionMaintenance}
			}},
		},
		Outbox: r.ob,
		TestPrint: func(_ context.Context, code string) (string, error) {
			r.mu.Lock()
			r.code = code
			r.mu.Unlock()
			return "job-7", nil
		},
		SelfTest: func(context.Context) (string, bool) { return "printer  online\n", true },
		TestScan: func(context.Context) ([]byte, error) { return []byte("\x89PNG test sheet"), nil },
		Version:  "1.4.0", Catalogue: func() string { return "cat-2026-12" },
		Logs: func(n int) []string {
			return []string{"level=INFO msg=\"printer status changed\" media=out"}[:min(n, 1)]
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	r.s, err = New(nil, Options{Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Service: r.svc})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func (r *serviceRig) page(t *testing.T, l string) string {
	t.Helper()
	w := httptest.NewRecorder()
	r.s.servicePage(w, httptest.NewRequest("GET", "/", nil), kiosk.View{Step: kiosk.StepOutOfService, Lang: l})
	if w.Code != 200 || !strings.Contains(w.Body.String(), "</html>") {
		t.Fatalf("service page %s: status %d", l, w.Code)
	}
	return w.Body.String()
}

func (r *serviceRig) post(t *testing.T, path string, form url.Values) {
	t.Helper()
	w := httptest.NewRecorder()
	req := httptest.NewRequest("POST", path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.s.mux.ServeHTTP(w, req)
	if w.Code != http.StatusSeeOther || w.Header().Get("Location") != "/" {
		t.Fatalf("POST %s: %d %q, want a redirect to /", path, w.Code, w.Header().Get("Location"))
	}
}

func TestServiceMessagesInEveryLanguage(t *testing.T) {
	for _, key := range kiosk.ServiceMessageKeys {
		for _, l := range lang.Codes() {
			if _, ok := messages[l][key]; !ok {
				t.Errorf("no %s message for %q", l, key)
			}
		}
	}
	for k := range serviceMessages[lang.Fallback] {
		if strings.HasSuffix(k, pluralOne) {
			continue // a form for one, where the language has one (TestEveryMessageInEveryLanguage)
		}
		for _, l := range lang.Codes() {
			if _, ok := serviceMessages[l][k]; !ok {
				t.Errorf("no %s service message for %q", l, k)
			}
		}
	}
}

// TestServicePageRenders: before a technician code the screen says "out of
// service" and asks for one; in service mode it shows every device with
// what to do in words, the acknowledgement its fault asks for, the parked
// packet with its requeue button and the versions, in every language and
// with no message key left on screen.
func TestServicePageRenders(t *testing.T) {
	r := newServiceRig(t)
	r.svc.SetDoor(true)
	leak := regexp.MustCompile(`>[^<]*\bsvc\.[a-z_.]+`)
	for _, l := range lang.Codes() {
		body := r.page(t, l)
		if !strings.Contains(body, T(l, "outofservice.title")) || !strings.Contains(body, T(l, "svc.offer")) || strings.Contains(body, `data-testid="svc-devices"`) {
			t.Errorf("%s: the waiting screen does not offer service mode, or shows devices", l)
		}
	}
	r.svc.HandleScan([]byte(fleetwire.TechTokenPrefix + "good"))
	for _, l := range lang.Codes() {
		body := r.page(t, l)
		for _, want := range []string{
			`data-testid="service-mode"`, T(l, "svc.do.printer.out"), T(l, "svc.do.nodevice"),
			`data-testid="svc-ack-paper"`, `data-testid="svc-requeue-pkt-9"`, "1.4.0", "cat-2026-12", T(l, "svc.media.out"),
			`msg=&#34;printer status changed&#34; media=out`,
		} {
			if !strings.Contains(body, want) {
				t.Errorf("%s: service screen lacks %q", l, want)
			}
		}
		if strings.Contains(body, `svc-ack-feeder`) {
			t.Errorf("%s: a feeder acknowledgement for a scanner that is not jammed", l)
		}
		if m := leak.FindString(body); m != "" {
			t.Errorf("%s: untranslated key on screen: %q", l, m)
		}
	}
}

// TestServiceActionsAsForms drives service mode with plain form posts, as
// the touchscreen does without script.
func TestServiceActionsAsForms(t *testing.T) {
	r := newServiceRig(t)
	r.svc.SetDoor(true)
	r.post(t, "/service/print", nil)
	if r.code != "" {
		t.Fatal("a test print ran before a technician code was read")
	}
	r.svc.HandleScan([]byte(fleetwire.TechTokenPrefix + "good"))

	r.post(t, "/service/lang", url.Values{"lang": {"vi"}})
	if body := r.page(t, "en"); !strings.Contains(body, T("vi", "svc.title")) {
		t.Error("the technician's language choice was not kept")
	}
	r.post(t, "/service/lang", url.Values{"lang": {"en"}})

	r.post(t, "/service/print", nil)
	if !strings.HasPrefix(r.code, kiosk.TestPrintPrefix) {
		t.Fatalf("test print code %q", r.code)
	}
	r.svc.HandleScan([]byte(r.code))
	if body := r.page(t, "en"); !strings.Contains(body, T("en", "svc.read_back")) || !strings.Contains(body, `data-readback="true"`) {
		t.Error("the read-back is not on screen")
	}

	r.post(t, "/service/ack", url.Values{"what": {kiosk.AckPaper}})
	if body := r.page(t, "en"); !strings.Contains(body, T("en", kiosk.MsgSvcStillFault)) {
		t.Error("acknowledging while the paper is still out does not say so")
	}
	r.mu.Lock()
	r.paper = device.PaperFull
	r.mu.Unlock()
	r.post(t, "/service/ack", url.Values{"what": {kiosk.AckPaper}})
	if body := r.page(t, "en"); !strings.Contains(body, T("en", kiosk.MsgSvcAcked)) || strings.Contains(body, "svc-ack-paper") {
		t.Error("paper replaced: not acknowledged, or still offered")
	}

	r.post(t, "/service/requeue", url.Values{"id": {"pkt-9"}})
	if body := r.page(t, "en"); strings.Contains(body, "svc-parked-pkt-9") || !strings.Contains(body, T("en", kiosk.MsgSvcRequeued)) {
		t.Error("the parked packet is still shown after requeue")
	}

	r.post(t, "/service/selftest", nil)
	if body := r.page(t, "en"); !strings.Contains(body, `data-testid="svc-selftest-report" data-ok="true"`) || !strings.Contains(body, "printer  online") {
		t.Error("the self-test report is not on screen")
	}

	r.post(t, "/service/scan", nil)
	if body := r.page(t, "en"); !strings.Contains(body, `src="/service/scan.png?n=1"`) {
		t.Error("the test scan is not on screen")
	}
	scanPNG := func() (int, string) {
		w := httptest.NewRecorder()
		r.s.mux.ServeHTTP(w, httptest.NewRequest("GET", "/service/scan.png", nil))
		return w.Code, w.Body.String()
	}
	if code, body := scanPNG(); code != 200 || body != "\x89PNG test sheet" {
		t.Errorf("GET /service/scan.png: %d %q", code, body)
	}

	r.post(t, "/service/leave", nil)
	if code, _ := scanPNG(); code != http.StatusNotFound {
		t.Errorf("the test scan is still served after service mode: %d", code)
	}
	if r.svc.Active() {
		t.Fatal("still in service mode after leaving")
	}
	if body := r.page(t, "en"); !strings.Contains(body, `data-testid="out-of-service"`) {
		t.Error("after leaving, the screen does not say out of service")
	}
}
