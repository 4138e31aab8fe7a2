package portal

import (
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"slices"
	"strings"
	"time"

	"govkiosk/backend-client/api"
	"govkiosk/drivers/device"
	"govkiosk/kiosk/lang"
)

// AdminApplication is one received application as the admin list shows
// it: nothing personal (no applicant, no form answers, which hold the
// name, ID number and more).
type AdminApplication struct {
	TrackingNumber    string          `json:"trackingNumber"`
	ProvisionalNumber string          `json:"provisionalNumber"`
	PacketID          string          `json:"packetId"`
	ProcedureID       string          `json:"procedureId"`
	KioskID           string          `json:"kioskId"`
	Documents         []AdminDocument `json:"documents"`
	ReceivedAt        time.Time       `json:"receivedAt"`
	AppointmentDate   string          `json:"appointmentDate"`
	Status            string          `json:"status"`
}

// AdminApplicationDetail is one application with its form answers, for the
// caseworker: GET /api/v1/admin/applications/{tracking or provisional number}.
type AdminApplicationDetail struct {
	AdminApplication
	Form map[string]string `json:"form"`
}

// AdminKiosk is one kiosk: enrolled, or (on a demo portal) one that sent a
// heartbeat without being enrolled; its identity's state and its latest
// heartbeat.
type AdminKiosk struct {
	KioskID    string        `json:"kioskId"`
	LastSeen   time.Time     `json:"lastSeen"` // zero: no heartbeat yet
	Enrolled   bool          `json:"enrolled"`
	Heartbeat  api.Heartbeat `json:"heartbeat"`
	NeedsVisit bool          `json:"needsVisit"` // a device is not usable or asks for an action

	Office       string    `json:"office,omitempty"`      // of its enrollment
	State        string    `json:"state,omitempty"`       // "active", "revoked" or "retired" (enrolled kiosks)
	StateReason  string    `json:"stateReason,omitempty"` // why it was revoked or retired
	StateBy      string    `json:"stateBy,omitempty"`     // the operator or technician code that did it
	StateAt      time.Time `json:"stateAt,omitzero"`      // when
	EnrolledAt   time.Time `json:"enrolledAt,omitzero"`   //
	CertNotAfter time.Time `json:"certNotAfter,omitzero"` // of its latest certificate
}

func (s *Server) handleStatus(w http.ResponseWriter, r *http.Request) {
	a, err := s.store.applicationByRef(r.Context(), r.PathValue("ref"))
	if errors.Is(err, errNotFound) {
		writeError(w, http.StatusNotFound, CodeNotFound, "no application with this reference")
		return
	}
	if err != nil {
		s.internal(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, statusOf(a))
}

func statusOf(a applicationRow) api.ApplicationStatus {
	return api.ApplicationStatus{
		TrackingNumber:  a.TrackingNumber,
		ProcedureID:     a.ProcedureID,
		Status:          a.Status,
		AppointmentDate: a.AppointmentDate,
		ReceivedAt:      a.ReceivedAt,
	}
}

func adminApplication(a applicationRow) (AdminApplication, error) {
	x := AdminApplication{
		TrackingNumber: a.TrackingNumber, ProvisionalNumber: a.ProvisionalNumber, PacketID: a.PacketID,
		ProcedureID: a.ProcedureID, KioskID: a.KioskID, ReceivedAt: a.ReceivedAt,
		AppointmentDate: a.AppointmentDate, Status: a.Status,
	}
	if err := json.Unmarshal(a.Documents, &x.Documents); err != nil {
		return x, fmt.Errorf("documents of %s: %w", a.TrackingNumber, err)
	}
	if x.Documents == nil {
		x.Documents = []AdminDocument{}
	}
	return x, nil
}

func (s *Server) adminApplications(r *http.Request) ([]AdminApplication, error) {
	rows, err := s.store.applications(r.Context())
	if err != nil {
		return nil, err
	}
	out := make([]AdminApplication, 0, len(rows))
	for _, a := range rows {
		x, err := adminApplication(a)
		if err != nil {
			return nil, err
		}
		out = append(out, x)
	}
	return out, nil
}

func (s *Server) handleAdminApplication(w http.ResponseWriter, r *http.Request) {
	a, err := s.store.applicationByRef(r.Context(), r.PathValue("ref"))
	if errors.Is(err, errNotFound) {
		writeError(w, http.StatusNotFound, CodeNotFound, "no application with this reference")
		return
	}
	var d AdminApplicationDetail
	if err == nil {
		if d.AdminApplication, err = adminApplication(a); err == nil {
			err = json.Unmarshal(a.Form, &d.Form)
		}
	}
	if err != nil {
		s.internal(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, d)
}

func (s *Server) adminKiosks(r *http.Request) ([]AdminKiosk, error) {
	rows, err := s.store.heartbeats(r.Context())
	if err != nil {
		return nil, err
	}
	enrolled, err := s.store.kioskRows(r.Context())
	if err != nil {
		return nil, err
	}
	out := make([]AdminKiosk, 0, len(rows)+len(enrolled))
	for _, h := range rows {
		k := AdminKiosk{KioskID: h.KioskID, LastSeen: h.ReceivedAt, Enrolled: h.Enrolled}
		if err := json.Unmarshal(h.Body, &k.Heartbeat); err != nil {
			return nil, fmt.Errorf("heartbeat of %s: %w", h.KioskID, err)
		}
		for _, d := range k.Heartbeat.Devices {
			if !d.Usable() || d.Action != device.ActionNone {
				k.NeedsVisit = true
			}
		}
		out = append(out, k)
	}
	for _, e := range enrolled {
		i := slices.IndexFunc(out, func(k AdminKiosk) bool { return k.KioskID == e.ID })
		if i < 0 {
			out = append(out, AdminKiosk{KioskID: e.ID, Enrolled: true})
			i = len(out) - 1
		}
		k := &out[i]
		k.Office, k.State, k.StateReason, k.StateBy = cmpOr(e.Office, s.opts.OfficeCode), e.State, e.StateReason, e.StateBy
		k.StateAt, k.EnrolledAt, k.CertNotAfter = e.StateAt, e.EnrolledAt, e.CertNotAfter
		if e.State != kioskActive {
			k.NeedsVisit = false // nobody visits a kiosk that is gone
		}
	}
	slices.SortFunc(out, func(a, b AdminKiosk) int { return strings.Compare(a.KioskID, b.KioskID) })
	return out, nil
}

func (s *Server) handleAdminApplications(w http.ResponseWriter, r *http.Request) {
	apps, err := s.adminApplications(r)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, apps)
}

func (s *Server) handleAdminKiosks(w http.ResponseWriter, r *http.Request) {
	ks, err := s.adminKiosks(r)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, ks)
}

