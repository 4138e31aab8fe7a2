package kiosk

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"net/url"
	"testing"
	"time"

	"govkiosk/backend-client/api"
	"govkiosk/backend-client/idqr"
)

func issueIDQR(t *testing.T, key *ecdsa.PrivateKey, citizenID string, now time.Time) []byte {
	t.Helper()
	s, err := idqr.Issue(idqr.Claims{
		Issuer: "VN-C06", CitizenID: citizenID, Name: "Nguyễn Thị Hồng Nhung", BirthDate: "1954-03-02",
		Address: "12 Trần Phú, Hội An", Nationality: "VNM", IssuedAt: now.Add(-time.Hour), Expires: now.Add(24 * time.Hour),
	}, "vn-2026", key)
	if err != nil {
		t.Fatal(err)
	}
	return []byte(s)
}

// TestIdentityQRCrossChecksButNeverLogsIn: the signed ID QR on a citizen's
// card can fill the form of the citizen who logged in, is refused for
// anybody else, and never starts a session on its own.
func TestIdentityQRCrossChecksButNeverLogsIn(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	trust, err := idqr.NewTrustList(map[string]crypto.PublicKey{"vn-2026": key.Public()})
	if err != nil {
		t.Fatal(err)
	}
	r.c.d.IDTrust = trust
	now := r.clock.Now()
	mine := issueIDQR(t, key, "079123456789", now)

	// At the attract screen the card does not log anybody in.
	r.c.HandleScan(ctx, mine)
	if v := r.c.View(ctx); v.Step != StepAttract || v.Notice != MsgIDQRNotLogin || v.MaskedName != "" {
		t.Fatalf("ID QR at attract: step %s notice %q name %q", v.Step, v.Notice, v.MaskedName)
	}

	// Logged in, on the form: a procedure that asks for the birth date.
	proc := testProcedure
	proc.Fields = append([]api.Field{}, proc.Fields...)
	proc.Fields = append(proc.Fields, api.Field{Name: "born", Type: api.FieldDate, Label: api.Text{"en": "Born"}, Prefill: "birthdate"})
	r.c.Start()
	r.c.SetLanguage("en")
	r.c.ChooseProcedure(ctx, "marital-status")
	r.c.BeginLogin(ctx)
	r.c.CompleteLogin(ctx, url.Values{"state": {fakeState}})
	r.c.ConfirmIdentity(true)
	r.c.mu.Lock()
	r.c.s.procedure = &proc
	delete(r.c.s.form, "born")
	r.c.mu.Unlock()

	// Somebody else's card.
	r.c.HandleScan(ctx, issueIDQR(t, key, "079000000001", now))
	if v := r.c.View(ctx); v.Notice != MsgIDQROtherPerson || v.IDQRChecked || v.Form["born"] != "" {
		t.Fatalf("another citizen's card: %+v", v)
	}
	// A card signed by a key the kiosk does not trust.
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	r.c.HandleScan(ctx, issueIDQR(t, other, "079123456789", now))
	if v := r.c.View(ctx); v.Notice != MsgIDQRInvalid || v.IDQRChecked {
		t.Fatalf("forged card: %+v", v)
	}
	// The citizen's own card fills what is missing and is marked checked.
	r.c.HandleScan(ctx, mine)
	v := r.c.View(ctx)
	if v.Notice != "" || !v.IDQRChecked || v.Form["born"] != "1954-03-02" || v.Step != StepForm {
		t.Fatalf("own card: notice %q checked %v born %q step %s", v.Notice, v.IDQRChecked, v.Form["born"], v.Step)
	}
}

// idqrSetup trusts a fresh issuer key and returns it with a signed ID QR of
// the rig's citizen.
func (r *rig) idqrSetup(t *testing.T) (*ecdsa.PrivateKey, []byte) {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	trust, err := idqr.NewTrustList(map[string]crypto.PublicKey{"vn-2026": key.Public()})
	if err != nil {
		t.Fatal(err)
	}
	r.c.d.IDTrust = trust
	return key, issueIDQR(t, key, "079123456789", r.clock.Now())
}
