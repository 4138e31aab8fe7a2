package portal_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"govkiosk/backend-client"
	"govkiosk/backend-client/api"
	"govkiosk/portal"
)

// TestEnrollTokens: issued tokens are long and random, work once, and
// expire.
func TestEnrollTokens(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	c := backendclient.New(e.url, nil, "", nil)
	tok, err := e.s.IssueEnrollToken()
	if err != nil {
		t.Fatal(err)
	}
	if len(tok) < 32 {
		t.Errorf("enrollment token %q: %d characters, want at least 32", tok, len(tok))
	}
	other, _ := e.s.IssueEnrollToken()
	if other == tok {
		t.Error("two tokens alike")
	}
	_, pub := newKey(t)
	e.clk.Add(portal.EnrollTokenTTL + time.Second)
	_, err = c.Enroll(ctx, api.EnrollRequest{Token: tok, PublicKeyPEM: pub})
	if st, code := apiCode(err); st != 403 || code != portal.CodeEnrollTokenExpired {
		t.Errorf("token used %v after issue: %v, want 403 %s", portal.EnrollTokenTTL+time.Second, err, portal.CodeEnrollTokenExpired)
	}
	fresh, _ := e.s.IssueEnrollToken()
	e.clk.Add(portal.EnrollTokenTTL - time.Minute)
	if _, err := c.Enroll(ctx, api.EnrollRequest{Token: fresh, PublicKeyPEM: pub}); err != nil {
		t.Errorf("token within its lifetime: %v", err)
	}
	var ae *backendclient.APIError
	if _, err := c.Enroll(ctx, api.EnrollRequest{Token: fresh, PublicKeyPEM: pub}); !errors.As(err, &ae) || ae.Code != portal.CodeEnrollTokenUsed {
		t.Errorf("token used twice: %v", err)
	}
}
