// Package ui is the kiosk's touch interface: server-rendered screens, one
// decision each, in Thai, Vietnamese or English, plus server-sent events
// that tell the browser to redraw when a device changes the screen. It keeps
// no citizen's state of its own: everything lives in the kiosk controller.
// The one thing it holds is which browser it answers (browser.go): the one
// the kiosk launched, and no other tab or local process.
package ui

import (
	"crypto/rand"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"govkiosk/backend-client/api"
	"govkiosk/kiosk"
	"govkiosk/kiosk/fonts"
	"govkiosk/kiosk/lang"
	"govkiosk/kiosk/receipt"
	"govkiosk/kiosk/voice"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Server serves the touch UI for one controller.
type Server struct {
	c      *kiosk.Controller
	log    *slog.Logger
	base   *template.Template
	mux    *http.ServeMux
	voice  *voice.Speaker  // voice guidance; nil: off
	listen string          // host:port the UI is reached at
	hosts  map[string]bool // Host headers that name the UI
	bind   binding
	svc    *kiosk.Service // nil: no service mode (service.go)
	setup  *kiosk.Setup   // set: the setup screen of a kiosk not set up yet (setup.go), and nothing else
}

// Options configure a Server.
type Options struct {
	Log *slog.Logger
	// Listen is the address the UI listens on (kiosk.json's listen): the
	// launch URL's host and the Host headers answered.
	Listen string
	Rand   io.Reader // launch secrets and cookies [crypto/rand]
	// Service is the technician's service mode, shown while the cabinet
	// door is open; nil leaves the plain "out of service" screen.
	Service *kiosk.Service
	// Voice reads each screen's instruction aloud; nil (the default): no
	// voice guidance, as the office chooses in kiosk.json.
	Voice *voice.Speaker
}

// New builds the UI handler.
func New(c *kiosk.Controller, o Options) (*Server, error) {
	s, err := newServer(c, o)
	if err != nil {
		return nil, err
	}
	s.routes()
	return s, nil
}

// newServer is a Server without its routes.
func newServer(c *kiosk.Controller, o Options) (*Server, error) {
	log := o.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if o.Rand == nil {
		o.Rand = rand.Reader
	}
	base, err := template.New("page.html").Funcs(template.FuncMap{
		"t":     func(string) string { return "" },      // replaced per request
		"tn":    func(string, int) string { return "" }, // replaced per request
		"add":   func(a, b int) int { return a + b },
		"keys":  func() []string { return []string{"1", "2", "3", "4", "5", "6", "7", "8", "9"} },
		"stars": func() []int { return []int{1, 2, 3, 4, 5} },
	}).ParseFS(templateFS, "templates/*.html")
	if err != nil {
		return nil, fmt.Errorf("parse templates: %w", err)
	}
	s := &Server{
		c: c, log: log, base: base, mux: http.NewServeMux(),
		listen: o.Listen, hosts: hostsFor(o.Listen), bind: binding{rand: o.Rand}, voice: o.Voice,
		svc: o.Service,
	}
	return s, nil
}

// ServeHTTP answers only requests that name the UI by its own Host and come
// from the browser the kiosk launched (see LaunchURL); state-changing
// requests are further guarded against cross-origin use: the provider's
// login page and anything else the browser shows must not be able to drive
// the kiosk.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	h.Set("X-Frame-Options", "SAMEORIGIN") // the login screen's frame comes back to the kiosk's own pages
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", csp)
	switch {
	case !s.hosts[strings.ToLower(r.Host)]:
		http.Error(w, "misdirected request", http.StatusMisdirectedRequest)
	case r.URL.Path == launchPath && r.Method == http.MethodGet:
		s.launch(w, r)
	case s.bind.admits(r):
		s.mux.ServeHTTP(w, r)
	case r.URL.Path == "/auth/callback" && r.Method == http.MethodGet && !r.URL.Query().Has(bounceParam):
		s.reloadCallback(w, r)
	default:
		s.log.Debug("request from another browser refused", "path", r.URL.Path)
		s.refuse(w)
	}
}

// files serves an embedded tree by file name, never a directory listing.
func files(fsys fs.FS) http.Handler { return http.FileServerFS(noDirs{fsys}) }

type noDirs struct{ fs.FS }

func (n noDirs) Open(name string) (fs.File, error) {
	f, err := n.FS.Open(name)
	if err != nil {
		return nil, err
	}
	if st, err := f.Stat(); err != nil || st.IsDir() {
		f.Close()
		return nil, fs.ErrNotExist
	}
	return f, nil
}

