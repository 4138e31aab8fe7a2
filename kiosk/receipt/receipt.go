// Package receipt lays out the citizen's receipt as HTML in their language
// and rasterises it for the thermal printer: the HTML is laid out by MuPDF
// (go-fitz) with the kiosk's fonts, so Thai and Vietnamese shape correctly
// (RenderHTML), reduced to black and white dots exactly the paper width
// (ToMono), and handed to any printer driver as device.PrintPart values
// (Parts). It knows the paper geometry (DotsPerMM, Width80mm, Width58mm),
// not the printer's wire protocol: it imports no driver.
package receipt

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"html/template"
	"image"
	"image/png"
	"strings"
	"time"
	"unicode/utf8"

	"govkiosk/drivers/device"
	"govkiosk/kiosk/lang"
)

// Data is everything printed on a receipt.
type Data struct {
	Lang            string
	OfficeName      string
	KioskID         string
	Procedure       string
	ProcedureCode   string
	ApplicantName   string
	MaskedCitizenID string
	Reference       string
	Provisional     bool
	ReceivedAt      time.Time
	AppointmentDate string // YYYY-MM-DD
	Documents       []Document
	FeeMinor        int64
	Currency        string
	TrackURL        string
	Location        *time.Location // the kiosk's time zone for ReceivedAt; nil: time.Local
	// TempDir is where the laid-out HTML, which holds the citizen's name,
	// passes through on its way to MuPDF: the kiosk's private directory.
	// "": os.TempDir().
	TempDir string
}

// Document is one line of the document list.
type Document struct {
	Label string
	Pages int
}

var labels = map[string]map[string]string{
	"en": {
		"title": "APPLICATION RECEIPT", "keep": "Please keep this receipt.",
		"procedure": "Procedure", "applicant": "Applicant", "id": "Citizen ID",
		"tracking": "Tracking number", "provisional": "PROVISIONAL NUMBER",
		"provisional_note": "Sent when the network returns. Your tracking number will be sent to your ID app.",
		"received":         "Received", "appointment": "Result ready from", "documents": "Documents",
		"pages": "pages", "page": "page", "fee": "Fee", "free": "Free", "scan": "Scan to follow your application",
		"feedback": "Tell us how we did: rate this service on the kiosk or in your ID app.",
		"kiosk":    "Kiosk", "code": "Procedure code",
	},
	"vi": {
		"title": "GIẤY TIẾP NHẬN HỒ SƠ", "keep": "Xin Ông/Bà giữ lại giấy này.",
		"procedure": "Thủ tục", "applicant": "Người nộp", "id": "Số định danh",
		"tracking": "Mã hồ sơ", "provisional": "SỐ TẠM THỜI",
		"provisional_note": "Hồ sơ sẽ được gửi khi có mạng. Mã hồ sơ sẽ được gửi vào ứng dụng định danh của Ông/Bà.",
		"received":         "Ngày tiếp nhận", "appointment": "Ngày hẹn trả kết quả", "documents": "Giấy tờ",
		"pages": "trang", "page": "trang", "fee": "Lệ phí", "free": "Miễn phí", "scan": "Quét mã để tra cứu hồ sơ",
		"feedback": "Xin Ông/Bà đánh giá mức độ hài lòng trên ki-ốt hoặc trong ứng dụng.",
		"kiosk":    "Ki-ốt", "code": "Mã thủ tục",
	},
	"th": {
		"title": "ใบรับคำขอ", "keep": "กรุณาเก็บใบรับนี้ไว้",
		"procedure": "งานบริการ", "applicant": "ผู้ยื่นคำขอ", "id": "เลขประจำตัวประชาชน",
		"tracking": "เลขที่คำขอ", "provisional": "เลขที่ชั่วคราว",
		"provisional_note": "ระบบจะส่งคำขอของท่านเองเมื่อเครือข่ายใช้งานได้ และจะแจ้งเลขที่คำขอในแอปของท่าน",
		"received":         "วันที่รับคำขอ", "appointment": "วันนัดรับผล", "documents": "เอกสาร",
		"pages": "หน้า", "page": "หน้า", "fee": "ค่าธรรมเนียม", "free": "ไม่มีค่าธรรมเนียม", "scan": "สแกนเพื่อติดตามคำขอ",
		"feedback": "โปรดให้คะแนนความพึงพอใจที่ตู้บริการหรือในแอป",
		"kiosk":    "ตู้บริการ", "code": "รหัสงานบริการ",
	},
}

