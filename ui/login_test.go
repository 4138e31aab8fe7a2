package ui

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"govkiosk/backend-client/api"
	"govkiosk/backend-client/identity"
	"govkiosk/kiosk"
	"govkiosk/kiosk/outbox"
	"govkiosk/portal/idp"
)

// The login tests run the real pieces a citizen's login goes through: this
// UI and the kiosk controller, the kiosk's OIDC client and the reference
// national-ID provider with its simulated phone. The test plays the kiosk
// browser (following redirects by hand) and the citizen's phone.

type nopOutbox struct{}

func (nopOutbox) Enqueue(context.Context, outbox.Packet) error { return nil }
func (nopOutbox) Kick()                                        {}
func (nopOutbox) Wait(context.Context, string) (outbox.Entry, error) {
	return outbox.Entry{}, context.Canceled
}
func (nopOutbox) Admit() error             { return nil }
func (nopOutbox) Withdraw(id string) error { return nil }

type catalogueOf api.Catalogue

func (c catalogueOf) SignedCatalogue(context.Context) (api.SignedCatalogue, error) {
	b, err := json.Marshal(api.Catalogue(c))
	return api.SignedCatalogue{Payload: b}, err
}

// loginProc is a procedure without documents: no scanner is needed.
var loginProc = api.Procedure{
	ID: "residence", Name: api.Text{"en": "Residence confirmation", "vi": "Xác nhận cư trú", "th": "หนังสือรับรองถิ่นที่อยู่"},
	Fields: []api.Field{{Name: "full_name", Type: api.FieldText, Label: api.Text{"en": "Name"}, Prefill: "name", Required: true}},
}

type loginRig struct {
	t       *testing.T
	kiosk   *httptest.Server
	provSrv *httptest.Server
	prov    *idp.Provider
	ctrl    *kiosk.Controller
	hc      *http.Client // the kiosk browser; redirects are followed by hand
}

