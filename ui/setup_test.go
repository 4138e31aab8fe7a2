package ui

import (
	"context"
	"io"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"

	"govkiosk/backend-client/api"
	"govkiosk/backend-client/fleetwire"
	"govkiosk/kiosk"
	"govkiosk/kiosk/lang"
)

// Every key of the setup screen, of the revoked screen and of
// decommissioning is there in every language.
func TestSetupAndDecommissionMessagesInEveryLanguage(t *testing.T) {
	keys := append([]string(nil), kiosk.DecommissionKeys...)
	for k := range setupMessages[lang.Fallback] {
		keys = append(keys, k)
	}
	for _, r := range []string{"token-used", "token-expired", "token-invalid", "token-scope", "wrong-ca", "wrong-office", "unreachable", "other"} {
		keys = append(keys, "setup.fail."+r)
	}
	for _, n := range []string{kiosk.SetupNoticeNotCode, kiosk.SetupNoticeBadCode, kiosk.SetupNoticeBusy} {
		keys = append(keys, "setup.notice."+n)
	}
	for _, key := range keys {
		for _, l := range lang.Codes() {
			if messages[l][key] == "" {
				t.Errorf("no %s message for %q", l, key)
			}
		}
	}
}

// The setup screen shows each step in the three languages at once, with
// plain forms for its two actions and nothing inline the CSP blocks.
func TestSetupScreenSteps(t *testing.T) {
	enrolled := make(chan struct{})
	st := kiosk.NewSetup(kiosk.SetupDeps{
		Enroll: func(ctx context.Context, c api.EnrollCode) (string, string, error) {
			<-enrolled
			return "KSK-42", c.Office, nil
		},
		SelfTest: func(context.Context) []kiosk.SetupCheck {
			return []kiosk.SetupCheck{{Name: "qrreader", OK: true, State: "online"}, {Name: "portal", OK: false, State: "offline", Detail: "no answer"}}
		},
	})
	s, err := NewSetup(st, Options{Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Listen: "127.0.0.1:8080"})
	if err != nil {
		t.Fatal(err)
	}
	page := func() string {
		w := httptest.NewRecorder()
		s.setupPage(w, httptest.NewRequest("GET", "/", nil))
		return w.Body.String()
	}
	got := page()
	for _, l := range []string{"th", "vi", "en"} {
		if !strings.Contains(got, T(l, "setup.title")) || !strings.Contains(got, T(l, "setup.hold")) {
			t.Errorf("waiting screen lacks the %s text", l)
		}
	}
	if !strings.Contains(got, `http-equiv="refresh"`) {
		t.Error("the waiting screen does not reload itself")
	}
	st.Scan(context.Background(), []byte(api.EnrollCode{PortalURL: "https://p.example", Token: "T", CAFingerprint: "sha256:" + strings.Repeat("ab", 32), Office: "QN-TK"}.String()))
	if got = page(); !strings.Contains(got, `data-testid="setup-enrolling"`) {
		t.Errorf("no enrolling screen:\n%s", got)
	}
	close(enrolled)
	st.Wait()
	got = page()
	for _, want := range []string{`data-testid="setup-kiosk-id">KSK-42<`, `data-testid="setup-check-portal" data-ok="false"`, `data-ok="false"`, `action="/setup/start"`, T("vi", "setup.test_false")} {
		if !strings.Contains(got, want) {
			t.Errorf("ready screen lacks %q", want)
		}
	}
	if strings.Contains(got, `http-equiv="refresh"`) {
		t.Error("the ready screen reloads itself under the technician's finger")
	}
	for _, bad := range []string{"<script>", "<style", " style=", " onclick="} {
		if strings.Contains(got, bad) {
			t.Errorf("inline code %q on the setup screen", bad)
		}
	}
}

// The service screen offers decommissioning behind a confirm screen.
func TestServiceDecommissionScreen(t *testing.T) {
	r := newServiceRig(t)
	svc, err := kiosk.NewService(kiosk.ServiceDeps{Verifier: &oneTimeVerifier{}, Decommission: func(context.Context, string) error {
		return nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	r.svc = svc
	r.s.svc = svc
	svc.SetDoor(true)
	svc.HandleScan([]byte(fleetwire.TechTokenPrefix + "good"))
	if !svc.Active() {
		t.Fatal("service mode not entered")
	}
	if got := r.page(t, "en"); !strings.Contains(got, `data-testid="svc-decom-ask"`) || !strings.Contains(got, "Decommission this kiosk") {
		t.Fatalf("no decommission action on the service screen:\n%s", got)
	}
	r.post(t, "/service/decommission/ask", nil)
	got := r.page(t, "th")
	if !strings.Contains(got, T("th", "svc.decom.confirm")) || !strings.Contains(got, `action="/service/decommission"`) {
		t.Errorf("no confirm screen:\n%s", got)
	}
	r.post(t, "/service/decommission", nil)
	if got := r.page(t, "en"); !strings.Contains(got, `data-testid="svc-decom-done"`) {
		t.Errorf("no decommissioned notice:\n%s", got)
	}
}
