// Package console is the monitoring team's web console over the fleet
// Store: problems first, counts at the top, filters by province, office,
// status and version, pages of kiosks (never the whole fleet at once), a
// page per kiosk with its last week drawn as server-rendered SVG, its open
// alerts, last self-test and commands, buttons to send commands (through a
// fleet.Commander), and an overview per province and office. Thai,
// Vietnamese and English.
//
// Staff log in with a user file of bcrypt hashes (ParseUsers); nothing is
// served to anyone else. Sessions live in memory behind an HttpOnly,
// SameSite=Strict cookie; every POST carries the session's CSRF token.
// Plain HTML forms and redirects, no JavaScript, nothing from a CDN.
//
// Wiring, in the fleet service:
//
//	st, err := store.Open(ctx, cfg.StoreDSN)
//	users, err := console.LoadUsers(cfg.ConsoleUsers)
//	h, err := console.New(console.Options{Store: st, Commander: cmdr, Users: users,
//		AlertmanagerURL: cfg.AlertmanagerURL, Logger: log})
//	mux.Handle("/", h)
package console

import (
	"context"
	"crypto/rand"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"govkiosk/fleet"
)

//go:embed templates/*.html static/console.css
var assets embed.FS

// PageSize is how many kiosks a list page shows.
const PageSize = 50

// Commands staff may send, in the order the buttons show.
var Commands = []string{"selftest", "requeue", "refresh-catalogue", "logs", "restart", "out-of-service", "in-service"}

// Options are what the console needs; Store, Commander and Users are
// required.
type Options struct {
	Store     fleet.Store
	Commander fleet.Commander
	Users     Users
	// AlertmanagerURL, if set, is where open alerts are read
	// (GET /api/v2/alerts); else they come from the store.
	AlertmanagerURL string
	// SecureCookie marks the session cookie Secure: set it whenever the
	// console is served over HTTPS (always, beyond loopback).
	SecureCookie bool
	SessionTTL   time.Duration // idle time before a new login; default 8h
	// Portal, when set, is the portal's admin API: the "Enroll a kiosk"
	// page and the kiosks' revoke and retire buttons use it; without it
	// the page says it is not configured.
	Portal PortalAdmin
	// RefreshCRL, when set, fetches the revocation list at once after a
	// revoke or retire, so the broker drops the kiosk without waiting.
	RefreshCRL func(context.Context) error
	// Offices a kiosk may be enrolled for, besides those of the registry.
	Offices []string
	// Operators are the staff (names of Users) with the operator role
	// (technician leads included): they alone may enroll, revoke and
	// retire kiosks.
	Operators  []string
	Now        func() time.Time
	Rand       io.Reader
	HTTPClient *http.Client
	Logger     *slog.Logger
}

// Console is the http.Handler.
type Console struct {
	o        Options
	mux      *http.ServeMux
	tmpl     *template.Template
	sessions *sessions
	failures *failures
	log      *slog.Logger

	// The counts per office and province are read at most every
	// summaryTTL: every page shows them, and they cost a scan of the fleet.
	sumMu sync.Mutex
	sums  [2]summaryAt // by province, by office
}

type summaryAt struct {
	at     time.Time
	groups []fleet.GroupCount
}

const summaryTTL = 5 * time.Second

// summary returns the store's counts per province (or office), at most
// summaryTTL old. The store is read without the lock held.
func (c *Console) summary(ctx context.Context, sum fleet.Summarizer, byOffice bool) ([]fleet.GroupCount, error) {
	i := 0
	if byOffice {
		i = 1
	}
	now := c.o.Now()
	c.sumMu.Lock()
	s := c.sums[i]
	c.sumMu.Unlock()
	if s.groups != nil && now.Sub(s.at) < summaryTTL && !now.Before(s.at) {
		return s.groups, nil
	}
	groups, err := sum.Summary(ctx, byOffice)
	if err != nil {
		return nil, err
	}
	if groups == nil {
		groups = []fleet.GroupCount{}
	}
	c.sumMu.Lock()
	c.sums[i] = summaryAt{at: now, groups: groups}
	c.sumMu.Unlock()
	return groups, nil
}

