package ui

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"encoding/json"
	"html"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
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

// clock is the provider's: tests move it to expire QRs.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time          { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Advance(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

type loginRig struct {
	t       *testing.T
	clk     *clock
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

	clk := &clock{t: time.Now()}
	prov, err := idp.New(idp.Config{
		Issuer: ps.URL + "/idp", PhoneURL: ps.URL + "/phone", Log: log, Now: clk.Now,
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
	cat := kiosk.NewCatalogue(dir, nil, noVerify, log, nil)
	if err := cat.Refresh(context.Background(), catalogueOf{Version: "1", ExpiresAt: time.Now().Add(time.Hour), Procedures: []api.Procedure{loginProc}}); err != nil {
		t.Fatal(err)
	}
	cfg := kiosk.Config{KioskID: "KIOSK-0042", PortalURL: "http://portal.test", DataDir: dir,
		OfficeName: map[string]string{"en": "Tam Ky Centre", "vi": "Trung tâm Tam Kỳ", "th": "ศูนย์ตามกี่"}}
	cfg.OIDC.Issuer, cfg.OIDC.ClientID, cfg.OIDC.RedirectURL = ps.URL+"/idp", "govkiosk", ks.URL+"/auth/callback"
	cfg.SetDefaults()
	login := identity.New(identity.Config{Issuer: cfg.OIDC.Issuer, ClientID: cfg.OIDC.ClientID, RedirectURL: cfg.OIDC.RedirectURL, Log: log})
	ctrl := kiosk.NewController(kiosk.Deps{Config: cfg, Log: log, Login: login, Outbox: nopOutbox{}, Catalogue: cat})
	t.Cleanup(func() { ctrl.Close(context.Background()) })
	srv, err := New(ctrl, Options{Log: log, Listen: strings.TrimPrefix(ks.URL, "http://")})
	if err != nil {
		t.Fatal(err)
	}
	kh.Store(srv)
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	hc := &http.Client{Jar: jar, Timeout: 30 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	// The UI answers only the browser it launched: this client is that browser.
	launch, err := srv.LaunchURL()
	if err != nil {
		t.Fatal(err)
	}
	resp, err := hc.Get(launch)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("launch: %s", resp.Status)
	}
	return &loginRig{t: t, clk: clk, kiosk: ks, provSrv: ps, prov: prov, ctrl: ctrl, hc: hc}
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
	reLoginNumber   = regexp.MustCompile(`id="match-number">([0-9]+)<`)
)

// providerPage is the provider's login page as the kiosk browser shows it.
type providerPage struct {
	linkCode, waitURL, number, body string
}

// startLogin walks from the attract screen to the login screen and opens
// the provider's page it frames.
func (r *loginRig) startLogin() providerPage {
	r.t.Helper()
	r.touch("/start", nil)
	r.touch("/lang", url.Values{"lang": {"vi"}})
	if loc := r.touch("/procedure", url.Values{"id": {loginProc.ID}}); loc != "/" {
		r.t.Fatalf("choosing the procedure sends the browser to %q, not the kiosk's login screen", loc)
	}
	return r.providerPage(r.frameURL())
}

var reLoginFrame = regexp.MustCompile(`<iframe class="idp" src="([^"]+)"`)

// frameURL is the provider's page the kiosk's login screen frames.
func (r *loginRig) frameURL() string {
	r.t.Helper()
	st, _, screen := r.get(r.kiosk.URL + "/")
	m := reLoginFrame.FindStringSubmatch(screen)
	if st != http.StatusOK || m == nil {
		r.t.Fatalf("the login screen frames no provider page: %d\n%s", st, screen)
	}
	return html.UnescapeString(m[1])
}

// providerPage opens the provider's login page at authURL.
func (r *loginRig) providerPage(authURL string) providerPage {
	r.t.Helper()
	if !strings.HasPrefix(authURL, r.provSrv.URL+"/idp/") {
		r.t.Fatalf("the browser is sent to %q, not the provider", authURL)
	}
	st, _, body := r.get(authURL)
	lc, w, n := reLoginLinkCode.FindStringSubmatch(body), reLoginWait.FindStringSubmatch(body), reLoginNumber.FindStringSubmatch(body)
	if st != http.StatusOK || lc == nil || w == nil || n == nil {
		r.t.Fatalf("provider login page: %d\n%s", st, body)
	}
	return providerPage{linkCode: lc[1], waitURL: r.provSrv.URL + w[1], number: n[1], body: body}
}

// approve plays the citizen's phone approving the login of page with the
// number the kiosk screen shows.
func (r *loginRig) approve(page providerPage, citizenID string) {
	r.t.Helper()
	if st := r.pick(page, citizenID, page.number); st != http.StatusNoContent {
		r.t.Fatalf("phone approve: %d", st)
	}
}

// pick plays the phone approving page's login with number picked.
func (r *loginRig) pick(page providerPage, citizenID, number string) int {
	r.t.Helper()
	b, _ := json.Marshal(map[string]string{"linkCode": page.linkCode, "citizenId": citizenID, "number": number})
	resp, err := r.hc.Post(r.provSrv.URL+"/phone/api/approve", "application/json", bytes.NewReader(b))
	if err != nil {
		r.t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
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

// TestPhoneNamesKioskAndWrongNumberRefused: the citizen's phone names the
// office, the kiosk and the procedure the kiosk is configured with; a wrong
// pick among the three numbers refuses the login, and the kiosk screen
// says so.
func TestPhoneNamesKioskAndWrongNumberRefused(t *testing.T) {
	r := newLoginRig(t)
	page := r.startLogin()
	_, _, phone := r.get(r.provSrv.URL + "/phone/link/" + page.linkCode)
	for _, want := range []string{"Trung tâm Tam Kỳ", "KIOSK-0042", "Xác nhận cư trú", `data-number="` + page.number + `"`} {
		if !strings.Contains(phone, want) {
			t.Errorf("the phone's approval page lacks %q:\n%s", want, phone)
		}
	}
	wrong := "10"
	if page.number == wrong {
		wrong = "11"
	}
	if st := r.pick(page, idp.TestCitizens()[1].ID, wrong); st != http.StatusForbidden {
		t.Fatalf("wrong number: %d", st)
	}
	if st, loc, _ := r.get(r.decided(page)); st != http.StatusSeeOther || loc != "/" {
		t.Fatalf("callback after the wrong number: %d to %q", st, loc)
	}
	if v := r.ctrl.View(context.Background()); v.Step != kiosk.StepLogin || v.Notice != kiosk.MsgLoginNumberWrong {
		t.Fatalf("kiosk at %s with notice %q", v.Step, v.Notice)
	}
	if _, _, screen := r.get(r.kiosk.URL + "/"); !strings.Contains(screen, T("vi", kiosk.MsgLoginNumberWrong)) {
		t.Errorf("the screen does not explain the refusal:\n%s", screen)
	}
}

// TestExpiredQRGetsFreshLogin: when the provider's QR has been on screen
// for 60 s, the browser comes back to the kiosk, which sends it to a fresh
// login (new QR, new number) with no touch from the citizen.
func TestExpiredQRGetsFreshLogin(t *testing.T) {
	r := newLoginRig(t)
	first := r.startLogin()
	r.clk.Advance(60 * time.Second)
	st, next, _ := r.get(r.decided(first))
	if st != http.StatusSeeOther {
		t.Fatalf("callback for the expired QR: %d to %q", st, next)
	}
	second := r.providerPage(next)
	if second.linkCode == first.linkCode {
		t.Fatal("the same QR again")
	}
	r.approve(second, idp.TestCitizens()[2].ID)
	if st, loc, _ := r.get(r.decided(second)); st != http.StatusSeeOther || loc != "/" {
		t.Fatalf("callback: %d to %q", st, loc)
	}
	if v := r.ctrl.View(context.Background()); v.Step != kiosk.StepIdentity {
		t.Fatalf("kiosk at %s with notice %q", v.Step, v.Notice)
	}
}
