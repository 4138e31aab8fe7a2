package console

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	"govkiosk/backend-client/api"
	"govkiosk/fleet"
)

// fakePortal records what the console asks; the lifecycle against the
// real portal is fleet/service's TestEnrollAndRevokeThroughRealPortal.
type fakePortal struct {
	mu    sync.Mutex
	calls []string
	err   error
}

func (f *fakePortal) note(s string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, s)
	return f.err
}

func (f *fakePortal) CreateEnrollToken(_ context.Context, req api.EnrollTokenRequest) (api.EnrollTokenResponse, error) {
	return api.EnrollTokenResponse{Code: "govkiosk-enroll:?v=1", Office: req.Office}, f.note("enroll " + req.Office + " " + req.ReplaceKiosk)
}
func (f *fakePortal) Revoke(_ context.Context, id string, _ api.RevokeRequest) error {
	return f.note("revoke " + id)
}
func (f *fakePortal) Retire(_ context.Context, id string, _ api.RevokeRequest) error {
	return f.note("retire " + id)
}

func TestIdentityNotConfigured(t *testing.T) {
	r := newRig(t, "")
	must(t, r.st.PutKiosk(context.Background(), fleet.KioskInfo{KioskID: "K1", Office: "TH-10-1001"}))
	r.login()
	code, _, body := r.do("GET", "/enroll", nil)
	if code != 200 || !strings.Contains(body, "not configured") || !strings.Contains(body, "--portal-admin") {
		t.Errorf("enroll page without a portal: %d, want it to say it is not configured\n%s", code, body)
	}
	if _, _, body := r.do("GET", "/kiosk/K1", nil); strings.Contains(body, "/kiosk/K1/revoke") {
		t.Error("the kiosk page offers revoke without a portal")
	}
}

func TestIdentityRefusalsAndChecks(t *testing.T) {
	r := newRig(t, "")
	fp := &fakePortal{}
	r.c.o.Portal, r.c.o.Operators, r.c.o.Offices = fp, []string{"anan"}, []string{"TH-10-1001", "TH-10-1002"}
	ctx := context.Background()
	must(t, r.st.PutKiosk(ctx, fleet.KioskInfo{KioskID: "K1", Office: "TH-10-1001"}))
	must(t, r.st.PutKiosk(ctx, fleet.KioskInfo{KioskID: "K2", Office: "TH-10-1002"}))
	r.login()
	_, _, body := r.do("GET", "/enroll?office=TH-10-1001", nil)
	csrf := find(t, csrfRE, body)
	if !strings.Contains(body, "<option>K1</option>") || strings.Contains(body, "<option>K2</option>") {
		t.Errorf("the replace list of TH-10-1001 is not its kiosks only:\n%s", body)
	}
	// A kiosk of another office, an office nobody knows: refused here.
	for _, f := range []url.Values{
		{"office": {"TH-10-1001"}, "ttl": {"8"}, "replace": {"K2"}},
		{"office": {"XX-99"}, "ttl": {"8"}},
		{"office": {"TH-10-1001"}, "ttl": {"0"}},
	} {
		f.Set("csrf", csrf)
		if code, _, _ := r.do("POST", "/enroll", f); code != http.StatusBadRequest {
			t.Errorf("enroll %v: %d, want 400", f, code)
		}
	}
	if len(fp.calls) != 0 {
		t.Errorf("refused forms reached the portal: %v", fp.calls)
	}
	// A failure that is not the portal's refusal shows a code, not the error.
	fp.err = errors.New("dial tcp 10.0.0.5:443: secret-internal-detail")
	code, _, body := r.do("POST", "/kiosk/K1/retire", url.Values{"reason": {"moved"}, "confirm": {"K1"}, "csrf": {csrf}})
	if code != http.StatusInternalServerError || strings.Contains(body, "secret-internal-detail") || !strings.Contains(body, "code C") {
		t.Errorf("retire with the portal unreachable: %d, want 500 with a code only\n%s", code, body)
	}
	if v, _ := r.st.Kiosk(ctx, "K1"); v.Retired {
		t.Error("a failed retire marked the kiosk retired")
	}
	cmds, _ := r.st.Commands(ctx, "K1", 10)
	if len(cmds) != 1 || cmds[0].Name != "retire" || cmds[0].State != "failed" || cmds[0].By != "anan" {
		t.Errorf("audit of the failed retire: %+v", cmds)
	}
	// Retire without a CRL refresher: done, marked, listed as retired.
	fp.err = nil
	code, h, _ := r.do("POST", "/kiosk/K1/retire", url.Values{"reason": {"moved"}, "confirm": {"K1"}, "csrf": {csrf}})
	if code != http.StatusSeeOther || h.Get("Location") != "/kiosk/K1?identity=retired" {
		t.Errorf("retire: %d %v", code, h)
	}
	if _, _, body := r.do("GET", "/?status=retired", nil); !strings.Contains(body, ">K1<") || strings.Contains(body, ">K2<") {
		t.Errorf("the retired list is not K1 alone:\n%s", body)
	}
	if _, _, body := r.do("GET", "/", nil); strings.Contains(body, ">K1<") {
		t.Error("the retired kiosk is still in the default list")
	}
}