// New checks the options and returns the console.
func New(o Options) (*Console, error) {
	var problems []string
	if o.Store == nil {
		problems = append(problems, "no Store")
	}
	if o.Commander == nil {
		problems = append(problems, "no Commander")
	}
	if len(o.Users) == 0 {
		problems = append(problems, "no Users: nobody could log in")
	}
	if o.AlertmanagerURL != "" {
		if u, err := url.Parse(o.AlertmanagerURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			problems = append(problems, fmt.Sprintf("AlertmanagerURL %q: want http(s)://host:port", o.AlertmanagerURL))
		}
	}
	if len(problems) > 0 {
		return nil, errors.New("console: " + strings.Join(problems, "; "))
	}
	if o.SessionTTL <= 0 {
		o.SessionTTL = 8 * time.Hour
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Rand == nil {
		o.Rand = rand.Reader
	}
	if o.HTTPClient == nil {
		o.HTTPClient = &http.Client{Timeout: 3 * time.Second}
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	c := &Console{o: o, mux: http.NewServeMux(), log: o.Logger,
		sessions: &sessions{m: map[string]session{}, ttl: o.SessionTTL, now: o.Now, rand: o.Rand},
		failures: &failures{m: map[string][]time.Time{}, now: o.Now}}
	tmpl, err := template.New("").Funcs(template.FuncMap{
		"problem": problemText,
		"dict": func(kv ...any) map[string]any {
			m := map[string]any{}
			for i := 0; i+1 < len(kv); i += 2 {
				m[kv[i].(string)] = kv[i+1]
			}
			return m
		},
		"when": func(lang string, t time.Time) string { return c.when(lang, t) },
	}).ParseFS(assets, "templates/*.html")
	if err != nil {
		return nil, err
	}
	c.tmpl = tmpl
	css, _ := assets.ReadFile("static/console.css")
	c.mux.HandleFunc("GET /static/console.css", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/css; charset=utf-8")
		w.Header().Set("Cache-Control", "max-age=3600")
		w.Write(css)
	})
	c.mux.HandleFunc("GET /login", c.loginPage)
	c.mux.HandleFunc("POST /login", c.login)
	c.mux.HandleFunc("POST /logout", c.staff(c.logout))
	c.mux.HandleFunc("GET /{$}", c.staff(c.list))
	c.mux.HandleFunc("GET /overview", c.staff(c.overview))
	c.mux.HandleFunc("GET /kiosk/{id}", c.staff(c.kiosk))
	c.mux.HandleFunc("POST /kiosk/{id}/command", c.staff(c.command))
	c.mux.HandleFunc("GET /enroll", c.staff(c.enrollPage))
	c.mux.HandleFunc("POST /enroll", c.staff(c.enroll))
	c.mux.HandleFunc("GET /kiosk/{id}/{action}", c.staff(c.identityConfirm))
	c.mux.HandleFunc("POST /kiosk/{id}/{action}", c.staff(c.identityAction))
	c.mux.HandleFunc("POST /kiosk/{id}/service-pin", c.staff(c.servicePIN))
	return c, nil
}

// ServeHTTP serves the console, with headers that keep it out of frames
// and caches and stop it loading anything from elsewhere.
func (c *Console) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	if !strings.HasPrefix(r.URL.Path, "/static/") {
		h.Set("Cache-Control", "no-store")
	}
	c.mux.ServeHTTP(w, r)
}

const cookieName = "govkiosk_console"

// page is what every template gets.
type page struct {
	Lang, User, CSRF, Path string
	Langs                  []string
	LangNames              map[string]string
	LangURLs               map[string]string // this page in each language
	Error                  string
	Data                   any
}

func (p page) T(key string) string { return tr(p.Lang, key) }

func (p page) Tf(key string, args ...any) string { return fmt.Sprintf(tr(p.Lang, key), args...) }

