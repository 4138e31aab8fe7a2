package ui

// The technician's service screens: while the cabinet door is open the
// kiosk's screen is the service page (service.html) instead of the
// citizen's "out of service" screen. Before a technician token is read it
// says "out of service" and asks for the token; in service mode it shows
// the devices, the outbox, the versions and the actions. Every action is a
// plain form posted to /service/… and answered with a redirect to /.

import (
	"fmt"
	"html/template"
	"net/http"
	"slices"
	"time"

	"govkiosk/kiosk"
	"govkiosk/kiosk/lang"
	"govkiosk/kiosk/outbox"
)

// servicing says whether / shows the service page now.
func (s *Server) servicing(v kiosk.View) bool {
	return s.svc != nil && v.Step == kiosk.StepOutOfService && s.svc.DoorOpen()
}

// serviceRoutes adds the service actions; cop guards them like the
// citizen's.
func (s *Server) serviceRoutes(cop *http.CrossOriginProtection) {
	post := func(path string, f func(r *http.Request) error) {
		s.mux.Handle("POST "+path, cop.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
			if s.svc == nil {
				http.NotFound(w, r)
				return
			}
			if err := r.ParseForm(); err != nil {
				http.Error(w, "bad form", http.StatusBadRequest)
				return
			}
			s.logAction(path, f(r))
			http.Redirect(w, r, "/", http.StatusSeeOther)
		})))
	}
	post("/service/lang", func(r *http.Request) error {
		if code := r.FormValue("lang"); slices.Contains(lang.Codes(), code) {
			s.svc.SetLang(code)
		}
		return nil
	})
	post("/service/print", func(r *http.Request) error { return s.svc.TestPrint(r.Context()) })
	post("/service/ack", func(r *http.Request) error { return s.svc.Acknowledge(r.Context(), r.FormValue("what")) })
	post("/service/requeue", func(r *http.Request) error { return s.svc.Requeue(r.Context(), r.FormValue("id")) })
	post("/service/scan", func(r *http.Request) error { return s.svc.TestScan(r.Context()) })
	s.mux.HandleFunc("GET /service/scan.png", func(w http.ResponseWriter, r *http.Request) {
		if s.svc == nil {
			http.NotFound(w, r)
			return
		}
		png, ok := s.svc.ScanPNG()
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "image/png")
		w.Write(png)
	})
	post("/service/selftest", func(r *http.Request) error { return s.svc.SelfTest(r.Context()) })
	post("/service/leave", func(*http.Request) error { s.svc.Leave(); return nil })
	s.serviceNetRoutes(post)
	s.decommissionRoutes(post)
}

// serviceData is what service.html is drawn from.
type serviceData struct {
	V        kiosk.ServiceView
	Lang     string
	Langs    []string
	LangName func(string) string
	State    func(kiosk.ServiceDeviceView) string
	Media    func(kiosk.ServiceDeviceView) string
	Todo     func(kiosk.ServiceDeviceView) string
	Counts   []outboxCount
	Until    string
	LastQR   string
	SelfAt   string
	Net      netView // service_net.go
	PIN      pinPad
}

type outboxCount struct {
	State string
	N     int
}

// servicePage draws the service screen in the technician's language.
func (s *Server) servicePage(w http.ResponseWriter, r *http.Request, cv kiosk.View) {
	v := s.svc.View(r.Context())
	code := v.Lang
	if code == "" {
		code = cv.Lang
	}
	if code == "" {
		code = lang.Fallback
	}
	tr := func(k string) string { return T(code, k) }
	d := serviceData{
		V: v, Lang: code, Langs: lang.Codes(), LangName: lang.Name,
		State: func(d kiosk.ServiceDeviceView) string { return tr("svc.state." + string(d.State)) },
		Media: func(d kiosk.ServiceDeviceView) string {
			if d.Media == "" {
				return ""
			}
			if k := "svc.media." + d.Media; hasMessage(k) {
				return tr(k)
			}
			return d.Media
		},
		Todo: func(d kiosk.ServiceDeviceView) string { return tr(todoKey(d)) },
	}
	for _, st := range []outbox.State{outbox.StateQueued, outbox.StateUploading, outbox.StateUploaded, outbox.StateFinalised, outbox.StateNeedsAttention} {
		d.Counts = append(d.Counts, outboxCount{State: tr("svc.outbox." + string(st)), N: v.Counts[st]})
	}
	if !v.Until.IsZero() {
		d.Until = fmt.Sprintf(tr("svc.until"), v.Until.Local().Format("15:04"))
	}
	if v.LastQRKind != "" {
		d.LastQR = fmt.Sprintf(TN(code, "svc.qr_last", v.LastQRBytes), tr("svc.qrkind."+v.LastQRKind), v.LastQRBytes)
	}
	d.Net, d.PIN = s.netViewOf(code, v.Net), pinPadOf(code, v)
	if !v.SelfTestAt.IsZero() {
		d.SelfAt = v.SelfTestAt.Local().Format(time.TimeOnly)
	}
	tpl, err := s.base.Clone()
	if err == nil {
		tpl.Funcs(template.FuncMap{"t": tr, "tn": func(k string, n int) string { return TN(code, k, n) }})
	}
	if err != nil {
		s.log.Error("template", "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if err := tpl.ExecuteTemplate(w, "servicePage", d); err != nil {
		s.log.Error("render service page", "err", err)
	}
}

// todoKey is the message that says, in plain words, what to do about a
// device: its media first (paper out: put in a new roll), then its state
// and action (the XFS4IoT states and actions of drivers/device).
func todoKey(d kiosk.ServiceDeviceView) string {
	if k := "svc.do." + d.Device + "." + d.Media; d.Media != "" && hasMessage(k) {
		return k
	}
	switch d.State {
	case "noDevice":
		return "svc.do.nodevice"
	case "offline":
		return "svc.do.offline"
	}
	if d.Action != "" {
		if k := "svc.do." + string(d.Action); hasMessage(k) {
			return k
		}
	}
	return "svc.do.none"
}
