package ui

import (
	"net/http"
)

// decommissionRoutes add the service screen's decommission actions: ask
// (the confirm screen), confirm, cancel.
func (s *Server) decommissionRoutes(post func(path string, f func(r *http.Request) error)) {
	post("/service/decommission/ask", func(*http.Request) error { return s.svc.AskDecommission() })
	post("/service/decommission/cancel", func(*http.Request) error { return s.svc.CancelDecommission() })
	post("/service/decommission", func(r *http.Request) error { return s.svc.Decommission(r.Context()) })
}