func newLoginRig(t *testing.T) *loginRig {
	t.Helper()
	log := slog.New(slog.DiscardHandler)
	var kh, ph atomic.Value
	ks := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { kh.Load().(http.Handler).ServeHTTP(w, r) }))
	t.Cleanup(ks.Close)
	ps := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { ph.Load().(http.Handler).ServeHTTP(w, r) }))
	t.Cleanup(ps.Close)

	prov, err := idp.New(idp.Config{
		Issuer: ps.URL + "/idp", PhoneURL: ps.URL + "/phone", Log: log,
		Clients: []idp.Client{{ID: "govkiosk", RedirectURIs: []string{ks.URL + "/auth/callback"}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	ph.Store(prov.Handler())

	dir := t.TempDir()
	noVerify := func(sc api.SignedCatalogue, _ *ecdsa.PublicKey) (api.Catalogue, error) {
		var c api.Catalogue
		return c, json.Unmarshal(sc.Payload, &c)
	}
	cat := kiosk.NewCatalogue(dir, nil, noVerify, log)
	if err := cat.Refresh(context.Background(), catalogueOf{Version: "1", Procedures: []api.Procedure{loginProc}}); err != nil {
		t.Fatal(err)
	}
	cfg := kiosk.Config{KioskID: "KIOSK-0042", PortalURL: "http://portal.test", DataDir: dir,
		OfficeName: map[string]string{"en": "Tam Ky Centre", "vi": "Trung tâm Tam Kỳ", "th": "ศูนย์ตามกี่"}}
	cfg.OIDC.Issuer, cfg.OIDC.ClientID, cfg.OIDC.RedirectURL = ps.URL+"/idp", "govkiosk", ks.URL+"/auth/callback"
	cfg.SetDefaults()
	login := identity.New(identity.Config{Issuer: cfg.OIDC.Issuer, ClientID: cfg.OIDC.ClientID, RedirectURL: cfg.OIDC.RedirectURL, Log: log})
	ctrl := kiosk.NewController(kiosk.Deps{Config: cfg, Log: log, Login: login, Outbox: nopOutbox{}, Catalogue: cat})
	t.Cleanup(func() { ctrl.Close(context.Background()) })
	srv, err := New(ctrl, log)
	if err != nil {
		t.Fatal(err)
	}
	kh.Store(srv)
	hc := &http.Client{Timeout: 30 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	return &loginRig{t: t, kiosk: ks, provSrv: ps, prov: prov, ctrl: ctrl, hc: hc}
}

// get fetches u as the kiosk browser and returns the status, the redirect
// target and the body.
func (r *loginRig) get(u string) (int, string, string) {
	r.t.Helper()
	resp, err := r.hc.Get(u)
	if err != nil {
		r.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("Location"), string(b)
}

// touch posts a form to the kiosk UI, as a tap on the screen does.
func (r *loginRig) touch(path string, form url.Values) string {
	r.t.Helper()
	resp, err := r.hc.PostForm(r.kiosk.URL+path, form)
	if err != nil {
		r.t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		r.t.Fatalf("POST %s: %s", path, resp.Status)
	}
	return resp.Header.Get("Location")
}

var (
	reLoginLinkCode = regexp.MustCompile(`data-link-code="([^"]+)"`)
	reLoginWait     = regexp.MustCompile(`data-wait="([^"]+)"`)
)

// providerPage is the provider's login page as the kiosk browser shows it.
type providerPage struct {
	linkCode, waitURL, body string
}

// startLogin walks from the attract screen to the provider's login page.
func (r *loginRig) startLogin() providerPage {
	r.t.Helper()
	r.touch("/start", nil)
	r.touch("/lang", url.Values{"lang": {"vi"}})
	r.touch("/procedure", url.Values{"id": {loginProc.ID}})
	authURL := r.touch("/login/start", nil)
	if !strings.HasPrefix(authURL, r.provSrv.URL+"/idp/") {
		r.t.Fatalf("login start sent the browser to %q, not the provider", authURL)
	}
	st, _, body := r.get(authURL)
	lc, w := reLoginLinkCode.FindStringSubmatch(body), reLoginWait.FindStringSubmatch(body)
	if st != http.StatusOK || lc == nil || w == nil {
		r.t.Fatalf("provider login page: %d\n%s", st, body)
	}
	return providerPage{linkCode: lc[1], waitURL: r.provSrv.URL + w[1], body: body}
}

// approve plays the citizen's phone approving the login of page.
func (r *loginRig) approve(page providerPage, citizenID string) {
	r.t.Helper()
	b, _ := json.Marshal(map[string]string{"linkCode": page.linkCode, "citizenId": citizenID})
	resp, err := r.hc.Post(r.provSrv.URL+"/phone/api/approve", "application/json", bytes.NewReader(b))
	if err != nil {
		r.t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		r.t.Fatalf("phone approve: %s %s", resp.Status, body)
	}
}

// decided long-polls like the provider's page and returns where it sends
// the kiosk browser once the phone has decided.
func (r *loginRig) decided(page providerPage) string {
	r.t.Helper()
	_, _, body := r.get(page.waitURL)
	var wr struct{ Status, Redirect string }
	if err := json.Unmarshal([]byte(body), &wr); err != nil || wr.Redirect == "" {
		r.t.Fatalf("wait: %s (%v)", body, err)
	}
	return wr.Redirect
}

// TestJunkCallbackKeepsPendingLogin: a request to the kiosk's callback that
// does not carry the pending login's state (a stray reload, a link on some
// page, an attacker's forged answer) is refused with 400 and changes
// nothing; the citizen's real approval still logs them in.
func TestJunkCallbackKeepsPendingLogin(t *testing.T) {
	r := newLoginRig(t)
	page := r.startLogin()

	for _, junk := range []string{
		"/auth/callback",
		"/auth/callback?state=forged&code=forged",
		"/auth/callback?error=access_denied&state=forged",
	} {
		st, loc, body := r.get(r.kiosk.URL + junk)
		if st != http.StatusBadRequest {
			t.Errorf("GET %s: %d (to %q), want 400", junk, st, loc)
		}
		if !strings.Contains(body, T("vi", "login.callback_ignored")) {
			t.Errorf("GET %s: the 400 page does not say why:\n%s", junk, body)
		}
	}
	if v := r.ctrl.View(context.Background()); v.Step != kiosk.StepLogin || v.Notice != "" {
		t.Errorf("after junk callbacks the kiosk is at %s with notice %q; want the login, untouched", v.Step, v.Notice)
	}

	cit := idp.TestCitizens()[1] // Nguyễn Thị Hồng Nhung
	r.approve(page, cit.ID)
	callback := r.decided(page)
	if !strings.HasPrefix(callback, r.kiosk.URL+"/auth/callback?") {
		t.Fatalf("provider sends the browser to %q", callback)
	}
	if st, loc, _ := r.get(callback); st != http.StatusSeeOther || loc != "/" {
		t.Fatalf("real callback: %d to %q", st, loc)
	}
	v := r.ctrl.View(context.Background())
	if v.Step != kiosk.StepIdentity {
		t.Fatalf("after the real approval the kiosk is at %s (notice %q); want \"Is this you?\"", v.Step, v.Notice)
	}

	// What the screen shows now is masked: no name in full, no ID number,
	// no phone, address or birth date.
	_, _, screen := r.get(r.kiosk.URL + "/")
	if !strings.Contains(screen, "Nguyễn T** H*** N****") {
		t.Errorf("\"Is this you?\" does not show the masked name:\n%s", screen)
	}
	for _, secret := range []string{cit.Name, cit.GivenName, cit.ID, cit.Phone, cit.Address, cit.BirthDate, "Hồng", "Nhung"} {
		if strings.Contains(screen, secret) {
			t.Errorf("\"Is this you?\" shows %q", secret)
		}
	}
	if len(v.Form) != 0 {
		t.Errorf("the view carries the prefilled form before the citizen said it is them: %v", v.Form)
	}
}