type staffHandler func(w http.ResponseWriter, r *http.Request, id string, s session)

// staff lets only a logged-in staff member through (others go to the login
// page) and checks the CSRF token of every POST.
func (c *Console) staff(h staffHandler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ck, err := r.Cookie(cookieName)
		var s session
		ok := false
		if err == nil {
			s, ok = c.sessions.get(ck.Value)
		}
		if !ok {
			if r.Method != http.MethodGet {
				http.Error(w, "log in first", http.StatusUnauthorized)
				return
			}
			http.Redirect(w, r, "/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
			return
		}
		if r.Method == http.MethodPost {
			r.Body = http.MaxBytesReader(w, r.Body, 16<<10) // a command form is a few hundred bytes
		}
		if r.Method == http.MethodPost && !sameToken(r.PostFormValue("csrf"), s.csrf) {
			c.render(w, http.StatusForbidden, "error", c.page(r, s, "err.csrf", nil))
			return
		}
		if l := r.URL.Query().Get("lang"); l != "" && validLang(l) && l != s.lang {
			c.sessions.setLang(ck.Value, l)
			s.lang = l
		}
		h(w, r, ck.Value, s)
	}
}

func (c *Console) page(r *http.Request, s session, errKey string, data any) page {
	p := page{Lang: s.lang, User: s.user, CSRF: s.csrf, Path: r.URL.Path, Langs: langs, LangNames: langNames, Data: data,
		LangURLs: map[string]string{}}
	for _, l := range langs {
		path, q := r.URL.Path, r.URL.Query()
		if r.Method != http.MethodGet { // a form's answer: its page is not there to GET
			path, q = "/", url.Values{}
		}
		q.Set("lang", l)
		q.Del("sent")
		p.LangURLs[l] = path + "?" + q.Encode()
	}
	if p.Lang == "" {
		p.Lang = langFromRequest(r)
	}
	if errKey != "" {
		p.Error = tr(p.Lang, errKey)
	}
	return p
}

// langFromRequest picks the first of the browser's languages the console
// has, else English.
func langFromRequest(r *http.Request) string {
	if l := r.URL.Query().Get("lang"); validLang(l) {
		return l
	}
	for _, part := range strings.Split(r.Header.Get("Accept-Language"), ",") {
		tag, _, _ := strings.Cut(strings.TrimSpace(part), ";")
		base, _, _ := strings.Cut(strings.ToLower(tag), "-")
		if validLang(base) {
			return base
		}
	}
	return langs[0]
}

func (c *Console) render(w http.ResponseWriter, status int, name string, p page) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	if err := c.tmpl.ExecuteTemplate(w, name+".html", p); err != nil {
		c.log.Error("console: render", "page", name, "err", err)
	}
}

// fail logs an error with a code and shows the code, never the error.
func (c *Console) fail(w http.ResponseWriter, r *http.Request, s session, what string, err error) {
	code := fmt.Sprintf("C%06d", c.o.Now().UnixNano()%1000000)
	c.log.Error("console: "+what, "code", code, "err", err)
	p := c.page(r, s, "", nil)
	p.Error = fmt.Sprintf(tr(p.Lang, "err.generic"), code)
	c.render(w, http.StatusInternalServerError, "error", p)
}

func (c *Console) loginPage(w http.ResponseWriter, r *http.Request) {
	p := c.page(r, session{}, "", safeNext(r.URL.Query().Get("next")))
	c.render(w, http.StatusOK, "login", p)
}

// safeNext keeps a redirect after login on the console.
func safeNext(n string) string {
	if !strings.HasPrefix(n, "/") || strings.HasPrefix(n, "//") || strings.HasPrefix(n, "/\\") {
		return "/"
	}
	return n
}