// staticRoutes serves the embedded style, script and fonts.
func (s *Server) staticRoutes() {
	static, _ := fs.Sub(staticFS, "static")
	s.mux.Handle("GET /static/", http.StripPrefix("/static/", files(static)))
	s.mux.Handle("GET /static/fonts/", http.StripPrefix("/static/fonts/", files(fonts.FS)))
}

func (s *Server) routes() {
	s.staticRoutes()
	s.mux.HandleFunc("GET /{$}", s.page)
	s.mux.HandleFunc("GET /events", s.events)
	s.mux.HandleFunc("GET /auth/callback", s.callback)
	s.mux.HandleFunc("GET /thumb/{d}/{p}", s.thumb)
	s.mux.HandleFunc("GET /receipt.png", s.receiptPNG)

	cop := http.NewCrossOriginProtection()
	// post handles one touch: the controller acts and puts anything the
	// citizen must know on the session's screen; the browser is sent back
	// to draw it. Errors that are not the citizen's to see are logged.
	post := func(path string, f func(r *http.Request) error) {
		s.mux.Handle("POST "+path, cop.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
			if err := r.ParseForm(); err != nil {
				http.Error(w, "bad form", http.StatusBadRequest)
				return
			}
			before := s.c.Step()
			s.logAction(path, f(r))
			if before != kiosk.StepAttract && s.c.Step() == kiosk.StepAttract {
				w.Header().Set("Clear-Site-Data", clearSiteData) // this touch ended the citizen's session
			}
			http.Redirect(w, r, "/", http.StatusSeeOther)
		})))
	}
	post("/start", func(*http.Request) error { return s.c.Start() })
	// On the form screen the header's buttons submit the form too (their
	// form attribute), so what the citizen put in so far is kept as a
	// draft, with no script.
	post("/lang", func(r *http.Request) error {
		s.c.SaveDraft(formValues(r))
		if err := s.c.SetLanguage(r.FormValue("lang")); err != nil {
			return err
		}
		return s.freshLogin(r)
	})
	post("/large", func(r *http.Request) error {
		s.c.SaveDraft(formValues(r))
		s.c.ToggleLargeText()
		return s.freshLogin(r)
	})
	post("/back", func(*http.Request) error { return s.c.Back() })
	post("/cancel/ask", func(*http.Request) error { return s.c.AskCancel() })
	post("/cancel/no", func(*http.Request) error { s.c.KeepGoing(); return nil })
	post("/cancel", func(*http.Request) error { return s.c.Cancel() })
	// The login QR is shown at once: choosing the procedure begins the login.
	post("/procedure", func(r *http.Request) error {
		if err := s.c.ChooseProcedure(r.Context(), r.FormValue("id")); err != nil {
			return err
		}
		_, err := s.c.BeginLogin(r.Context())
		return err
	})
	post("/identity", func(r *http.Request) error {
		yes := r.FormValue("yes") == "1"
		if err := s.c.ConfirmIdentity(yes); err != nil || yes {
			return err
		}
		_, err := s.c.BeginLogin(r.Context()) // "not me": a fresh QR for the citizen's own login
		return err
	})
	post("/form", func(r *http.Request) error {
		values := formValues(r)
		if q, err := strconv.Atoi(r.FormValue("q")); err == nil {
			return s.c.AnswerQuestion(q, values)
		}
		return s.c.SubmitForm(values)
	})
	post("/form/draft", func(r *http.Request) error { return s.c.SaveDraft(formValues(r)) })
	post("/scan", func(r *http.Request) error { return s.c.ScanDocument(r.Context()) })
	post("/rescan", func(*http.Request) error { return s.c.RescanDocument() })
	post("/restore", func(r *http.Request) error {
		i, err := strconv.Atoi(r.FormValue("page"))
		if err != nil {
			return nil // not a page: nothing to restore
		}
		return s.c.RestorePage(i)
	})
	post("/next", func(*http.Request) error { return s.c.NextDocument() })
	post("/code/request", func(r *http.Request) error { return s.c.RequestCode(r.Context()) })
	post("/code/verify", func(r *http.Request) error { return s.c.VerifyCode(r.Context(), r.FormValue("code")) })
	post("/fix", func(*http.Request) error { return s.c.FixAnswers() })
	post("/receipt/reprint", func(r *http.Request) error { return s.c.ReprintReceipt(r.Context()) })
	post("/receipt/done", func(*http.Request) error { return s.c.ReceiptDone() })
	post("/rate", func(r *http.Request) error {
		n, _ := strconv.Atoi(r.FormValue("n"))
		return s.c.Rate(n)
	})
	post("/finish", func(*http.Request) error { s.c.Finish(); return nil })
	s.mux.Handle("POST /touch", cop.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.c.Touch()
		w.WriteHeader(http.StatusNoContent)
	})))
	s.mux.Handle("POST /login/start", cop.Handler(http.HandlerFunc(s.loginStart)))
	s.mux.Handle("POST /kb", cop.Handler(http.HandlerFunc(s.keyboardPost)))
	s.mux.HandleFunc("GET /voice/{lang}/{file}", s.voiceAudio)
	s.mux.Handle("POST /voice/volume", cop.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, 1<<10)
		if err := r.ParseForm(); err != nil {
			http.Error(w, "bad form", http.StatusBadRequest)
			return
		}
		s.voiceVolume(r)
		http.Redirect(w, r, "/?listen=1", http.StatusSeeOther)
	})))
	s.serviceRoutes(cop)
}

