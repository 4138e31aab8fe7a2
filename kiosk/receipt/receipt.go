// Package receipt lays out the citizen's receipt as HTML in their language
// and rasterises it for the thermal printer.
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

	"govkiosk/drivers/printer"
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
		"pages": "pages", "fee": "Fee", "free": "Free", "scan": "Scan to follow your application",
		"feedback": "Tell us how we did: rate this service on the kiosk or in your ID app.",
		"kiosk":    "Kiosk",
	},
	"vi": {
		"title": "GIẤY TIẾP NHẬN HỒ SƠ", "keep": "Vui lòng giữ giấy này.",
		"procedure": "Thủ tục", "applicant": "Người nộp", "id": "Số định danh",
		"tracking": "Mã hồ sơ", "provisional": "SỐ TẠM THỜI",
		"provisional_note": "Hồ sơ sẽ được gửi khi có mạng. Mã hồ sơ sẽ được gửi vào ứng dụng định danh của bạn.",
		"received":         "Ngày tiếp nhận", "appointment": "Ngày hẹn trả kết quả", "documents": "Giấy tờ",
		"pages": "trang", "fee": "Lệ phí", "free": "Miễn phí", "scan": "Quét mã để tra cứu hồ sơ",
		"feedback": "Hãy đánh giá mức độ hài lòng trên ki-ốt hoặc trong ứng dụng.",
		"kiosk":    "Ki-ốt",
	},
	"th": {
		"title": "ใบรับคำขอ", "keep": "กรุณาเก็บใบรับนี้ไว้",
		"procedure": "งานบริการ", "applicant": "ผู้ยื่นคำขอ", "id": "เลขประจำตัวประชาชน",
		"tracking": "เลขที่คำขอ", "provisional": "เลขที่ชั่วคราว",
		"provisional_note": "คำขอจะถูกส่งเมื่อเครือข่ายกลับมา เลขที่คำขอจะส่งไปยังแอปของท่าน",
		"received":         "วันที่รับคำขอ", "appointment": "วันนัดรับผล", "documents": "เอกสาร",
		"pages": "หน้า", "fee": "ค่าธรรมเนียม", "free": "ไม่มีค่าธรรมเนียม", "scan": "สแกนเพื่อติดตามคำขอ",
		"feedback": "โปรดให้คะแนนความพึงพอใจที่ตู้บริการหรือในแอป",
		"kiosk":    "ตู้บริการ",
	},
}

var page = template.Must(template.New("receipt").Parse(`<!DOCTYPE html>
<html lang="{{.D.Lang}}"><head><meta charset="utf-8"><style>
body { margin: 0; padding: 0 1mm; font-family: "Kiosk Sans", "Kiosk Thai"; font-size: 10pt; color: #000; }
.c { text-align: center; }
h1 { font-size: 15pt; margin: 1mm 0; text-align: center; font-weight: bold; }
.office { font-size: 11pt; font-weight: bold; text-align: center; }
.ref { font-family: "Kiosk Mono", "Kiosk Sans"; font-size: 17pt; font-weight: bold; text-align: center; margin: 1mm 0; }
.prov { border: 0.6mm solid #000; padding: 1mm; text-align: center; font-weight: bold; }
.l { font-size: 8.5pt; margin-top: 1.6mm; }
.v { font-size: 11pt; font-weight: bold; }
hr { border: 0; border-top: 0.4mm dashed #000; margin: 2mm 0; }
.small { font-size: 8.5pt; }
</style></head><body>
<div class="office">{{.D.OfficeName}}</div>
<h1>{{.L.title}}</h1>
<div class="c small">{{.L.keep}}</div>
<hr>
{{if .D.Provisional}}<div class="prov">{{.L.provisional}}</div>{{else}}<div class="l c">{{.L.tracking}}</div>{{end}}
<div class="ref">{{.D.Reference}}</div>
{{if .D.Provisional}}<div class="c small">{{.L.provisional_note}}</div>{{end}}
<hr>
<div class="l">{{.L.procedure}}</div><div class="v">{{.D.Procedure}}</div>
<div class="l">{{.L.applicant}}</div><div class="v">{{.D.ApplicantName}}</div>
<div class="l">{{.L.id}}</div><div class="v">{{.D.MaskedCitizenID}}</div>
<div class="l">{{.L.received}}</div><div class="v">{{.Received}}</div>
<div class="l">{{.L.appointment}}</div><div class="v">{{.D.AppointmentDate}}</div>
<div class="l">{{.L.documents}}</div>
{{range .D.Documents}}<div class="v">• {{.Label}} — {{.Pages}} {{$.L.pages}}</div>{{end}}
<div class="l">{{.L.fee}}</div><div class="v">{{.Fee}}</div>
<hr>
<div class="c"><img src="{{.QR}}" style="width: {{.QRmm}}mm; height: {{.QRmm}}mm"></div>
<div class="c small">{{.L.scan}}</div>
<hr>
<div class="c small">{{.L.feedback}}</div>
<div class="c small">{{.L.kiosk}} {{.D.KioskID}}</div>
</body></html>`))

// HTML lays the receipt out. The printer's renderer supplies the fonts.
func HTML(d Data) ([]byte, error) {
	l, ok := labels[d.Lang]
	if !ok {
		l = labels["en"]
	}
	qr, err := printer.QRCode(d.TrackURL, 300)
	if err != nil {
		return nil, fmt.Errorf("receipt qr: %w", err)
	}
	var qrPNG bytes.Buffer
	if err := png.Encode(&qrPNG, qr); err != nil {
		return nil, err
	}
	var b bytes.Buffer
	err = page.Execute(&b, map[string]any{
		"D":        d,
		"L":        l,
		"QRmm":     fmt.Sprintf("%.3f", float64(qr.Bounds().Dx())/printer.DotsPerMM), // one image pixel per printer dot
		"Received": d.ReceivedAt.Local().Format("2006-01-02 15:04"),
		"Fee":      FormatFee(d.FeeMinor, d.Currency, l["free"]),
		"QR":       template.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(qrPNG.Bytes())),
	})
	return b.Bytes(), err
}

// FormatFee writes a fee in the currency's usual form; free is the word for no fee.
func FormatFee(minor int64, currency, free string) string {
	if minor == 0 {
		return free
	}
	switch currency {
	case "VND": // no minor unit in practice
		return groupThousands(minor) + " ₫"
	case "THB":
		s := groupThousands(minor / 100)
		if minor%100 != 0 {
			s += fmt.Sprintf(".%02d", minor%100)
		}
		return s + " บาท"
	}
	return fmt.Sprintf("%d %s", minor, currency)
}

func groupThousands(n int64) string {
	s := fmt.Sprint(n)
	var out []string
	for len(s) > 3 {
		out = append([]string{s[len(s)-3:]}, out...)
		s = s[:len(s)-3]
	}
	return strings.Join(append([]string{s}, out...), ".")
}

// Render lays the receipt out and rasterises it to 1 bit at the printer's width.
func Render(d Data, widthDots int) (*image.Gray, error) {
	h, err := HTML(d)
	if err != nil {
		return nil, err
	}
	g, err := printer.RenderHTML(h, widthDots)
	if err != nil {
		return nil, fmt.Errorf("render receipt: %w", err)
	}
	return printer.ToMono(g, widthDots), nil
}