func (c *Console) login(w http.ResponseWriter, r *http.Request) {
	// A login form posted from another site is refused (login CSRF).
	if site := r.Header.Get("Sec-Fetch-Site"); site == "cross-site" {
		http.Error(w, "cross-site login refused", http.StatusForbidden)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 4096)
	user, pass := r.PostFormValue("user"), r.PostFormValue("password")
	next := safeNext(r.PostFormValue("next"))
	if len(user) > 64 {
		user = user[:64]
	}
	if c.failures.locked(user) || !c.o.Users.check(user, pass) {
		c.failures.add(user)
		c.log.Info("console: login refused")
		p := c.page(r, session{}, "login.bad", next)
		c.render(w, http.StatusUnauthorized, "login", p)
		return
	}
	c.failures.reset(user)
	id, _, err := c.sessions.create(user, langFromRequest(r))
	if err != nil {
		c.fail(w, r, session{}, "new session", err)
		return
	}
	c.log.Info("console: login", "user", user)
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: id, Path: "/", HttpOnly: true, Secure: c.o.SecureCookie,
		SameSite: http.SameSiteStrictMode, MaxAge: int(c.o.SessionTTL.Seconds())})
	http.Redirect(w, r, next, http.StatusSeeOther)
}

func (c *Console) logout(w http.ResponseWriter, r *http.Request, id string, s session) {
	c.sessions.drop(id)
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, Secure: c.o.SecureCookie, SameSite: http.SameSiteStrictMode})
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}

// when shows a time in UTC, or "never".
func (c *Console) when(lang string, t time.Time) string {
	if t.IsZero() {
		return tr(lang, "never")
	}
	return t.UTC().Format("2006-01-02 15:04")
}

// counts are the figures at the top of a page.
type counts struct{ Total, Online, Offline, Problem int }

type listData struct {
	Filter           fleet.Filter
	Counts           counts
	Kiosks           []fleet.KioskView
	Total            int
	From, To         int
	PrevURL, NextURL string
	Provinces        []string
	Offices          []string
	Statuses         []string
}

func (c *Console) list(w http.ResponseWriter, r *http.Request, _ string, s session) {
	ctx := r.Context()
	q := r.URL.Query()
	f := fleet.Filter{Province: q.Get("province"), Office: q.Get("office"), Version: q.Get("version"), Status: q.Get("status"), Limit: PageSize}
	if !slices.Contains([]string{"", "online", "offline", "problem", "retired"}, f.Status) {
		f.Status = ""
	}
	pageNo, _ := strconv.Atoi(q.Get("page"))
	pageNo = max(pageNo, 1)
	f.Offset = (pageNo - 1) * PageSize
	views, total, err := c.o.Store.Kiosks(ctx, f)
	if err != nil {
		c.fail(w, r, s, "list kiosks", err)
		return
	}
	d := listData{Filter: f, Kiosks: views, Total: total, Statuses: []string{"problem", "offline", "online", "retired"}}
	if len(views) > 0 {
		d.From, d.To = f.Offset+1, f.Offset+len(views)
	}
	link := func(p int) string {
		v := url.Values{}
		for k, val := range map[string]string{"province": f.Province, "office": f.Office, "version": f.Version, "status": f.Status} {
			if val != "" {
				v.Set(k, val)
			}
		}
		v.Set("page", strconv.Itoa(p))
		return "/?" + v.Encode()
	}
	if pageNo > 1 {
		d.PrevURL = link(pageNo - 1)
	}
	if f.Offset+len(views) < total {
		d.NextURL = link(pageNo + 1)
	}
	d.Counts, d.Provinces, d.Offices, err = c.counts(ctx, f)
	if err != nil {
		c.fail(w, r, s, "count kiosks", err)
		return
	}
	c.render(w, http.StatusOK, "list", c.page(r, s, "", d))
}

