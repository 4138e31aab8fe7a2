package portal

import (
	"bytes"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"strings"
	"time"

	"govkiosk/backend-client/api"
	"govkiosk/backend-client/qrpng"
)

// The console's "Enroll a kiosk" form: an operator picks the office (and
// the kiosk a new PC replaces) and gets the enrollment code as a QR on the
// screen, for a technician to hold to the kiosk's reader, with the token
// and its expiry written out for kioskctl. A plain form post; the page
// with the code is the answer (the token is shown once and kept nowhere
// but hashed).

// PathConsoleEnroll is where the console's form posts.
const PathConsoleEnroll = "/enroll-token"

// enrollQRSize is the side of the QR on the page in pixels: large enough
// for a kiosk's imager to read it off a laptop screen.
const enrollQRSize = 480

var enrollTmpl = template.Must(template.New("enroll").Funcs(funcs).Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>govkiosk reference portal — enroll a kiosk</title>
<style>body{font-family:"Noto Sans",sans-serif;margin:1.5rem;max-width:48rem}code{word-break:break-all}.err{color:#a40000}img{image-rendering:pixelated}</style>
</head><body>
<h1>Enroll a kiosk</h1>
{{if .Err}}<p class="err">{{.Err}}</p>
{{else}}<p>Hold this code to the kiosk's QR reader in setup mode, or give the token to <code>kioskctl provision</code>. It works once, until {{when .T.ExpiresAt}}.</p>
<p><img id="enroll-qr" src="{{.QR}}" alt="enrollment code for office {{.T.Office}}" width="{{.Size}}" height="{{.Size}}"></p>
<dl>
<dt>office</dt><dd id="enroll-office">{{.T.Office}}</dd>
{{if .T.ReplaceKiosk}}<dt>replaces kiosk</dt><dd id="enroll-replace">{{.T.ReplaceKiosk}}</dd>{{end}}
<dt>token</dt><dd><code id="enroll-token">{{.T.Token}}</code></dd>
<dt>expires</dt><dd id="enroll-expires">{{when .T.ExpiresAt}}</dd>
<dt>CA fingerprint</dt><dd><code>{{.T.CAFingerprint}}</code></dd>
<dt>code</dt><dd><code id="enroll-code">{{.T.Code}}</code></dd>
</dl>{{end}}
<p><a href="/">Back to the console</a></p>
</body></html>`))

// enrollFormHTML is the form the console shows.
var enrollFormTmpl = template.Must(template.New("enroll-form").Parse(`<h2>Enroll a kiosk</h2>
<form method="post" action="` + PathConsoleEnroll + `">
<label>Office <select name="office">{{range .}}<option value="{{.Code}}">{{.Code}} — {{index .Name "en"}}</option>{{end}}</select></label>
<label>Kiosk to replace (optional) <input name="replace" placeholder="KIOSK-0007" size="12"></label>
<label>Valid for <select name="hours"><option value="8" selected>8 hours</option><option value="24">24 hours</option><option value="72">72 hours</option></select></label>
<label>Your staff id <input name="issuedBy" size="10"></label>
<button>Make the enrollment code</button>
</form>`))

func (s *Server) enrollForm() template.HTML {
	var b bytes.Buffer
	if err := enrollFormTmpl.Execute(&b, s.catalogue.Offices); err != nil {
		s.log.Warn("enroll form template", "err", err)
	}
	return template.HTML(b.String()) // produced by html/template
}

func (s *Server) handleConsoleEnroll(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 4<<10)
	if err := r.ParseForm(); err != nil {
		s.renderEnroll(w, http.StatusBadRequest, enrollPage{Err: "The form could not be read."})
		return
	}
	req := api.EnrollTokenRequest{
		Office:       r.PostForm.Get("office"),
		ReplaceKiosk: strings.TrimSpace(r.PostForm.Get("replace")),
		IssuedBy:     strings.TrimSpace(r.PostForm.Get("issuedBy")),
	}
	if h := r.PostForm.Get("hours"); h != "" {
		var n int64
		if _, err := fmt.Sscanf(h, "%d", &n); err != nil {
			s.renderEnroll(w, http.StatusBadRequest, enrollPage{Err: "The validity must be a number of hours."})
			return
		}
		req.TTLSeconds = n * int64(time.Hour/time.Second)
	}
	tr, err := s.issueScopedToken(r.Context(), req)
	var bad *badTokenRequest
	if errors.As(err, &bad) {
		s.renderEnroll(w, http.StatusBadRequest, enrollPage{Err: "No code made: " + bad.msg + "."})
		return
	}
	if err != nil {
		s.internal(w, r, err)
		return
	}
	qr, err := qrpng.DataURL(tr.Code, enrollQRSize)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	s.renderEnroll(w, http.StatusOK, enrollPage{T: tr, Size: enrollQRSize, QR: template.URL(qr)})
}

type enrollPage struct {
	Err  string
	T    api.EnrollTokenResponse
	QR   template.URL // a data: URL made here
	Size int
}

func (s *Server) renderEnroll(w http.ResponseWriter, status int, p enrollPage) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Frame-Options", "DENY")
	w.WriteHeader(status)
	if err := enrollTmpl.Execute(w, p); err != nil {
		s.log.Warn("enroll template", "err", err)
	}
}
