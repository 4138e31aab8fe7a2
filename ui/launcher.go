package ui

import (
	"fmt"
	"net/http"
	"time"

	"govkiosk/kiosk"
)

// LauncherHandler is what the touchscreen's browser launcher (kioskctl
// browser, in the browser's own unit) asks the kiosk, over a unix socket
// only it and the kiosk can open:
//
//	GET /launch        a fresh one-time launch URL (text/plain, one line)
//	GET /session-ends  a stream with one line, "session-ended", each time a
//	                   citizen's session ends (a wipe back to the attract
//	                   screen), so the launcher starts the browser again
//	                   on a fresh profile
func (s *Server) LauncherHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /launch", func(w http.ResponseWriter, r *http.Request) {
		u, err := s.LaunchURL()
		if err != nil {
			s.log.Error("launch URL for the browser launcher", "err", err)
			http.Error(w, "no launch URL", http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		fmt.Fprintln(w, u)
	})
	mux.HandleFunc("GET /session-ends", s.sessionEnds)
	return mux
}

// sessionPoll bounds how late a session end is seen when nothing else
// wakes the watch (a citizen's own touches do not).
const sessionPoll = 500 * time.Millisecond

func (s *Server) sessionEnds(w http.ResponseWriter, r *http.Request) {
	fl, ok := w.(http.Flusher)
	if !ok {
		http.Error(w, "streaming unsupported", http.StatusInternalServerError)
		return
	}
	if s.c == nil { // setup mode: no sessions; the stream ends with setup
		s.setupEnds(w, r, fl)
		return
	}
	changed, stop := s.c.Subscribe()
	defer stop()
	tick := time.NewTicker(sessionPoll)
	defer tick.Stop()
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	fl.Flush()
	prev := s.c.Step()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-changed:
		case <-tick.C:
		}
		now := s.c.Step()
		if inSession(prev) && !inSession(now) {
			if _, err := fmt.Fprintln(w, "session-ended"); err != nil {
				return
			}
			fl.Flush()
		}
		prev = now
	}
}

// inSession says whether a screen belongs to a citizen's session.
func inSession(st kiosk.Step) bool {
	return st != kiosk.StepAttract && st != kiosk.StepOutOfService
}