// logAction logs what a touch led to. User-safe errors are already on the
// citizen's screen; anything else gets its error code, as the screen does.
func (s *Server) logAction(path string, err error) {
	if err == nil {
		return
	}
	key, code := kiosk.UserMessage(err)
	if code == "" {
		s.log.Debug("action refused", "action", path, "key", key)
		return
	}
	s.log.Error("action failed", "action", path, "code", code, "err", err)
}

// formValues is the first value of each field posted.
func formValues(r *http.Request) map[string]string {
	values := map[string]string{}
	for k, v := range r.PostForm {
		if len(v) > 0 {
			values[k] = v[0]
		}
	}
	return values
}

// freshLogin begins the login again when the login screen is up: its QR
// page is in the language it was begun in, and a provider need not show
// the same page twice.
func (s *Server) freshLogin(r *http.Request) error {
	if s.c.Step() != kiosk.StepLogin {
		return nil
	}
	_, err := s.c.BeginLogin(r.Context())
	return err
}

// loginStart begins a fresh login (the login screen's retry); the kiosk's
// own login screen shows its QR.
func (s *Server) loginStart(w http.ResponseWriter, r *http.Request) {
	if _, err := s.c.BeginLogin(r.Context()); err != nil {
		s.logAction("/login/start", err)
	}
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

func (s *Server) callback(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	q.Del(bounceParam)
	next, err := s.c.CompleteLogin(r.Context(), q)
	if errors.Is(err, kiosk.ErrCallbackIgnored) {
		// Not the answer to the login in progress: nothing changed, and
		// the screen says so instead of redrawing as if something had.
		s.renderAs(w, http.StatusBadRequest, s.c.View(r.Context()), "callback_ignored")
		return
	}
	if next != "" { // the QR expired unused: a fresh login's page
		http.Redirect(w, r, next, http.StatusSeeOther)
		return
	}
	// Errors are on the session's screen (or the session is gone).
	s.logAction("/auth/callback", err)
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

func (s *Server) thumb(w http.ResponseWriter, r *http.Request) {
	d, err1 := strconv.Atoi(r.PathValue("d"))
	p, err2 := strconv.Atoi(r.PathValue("p"))
	b := s.c.Thumbnail(d, p)
	if err1 != nil || err2 != nil || b == nil {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "image/png")
	w.Write(b)
}

func (s *Server) receiptPNG(w http.ResponseWriter, r *http.Request) {
	b := s.c.ReceiptPNG()
	if b == nil {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "image/png")
	w.Write(b)
}

// events tells the browser to redraw when the controller changes the screen
// on its own (a QR scan, the idle wipe).
func (s *Server) events(w http.ResponseWriter, r *http.Request) {
	fl, ok := w.(http.Flusher)
	if !ok {
		http.Error(w, "streaming unsupported", http.StatusInternalServerError)
		return
	}
	ch, cancel := s.c.Subscribe()
	defer cancel()
	var svcCh <-chan struct{} // nil: never ready
	if s.svc != nil {
		c, cancelSvc := s.svc.Subscribe()
		defer cancelSvc()
		svcCh = c
	}
	w.Header().Set("Content-Type", "text/event-stream")
	fmt.Fprint(w, "retry: 2000\n\n")
	// A change between rendering the page and this subscription (a QR read
	// while the browser was still connecting, as on a loaded machine) has no
	// event of its own: the page names the step it shows, and a different
	// step now means it is stale.
	if shown := r.URL.Query().Get("step"); shown != "" && shown != string(s.c.Step()) {
		fmt.Fprint(w, "event: refresh\ndata: {}\n\n")
	}
	fl.Flush()
	keep := time.NewTicker(25 * time.Second)
	defer keep.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-ch:
			fmt.Fprint(w, "event: refresh\ndata: {}\n\n")
			fl.Flush()
		case <-svcCh:
			fmt.Fprint(w, "event: refresh\ndata: {}\n\n")
			fl.Flush()
		case <-keep.C:
			fmt.Fprint(w, ": keep-alive\n\n")
			fl.Flush()
		}
	}
}

