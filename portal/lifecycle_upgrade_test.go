package portal_test

import (
	"context"
	"database/sql"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	backendclient "govkiosk/backend-client"
	"govkiosk/backend-client/api"
	"govkiosk/portal"
)

// TestUpgradeKeepsEnrolledKiosks: a data dir of the version before the
// identity lifecycle (no office, state or token scope columns, no
// kiosk_certs) opens; its kiosk keeps working, can be revoked, and its
// certificate then is on the CRL; its unused token still enrolls.
func TestUpgradeKeepsEnrolledKiosks(t *testing.T) {
	dir := t.TempDir()
	opts := portal.Options{PublicURL: "http://portal.test", DataDir: dir, Identity: newFakeIdentity(), AdminToken: testAdminToken}
	s, err := portal.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s.Handler())
	key, pub := newKey(t)
	tok, _ := s.IssueEnrollToken()
	spare, _ := s.IssueEnrollToken()
	resp, err := backendclient.New(ts.URL, nil, "", nil).Enroll(context.Background(), api.EnrollRequest{Token: tok, PublicKeyPEM: pub})
	if err != nil {
		t.Fatal(err)
	}
	ts.Close()
	s.Close()

	// Back to the tables of the earlier version.
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "portal.db"))
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		`DROP TABLE kiosk_certs`, `DROP TABLE crl_numbers`,
		`ALTER TABLE enroll_tokens DROP COLUMN office`, `ALTER TABLE enroll_tokens DROP COLUMN replace_kiosk`,
		`ALTER TABLE enroll_tokens DROP COLUMN expires_at`, `ALTER TABLE enroll_tokens DROP COLUMN issued_by`,
		`ALTER TABLE kiosks DROP COLUMN office`, `ALTER TABLE kiosks DROP COLUMN state`, `ALTER TABLE kiosks DROP COLUMN state_reason`,
		`ALTER TABLE kiosks DROP COLUMN state_at`, `ALTER TABLE kiosks DROP COLUMN state_by`, `ALTER TABLE kiosks DROP COLUMN renewed_at`,
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	db.Close()

	s, err = portal.New(opts)
	if err != nil {
		t.Fatalf("opening the earlier version's data dir: %v", err)
	}
	defer s.Close()
	ts = httptest.NewServer(s.Handler())
	defer ts.Close()
	hb := heartbeat(resp.KioskID)
	hb.At = time.Now()
	if err := backendclient.New(ts.URL, nil, resp.KioskID, key).Heartbeat(context.Background(), hb); err != nil {
		t.Fatalf("the kiosk enrolled before the upgrade: %v", err)
	}
	if r2, err := backendclient.New(ts.URL, nil, "", nil).Enroll(context.Background(), api.EnrollRequest{Token: spare, PublicKeyPEM: pub}); err != nil || r2.OfficeCode != "QN-TK" {
		t.Errorf("a token issued before the upgrade: %+v %v", r2.OfficeCode, err)
	}
	// Its replacement must be in its (default) office.
	tr := issueToken(t, nil, ts.URL, api.EnrollTokenRequest{Office: "QN-TK", ReplaceKiosk: resp.KioskID})
	if tr.ReplaceKiosk != resp.KioskID {
		t.Errorf("replace token %+v", tr)
	}
	setState(t, nil, ts.URL, resp.KioskID, "revoke")
	hb.Seq++
	if err := backendclient.New(ts.URL, nil, resp.KioskID, key).Heartbeat(context.Background(), hb); !isCode(err, 403, api.CodeKioskRevoked) {
		t.Errorf("the revoked kiosk: %v", err)
	}
	crlResp, err := ts.Client().Get(ts.URL + api.PathCRL)
	if err != nil {
		t.Fatal(err)
	}
	defer crlResp.Body.Close()
	crl := readCRL(t, crlResp)
	cert := parseCertPEM(t, resp.CertificatePEM)
	found := false
	for _, e := range crl.RevokedCertificateEntries {
		found = found || e.SerialNumber.Cmp(cert.SerialNumber) == 0
	}
	if !found {
		t.Error("the CRL does not list the certificate issued before the upgrade")
	}
}
