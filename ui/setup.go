package ui

import (
	"net/http"

	"govkiosk/kiosk"
)

// NewSetup is the touch UI of a kiosk that is not set up yet: one screen,
// in Thai, Vietnamese and English at once (whoever stands before it is a
// technician, not yet a citizen), that asks for the enrollment code and
// shows the enrollment and the self-test (kiosk.Setup). Plain forms:
// "Try again" after a failure, "Start the kiosk" once it is ready. The
// screen reloads itself while it waits for something.
func NewSetup(st *kiosk.Setup, o Options) (*Server, error) {
	s, err := newServer(nil, o)
	if err != nil {
		return nil, err
	}
	s.setup = st
	s.setupRoutes()
	return s, nil
}

// setupLangs are the languages of the setup screen, in the order shown.
var setupLangs = []string{"th", "vi", "en"}

func (s *Server) setupRoutes() {
	s.staticRoutes()
	s.mux.HandleFunc("GET /{$}", s.setupPage)
	cop := http.NewCrossOriginProtection()
	post := func(path string, f func() error) {
		s.mux.Handle("POST "+path, cop.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			s.logAction(path, f())
			http.Redirect(w, r, "/", http.StatusSeeOther)
		})))
	}
	post("/setup/retry", func() error { s.setup.Retry(); return nil })
	post("/setup/start", s.setup.Start)
}

// setupLine is one message of the setup screen in one language.
type setupLine struct{ Lang, Text string }

type setupData struct {
	V       kiosk.SetupView
	Refresh bool // reload the page: something is under way
	Say     func(key string) []setupLine
	Check   func(c kiosk.SetupCheck) string
}

func (s *Server) setupPage(w http.ResponseWriter, r *http.Request) {
	v := s.setup.View()
	say := func(key string) []setupLine {
		lines := make([]setupLine, 0, len(setupLangs))
		for _, l := range setupLangs {
			lines = append(lines, setupLine{l, T(l, key)})
		}
		return lines
	}
	d := setupData{
		V:       v,
		Refresh: v.Step != kiosk.SetupFailed && v.Step != kiosk.SetupReady,
		Say:     say,
		Check: func(c kiosk.SetupCheck) string {
			name := "svc.device." + c.Name
			if !hasMessage(name) {
				return c.Name
			}
			return T("en", name)
		},
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if err := s.base.ExecuteTemplate(w, "setupPage", d); err != nil {
		s.log.Error("setup screen", "err", err)
	}
}

// setupEnds holds the launcher's session stream open until setup ends:
// the server shuts down, the stream closes, and the launcher opens the
// browser again at the set-up kiosk's launch URL.
func (s *Server) setupEnds(w http.ResponseWriter, r *http.Request, fl http.Flusher) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	fl.Flush()
	select {
	case <-r.Context().Done():
	case <-s.setup.Done():
	}
}
