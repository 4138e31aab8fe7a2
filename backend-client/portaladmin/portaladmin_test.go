package portaladmin_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"govkiosk/backend-client/api"
	"govkiosk/backend-client/portaladmin"
)

// The client against a server that checks what the contract says the
// portal receives, and answers as the portal does.
func TestClientSpeaksTheContract(t *testing.T) {
	t.Parallel()
	var got []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = append(got, r.Method+" "+r.URL.Path)
		if r.URL.Path == api.PathCRL {
			w.Write([]byte{0x30, 0x01, 0x00})
			return
		}
		if r.Header.Get("Authorization") != "Bearer tok-123" {
			w.WriteHeader(http.StatusUnauthorized)
			json.NewEncoder(w).Encode(api.Error{Code: "unauthorized", Message: "the admin token is required"})
			return
		}
		switch r.URL.Path {
		case api.PathAdminEnrollTokens:
			var req api.EnrollTokenRequest
			if err := json.NewDecoder(r.Body).Decode(&req); err != nil || req.Office != "QN-TK" || req.TTLSeconds != 3600 || req.IssuedBy != "op-lan" {
				w.WriteHeader(http.StatusBadRequest)
				json.NewEncoder(w).Encode(api.Error{Code: "bad-request", Message: "bad enroll request"})
				return
			}
			json.NewEncoder(w).Encode(api.EnrollTokenResponse{Token: "T", Office: req.Office, Code: "govkiosk-enroll:?v=1", ExpiresAt: time.Unix(1e9, 0).UTC()})
		case api.PathAdminKiosks + "k-1/revoke", api.PathAdminKiosks + "k-1/retire":
			var req api.RevokeRequest
			json.NewDecoder(r.Body).Decode(&req)
			if req.Reason != "stolen" {
				w.WriteHeader(http.StatusBadRequest)
				return
			}
			w.WriteHeader(http.StatusNoContent)
		default:
			w.WriteHeader(http.StatusNotFound)
			json.NewEncoder(w).Encode(api.Error{Code: api.CodeKioskRevoked, Message: "kiosk k-2 is retired"})
		}
	}))
	defer srv.Close()
	ctx := context.Background()
	tokFile := filepath.Join(t.TempDir(), "token")
	os.WriteFile(tokFile, []byte("tok-123\n"), 0o600)
	tok, err := portaladmin.ReadToken(tokFile)
	if err != nil {
		t.Fatal(err)
	}
	c, err := portaladmin.New(srv.URL+"/", tok, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c.CreateEnrollToken(ctx, api.EnrollTokenRequest{Office: "QN-TK", TTLSeconds: 3600, IssuedBy: "op-lan"})
	if err != nil || resp.Token != "T" || resp.Office != "QN-TK" {
		t.Errorf("CreateEnrollToken = %+v, %v", resp, err)
	}
	if err := c.Revoke(ctx, "k-1", api.RevokeRequest{Reason: "stolen"}); err != nil {
		t.Errorf("Revoke: %v", err)
	}
	if err := c.Retire(ctx, "k-1", api.RevokeRequest{Reason: "stolen"}); err != nil {
		t.Errorf("Retire: %v", err)
	}
	err = c.Revoke(ctx, "k-2", api.RevokeRequest{Reason: "stolen"})
	var pe *portaladmin.Error
	if !errors.As(err, &pe) || pe.Status != 404 || pe.Portal.Code != api.CodeKioskRevoked || !strings.Contains(err.Error(), "kiosk k-2 is retired") {
		t.Errorf("a refusal: %v, want the portal's status, code and message", err)
	}
	if err := c.Revoke(ctx, "../admin", api.RevokeRequest{}); !errors.Is(err, portaladmin.ErrBadKioskID) {
		t.Errorf("Revoke(../admin) = %v, want ErrBadKioskID", err)
	}
	if der, err := c.CRL(ctx); err != nil || len(der) != 3 {
		t.Errorf("CRL = %x, %v", der, err)
	}
	bad, _ := portaladmin.New(srv.URL, "wrong", nil)
	if _, err := bad.CreateEnrollToken(ctx, api.EnrollTokenRequest{Office: "QN-TK"}); !errors.As(err, &pe) || pe.Status != 401 {
		t.Errorf("a wrong token: %v, want the portal's 401", err)
	}
	want := []string{"POST " + api.PathAdminEnrollTokens, "POST " + api.PathAdminKiosks + "k-1/revoke", "POST " + api.PathAdminKiosks + "k-1/retire",
		"POST " + api.PathAdminKiosks + "k-2/revoke", "GET " + api.PathCRL, "POST " + api.PathAdminEnrollTokens}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("requests:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if _, err := portaladmin.New("ftp://x", "t", nil); err == nil {
		t.Error("New took an ftp URL")
	}
}