var funcs = template.FuncMap{
	"when": func(t time.Time) string { return t.Local().Format("2006-01-02 15:04:05") },
	"mib":  func(b uint64) string { return fmt.Sprintf("%.0f MiB", float64(b)/(1<<20)) },
	"pages": func(ds []AdminDocument) int {
		n := 0
		for _, d := range ds {
			n += d.Pages
		}
		return n
	},
	"join": strings.Join,
}

var consoleTmpl = template.Must(template.New("console").Funcs(funcs).Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta http-equiv="refresh" content="15">
<title>govkiosk reference portal — fleet console</title>
<style>
body{font-family:"Noto Sans",sans-serif;margin:1.5rem;color:#1b1b1b}
table{border-collapse:collapse;margin-bottom:2rem;width:100%}
th,td{border:1px solid #ccc;padding:.3rem .5rem;text-align:left;font-size:.9rem;vertical-align:top}
th{background:#f0f0f0}.bad{background:#fde2e1}.ok{color:#176b2c}.warn{color:#a15c00}
</style></head><body>
<h1>govkiosk reference portal</h1>
<p>Reference portal console. The admin JSON is at /api/v1/admin/ (the same admin token, as a Bearer).</p>
<h2>Fleet ({{len .Kiosks}})</h2>
<table><tr><th>kiosk</th><th>identity</th><th>last seen</th><th>version</th><th>devices</th><th>backlog</th><th>disk free</th><th>temperature</th><th>warnings</th></tr>
{{range .Kiosks}}<tr{{if .NeedsVisit}} class="bad"{{end}}><td>{{.KioskID}}{{if not .Enrolled}} (unenrolled){{end}}</td>
<td>{{if .State}}<span class="{{if eq .State "active"}}ok{{else}}warn{{end}}">{{.State}}</span>{{if .StateReason}} ({{.StateReason}}{{if not .StateAt.IsZero}}, {{when .StateAt}}{{end}}){{end}}<div>{{.Office}}</div>{{if not .CertNotAfter.IsZero}}<div>certificate until {{when .CertNotAfter}}</div>{{end}}{{end}}</td>
<td>{{if not .LastSeen.IsZero}}{{when .LastSeen}}{{end}}</td><td>{{.Heartbeat.Version}}</td>
<td>{{range .Heartbeat.Devices}}<div class="{{if .Usable}}ok{{else}}warn{{end}}">{{.Device}}: {{.State}}{{if .Media}} / {{.Media}}{{end}}{{if .Action}} → {{.Action}}{{end}}</div>{{end}}</td>
<td>{{.Heartbeat.Backlog}}</td><td>{{mib .Heartbeat.DiskFree}}</td><td>{{printf "%.1f" .Heartbeat.TemperatureC}} °C</td><td>{{join .Heartbeat.Warnings ", "}}</td></tr>
{{else}}<tr><td colspan="9">no kiosk yet</td></tr>{{end}}</table>
{{.EnrollForm}}
<h2>Received applications ({{len .Apps}})</h2>
<table><tr><th>tracking number</th><th>provisional</th><th>procedure</th><th>kiosk</th><th>received</th><th>appointment</th><th>documents</th><th>pages</th></tr>
{{range .Apps}}<tr><td><a href="/t/{{.TrackingNumber}}">{{.TrackingNumber}}</a></td><td>{{.ProvisionalNumber}}</td><td>{{.ProcedureID}}</td><td>{{.KioskID}}</td><td>{{when .ReceivedAt}}</td><td>{{.AppointmentDate}}</td>
<td>{{range .Documents}}<div>{{.Type}} ({{.Pages}} p.)</div>{{end}}</td><td>{{pages .Documents}}</td></tr>
{{else}}<tr><td colspan="8">none yet</td></tr>{{end}}</table>
</body></html>`))

func (s *Server) handleConsole(w http.ResponseWriter, r *http.Request) {
	apps, err := s.adminApplications(r)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	ks, err := s.adminKiosks(r)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if err := consoleTmpl.Execute(w, struct {
		Kiosks     []AdminKiosk
		Apps       []AdminApplication
		EnrollForm template.HTML
	}{ks, apps, s.enrollForm()}); err != nil {
		s.log.Warn("console template", "err", err)
	}
}

var trackTmpl = template.Must(template.New("track").Funcs(template.FuncMap{"name": lang.Name}).Parse(`<!doctype html>
<html lang="{{.Lang}}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>{{.T.title}}</title>
<style>body{font-family:"Noto Sans","Noto Sans Thai",sans-serif;margin:1.5rem;font-size:1.2rem;max-width:40rem}dt{font-weight:bold;margin-top:.8rem}</style>
</head><body>
<p>{{range $i, $l := .Langs}}{{if $i}} · {{end}}<a href="?lang={{$l}}">{{name $l}}</a>{{end}}</p>
<h1>{{.T.title}}</h1>
{{if .Found}}<dl>
<dt>{{.T.tracking}}</dt><dd>{{.Status.TrackingNumber}}</dd>
<dt>{{.T.procedure}}</dt><dd>{{.Procedure}}</dd>
<dt>{{.T.status}}</dt><dd>{{.StatusText}}</dd>
<dt>{{.T.received}}</dt><dd>{{.Received}}</dd>
<dt>{{.T.appointment}}</dt><dd>{{.Status.AppointmentDate}}</dd>
</dl>{{else}}<p>{{.T.notfound}}</p>{{end}}
</body></html>`))

var trackText = map[string]map[string]string{
	"en": {"title": "Application status", "tracking": "Tracking number", "procedure": "Procedure", "status": "Status",
		"received": "Received", "appointment": "Appointment date", "notfound": "No application has this number.",
		"st-received": "Received", "st-in-review": "In review", "st-ready": "Ready to collect", "st-rejected": "Rejected"},
	"vi": {"title": "Tình trạng hồ sơ", "tracking": "Mã hồ sơ", "procedure": "Thủ tục", "status": "Tình trạng",
		"received": "Ngày tiếp nhận", "appointment": "Ngày hẹn trả kết quả", "notfound": "Không có hồ sơ nào mang mã này.",
		"st-received": "Đã tiếp nhận", "st-in-review": "Đang xử lý", "st-ready": "Có kết quả, mời nhận", "st-rejected": "Bị từ chối"},
	"th": {"title": "สถานะคำขอ", "tracking": "เลขที่คำขอ", "procedure": "งานบริการ", "status": "สถานะ",
		"received": "วันที่รับเรื่อง", "appointment": "วันนัดรับผล", "notfound": "ไม่พบคำขอที่มีเลขนี้",
		"st-received": "รับเรื่องแล้ว", "st-in-review": "กำลังพิจารณา", "st-ready": "พร้อมรับผล", "st-rejected": "ไม่อนุมัติ"},
}

// pageLang is the track page's language: ?lang=, else the browser's
// Accept-Language, else Vietnamese, the reference portal's own.
func pageLang(r *http.Request) string {
	if l := r.URL.Query().Get("lang"); lang.Supported(l) {
		return l
	}
	if l, ok := lang.Match(r.Header.Get("Accept-Language")); ok {
		return l
	}
	return lang.Vietnamese
}

func (s *Server) handleTrackPage(w http.ResponseWriter, r *http.Request) {
	code := pageLang(r)
	data := struct {
		Lang, Procedure, StatusText, Received string
		Langs                                 []string
		T                                     map[string]string
		Found                                 bool
		Status                                api.ApplicationStatus
	}{Lang: code, Langs: lang.Codes(), T: trackText[code]}
	a, err := s.store.applicationByRef(r.Context(), r.PathValue("ref"))
	switch {
	case err == nil:
		data.Found = true
		data.Status = statusOf(a)
		data.Procedure = s.procs[a.ProcedureID].Name.Get(code)
		data.StatusText = data.T["st-"+a.Status]
		data.Received = a.ReceivedAt.Format("2006-01-02 15:04")
	case !errors.Is(err, errNotFound):
		s.internal(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if !data.Found {
		w.WriteHeader(http.StatusNotFound)
	}
	if err := trackTmpl.Execute(w, data); err != nil {
		s.log.Warn("track template", "err", err)
	}
}
