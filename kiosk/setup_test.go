package kiosk_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"govkiosk/backend-client/api"
	"govkiosk/kiosk"
)

// TestSetupSteps: other QR codes only set a notice; a failed enrollment
// says why and can be tried again; a code read while enrolling is not
// taken; Start only once enrolled and tested.
func TestSetupSteps(t *testing.T) {
	ctx := context.Background()
	fail := errors.New("enroll-token-used")
	release := make(chan struct{})
	st := kiosk.NewSetup(kiosk.SetupDeps{
		Enroll: func(ctx context.Context, c api.EnrollCode) (string, string, error) {
			if c.Token == "USED" {
				return "", "", fail
			}
			<-release
			return "KSK-9", c.Office, nil
		},
		Reason:   func(err error) string { return "token-used" },
		SelfTest: func(context.Context) []kiosk.SetupCheck { return []kiosk.SetupCheck{{Name: "portal", OK: true}} },
	})
	code := func(tok string) []byte {
		return []byte(api.EnrollCode{PortalURL: "https://p.example", Token: tok, CAFingerprint: "sha256:" + strings.Repeat("0", 64), Office: "QN-TK"}.String())
	}
	if err := st.Start(); !errors.Is(err, kiosk.ErrSetupNotReady) {
		t.Fatalf("Start before enrollment: %v", err)
	}
	st.Scan(ctx, []byte("https://portal.example/track/QN-1"))
	if v := st.View(); v.Step != kiosk.SetupWaiting || v.Notice != kiosk.SetupNoticeNotCode {
		t.Errorf("after another QR: %+v", v)
	}
	st.Scan(ctx, []byte("govkiosk-enroll:?v=1&portal=x"))
	if v := st.View(); v.Step != kiosk.SetupWaiting || v.Notice != kiosk.SetupNoticeBadCode {
		t.Errorf("after a damaged code: %+v", v)
	}
	st.Scan(ctx, code("USED"))
	st.Wait()
	if v := st.View(); v.Step != kiosk.SetupFailed || v.Reason != "token-used" {
		t.Errorf("after a used token: %+v", v)
	}
	st.Retry()
	st.Scan(ctx, code("GOOD"))
	st.Scan(ctx, code("OTHER"))
	if v := st.View(); v.Step != kiosk.SetupEnrolling || v.Notice != kiosk.SetupNoticeBusy {
		t.Errorf("a code while enrolling: %+v", v)
	}
	close(release)
	st.Wait()
	v := st.View()
	if v.Step != kiosk.SetupReady || v.KioskID != "KSK-9" || v.Office != "QN-TK" || !v.TestOK || len(v.Checks) != 1 {
		t.Fatalf("after enrollment: %+v", v)
	}
	if err := st.Start(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-st.Done():
	default:
		t.Error("Done not closed after Start")
	}
}