// The receipt is one template in two halves around the QR code: printed
// whole (the QR as an image, one image pixel per printer dot), or as the
// part above and the part below a QR code the printer draws itself.
var page = template.Must(template.New("receipt").Funcs(template.FuncMap{"plural": lang.Plural}).Parse(`<!DOCTYPE html>
<html lang="{{.D.Lang}}"><head><meta charset="utf-8"><style>
body { margin: 0; padding: 0 1mm; font-family: "Kiosk Sans", "Kiosk Thai"; font-size: 10pt; color: #000; }
.c { text-align: center; }
h1 { font-size: 15pt; margin: 1mm 0; text-align: center; font-weight: bold; }
.office { font-size: 11pt; font-weight: bold; text-align: center; }
.ref { font-family: "Kiosk Mono", "Kiosk Sans"; font-weight: bold; text-align: center; margin: 1mm 0; white-space: nowrap; }
.prov { border: 0.6mm solid #000; padding: 1mm; text-align: center; font-weight: bold; font-size: 12pt; }
.l { font-size: 8.5pt; margin-top: 1.6mm; }
.v { font-size: 11pt; font-weight: bold; }
.doc { font-size: 10pt; }
hr { border: 0; border-top: 0.35mm solid #000; margin: 2mm 0; } /* MuPDF draws solid borders only */
.small { font-size: 8.5pt; }
</style></head><body>
{{if ne .Section "bottom"}}
<div class="office">{{.D.OfficeName}}</div>
<h1>{{.L.title}}</h1>
<div class="c small">{{.L.keep}}</div>
<hr>
{{if .D.Provisional}}<div class="prov">{{.L.provisional}}</div>{{else}}<div class="l c">{{.L.tracking}}</div>{{end}}
<div class="ref" style="font-size: {{.RefPt}}pt">{{.D.Reference}}</div>
{{if .D.Provisional}}<div class="c small">{{.L.provisional_note}}</div>{{end}}
<hr>
<div class="l">{{.L.procedure}}</div><div class="v">{{.D.Procedure}}</div>
{{if .D.ProcedureCode}}<div class="small">{{.L.code}}: {{.D.ProcedureCode}}</div>{{end}}
<div class="l">{{.L.applicant}}</div><div class="v">{{.D.ApplicantName}}</div>
<div class="l">{{.L.id}}</div><div class="v">{{.D.MaskedCitizenID}}</div>
<div class="l">{{.L.received}}</div><div class="v">{{.Received}}</div>
<div class="l">{{.L.appointment}}</div><div class="v">{{.Appointment}}</div>
<div class="l">{{.L.documents}}</div>
{{range .D.Documents}}<div class="doc">• {{.Label}} — {{.Pages}} {{plural $.D.Lang .Pages $.L.page $.L.pages}}</div>{{end}}
<div class="l">{{.L.fee}}</div><div class="v">{{.Fee}}</div>
<hr>
{{end}}
{{if eq .Section "all"}}<div class="c"><img src="{{.QR}}" style="width: {{.QRmm}}mm; height: {{.QRmm}}mm"></div>{{end}}
{{if ne .Section "top"}}
<div class="c small">{{.L.scan}}</div>
<hr>
<div class="c small">{{.L.feedback}}</div>
<div class="c small">{{.L.kiosk}} {{.D.KioskID}}</div>
{{end}}
</body></html>`))

// HTML lays the receipt out for 80 mm paper. The printer's renderer
// supplies the fonts.
func HTML(d Data) ([]byte, error) { return html(d, Width80mm, "all") }

// qrDots is the largest QR image for a paper width: about half the paper.
func qrDots(widthDots int) int { return min(300, widthDots*5/8) }

func html(d Data, widthDots int, section string) ([]byte, error) {
	l, ok := labels[d.Lang]
	if !ok {
		l = labels[lang.Fallback]
	}
	vars := map[string]any{
		"D":           d,
		"L":           l,
		"Section":     section,
		"Received":    formatDateTime(d.Lang, d.ReceivedAt.In(zone(d))),
		"Appointment": formatDay(d.Lang, d.AppointmentDate),
		"Fee":         FormatFee(d.Lang, d.FeeMinor, d.Currency, l["free"]),
		"RefPt":       refPoints(d.Reference, widthDots),
	}
	if section == "all" {
		qr, err := QRCode(d.TrackURL, qrDots(widthDots))
		if err != nil {
			return nil, fmt.Errorf("receipt qr: %w", err)
		}
		var qrPNG bytes.Buffer
		if err := png.Encode(&qrPNG, qr); err != nil {
			return nil, err
		}
		vars["QRmm"] = fmt.Sprintf("%.3f", float64(qr.Bounds().Dx())/DotsPerMM) // one image pixel per printer dot
		vars["QR"] = template.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(qrPNG.Bytes()))
	}
	var b bytes.Buffer
	if err := page.Execute(&b, vars); err != nil {
		return nil, err
	}
	return thaiBreaks(b.Bytes()), nil
}

