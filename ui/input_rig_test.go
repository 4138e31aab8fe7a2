package ui

import (
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
	"testing"
	"time"

	"govkiosk/backend-client/api"
	"govkiosk/backend-client/identity"
	"govkiosk/kiosk"
	"govkiosk/kiosk/voice"
)

// inputProc has a field of every kind the keyboard serves.
var inputProc = api.Procedure{
	ID: "food-shop", Name: api.Text{"en": "Food shop", "vi": "Cửa hàng ăn uống", "th": "ร้านอาหาร"},
	Fields: []api.Field{
		{Name: "full_name", Type: api.FieldText, Label: api.Text{"en": "Name"}, Prefill: "name", ReadOnly: true, Required: true},
		{Name: "shop_name", Type: api.FieldText, Label: api.Text{"en": "Shop name", "th": "ชื่อร้าน", "vi": "Tên cửa hàng"}, Required: true, MinLen: 2, MaxLen: 120},
		{Name: "area", Type: api.FieldNumber, Label: api.Text{"en": "Floor area"}, Required: true, Min: ptr(1.0), Max: ptr(200.0)},
		{Name: "phone", Type: api.FieldPhone, Label: api.Text{"en": "Phone"}, Required: true, Pattern: `\+?[0-9]{9,15}`},
		{Name: "kind", Type: api.FieldSelect, Label: api.Text{"en": "Kind"}, Required: true, Options: []api.Option{
			{Value: "restaurant", Label: api.Text{"en": "Restaurant", "th": "ร้านอาหาร", "vi": "Nhà hàng"}},
			{Value: "stall", Label: api.Text{"en": "Stall", "th": "แผงลอย", "vi": "Quầy hàng"}},
		}},
	},
	Documents: []api.DocumentRequirement{{Type: "site-map", Label: api.Text{"en": "Site map"}, MinPages: 1, MaxPages: 2}},
	Currency:  "THB", ProcessingDays: 7,
}

func ptr(f float64) *float64 { return &f }

type inputCatalogue api.Catalogue

func (c inputCatalogue) SignedCatalogue(context.Context) (api.SignedCatalogue, error) {
	b, err := json.Marshal(api.Catalogue(c))
	return api.SignedCatalogue{Payload: b}, err
}

// inputLogin logs every citizen in at once as the same test citizen.
type inputLogin struct{}

func (inputLogin) BeginBound(context.Context, string, identity.Binding) (string, *identity.Pending, error) {
	return "/", &identity.Pending{}, nil
}
func (inputLogin) CallbackMatches(p *identity.Pending, q url.Values) bool { return p != nil }
func (inputLogin) Complete(context.Context, *identity.Pending, url.Values) (*identity.Identity, error) {
	return &identity.Identity{CitizenID: "1101700230705", Name: "สมหญิง ใจดี", BirthDate: "1948-01-20", Phone: "0812345678", AccessToken: "at"}, nil
}
func (inputLogin) EndSession(context.Context, *identity.Identity) error { return nil }

// inputRig is the UI with a real controller whose citizen is logged in and
// on the form, and a browser bound to the UI.
type inputRig struct {
	t    *testing.T
	ctrl *kiosk.Controller
	srv  *Server
	ts   *httptest.Server
	hc   *http.Client
}

