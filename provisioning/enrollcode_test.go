package provisioning

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"testing"
	"time"

	backendclient "govkiosk/backend-client"
	"govkiosk/backend-client/api"
)

// EnrollFailure sorts what a technician sees on the setup screen; errors
// come wrapped as Provision wraps them.
func TestEnrollFailure(t *testing.T) {
	_, unreachable := http.Get("http://127.0.0.1:9/") // nobody listens on port 9
	if unreachable == nil {
		t.Fatal("port 9 answered")
	}
	cases := []struct {
		err  error
		want string
	}{
		{&backendclient.APIError{StatusCode: 403, Code: "enroll-token-used"}, FailTokenUsed},
		{&backendclient.APIError{StatusCode: 403, Code: api.CodeEnrollTokenExpired}, FailTokenExpired},
		{&backendclient.APIError{StatusCode: 403, Code: "enroll-token-invalid"}, FailTokenInvalid},
		{&backendclient.APIError{StatusCode: 403, Code: api.CodeEnrollTokenScope}, FailTokenScope},
		{&backendclient.APIError{StatusCode: 500, Code: "internal"}, FailOther},
		{ErrCAMismatch, FailCA},
		{ErrWrongOffice, FailOffice},
		{unreachable, FailUnreachable},
		{context.DeadlineExceeded, FailUnreachable},
		{errors.New("disk full"), FailOther},
	}
	for _, c := range cases {
		wrapped := fmt.Errorf("provision: enroll: %w", c.err)
		if got := EnrollFailure(wrapped); got != c.want {
			t.Errorf("EnrollFailure(%v) = %q, want %q", wrapped, got, c.want)
		}
	}
	if EnrollFailure(nil) != "" {
		t.Error("no error has a reason")
	}
}

// WithCode takes everything the code carries.
func TestWithCode(t *testing.T) {
	c := api.EnrollCode{PortalURL: "https://p.example", Token: "T", CAFingerprint: "sha256:ab", Office: "QN-TK"}
	o := ProvisionOptions{DataDir: "/d", Listen: "127.0.0.1:1", Now: time.Now}.WithCode(c)
	if o.PortalURL != c.PortalURL || o.Token != "T" || o.CAFingerprint != c.CAFingerprint || o.Office != "QN-TK" || o.DataDir != "/d" || o.Listen != "127.0.0.1:1" {
		t.Errorf("WithCode: %+v", o)
	}
}