// answer is value v of field f as the citizen saw it in language code: the
// label of the option chosen, or v itself for a field without options.
func answer(f api.Field, v, code string) string {
	for _, o := range f.Options {
		if o.Value == v {
			return o.Label.Get(code)
		}
	}
	return v
}

// localDate writes the date d (YYYY-MM-DD, as the portal gives it) the way
// the session's language writes dates; anything else is shown as it is.
func localDate(d, code string) string {
	t, err := time.Parse(time.DateOnly, d)
	if err != nil {
		return d
	}
	return lang.FormatDate(code, t)
}

type pageData struct {
	V        kiosk.View
	LangName func(string) string
	Text     func(api.Text) string
	Answer   func(api.Field, string) string // what the citizen chose, as they saw it: an option's label, not its code
	Date     func(string) string            // a YYYY-MM-DD date in the session's language (Buddhist year in Thai)
	// Submitted says the application is already with the outbox (receipt,
	// rating, thanks): leaving keeps it, so the footer says "Finish", not
	// "Cancel and leave".
	Submitted func() bool
	Days      func(int) string
	Fee       func(int64, string) string
	DocOf     func(int, int) string
	Pages     func(int, int) string
	Scanned   func(int) string
	Attempts  func(int) string
	Face      func(int) template.HTML
	Notice    func() string // the notice's text, with any wait filled in
	// Draft: the form is on screen, and the header's buttons submit it as
	// a draft before they act.
	Draft bool
	// Stage is the step indicator's text ("Step 3 of 6: your details"),
	// "" off the citizen's flow.
	Stage func() string
	// Help is the help text of the screen shown.
	Help func() string
	// OnScreen says whether field i of the procedure is on the question
	// shown; Choice whether that question is a choice (answered by one
	// touch on an option); QuestionOf is "Question 2 of 3".
	OnScreen   func(int) bool
	Choice     func() bool
	QuestionOf func() string
	Keyboard   func(api.Field) kbView // the on-screen keyboard of a form field
	Voice      voiceView              // voice guidance of the screen
	// FromRegistry says where the office gets a document the citizen
	// need not bring ("we get it from the National Population Database").
	FromRegistry func(string) string
}

// face draws the rating faces as inline SVG: no emoji font is needed on the
// kiosk, and the mouth bends from sad (1) to happy (5).
func face(n int) template.HTML {
	bend := (n - 3) * 7 // control point offset of the mouth curve
	return template.HTML(fmt.Sprintf(`<svg viewBox="0 0 64 64" width="72" height="72" aria-hidden="true">`+
		`<circle cx="32" cy="32" r="29" fill="#ffd84d" stroke="#111" stroke-width="3"/>`+
		`<circle cx="22" cy="25" r="4"/><circle cx="42" cy="25" r="4"/>`+
		`<path d="M18 44 Q32 %d 46 44" fill="none" stroke="#111" stroke-width="4" stroke-linecap="round"/></svg>`, 44+bend))
}

// clearSiteData is what the browser drops when a citizen's session ends:
// its cache and everything pages stored (local and session storage,
// IndexedDB, service workers). Not its cookies: the UI's cookie is how it
// knows its own browser. Between citizens the touchscreen's browser is
// also restarted on a fresh profile (kioskctl browser).
const clearSiteData = `"cache", "storage"`

func (s *Server) page(w http.ResponseWriter, r *http.Request) {
	v := s.c.View(r.Context())
	if s.servicing(v) {
		s.servicePage(w, r, v)
		return
	}
	if v.Step == kiosk.StepAttract {
		// The screen after every wipe, the idle one included (it has no
		// touch of its own: the browser is told to reload).
		w.Header().Set("Clear-Site-Data", clearSiteData)
	}
	s.renderPage(w, http.StatusOK, v, string(v.Step), inputStateFrom(r.URL.Query()))
}

// render draws one screen.
func (s *Server) render(w http.ResponseWriter, v kiosk.View) {
	s.renderAs(w, http.StatusOK, v, string(v.Step))
}

// renderAs draws the page around the template named step, answering status.
func (s *Server) renderAs(w http.ResponseWriter, status int, v kiosk.View, step string) {
	s.renderPage(w, status, v, step, inputState{})
}