// counts returns the counts for the filter's place (province, office,
// version; all statuses) and the provinces and offices to choose from.
func (c *Console) counts(ctx context.Context, f fleet.Filter) (counts, []string, []string, error) {
	place := fleet.Filter{Province: f.Province, Office: f.Office, Version: f.Version, Limit: 1}
	if sum, ok := c.o.Store.(fleet.Summarizer); ok && f.Version == "" {
		groups, err := c.summary(ctx, sum, true)
		if err != nil {
			return counts{}, nil, nil, err
		}
		var n counts
		var provinces, offices []string
		for _, g := range groups {
			if len(provinces) == 0 || provinces[len(provinces)-1] != g.Province {
				provinces = append(provinces, g.Province)
			}
			if f.Province != "" && g.Province == f.Province { // offices to choose from once a province is
				offices = append(offices, g.Office)
			}
			if (f.Province != "" && g.Province != f.Province) || (f.Office != "" && g.Office != f.Office) {
				continue
			}
			n.Total += g.Total
			n.Online += g.Online
			n.Problem += g.Problem
		}
		n.Offline = n.Total - n.Online
		return n, provinces, offices, nil
	}
	var n counts
	for _, x := range []struct {
		status string
		to     *int
	}{{"", &n.Total}, {"online", &n.Online}, {"offline", &n.Offline}, {"problem", &n.Problem}} {
		place.Status = x.status
		_, total, err := c.o.Store.Kiosks(ctx, place)
		if err != nil {
			return n, nil, nil, err
		}
		*x.to = total
	}
	return n, nil, nil, nil
}

type kioskData struct {
	View        fleet.KioskView
	Problems    []string
	Charts      kioskCharts
	Alerts      []alert
	AlertsFrom  string // "alertmanager" or "store"
	SelfTest    *fleet.Command
	Commands    []fleet.Command
	CommandList []string
	CommandID   string
	Sent        bool
	// Identity: the revoke and retire buttons (operators, with a portal),
	// and what the last action did.
	Identity     bool
	IdentityDone string        // revoked|retired, after the action
	CRLLater     bool          // the revocation list could not be fetched at once
	Service      []fleet.Event // the last service-mode events, newest first (servicepin.go)
}

type alert struct {
	Name, Summary string
	Since         time.Time
	Suppressed    bool
}

func (c *Console) kiosk(w http.ResponseWriter, r *http.Request, _ string, s session) {
	ctx := r.Context()
	id := r.PathValue("id")
	v, err := c.o.Store.Kiosk(ctx, id)
	if err != nil {
		if isNotFound(err) {
			c.render(w, http.StatusNotFound, "error", c.page(r, s, "kiosk.unknown", nil))
			return
		}
		c.fail(w, r, s, "read kiosk", err)
		return
	}
	to := c.o.Now()
	from := to.Add(-7 * 24 * time.Hour)
	snaps, err := c.o.Store.Snapshots(ctx, id, from)
	if err != nil {
		c.fail(w, r, s, "read snapshots", err)
		return
	}
	var pres []fleet.Presence
	if pl, ok := c.o.Store.(fleet.PresenceLog); ok {
		if pres, err = pl.Presences(ctx, id, from); err != nil {
			c.fail(w, r, s, "read presence", err)
			return
		}
	}
	if len(pres) == 0 || pres[0].At.After(from) {
		// Until the first change in the window the kiosk was as it is now
		// if nothing changed, else unknown: start from its current state.
		first := fleet.Presence{KioskID: id, At: from, Online: v.Online}
		if len(pres) > 0 {
			first.Online = !pres[0].Online
		}
		pres = append([]fleet.Presence{first}, pres...)
	}
	cmds, err := c.o.Store.Commands(ctx, id, 20)
	if err != nil {
		c.fail(w, r, s, "read commands", err)
		return
	}
	p := c.page(r, s, "", nil)
	d := kioskData{View: v, Problems: v.Problems(), Commands: cmds, CommandList: Commands, Sent: r.URL.Query().Get("sent") != "",
		Identity: c.o.Portal != nil && c.operator(s.user) && !v.Retired, CRLLater: r.URL.Query().Get("crl") == "later"}
	if st := r.URL.Query().Get("identity"); st == v.Identity {
		d.IdentityDone = st
	}
	d.Charts = drawKiosk(p.T, v, pres, snaps, from, to)
	for i := range cmds {
		if cmds[i].Name == "selftest" && cmds[i].State != "pending" {
			d.SelfTest = &cmds[i]
			break
		}
	}
	// A self-test a technician ran from the kiosk's service mode arrives
	// as an event; the newer of it and the remote one is shown.
	evs, err := c.o.Store.Events(ctx, id, from, 0)
	if err != nil {
		c.fail(w, r, s, "read events", err)
		return
	}
	if st := lastServiceSelfTest(evs); st != nil && (d.SelfTest == nil || st.AnsweredAt.After(d.SelfTest.AnsweredAt)) {
		d.SelfTest = st
	}
	d.Service = serviceEvents(evs)
	d.Alerts, d.AlertsFrom = c.alerts(ctx, p.Lang, v)
	// A fresh id for the command form: sending the same form twice is the
	// same command (the Commander is idempotent by id).
	cid, err := uuid.NewRandomFromReader(c.o.Rand)
	if err != nil {
		c.fail(w, r, s, "command id", err)
		return
	}
	d.CommandID = cid.String()
	p.Data = d
	c.render(w, http.StatusOK, "kiosk", p)
}