func newInputRig(t *testing.T, lang string, sp *voice.Speaker) *inputRig {
	t.Helper()
	log := slog.New(slog.DiscardHandler)
	ts := httptest.NewUnstartedServer(nil)
	dir := t.TempDir()
	noVerify := func(sc api.SignedCatalogue, _ *ecdsa.PublicKey) (api.Catalogue, error) {
		var c api.Catalogue
		return c, json.Unmarshal(sc.Payload, &c)
	}
	cat := kiosk.NewCatalogue(dir, nil, noVerify, log, nil)
	if err := cat.Refresh(context.Background(), inputCatalogue{Version: "1", ExpiresAt: time.Now().Add(time.Hour), Procedures: []api.Procedure{inputProc}}); err != nil {
		t.Fatal(err)
	}
	cfg := kiosk.Config{KioskID: "KIOSK-0077", PortalURL: "http://portal.test", DataDir: dir,
		OfficeName: map[string]string{"en": "Chiang Mai", "vi": "Chiang Mai", "th": "เชียงใหม่"}}
	cfg.OIDC.Issuer, cfg.OIDC.ClientID, cfg.OIDC.RedirectURL = "http://idp.test", "govkiosk", "http://"+ts.Listener.Addr().String()+"/auth/callback"
	cfg.SetDefaults()
	ctrl := kiosk.NewController(kiosk.Deps{Config: cfg, Log: log, Login: inputLogin{}, Outbox: nopOutbox{}, Catalogue: cat})
	t.Cleanup(func() { ctrl.Close(context.Background()) })
	srv, err := New(ctrl, Options{Log: log, Listen: ts.Listener.Addr().String(), Voice: sp})
	if err != nil {
		t.Fatal(err)
	}
	ts.Config.Handler = srv
	ts.Start()
	t.Cleanup(ts.Close)
	r := &inputRig{t: t, ctrl: ctrl, srv: srv, ts: ts}
	r.hc = r.bind()
	ctx := context.Background()
	ctrl.Start()
	if err := ctrl.SetLanguage(lang); err != nil {
		t.Fatal(err)
	}
	if err := ctrl.ChooseProcedure(ctx, inputProc.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := ctrl.BeginLogin(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := ctrl.CompleteLogin(ctx, url.Values{"state": {"s"}, "code": {"c"}}); err != nil {
		t.Fatal(err)
	}
	if err := ctrl.ConfirmIdentity(true); err != nil {
		t.Fatal(err)
	}
	if s := ctrl.Step(); s != kiosk.StepForm {
		t.Fatalf("the rig's citizen is at %s, not the form", s)
	}
	return r
}

// bind trades a fresh launch URL: the client that opens it is the browser
// the UI answers from then on.
func (r *inputRig) bind() *http.Client {
	r.t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		r.t.Fatal(err)
	}
	hc := &http.Client{Jar: jar, Timeout: 20 * time.Second}
	launch, err := r.srv.LaunchURL()
	if err != nil {
		r.t.Fatal(err)
	}
	resp, err := hc.Get(launch)
	if err != nil {
		r.t.Fatal(err)
	}
	resp.Body.Close()
	return hc
}

// post sends a form as a tap does and returns the page the browser is
// sent back to, and its address.
func (r *inputRig) post(path string, form url.Values) (string, string) {
	r.t.Helper()
	resp, err := r.hc.PostForm(r.ts.URL+path, form)
	if err != nil {
		r.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		r.t.Fatalf("POST %s: %s\n%s", path, resp.Status, b)
	}
	return string(b), resp.Request.URL.String()
}

func (r *inputRig) get(path string) string {
	r.t.Helper()
	resp, err := r.hc.Get(r.ts.URL + path)
	if err != nil {
		r.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// fieldValue is the value a page's input named name shows.
func fieldValue(t *testing.T, page, name string) string {
	t.Helper()
	m := regexp.MustCompile(`<input name="` + regexp.QuoteMeta(name) + `"[^>]*\svalue="([^"]*)"`).FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no input %q on the page", name)
	}
	return html.UnescapeString(m[1])
}

// hiddenValue is the value of the keyboard's hidden input name.
func hiddenValue(page, name string) string {
	m := regexp.MustCompile(`<input type="hidden" name="` + regexp.QuoteMeta(name) + `" value="([^"]*)"`).FindStringSubmatch(page)
	if m == nil {
		return ""
	}
	return html.UnescapeString(m[1])
}

// formOf is what the browser posts from page: every input's value and the
// checked option, plus extra.
func formOf(t *testing.T, page string, extra url.Values) url.Values {
	t.Helper()
	f := url.Values{}
	for _, name := range []string{"shop_name", "area", "phone"} {
		if strings.Contains(page, `<input name="`+name+`"`) { // the question on screen
			f.Set(name, fieldValue(t, page, name))
		}
	}
	for _, k := range []string{"q", kbField, kbLayout, kbShift} {
		if v := hiddenValue(page, k); v != "" || strings.Contains(page, `name="`+k+`"`) {
			f.Set(k, v)
		}
	}
	for k, v := range extra {
		f[k] = v
	}
	return f
}
