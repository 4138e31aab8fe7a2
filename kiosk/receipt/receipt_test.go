package receipt

import (
	"bytes"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"govkiosk/kiosk/lang"
)

func sample(lang string, provisional bool) Data {
	d := Data{
		Lang: lang, OfficeName: "Trung tâm Phục vụ hành chính công Tam Kỳ", KioskID: "KIOSK-0001",
		Procedure: "Xác nhận tình trạng hôn nhân", ProcedureCode: "1.004873",
		ApplicantName: "Nguyễn Thị Hồng Nhung", MaskedCitizenID: "04••••••••45",
		Reference: "QN-2026-000042", ReceivedAt: time.Date(2026, 11, 20, 9, 30, 0, 0, time.UTC),
		AppointmentDate: "2026-11-25", Documents: []Document{{Label: "Quyết định ly hôn", Pages: 2}},
		FeeMinor: 3000, Currency: "VND", TrackURL: "http://127.0.0.1:8090/t/QN-2026-000042",
	}
	if lang == "th" {
		d.OfficeName, d.Procedure, d.ApplicantName = "สำนักงานเขตบางรัก", "หนังสือรับรองสถานภาพการสมรส", "สมชาย ใจดี"
		d.FeeMinor, d.Currency = 20000, "THB"
	}
	if provisional {
		d.Reference, d.TrackURL = "P-K0001-261120-3F9A2C", "http://127.0.0.1:8090/t/P-K0001-261120-3F9A2C"
		d.Provisional = true
	}
	return d
}

func TestRenderEachLanguageWithReadableQR(t *testing.T) {
	zbar, err := exec.LookPath("zbarimg")
	if err != nil {
		t.Skip("zbarimg is not installed (make deps installs it)")
	}
	for _, code := range lang.Codes() {
		tc := struct {
			lang        string
			provisional bool
		}{code, code == lang.English} // and one offline receipt among them
		d := sample(tc.lang, tc.provisional)
		img, err := Render(d, 576)
		if err != nil {
			t.Fatalf("%s: %v", tc.lang, err)
		}
		if w := img.Bounds().Dx(); w != 576 {
			t.Fatalf("%s: width %d, want 576 dots", tc.lang, w)
		}
		if h := img.Bounds().Dy(); h < 600 || h > 4000 {
			t.Fatalf("%s: height %d dots is not a receipt", tc.lang, h)
		}
		for _, p := range img.Pix {
			if p != 0 && p != 255 {
				t.Fatalf("%s: pixel %d is not 1-bit", tc.lang, p)
			}
		}
		p := filepath.Join(t.TempDir(), tc.lang+".png")
		var b bytes.Buffer
		png.Encode(&b, img)
		os.WriteFile(p, b.Bytes(), 0o644)
		if dir := os.Getenv("RECEIPT_OUT"); dir != "" {
			os.WriteFile(filepath.Join(dir, "receipt-"+tc.lang+".png"), b.Bytes(), 0o644)
		}
		out, err := exec.Command(zbar, "--raw", "-q", p).Output()
		if err != nil {
			t.Fatalf("%s: zbarimg found no QR: %v", tc.lang, err)
		}
		if got := strings.TrimSpace(string(out)); got != d.TrackURL {
			t.Fatalf("%s: QR = %q, want %q", tc.lang, got, d.TrackURL)
		}
	}
}

func TestHTMLEscapesAndMarksProvisional(t *testing.T) {
	d := sample("en", true)
	d.ApplicantName = `<script>alert(1)</script>`
	h, err := HTML(d)
	if err != nil {
		t.Fatal(err)
	}
	s := string(h)
	if strings.Contains(s, "<script>") {
		t.Fatal("applicant name not escaped")
	}
	if !strings.Contains(s, "PROVISIONAL NUMBER") || !strings.Contains(s, d.Reference) {
		t.Fatal("provisional receipt not marked")
	}
}

func TestFormatFee(t *testing.T) {
	for _, tc := range []struct {
		lang     string
		minor    int64
		cur, out string
	}{
		{"vi", 0, "VND", "Free"}, {"vi", 3000, "VND", "3.000 ₫"}, {"vi", 1250000, "VND", "1.250.000 ₫"},
		{"en", 50000, "VND", "50,000 dong"}, {"th", 50000, "VND", "50,000 ดอง"},
		{"th", 20000, "THB", "200 บาท"}, {"th", 12050, "THB", "120.50 บาท"}, {"th", 123456700, "THB", "1,234,567 บาท"},
		{"en", 20000, "THB", "฿200"}, {"en", 12050, "THB", "฿120.50"}, {"vi", 12050, "THB", "120,50 bạt"},
		{"en", 5, "EUR", "5 EUR"},
	} {
		if got := FormatFee(tc.lang, tc.minor, tc.cur, "Free"); got != tc.out {
			t.Errorf("FormatFee(%s, %d, %s) = %q, want %q", tc.lang, tc.minor, tc.cur, got, tc.out)
		}
	}
}

// TestReceiptTimeInOfficeZone: the time of receipt is printed in the
// office's time zone, whatever the machine's is.
func TestReceiptTimeInOfficeZone(t *testing.T) {
	at := time.Date(2026, 12, 2, 20, 30, 0, 0, time.UTC)
	for _, tc := range []struct{ lang, zone, want string }{
		{"th", "Asia/Bangkok", "03/12/2569 03:30"},
		{"vi", "Asia/Ho_Chi_Minh", "03/12/2026 03:30"},
	} {
		loc, err := time.LoadLocation(tc.zone)
		if err != nil {
			t.Fatal(err)
		}
		d := Sample(tc.lang, false)
		d.ReceivedAt, d.Location = at, loc
		h, err := HTML(d)
		if err != nil {
			t.Fatal(err)
		}
		if got := string(h); !strings.Contains(strings.ReplaceAll(got, "\u200b", ""), tc.want) {
			t.Errorf("%s receipt in %s does not say %s", tc.lang, tc.zone, tc.want)
		}
	}
}