// thaiBreaks puts a zero-width space between Thai character clusters. Thai
// has no spaces between words and MuPDF no Thai dictionary, so without
// them a long Thai name or procedure has nowhere to wrap and runs off the
// paper (58 mm above all). A break goes before a consonant or leading
// vowel, never after a leading vowel, so marks stay on their consonant.
func thaiBreaks(b []byte) []byte {
	const zwsp = "\u200b"
	isThai := func(r rune) bool { return r >= 0x0e01 && r <= 0x0e5b }
	starts := func(r rune) bool { return (r >= 0x0e01 && r <= 0x0e2e) || (r >= 0x0e40 && r <= 0x0e44) }
	leading := func(r rune) bool { return r >= 0x0e40 && r <= 0x0e44 }
	out := make([]byte, 0, len(b)+len(b)/4)
	var prev rune
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		if starts(r) && isThai(prev) && !leading(prev) {
			out = append(out, zwsp...)
		}
		out = append(out, b[i:i+n]...)
		prev = r
		i += n
	}
	return out
}

// refPoints is the font size that fits ref on one line of the paper: 17 pt
// when it fits, smaller (down to 9 pt) for long provisional numbers and
// 58 mm paper. A monospace digit is about 0.6 em wide.
func refPoints(ref string, widthDots int) string {
	n := max(utf8.RuneCountInString(ref), 1)
	usableMM := float64(widthDots)/DotsPerMM - 3
	pt := usableMM / (0.62 * float64(n)) * 72 / 25.4
	return fmt.Sprintf("%.1f", min(max(pt, 9), 17))
}

func zone(d Data) *time.Location {
	if d.Location != nil {
		return d.Location
	}
	return time.Local
}

// formatDateTime writes a date in the language's form (lang.FormatDate)
// and the time on the 24-hour clock.
func formatDateTime(code string, t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return lang.FormatDate(code, t) + " " + t.Format("15:04")
}

// formatDay formats a YYYY-MM-DD day, or returns it as given if it is not one.
func formatDay(code, day string) string {
	t, err := time.Parse(time.DateOnly, day)
	if err != nil {
		return day
	}
	return lang.FormatDate(code, t)
}

// FormatFee writes a fee of minor units of currency the way readers of
// language code write money: Vietnamese groups thousands with dots and
// puts the symbol after ("50.000 ₫"), Thai and English group with commas;
// a Thai reader sees baht as "200 บาท" and dong as "50,000 ดอง", an English
// one "฿200" and "50,000 dong", a Vietnamese one "200 bạt". Baht have
// satang (two decimals, shown only when there are some); dong have no
// minor unit. free is the word for no fee.
func FormatFee(code string, minor int64, currency, free string) string {
	if minor == 0 {
		return free
	}
	group, point := ",", "."
	if code == lang.Vietnamese {
		group, point = ".", ","
	}
	switch currency {
	case "VND":
		n := groupThousands(minor, group)
		switch code {
		case lang.Vietnamese:
			return n + " ₫"
		case lang.Thai:
			return n + " ดอง"
		}
		return n + " dong"
	case "THB":
		n := groupThousands(minor/100, group)
		if minor%100 != 0 {
			n += fmt.Sprintf("%s%02d", point, minor%100)
		}
		switch code {
		case lang.Thai:
			return n + " บาท"
		case lang.Vietnamese:
			return n + " bạt"
		}
		return "฿" + n
	}
	return groupThousands(minor, group) + " " + currency
}

func groupThousands(n int64, sep string) string {
	s := fmt.Sprint(n)
	var out []string
	for len(s) > 3 {
		out = append([]string{s[len(s)-3:]}, out...)
		s = s[:len(s)-3]
	}
	return strings.Join(append([]string{s}, out...), sep)
}

// Render lays the receipt out and rasterises it to 1 bit at the printer's
// width (576 or 384 dots), the QR code included as an image.
func Render(d Data, widthDots int) (*image.Gray, error) {
	return renderSection(d, widthDots, "all")
}

func renderSection(d Data, widthDots int, section string) (*image.Gray, error) {
	h, err := html(d, widthDots, section)
	if err != nil {
		return nil, err
	}
	g, err := renderHTML(d.TempDir, h, widthDots)
	if err != nil {
		return nil, fmt.Errorf("render receipt: %w", err)
	}
	return ToMono(g, widthDots), nil
}

// Parts lays the receipt out as printer parts. With nativeQR false it is
// one image (Render); with nativeQR true, the part above the QR code, the
// QR code for the printer to draw (GS ( k), and the part below.
func Parts(d Data, widthDots int, nativeQR bool) ([]device.PrintPart, error) {
	if !nativeQR {
		img, err := Render(d, widthDots)
		if err != nil {
			return nil, err
		}
		return []device.PrintPart{{Image: img}}, nil
	}
	if d.TrackURL == "" {
		return nil, fmt.Errorf("receipt qr: no tracking URL")
	}
	top, err := renderSection(d, widthDots, "top")
	if err != nil {
		return nil, err
	}
	bottom, err := renderSection(d, widthDots, "bottom")
	if err != nil {
		return nil, err
	}
	return []device.PrintPart{{Image: top}, {QR: d.TrackURL}, {Image: bottom}}, nil
}
