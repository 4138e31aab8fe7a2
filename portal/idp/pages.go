package idp

import (
	"html/template"
	"net/http"
	"net/url"
	"path"
	"strings"

	"govkiosk/backend-client/qrpng"
	"govkiosk/kiosk/fonts"
	"govkiosk/kiosk/lang"
)

// pickLang picks the first supported language of a ui_locales list
// (default lang.Fallback).
func pickLang(uiLocales string) string {
	if l, ok := lang.Match(uiLocales); ok {
		return l
	}
	return lang.Fallback
}

var messages = map[string]map[string]string{
	"en": {
		"title":    "Log in with your national digital ID",
		"step1":    "Open the ID app on your phone.",
		"step2":    "Scan this QR code.",
		"step3":    "Approve the login in the app.",
		"orcode":   "Or type this code in the app:",
		"waiting":  "Waiting for your approval…",
		"expired":  "This QR code has expired.",
		"fresh":    "Show a new QR code",
		"approved": "Approved. Please wait…",
		"denied":   "The login was declined.",
		"error":    "This login cannot start",
		"qralt":    "QR code for the ID app",
		"match":    "Then pick this number in the app:",
	},
	"th": {
		"title":    "เข้าสู่ระบบด้วยบัตรประชาชนดิจิทัล",
		"step1":    "เปิดแอปยืนยันตัวตนบนโทรศัพท์ของคุณ",
		"step2":    "สแกนคิวอาร์โค้ดนี้",
		"step3":    "กดยืนยันการเข้าสู่ระบบในแอป",
		"orcode":   "หรือพิมพ์รหัสนี้ในแอป:",
		"waiting":  "กำลังรอการยืนยันจากคุณ…",
		"expired":  "คิวอาร์โค้ดนี้หมดอายุแล้ว",
		"fresh":    "แสดงคิวอาร์โค้ดใหม่",
		"approved": "ยืนยันแล้ว กรุณารอสักครู่…",
		"denied":   "การเข้าสู่ระบบถูกปฏิเสธ",
		"error":    "ไม่สามารถเริ่มการเข้าสู่ระบบได้",
		"qralt":    "คิวอาร์โค้ดสำหรับแอปยืนยันตัวตน",
		"match":    "จากนั้นเลือกหมายเลขนี้ในแอป:",
	},
	"vi": {
		"title":    "Đăng nhập bằng định danh điện tử",
		"step1":    "Mở ứng dụng định danh trên điện thoại của bạn.",
		"step2":    "Quét mã QR này.",
		"step3":    "Xác nhận đăng nhập trong ứng dụng.",
		"orcode":   "Hoặc nhập mã này trong ứng dụng:",
		"waiting":  "Đang chờ bạn xác nhận…",
		"expired":  "Mã QR này đã hết hạn.",
		"fresh":    "Hiện mã QR mới",
		"approved": "Đã xác nhận. Vui lòng chờ…",
		"denied":   "Đăng nhập đã bị từ chối.",
		"error":    "Không thể bắt đầu đăng nhập",
		"qralt":    "Mã QR cho ứng dụng định danh",
		"match":    "Sau đó chọn số này trong ứng dụng:",
	},
}

const pageStyle = `
body { font-family: "Kiosk Sans", "Kiosk Thai", sans-serif; font-size: 28px; line-height: 1.5; margin: 0; padding: 32px; background: #fff; color: #111; text-align: center; }
h1 { font-size: 44px; margin: 0 0 24px; }
ol { display: inline-block; text-align: left; margin: 0 0 16px; }
img.qr { width: 420px; height: 420px; image-rendering: pixelated; border: 8px solid #fff; }
.code { font-family: "Kiosk Mono", monospace; font-size: 56px; letter-spacing: 6px; font-weight: bold; }
#match-number { font-size: 96px; }
.status { font-size: 34px; font-weight: bold; margin-top: 16px; }
.button, button { font: inherit; font-size: 34px; padding: 18px 40px; border-radius: 12px; border: 0; background: #0b5cad; color: #fff; text-decoration: none; display: inline-block; margin: 8px; }
button.deny { background: #8a1c1c; }
.hidden { display: none; }
.err { color: #8a1c1c; }
select { font: inherit; font-size: 28px; padding: 8px; }
li.msg { margin: 12px 0; text-align: left; }
`

