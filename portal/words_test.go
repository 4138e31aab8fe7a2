package portal_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"govkiosk/backend-client/api"
	"govkiosk/portal"
)

// TestCodeMessageInSessionLanguage: the confirmation code reaches the
// phone in the language of the kiosk session that asked for it, naming the
// procedure in that language; a session in another language gets English.
func TestCodeMessageInSessionLanguage(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	for _, tc := range []struct{ lang, want, name string }{
		{"vi", "mã xác nhận hồ sơ", "Cấp Giấy xác nhận tình trạng hôn nhân"},
		{"th", "รหัสยืนยันคำขอ", "หนังสือรับรองสถานภาพการสมรส"},
		{"fr", "your confirmation code for", "Certificate of marital status"},
	} {
		if _, err := e.kiosk.RequestConfirmation(ctx, "tok-an", api.ConfirmationRequest{ProcedureID: "marital-status", Language: tc.lang}); err != nil {
			t.Fatal(err)
		}
		e.id.mu.Lock()
		msgs := e.id.delivered["049090001234"]
		got := msgs[len(msgs)-1]
		e.id.mu.Unlock()
		if !strings.Contains(got, tc.want) || !strings.Contains(got, tc.name) || !strings.Contains(got, e.id.lastCode(t, "049090001234")) {
			t.Errorf("%s: phone got %q", tc.lang, got)
		}
		e.clk.Add(2 * time.Minute) // one code a minute per citizen
	}
}

func TestCodeMessageWording(t *testing.T) {
	for _, tc := range []struct{ lang, want string }{
		{"vi", "govkiosk: mã xác nhận hồ sơ “Cấp bản sao trích lục hộ tịch” của Ông/Bà là 123456. Xin nhập mã này trên ki-ốt trong vòng 5 phút. Không cho ai biết mã này, kể cả cán bộ."},
		{"th", "govkiosk: รหัสยืนยันคำขอ “ขอสำเนาทะเบียนคนเกิด” ของท่านคือ 123456 กรุณากรอกที่ตู้บริการภายใน 5 นาที และอย่าบอกรหัสนี้แก่ผู้ใด แม้แต่เจ้าหน้าที่"},
		{"en", "govkiosk: your confirmation code for “Copy of a birth record” is 123456. Type it on the kiosk within 5 minutes. Never share it with anybody, not even staff."},
	} {
		name := map[string]string{"vi": "Cấp bản sao trích lục hộ tịch", "th": "ขอสำเนาทะเบียนคนเกิด", "en": "Copy of a birth record"}[tc.lang]
		if got := portal.CodeMessage(tc.lang, name, "123456"); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.lang, got, tc.want)
		}
	}
}