// lastServiceSelfTest is the newest self-test reported from service mode
// (events selftest-passed and selftest-failed), as a command's answer.
func lastServiceSelfTest(evs []fleet.Event) *fleet.Command {
	for i := len(evs) - 1; i >= 0; i-- {
		e := evs[i]
		state := map[string]string{"selftest-passed": "done", "selftest-failed": "failed"}[e.Kind]
		if state != "" {
			return &fleet.Command{KioskID: e.KioskID, Name: "selftest", By: "service mode", SentAt: e.At, AnsweredAt: e.At, State: state, Result: e.Detail}
		}
	}
	return nil
}

func isNotFound(err error) bool { return errors.Is(err, fleet.ErrNotFound) }

// alerts returns the kiosk's open alerts from Alertmanager when it is
// configured and answers, else what its last report says is wrong.
func (c *Console) alerts(ctx context.Context, lang string, v fleet.KioskView) ([]alert, string) {
	if c.o.AlertmanagerURL != "" {
		as, err := c.amAlerts(ctx, v.KioskID)
		if err == nil {
			return as, "alertmanager"
		}
		c.log.Warn("console: read alerts from Alertmanager", "err", err)
	}
	var out []alert
	for _, p := range v.Problems() {
		out = append(out, alert{Name: problemText(lang, p), Since: v.LastSeen})
	}
	return out, "store"
}