var pages = template.Must(template.New("").Parse(`
{{define "head"}}<!doctype html>
<html lang="{{.Lang}}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>{{.Title}}</title>
<link rel="stylesheet" href="{{.FontCSS}}">
<style>{{.Style}}</style>
{{if .Refresh}}<meta http-equiv="refresh" content="{{.Refresh}}">{{end}}
</head><body>{{end}}

{{define "login"}}{{template "head" .}}
<main id="login" data-wait="{{.WaitURL}}" data-link-code="{{.LinkCode}}">
<h1>{{.T.title}}</h1>
<ol><li>{{.T.step1}}</li><li>{{.T.step2}}</li><li>{{.T.step3}}</li></ol>
<div id="qr"><img class="qr" id="qr-img" alt="{{.T.qralt}}" src="{{.QR}}"></div>
<p>{{.T.orcode}}</p>
<p class="code" id="link-code">{{.LinkDisplay}}</p>
<p class="match">{{.T.match}} <span class="code" id="match-number">{{.Number}}</span></p>
<p class="status" id="st-pending">{{.T.waiting}}</p>
<p class="status hidden" id="st-approved">{{.T.approved}}</p>
<p class="status hidden" id="st-denied">{{.T.denied}}</p>
<div class="hidden" id="st-expired"><p class="status">{{.T.expired}}</p><a class="button" href="{{.RetryURL}}">{{.T.fresh}}</a></div>
</main>
<script nonce="{{.ScriptNonce}}">
(function () {
  var main = document.getElementById("login");
  function show(id) {
    ["st-pending", "st-approved", "st-denied", "st-expired"].forEach(function (s) {
      document.getElementById(s).classList.toggle("hidden", s !== id);
    });
    if (id === "st-expired") { document.getElementById("qr").classList.add("hidden"); }
  }
  function decided(d) {
    if ((d.status === "approved" || d.status === "denied") && d.redirect) {
      show("st-" + d.status);
      window.location.replace(d.redirect);
      return true;
    }
    if (d.status === "expired" && d.redirect) {
      show("st-expired");
      window.location.replace(d.redirect);
      return true;
    }
    return false;
  }
  function poll() {
    fetch(main.dataset.wait, {cache: "no-store"}).then(function (r) { return r.json(); }).then(function (d) {
      if (decided(d)) { return; }
      if (d.status === "expired") {
        show("st-expired");
      } else {
        poll();
      }
    }).catch(function () { window.setTimeout(poll, 2000); });
  }
  poll();
})();
</script>
</body></html>{{end}}

{{define "error"}}{{template "head" .}}
<main><h1 class="err">{{.T.error}}</h1><p id="error-code">{{.Code}}</p><p>{{.Desc}}</p></main>
</body></html>{{end}}

{{define "phone"}}{{template "head" .}}
<main>
<h1>ID app (phone simulator)</h1>
<form method="get" action="{{.PhoneBase}}">
<label>Citizen: <select name="citizen">{{range .Citizens}}<option value="{{.ID}}"{{if eq .ID $.Selected.ID}} selected{{end}}>{{.Name}} ({{.Profile}})</option>{{end}}</select></label>
<button type="submit">Choose</button>
</form>
<h2>Logins waiting for approval</h2>
{{if not .Pending}}<p>None.</p>{{end}}
{{range .Pending}}<form method="post" action="{{$.PhoneBase}}/link/{{.LinkCode}}">
<span class="code">{{.Display}}</span>
{{template "where" .}}
<input type="hidden" name="citizenId" value="{{$.Selected.ID}}">
{{if .Choices}}<p>Pick the number on the kiosk screen:</p>
{{range .Choices}}<button type="submit" name="number" value="{{.}}">{{.}}</button>{{end}}
{{else}}<button type="submit" name="action" value="approve">Approve</button>{{end}}
<button class="deny" type="submit" name="action" value="deny">Decline</button>
</form>{{end}}
<h2>Inbox of {{.Selected.Name}}</h2>
<ul>{{range .Inbox}}<li class="msg"><small>{{.At.Format "2006-01-02 15:04:05"}}</small><br>{{.Text}}</li>{{else}}<li class="msg">No messages.</li>{{end}}</ul>
<h2>ID card</h2>
<p><a href="{{.PhoneBase}}/idcard?citizen={{.Selected.ID}}">Show the signed QR on {{.Selected.Name}}'s ID card</a></p>
</main></body></html>{{end}}

{{define "where"}}<dl class="where">
{{if .Office}}<dt>Office</dt><dd id="where-office">{{.Office}}</dd>{{end}}
{{if .KioskID}}<dt>Kiosk</dt><dd id="where-kiosk">{{.KioskID}}</dd>{{else}}<dt>Kiosk</dt><dd>{{.ClientID}}</dd>{{end}}
{{if .Procedure}}<dt>Procedure</dt><dd id="where-procedure">{{.Procedure}}</dd>{{end}}
</dl>{{end}}

{{define "link"}}{{template "head" .}}
<main>
<h1>Approve login?</h1>
<p>A kiosk asks to log you in. Approve only if you are standing at it.</p>
{{template "where" .Login}}
<p class="code">{{.Login.Display}}</p>
<form method="post" action="{{.PhoneBase}}/link/{{.Login.LinkCode}}">
<label>Log in as: <select name="citizenId">{{range .Citizens}}<option value="{{.ID}}">{{.Name}} ({{.Profile}})</option>{{end}}</select></label><br>
{{if .Login.Choices}}<p>Which number is on the kiosk screen?</p>
<p class="choices">{{range .Login.Choices}}<button type="submit" name="number" value="{{.}}" data-number="{{.}}">{{.}}</button>{{end}}</p>
{{else}}<button type="submit" name="action" value="approve">Approve</button>{{end}}
<button class="deny" type="submit" name="action" value="deny">Decline</button>
</form>
</main></body></html>{{end}}

{{define "result"}}{{template "head" .}}
<main><h1{{if .Failed}} class="err"{{end}}>{{.Message}}</h1><p><a class="button" href="{{.PhoneBase}}">Back</a></p></main>
</body></html>{{end}}
`))