// renderPage is renderAs with the on-screen keyboard's state.
func (s *Server) renderPage(w http.ResponseWriter, status int, v kiosk.View, step string, in inputState) {
	code := v.Lang
	tr := func(k string) string { return T(code, k) }
	trn := func(k string, n int) string { return TN(code, k, n) }
	if v.AskCancel {
		step = "cancel_confirm"
	}
	tpl, err := s.base.Clone()
	if err == nil {
		tpl.Funcs(template.FuncMap{"t": tr, "tn": trn})
		_, err = tpl.New("step").Parse(`{{template "` + step + `" .}}`)
	}
	if err != nil {
		s.log.Error("template", "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	d := pageData{
		V:        v,
		LangName: lang.Name,
		Text:     func(t api.Text) string { return t.Get(code) },
		Answer:   func(f api.Field, v string) string { return answer(f, v, code) },
		Date:     func(d string) string { return localDate(d, code) },
		Submitted: func() bool {
			return v.Step == kiosk.StepReceipt || v.Step == kiosk.StepRating || v.Step == kiosk.StepThanks || v.Step == kiosk.StepStatus
		},
		Days:  func(n int) string { return fmt.Sprintf(trn("catalogue.days", n), n) },
		Fee:   func(minor int64, cur string) string { return receipt.FormatFee(code, minor, cur, tr("catalogue.free")) },
		DocOf: func(i, n int) string { return fmt.Sprintf(tr("docs.of"), i, n) },
		Pages: func(lo, hi int) string {
			if lo = max(lo, 1); lo >= hi {
				return fmt.Sprintf(trn("docs.pages_exact", hi), hi)
			}
			return fmt.Sprintf(tr("docs.pages"), lo, hi)
		},
		FromRegistry: func(registry string) string { return fmt.Sprintf(tr("docs.from_registry"), registry) },
		Scanned:      func(n int) string { return fmt.Sprintf(trn("docs.scanned", n), n) },
		Attempts:     func(n int) string { return fmt.Sprintf(tr("confirm.attempts"), n) },
		Face:         face,
		Notice:       func() string { return noticeText(code, v) },
		Draft:        v.Step == kiosk.StepForm && !v.AskCancel,
		Stage: func() string {
			if v.Stage == 0 {
				return ""
			}
			return fmt.Sprintf(tr("stage.of"), v.Stage, v.Stages, tr(v.StageKey))
		},
		Help: func() string {
			if k := "help." + step; hasMessage(k) {
				return tr(k)
			}
			return tr("help.body")
		},
		OnScreen:   func(i int) bool { return onScreen(v, i) },
		Choice:     func() bool { return questionField(v).Type == api.FieldSelect },
		QuestionOf: func() string { return fmt.Sprintf(tr("form.question"), v.Question+1, v.Questions) },
		Keyboard:   func(f api.Field) kbView { return keyboardFor(v, in, f) },
		Voice:      s.voiceFor(v, in),
	}
	if origin := frameOrigin(v.LoginURL); v.Step == kiosk.StepLogin && origin != "" {
		// The login screen frames the provider's page, and the frame comes
		// back to the kiosk's own callback: nothing else may be framed.
		w.Header().Set("Content-Security-Policy", csp+"; frame-src 'self' "+origin)
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	if err := tpl.ExecuteTemplate(w, "page.html", d); err != nil {
		s.log.Error("render page", "step", string(v.Step), "err", err)
	}
}

// questionField is the field the form's question on screen asks for; the
// zero Field when the question shows read-only fields only.
func questionField(v kiosk.View) api.Field {
	if v.Procedure == nil {
		return api.Field{}
	}
	qs := kiosk.Questions(v.Procedure.Fields)
	if v.Question < 0 || v.Question >= len(qs) || qs[v.Question] < 0 {
		return api.Field{}
	}
	return v.Procedure.Fields[qs[v.Question]]
}

// onScreen reports whether field i is shown on the form's question on
// screen: the field it asks for, and with the first question the
// read-only fields from the national ID.
func onScreen(v kiosk.View, i int) bool {
	if v.Procedure == nil || i < 0 || i >= len(v.Procedure.Fields) {
		return false
	}
	f := v.Procedure.Fields[i]
	if f.ReadOnly {
		return v.Question == 0
	}
	return questionField(v).Name == f.Name
}

// frameOrigin is the origin of the provider's login page u, for the login
// screen's frame-src; "" when u is not an absolute http(s) URL.
func frameOrigin(u string) string {
	pu, err := url.Parse(u)
	if err != nil || (pu.Scheme != "http" && pu.Scheme != "https") || pu.Host == "" || strings.ContainsAny(pu.Host, " ;,'") {
		return ""
	}
	return pu.Scheme + "://" + pu.Host
}