func (c *Console) amAlerts(ctx context.Context, kiosk string) ([]alert, error) {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	u := strings.TrimSuffix(c.o.AlertmanagerURL, "/") + "/api/v2/alerts?" + url.Values{"filter": {fmt.Sprintf("kiosk=%q", kiosk)}}.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.o.HTTPClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("alertmanager: %s", resp.Status)
	}
	var as []struct {
		Labels      map[string]string `json:"labels"`
		Annotations map[string]string `json:"annotations"`
		StartsAt    time.Time         `json:"startsAt"`
		Status      struct {
			State string `json:"state"`
		} `json:"status"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 4<<20)).Decode(&as); err != nil {
		return nil, fmt.Errorf("alertmanager: %w", err)
	}
	out := make([]alert, 0, len(as))
	for _, a := range as {
		out = append(out, alert{Name: a.Labels["alertname"], Summary: a.Annotations["summary"], Since: a.StartsAt, Suppressed: a.Status.State == "suppressed"})
	}
	slices.SortFunc(out, func(a, b alert) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

func (c *Console) command(w http.ResponseWriter, r *http.Request, _ string, s session) {
	id := r.PathValue("id")
	name, args, cid := r.PostFormValue("name"), strings.TrimSpace(r.PostFormValue("args")), r.PostFormValue("cid")
	if !slices.Contains(Commands, name) || len(args) > 200 {
		c.render(w, http.StatusBadRequest, "error", c.page(r, s, "err.command", nil))
		return
	}
	if _, err := uuid.Parse(cid); err != nil {
		c.render(w, http.StatusBadRequest, "error", c.page(r, s, "err.csrf", nil))
		return
	}
	if _, err := c.o.Store.Kiosk(r.Context(), id); err != nil {
		if isNotFound(err) {
			c.render(w, http.StatusNotFound, "error", c.page(r, s, "kiosk.unknown", nil))
			return
		}
		c.fail(w, r, s, "read kiosk", err)
		return
	}
	cmd := fleet.Command{ID: cid, KioskID: id, Name: name, Args: args, By: s.user, SentAt: c.o.Now(), State: "pending"}
	if _, err := c.o.Commander.Send(r.Context(), cmd); err != nil {
		c.fail(w, r, s, "send command", err)
		return
	}
	c.log.Info("console: command sent", "kiosk", id, "command", name, "id", cid, "by", s.user)
	http.Redirect(w, r, "/kiosk/"+url.PathEscape(id)+"?sent="+url.QueryEscape(cid), http.StatusSeeOther)
}

type groupRow struct {
	fleet.GroupCount
	Bar template.HTML
	URL string
}

type overviewData struct {
	Counts            counts
	Provinces         []groupRow
	Offices           []groupRow
	Place             string // the province or office the charts are of
	ListURL           string // its kiosks in the list
	Outages, Sessions template.HTML
}

func (c *Console) overview(w http.ResponseWriter, r *http.Request, _ string, s session) {
	ctx := r.Context()
	p := c.page(r, s, "", nil)
	var d overviewData
	sum, ok := c.o.Store.(fleet.Summarizer)
	if !ok {
		c.fail(w, r, s, "overview", errors.New("the store cannot count per office"))
		return
	}
	province := r.URL.Query().Get("province")
	for _, byOffice := range []bool{false, true} {
		groups, err := c.summary(ctx, sum, byOffice)
		if err != nil {
			c.fail(w, r, s, "overview", err)
			return
		}
		for _, g := range groups {
			v := url.Values{"province": {g.Province}}
			if byOffice {
				if province != "" && g.Province != province {
					continue
				}
				v.Set("office", g.Office)
				d.Offices = append(d.Offices, groupRow{g, groupBar(p.T, g), "/overview?" + v.Encode()})
				continue
			}
			d.Counts.Total += g.Total
			d.Counts.Online += g.Online
			d.Counts.Problem += g.Problem
			d.Provinces = append(d.Provinces, groupRow{g, groupBar(p.T, g), "/overview?" + v.Encode()})
		}
	}
	d.Counts.Offline = d.Counts.Total - d.Counts.Online
	// A province's or office's last week, drawn only for one chosen: the
	// whole fleet's would read every snapshot of every kiosk.
	office := r.URL.Query().Get("office")
	if gh, ok := c.o.Store.(fleet.GroupHistorian); ok && (province != "" || office != "") {
		to := c.o.Now()
		from := to.Truncate(24*time.Hour).AddDate(0, 0, -6)
		days, err := gh.GroupHistory(ctx, province, office, from)
		if err != nil {
			c.fail(w, r, s, "overview history", err)
			return
		}
		labels := make([]string, 7)
		outages, sessions := make([]float64, 7), make([]float64, 7)
		for i := range labels {
			labels[i] = from.AddDate(0, 0, i).Format("01-02")
		}
		for _, g := range days {
			if i := int(g.Day.Sub(from).Hours() / 24); i >= 0 && i < 7 {
				outages[i], sessions[i] = float64(g.Outages), float64(g.Sessions)
			}
		}
		d.Place = strings.TrimSpace(province + " " + office)
		d.ListURL = "/?" + url.Values{"province": {province}, "office": {office}}.Encode()
		d.Outages = bars(p.T("chart.outages"), labels, outages)
		d.Sessions = bars(p.T("chart.sessions"), labels, sessions)
	}
	if province == "" && len(d.Offices) > 200 {
		d.Offices = nil // choose a province first: never thousands of rows
	}
	p.Data = d
	c.render(w, http.StatusOK, "overview", p)
}