type pageBase struct {
	Lang, Title, FontCSS string
	Style                template.CSS
	Refresh              int
	T                    map[string]string
}

func (p *Provider) base(lang, title string) pageBase {
	return pageBase{Lang: lang, Title: title, FontCSS: p.issuerP + "/static/fonts/fonts.css", Style: pageStyle, T: messages[lang]}
}

// qrDataURI renders s as a QR code PNG data URI.
func qrDataURI(s string) (string, error) { return qrpng.DataURL(s, 420) }

// securityHeaders sets the headers of every page. frameAncestor is the
// one origin that may frame the page ("" for none): the login page lets
// the client's own screen show it inside its frame (as embedded QR logins
// do), and only the origin of the redirect URI registered for the login.
func securityHeaders(w http.ResponseWriter, scriptNonce, frameAncestor string) {
	h := w.Header()
	csp := "default-src 'none'; img-src data:; style-src 'self' 'unsafe-inline'; font-src 'self'; connect-src 'self'; form-action 'self'; base-uri 'none'"
	if frameAncestor != "" {
		csp += "; frame-ancestors " + frameAncestor
	} else {
		csp += "; frame-ancestors 'none'"
		h.Set("X-Frame-Options", "DENY") // CSP's frame-ancestors replaces it where an origin may frame
	}
	if scriptNonce != "" {
		csp += "; script-src 'nonce-" + scriptNonce + "'"
	}
	h.Set("Content-Security-Policy", csp)
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Type", "text/html; charset=utf-8")
}

func (p *Provider) renderLogin(w http.ResponseWriter, r *http.Request, t *txn) {
	qr, err := qrDataURI(p.phoneURL + "/link/" + t.linkCode)
	if err != nil {
		p.log.Error("idp qr", "err", err)
		p.renderError(w, http.StatusInternalServerError, t.lang, "server_error", "QR")
		return
	}
	nonce, err := p.randToken(16)
	if err != nil {
		p.renderError(w, http.StatusInternalServerError, t.lang, "server_error", "randomness")
		return
	}
	securityHeaders(w, nonce, originOf(t.redirectURI))
	b := p.base(t.lang, messages[t.lang]["title"])
	p.execute(w, "login", struct {
		pageBase
		QR                                                    template.URL // a data: URI made here, not user input
		WaitURL, LinkCode, LinkDisplay, RetryURL, ScriptNonce string
		Number                                                string
	}{b, template.URL(qr), p.issuerP + "/login/" + t.id + "/wait", t.linkCode, displayLinkCode(t.linkCode), r.URL.RequestURI(), nonce, t.bind.number})
}

func (p *Provider) renderError(w http.ResponseWriter, status int, lang, code, desc string) {
	securityHeaders(w, "", "")
	w.WriteHeader(status)
	p.execute(w, "error", struct {
		pageBase
		Code, Desc string
	}{p.base(lang, messages[lang]["error"]), code, desc})
}

func (p *Provider) execute(w http.ResponseWriter, name string, data any) {
	if err := pages.ExecuteTemplate(w, name, data); err != nil {
		p.log.Error("idp template", "page", name, "err", err)
	}
}

// serveFont serves the kiosk's embedded Noto fonts and a stylesheet with
// their @font-face rules, so Thai and Vietnamese render on any browser.
func serveFont(w http.ResponseWriter, r *http.Request) {
	name := path.Base(r.PathValue("file"))
	w.Header().Set("Cache-Control", "public, max-age=86400")
	if name == "fonts.css" {
		w.Header().Set("Content-Type", "text/css; charset=utf-8")
		_, _ = w.Write([]byte(fonts.FaceCSS))
		return
	}
	if !strings.HasSuffix(name, ".ttf") {
		http.NotFound(w, r)
		return
	}
	b, err := fonts.FS.ReadFile(name)
	if err != nil {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "font/ttf")
	_, _ = w.Write(b)
}

// originOf is the origin (scheme://host[:port]) of u, "" when it has none.
func originOf(u string) string {
	pu, err := url.Parse(u)
	if err != nil || pu.Scheme == "" || pu.Host == "" || strings.ContainsAny(pu.Host, " ;,'") {
		return ""
	}
	return pu.Scheme + "://" + pu.Host
}
