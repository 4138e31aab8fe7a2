package portal_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"html"
	"image/png"
	"io"
	"net/http"
	"net/url"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/makiuchi-d/gozxing"
	"github.com/makiuchi-d/gozxing/qrcode"

	backendclient "govkiosk/backend-client"
	"govkiosk/backend-client/api"
	"govkiosk/portal"
)

// adminDo sends an admin API request (body as JSON, nil for none) and
// returns the status and the answer's body.
func adminDo(t *testing.T, hc *http.Client, method, u string, body any) (int, []byte) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, u, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+testAdminToken)
	req.Header.Set("Content-Type", "application/json")
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// issueToken asks the admin API for an enrollment token and fails the
// test unless it is given.
func issueToken(t *testing.T, hc *http.Client, base string, req api.EnrollTokenRequest) api.EnrollTokenResponse {
	t.Helper()
	st, b := adminDo(t, hc, "POST", base+api.PathAdminEnrollTokens, req)
	if st != http.StatusCreated {
		t.Fatalf("enrollment token %+v: %d %s", req, st, b)
	}
	var out api.EnrollTokenResponse
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// setState revokes or retires a kiosk through the admin API.
func setState(t *testing.T, hc *http.Client, base, kioskID, action string) int {
	t.Helper()
	st, b := adminDo(t, hc, "POST", base+api.PathAdminKiosks+kioskID+"/"+action, api.RevokeRequest{Reason: "stolen", IssuedBy: "op-7"})
	if st != http.StatusNoContent && st != http.StatusNotFound {
		t.Fatalf("%s %s: %d %s", action, kioskID, st, b)
	}
	return st
}

// signedPost posts v signed by key as kioskID (Kiosk-Id, Kiosk-Signature)
// and returns the status and the error code of the answer.
func signedPost(t *testing.T, hc *http.Client, u, kioskID string, key *ecdsa.PrivateKey, v any) (int, string, []byte) {
	t.Helper()
	body, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	sig, err := backendclient.Sign(key, body)
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("POST", u, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(api.HeaderKioskID, kioskID)
	req.Header.Set(api.HeaderKioskSignature, base64.StdEncoding.EncodeToString(sig))
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return 0, err.Error(), nil // a TLS refusal
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var ae api.Error
	_ = json.Unmarshal(b, &ae)
	return resp.StatusCode, ae.Code, b
}

func parseCertPEM(t *testing.T, s string) *x509.Certificate {
	t.Helper()
	b, _ := pem.Decode([]byte(s))
	if b == nil {
		t.Fatalf("no PEM certificate in %q", s)
	}
	c, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// tlsPortal is the portal served by Start (HTTPS, real clock).
type tlsPortal struct {
	s     *portal.Server
	base  string
	roots *x509.CertPool
	admin *http.Client // no client certificate
}

func startTLSPortal(t *testing.T, mut func(*portal.Options)) *tlsPortal {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	opts := portal.Options{Listen: "127.0.0.1:0", DataDir: t.TempDir(), Identity: newFakeIdentity(), AdminToken: testAdminToken,
		RateLimits: portal.RateLimits{CodeGap: -1, CodesPerCitizen: -1, CodesPerKiosk: -1, WrongPerCitizen: -1, WrongPerKiosk: -1}}
	if mut != nil {
		mut(&opts)
	}
	s, base, err := portal.Start(ctx, opts)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); <-s.Done() })
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM([]byte(s.CAPEM()))
	return &tlsPortal{s: s, base: base, roots: roots, admin: tlsClient(roots)}
}

// enroll enrolls a new key with tok over TLS.
func (p *tlsPortal) enroll(t *testing.T, tok string) (tlsKiosk, api.EnrollResponse) {
	t.Helper()
	key, pub := newKey(t)
	resp, err := backendclient.New(p.base, p.admin, "", nil).Enroll(context.Background(), api.EnrollRequest{Token: tok, PublicKeyPEM: pub})
	if err != nil {
		t.Fatalf("enroll: %v", err)
	}
	return p.kiosk(t, resp.KioskID, key, resp.CertificatePEM), resp
}

func (p *tlsPortal) kiosk(t *testing.T, id string, key *ecdsa.PrivateKey, certPEM string) tlsKiosk {
	t.Helper()
	cert, err := tls.X509KeyPair([]byte(certPEM), pemOf(t, key))
	if err != nil {
		t.Fatal(err)
	}
	return tlsKiosk{id: id, key: key, cert: cert}
}

// heartbeat sends k's signed heartbeat over mutual TLS with k's certificate.
func (p *tlsPortal) heartbeat(k tlsKiosk) error {
	hb := heartbeat(k.id)
	hb.At, hb.Seq = time.Now(), uint64(time.Now().UnixNano())
	return backendclient.New(p.base, tlsClient(p.roots, k.cert), k.id, k.key).Heartbeat(context.Background(), hb)
}

// TestEnrollTokenScope: an operator's token enrolls a kiosk of the
// token's office (certificate OU, the office's name and code in the
// answer), lasts its TTL (at most 72 h), and works once; an office the
// catalogue does not have is refused.
func TestEnrollTokenScope(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	tr := issueToken(t, nil, e.url, api.EnrollTokenRequest{Office: "BKK-BR", IssuedBy: "op-1"})
	if len(tr.Token) < 32 || tr.Office != "BKK-BR" || tr.CAFingerprint != e.s.CAFingerprint() ||
		!tr.ExpiresAt.Equal(e.clk.Now().Add(api.DefaultEnrollTokenTTL)) {
		t.Errorf("token answer %+v", tr)
	}
	code, err := api.ParseEnrollCode(tr.Code)
	if err != nil {
		t.Fatalf("the code %q: %v", tr.Code, err)
	}
	if want := (api.EnrollCode{PortalURL: e.s.PublicURL(), Token: tr.Token, CAFingerprint: e.s.CAFingerprint(), Office: "BKK-BR"}); code != want {
		t.Errorf("code %+v, want %+v", code, want)
	}
	_, pub := newKey(t)
	c := backendclient.New(e.url, nil, "", nil)
	resp, err := c.Enroll(ctx, api.EnrollRequest{Token: tr.Token, PublicKeyPEM: pub})
	if err != nil {
		t.Fatal(err)
	}
	cat, _ := portal.LoadCatalogue()
	bkk, _ := cat.Office("BKK-BR")
	if resp.OfficeCode != "BKK-BR" || resp.OfficeName["th"] != bkk.Name["th"] || bkk.Name["th"] == "" {
		t.Errorf("enrolled in %q %v, want BKK-BR %v", resp.OfficeCode, resp.OfficeName, bkk.Name)
	}
	cert := parseCertPEM(t, resp.CertificatePEM)
	if ou := cert.Subject.OrganizationalUnit; len(ou) != 1 || ou[0] != "BKK-BR" {
		t.Errorf("certificate OU %v", ou)
	}
	if d := cert.NotAfter.Sub(e.clk.Now()); d < api.DefaultDeviceCertTTL-time.Minute || d > api.DefaultDeviceCertTTL {
		t.Errorf("certificate valid for %v after enrollment, want %v", d, api.DefaultDeviceCertTTL)
	}
	if _, err := c.Enroll(ctx, api.EnrollRequest{Token: tr.Token, PublicKeyPEM: pub}); !isCode(err, 403, portal.CodeEnrollTokenUsed) {
		t.Errorf("the token a second time: %v", err)
	}
	// A token of the old kind keeps the portal's own office.
	legacy, _ := e.s.IssueEnrollToken()
	if resp, err := c.Enroll(ctx, api.EnrollRequest{Token: legacy, PublicKeyPEM: pub}); err != nil || resp.OfficeCode != "QN-TK" {
		t.Errorf("a token of IssueEnrollToken: %+v %v, want office QN-TK", resp.OfficeCode, err)
	}

	for _, tc := range []struct {
		name string
		req  api.EnrollTokenRequest
	}{
		{"unknown office", api.EnrollTokenRequest{Office: "XX-NOPE"}},
		{"no office", api.EnrollTokenRequest{}},
		{"TTL above 72 h", api.EnrollTokenRequest{Office: "QN-TK", TTLSeconds: int64(api.MaxEnrollTokenTTL/time.Second) + 1}},
		{"negative TTL", api.EnrollTokenRequest{Office: "QN-TK", TTLSeconds: -5}},
	} {
		if st, b := adminDo(t, nil, "POST", e.url+api.PathAdminEnrollTokens, tc.req); st != http.StatusBadRequest {
			t.Errorf("%s: %d %s, want 400", tc.name, st, b)
		}
	}
	if st, _ := adminDo(t, nil, "POST", e.url+api.PathAdminEnrollTokens, "not an object"); st != http.StatusBadRequest {
		t.Errorf("malformed request: %d", st)
	}
	req, _ := http.NewRequest("POST", e.url+api.PathAdminEnrollTokens, strings.NewReader(`{"office":"QN-TK"}`))
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("a token without the admin token: %v %v", resp, err)
	}

	// The same from Go, for programs that embed the portal.
	if _, err := e.s.IssueEnrollCode(ctx, api.EnrollTokenRequest{Office: "XX-NOPE"}); err == nil || !strings.Contains(err.Error(), "XX-NOPE") {
		t.Errorf("IssueEnrollCode for an unknown office: %v", err)
	}
	goTok, err := e.s.IssueEnrollCode(ctx, api.EnrollTokenRequest{Office: "BKK-BR"})
	if err != nil {
		t.Fatal(err)
	}
	if resp, err := c.Enroll(ctx, api.EnrollRequest{Token: goTok.Token, PublicKeyPEM: pub}); err != nil || resp.OfficeCode != "BKK-BR" {
		t.Errorf("a token of IssueEnrollCode: %+v %v", resp.OfficeCode, err)
	}

	// Expiry, on the portal's (injected) clock.
	hour := issueToken(t, nil, e.url, api.EnrollTokenRequest{Office: "QN-TK", TTLSeconds: 3600})
	maxTTL := issueToken(t, nil, e.url, api.EnrollTokenRequest{Office: "QN-TK", TTLSeconds: int64(api.MaxEnrollTokenTTL / time.Second)})
	e.clk.Add(time.Hour)
	if _, err := c.Enroll(ctx, api.EnrollRequest{Token: hour.Token, PublicKeyPEM: pub}); !isCode(err, 403, api.CodeEnrollTokenExpired) {
		t.Errorf("a 1 h token after 1 h: %v, want 403 %s", err, api.CodeEnrollTokenExpired)
	}
	e.clk.Add(api.MaxEnrollTokenTTL - time.Hour - time.Second)
	if resp, err := c.Enroll(ctx, api.EnrollRequest{Token: maxTTL.Token, PublicKeyPEM: pub}); err != nil || resp.OfficeCode != "QN-TK" {
		t.Errorf("a 72 h token just before its end: %+v %v", resp, err)
	}
}

func isCode(err error, status int, code string) bool {
	st, c := apiCode(err)
	return st == status && c == code
}

// TestReplaceKeepsTheKioskID: a token with ReplaceKiosk enrolls a new PC
// under the old kiosk's id; the old key's certificate is refused over
// mutual TLS and is on the revocation list. A stolen (revoked) kiosk's
// place can be taken; a retired one, one of another office, or an unknown
// one cannot.
func TestReplaceKeepsTheKioskID(t *testing.T) {
	p := startTLSPortal(t, nil)
	old, _ := p.enroll(t, issueToken(t, p.admin, p.base, api.EnrollTokenRequest{Office: "QN-TK"}).Token)
	other, _ := p.enroll(t, issueToken(t, p.admin, p.base, api.EnrollTokenRequest{Office: "QN-TK"}).Token)
	if err := p.heartbeat(old); err != nil {
		t.Fatalf("the old PC before its replacement: %v", err)
	}
	tr := issueToken(t, p.admin, p.base, api.EnrollTokenRequest{Office: "QN-TK", ReplaceKiosk: old.id, IssuedBy: "op-2"})
	if code, err := api.ParseEnrollCode(tr.Code); err != nil || code.ReplaceKiosk != old.id || tr.ReplaceKiosk != old.id {
		t.Errorf("code %q (%v) does not name the replaced kiosk", tr.Code, err)
	}
	repl, resp := p.enroll(t, tr.Token)
	if repl.id != old.id {
		t.Fatalf("the replacement enrolled as %s, want %s", repl.id, old.id)
	}
	if parseCertPEM(t, resp.CertificatePEM).PublicKey.(*ecdsa.PublicKey).Equal(&old.key.PublicKey) {
		t.Fatal("the replacement's certificate is for the old key")
	}
	if err := p.heartbeat(repl); err != nil {
		t.Errorf("the replacement's heartbeat: %v", err)
	}
	if err := p.heartbeat(old); err == nil {
		t.Error("the replaced PC's certificate still works")
	} else if st, _ := apiCode(err); st != http.StatusUnauthorized && st != http.StatusForbidden {
		t.Errorf("the replaced PC: %v, want 401 or 403", err)
	}
	if err := p.heartbeat(other); err != nil {
		t.Errorf("another kiosk after the replacement: %v", err)
	}
	crl := fetchCRL(t, p)
	if !listed(crl, old.cert) || listed(crl, repl.cert) || listed(crl, other.cert) {
		t.Errorf("CRL lists the old certificate %v, the replacement's %v, another kiosk's %v; want true false false",
			listed(crl, old.cert), listed(crl, repl.cert), listed(crl, other.cert))
	}

	// A stolen kiosk's place is taken by a new PC, which works again.
	setState(t, p.admin, p.base, other.id, "revoke")
	if err := p.heartbeat(other); !isCode(err, 403, api.CodeKioskRevoked) {
		t.Errorf("the stolen kiosk: %v", err)
	}
	back, _ := p.enroll(t, issueToken(t, p.admin, p.base, api.EnrollTokenRequest{Office: "QN-TK", ReplaceKiosk: other.id}).Token)
	if back.id != other.id {
		t.Errorf("replacement of the stolen kiosk: %s", back.id)
	}
	if err := p.heartbeat(back); err != nil {
		t.Errorf("the stolen kiosk's replacement: %v", err)
	}
	if err := p.heartbeat(other); err == nil {
		t.Error("the stolen PC works again after its replacement")
	}
	if crl := fetchCRL(t, p); !listed(crl, other.cert) || listed(crl, back.cert) {
		t.Errorf("after replacing the stolen kiosk the CRL lists its certificate %v, the replacement's %v; want true false",
			listed(crl, other.cert), listed(crl, back.cert))
	}

	// Refused at issuing.
	pending := issueToken(t, p.admin, p.base, api.EnrollTokenRequest{Office: "QN-TK", ReplaceKiosk: old.id})
	setState(t, p.admin, p.base, old.id, "retire")
	for _, tc := range []struct {
		name string
		req  api.EnrollTokenRequest
	}{
		{"a kiosk of another office", api.EnrollTokenRequest{Office: "BKK-BR", ReplaceKiosk: other.id}},
		{"an unknown kiosk", api.EnrollTokenRequest{Office: "QN-TK", ReplaceKiosk: "KIOSK-9999"}},
		{"a retired kiosk", api.EnrollTokenRequest{Office: "QN-TK", ReplaceKiosk: old.id}},
	} {
		st, b := adminDo(t, p.admin, "POST", p.base+api.PathAdminEnrollTokens, tc.req)
		var ae api.Error
		_ = json.Unmarshal(b, &ae)
		if st != http.StatusBadRequest || ae.Code != api.CodeEnrollTokenScope {
			t.Errorf("replace %s: %d %s, want 400 %s", tc.name, st, b, api.CodeEnrollTokenScope)
		}
	}
	// A token issued before the kiosk was retired no longer replaces it.
	_, pub := newKey(t)
	_, err := backendclient.New(p.base, p.admin, "", nil).Enroll(context.Background(), api.EnrollRequest{Token: pending.Token, PublicKeyPEM: pub})
	if !isCode(err, 403, api.CodeEnrollTokenScope) {
		t.Errorf("replacing a kiosk retired since the token was issued: %v", err)
	}
}

func fetchCRL(t *testing.T, p *tlsPortal) *x509.RevocationList {
	t.Helper()
	resp, err := p.admin.Get(p.base + api.PathCRL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	return readCRL(t, resp)
}

func readCRL(t *testing.T, resp *http.Response) *x509.RevocationList {
	t.Helper()
	der, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/pkix-crl" {
		t.Fatalf("GET %s: %s %s", api.PathCRL, resp.Status, resp.Header.Get("Content-Type"))
	}
	crl, err := x509.ParseRevocationList(der)
	if err != nil {
		t.Fatal(err)
	}
	crl.Raw = der
	return crl
}

func listed(crl *x509.RevocationList, c tls.Certificate) bool {
	leaf, _ := x509.ParseCertificate(c.Certificate[0])
	for _, e := range crl.RevokedCertificateEntries {
		if e.SerialNumber.Cmp(leaf.SerialNumber) == 0 {
			return true
		}
	}
	return false
}

// TestRenew: a kiosk renews its certificate over mutual TLS: the new one
// chains to the enrollment CA, certifies the same key for 30 days from
// now and works; at most one renewal an hour; a stale or unsigned request
// and a revoked kiosk are refused.
func TestRenew(t *testing.T) {
	p := startTLSPortal(t, nil)
	k, _ := p.enroll(t, issueToken(t, p.admin, p.base, api.EnrollTokenRequest{Office: "BKK-BR"}).Token)
	hc := tlsClient(p.roots, k.cert)
	u := p.base + api.PathRenew
	if st, code, b := signedPost(t, hc, u, k.id, k.key, api.RenewRequest{KioskID: k.id, At: time.Now().Add(-2 * api.HeartbeatWindow)}); st != 400 {
		t.Errorf("stale renewal: %d %s %s", st, code, b)
	}
	wrong, _ := newKey(t)
	if st, code, _ := signedPost(t, hc, u, k.id, wrong, api.RenewRequest{KioskID: k.id, At: time.Now()}); st != 401 || code != portal.CodeBadSignature {
		t.Errorf("renewal signed by another key: %d %s", st, code)
	}
	if st, code, _ := signedPost(t, tlsClient(p.roots), u, k.id, k.key, api.RenewRequest{KioskID: k.id, At: time.Now()}); st != 401 || code != portal.CodeDeviceCertRequired {
		t.Errorf("renewal without the device certificate: %d %s", st, code)
	}

	st, code, b := signedPost(t, hc, u, k.id, k.key, api.RenewRequest{KioskID: k.id, At: time.Now()})
	if st != 200 {
		t.Fatalf("renew: %d %s %s", st, code, b)
	}
	var rr api.RenewResponse
	if err := json.Unmarshal(b, &rr); err != nil {
		t.Fatal(err)
	}
	cert := parseCertPEM(t, rr.CertificatePEM)
	if _, err := cert.Verify(x509.VerifyOptions{Roots: p.roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Errorf("the renewed certificate does not chain to the enrollment CA: %v", err)
	}
	oldLeaf, _ := x509.ParseCertificate(k.cert.Certificate[0])
	if !cert.PublicKey.(*ecdsa.PublicKey).Equal(&k.key.PublicKey) || cert.Subject.CommonName != k.id ||
		cert.Subject.OrganizationalUnit[0] != "BKK-BR" || cert.SerialNumber.Cmp(oldLeaf.SerialNumber) == 0 {
		t.Errorf("renewed certificate: key same %v, CN %s, OU %v, serial %v (old %v)", cert.PublicKey.(*ecdsa.PublicKey).Equal(&k.key.PublicKey),
			cert.Subject.CommonName, cert.Subject.OrganizationalUnit, cert.SerialNumber, oldLeaf.SerialNumber)
	}
	if d := time.Until(cert.NotAfter); d < api.DefaultDeviceCertTTL-time.Minute || d > api.DefaultDeviceCertTTL || !cert.NotAfter.Equal(rr.NotAfter) {
		t.Errorf("renewed certificate valid %v more (notAfter %v, answer %v)", d, cert.NotAfter, rr.NotAfter)
	}
	renewed := p.kiosk(t, k.id, k.key, rr.CertificatePEM)
	if err := p.heartbeat(renewed); err != nil {
		t.Errorf("heartbeat with the renewed certificate: %v", err)
	}
	var ks []portal.AdminKiosk
	_, kb := adminDo(t, p.admin, "GET", p.base+"/api/v1/admin/kiosks", nil)
	if err := json.Unmarshal(kb, &ks); err != nil || len(ks) != 1 || !ks[0].CertNotAfter.Equal(rr.NotAfter) || ks[0].State != "active" || ks[0].Office != "BKK-BR" {
		t.Errorf("admin kiosks after renewal: %s", kb)
	}

	// A looping kiosk cannot fill the table.
	st, code, b = signedPost(t, tlsClient(p.roots, renewed.cert), u, k.id, k.key, api.RenewRequest{KioskID: k.id, At: time.Now()})
	var ae api.Error
	_ = json.Unmarshal(b, &ae)
	if st != http.StatusTooManyRequests || code != portal.CodeRateLimited || ae.RetryAfter < 3500 || ae.RetryAfter > 3600 {
		t.Errorf("second renewal within the hour: %d %s", st, b)
	}

	setState(t, p.admin, p.base, k.id, "revoke")
	st, code, _ = signedPost(t, tlsClient(p.roots, renewed.cert), u, k.id, k.key, api.RenewRequest{KioskID: k.id, At: time.Now()})
	if st != http.StatusForbidden || code != api.CodeKioskRevoked {
		t.Errorf("renewal of a revoked kiosk: %d %s", st, code)
	}
}

// TestRevokedKioskRefusedOverTLS is the attack of a stolen kiosk: once an
// operator revokes it, its still-valid certificate and key open no kiosk
// endpoint.
func TestRevokedKioskRefusedOverTLS(t *testing.T) {
	p := startTLSPortal(t, func(o *portal.Options) { o.RenewInterval = -1 })
	k, _ := p.enroll(t, issueToken(t, p.admin, p.base, api.EnrollTokenRequest{Office: "QN-TK"}).Token)
	healthy, _ := p.enroll(t, issueToken(t, p.admin, p.base, api.EnrollTokenRequest{Office: "QN-TK"}).Token)
	ctx := context.Background()
	hc := tlsClient(p.roots, k.cert)
	confirm := func() error {
		_, err := backendclient.New(p.base, hc, k.id, k.key).RequestConfirmation(ctx, "tok-an", api.ConfirmationRequest{ProcedureID: "marital-status", KioskID: k.id})
		return err
	}
	renew := func() (int, string) {
		st, code, _ := signedPost(t, hc, p.base+api.PathRenew, k.id, k.key, api.RenewRequest{KioskID: k.id, At: time.Now()})
		return st, code
	}
	if err := p.heartbeat(k); err != nil {
		t.Fatalf("heartbeat before the revocation: %v", err)
	}
	if err := confirm(); err != nil {
		t.Fatalf("confirmation before the revocation: %v", err)
	}
	if st, code := renew(); st != 200 {
		t.Fatalf("renewal before the revocation: %d %s", st, code)
	}

	if st := setState(t, p.admin, p.base, k.id, "revoke"); st != http.StatusNoContent {
		t.Fatalf("revoke: %d", st)
	}
	if st, b := adminDo(t, p.admin, "POST", p.base+api.PathAdminKiosks+k.id+"/revoke", nil); st != http.StatusNoContent {
		t.Errorf("revoke again, with no body: %d %s, want 204", st, b)
	}
	if st, _ := adminDo(t, p.admin, "POST", p.base+api.PathAdminKiosks+k.id+"/revoke", []string{"not", "a", "request"}); st != http.StatusBadRequest {
		t.Errorf("revoke with a malformed body: %d, want 400", st)
	}
	if st := setState(t, p.admin, p.base, "KIOSK-9999", "revoke"); st != http.StatusNotFound {
		t.Errorf("revoke an unknown kiosk: %d, want 404", st)
	}
	if err := p.heartbeat(k); !isCode(err, 403, api.CodeKioskRevoked) {
		t.Errorf("heartbeat: %v, want 403 %s", err, api.CodeKioskRevoked)
	}
	if err := confirm(); !isCode(err, 403, api.CodeKioskRevoked) {
		t.Errorf("confirmation: %v, want 403 %s", err, api.CodeKioskRevoked)
	}
	if st, code := renew(); st != 403 || code != api.CodeKioskRevoked {
		t.Errorf("renewal: %d %s", st, code)
	}
	for _, path := range []string{api.PathApplications, portal.PathUploads, portal.PathPackets + "pkt-1/finalise", api.PathDecommission} {
		req, _ := http.NewRequest("POST", p.base+path, strings.NewReader("{}"))
		req.Header.Set(api.HeaderKioskID, k.id)
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var ae api.Error
		_ = json.NewDecoder(resp.Body).Decode(&ae)
		resp.Body.Close()
		if resp.StatusCode != 403 || ae.Code != api.CodeKioskRevoked {
			t.Errorf("POST %s: %s %s, want 403 %s", path, resp.Status, ae.Code, api.CodeKioskRevoked)
		}
	}
	if err := p.heartbeat(healthy); err != nil {
		t.Errorf("another kiosk after the revocation: %v", err)
	}
	var ks []portal.AdminKiosk
	_, kb := adminDo(t, p.admin, "GET", p.base+"/api/v1/admin/kiosks", nil)
	_ = json.Unmarshal(kb, &ks)
	found := false
	for _, x := range ks {
		if x.KioskID == k.id {
			found = true
			if x.State != "revoked" || x.StateReason != "stolen" || x.StateAt.IsZero() || x.CertNotAfter.IsZero() {
				t.Errorf("admin kiosks shows the revoked kiosk as %+v", x)
			}
		}
	}
	if !found {
		t.Errorf("admin kiosks lacks %s: %s", k.id, kb)
	}
}

// TestRevokedKioskRefusedOverPlainHTTP: on the demo's plain-http path
// there is no certificate; the signed requests of a revoked kiosk are
// refused all the same.
func TestRevokedKioskRefusedOverPlainHTTP(t *testing.T) {
	e := newEnv(t, func(o *portal.Options) { o.RenewInterval = -1 })
	ctx := context.Background()
	token := e.confirm(t, "tok-an", "049090001234", "marital-status")
	pkt := e.newPacket(t, 1, token, nil)
	uploadCreate := func() int {
		meta := "packetId " + base64.StdEncoding.EncodeToString([]byte("pkt-up-1")) + ",file " + base64.StdEncoding.EncodeToString([]byte("doc.pdf.age"))
		sig, _ := backendclient.Sign(e.key, portal.UploadCreationMessage(100, meta))
		req, _ := http.NewRequest("POST", e.url+portal.PathUploads, nil)
		req.Header.Set("Tus-Resumable", "1.0.0")
		req.Header.Set("Upload-Length", "100")
		req.Header.Set("Upload-Metadata", meta)
		req.Header.Set(api.HeaderKioskID, e.kid)
		req.Header.Set(api.HeaderKioskSignature, base64.StdEncoding.EncodeToString(sig))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if err := e.kiosk.Heartbeat(ctx, heartbeat(e.kid)); err != nil {
		t.Fatalf("heartbeat before the revocation: %v", err)
	}
	if st := uploadCreate(); st != http.StatusCreated {
		t.Fatalf("upload before the revocation: %d", st)
	}

	setState(t, nil, e.url, e.kid, "revoke")
	hb := heartbeat(e.kid)
	hb.Seq = 2
	if err := e.kiosk.Heartbeat(ctx, hb); !isCode(err, 403, api.CodeKioskRevoked) {
		t.Errorf("heartbeat: %v", err)
	}
	if _, err := e.kiosk.RequestConfirmation(ctx, "tok-an", api.ConfirmationRequest{ProcedureID: "marital-status", KioskID: e.kid}); !isCode(err, 403, api.CodeKioskRevoked) {
		t.Errorf("confirmation: %v", err)
	}
	if _, err := e.submit(pkt); !isCode(err, 403, api.CodeKioskRevoked) {
		t.Errorf("application confirmed before the revocation: %v", err)
	}
	if st := uploadCreate(); st != http.StatusForbidden {
		t.Errorf("upload: %d", st)
	}
	if st, code, _ := signedPost(t, nil, e.url+api.PathRenew, e.kid, e.key, api.RenewRequest{KioskID: e.kid, At: e.clk.Now()}); st != 403 || code != api.CodeKioskRevoked {
		t.Errorf("renewal: %d %s", st, code)
	}
}

// TestRevokedKioskCannotLogCitizensIn: the kiosk's device key is also its
// OIDC client key (private_key_jwt); a revoked kiosk's assertions are
// refused by the national-ID provider.
func TestRevokedKioskCannotLogCitizensIn(t *testing.T) {
	e := newIDPEnv(t)
	ctx := context.Background()
	if _, _, err := e.login.Begin(ctx, "vi"); err != nil {
		t.Fatalf("login before the revocation: %v", err)
	}
	setState(t, nil, e.url, e.kioskID, "revoke")
	if _, _, err := e.login.Begin(ctx, "vi"); err == nil {
		t.Error("a revoked kiosk pushed an authorization request")
	}
	f := url.Values{
		"client_id": {portal.OIDCClientID}, "redirect_uri": {kioskRedirect}, "response_type": {"code"},
		"scope": {"openid"}, "state": {"st-r"}, "nonce": {"no-r"},
		"code_challenge": {strings.Repeat("A", 43)}, "code_challenge_method": {"S256"},
		"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"},
		"client_assertion":      {e.assertion(t, e.key, e.kioskID, nil)},
	}
	if st, code := e.post(t, "/par", f); st != http.StatusUnauthorized || code != "invalid_client" {
		t.Errorf("PAR with a revoked kiosk's fresh assertion: %d %q, want 401 invalid_client", st, code)
	}
}

// TestCRL: the revocation list is DER, signed by the enrollment CA, lists
// a revoked kiosk's certificates and a retired one's but not a healthy
// kiosk's, its number grows, and openssl reads it.
func TestCRL(t *testing.T) {
	p := startTLSPortal(t, nil)
	var ks []tlsKiosk
	for range 3 {
		k, _ := p.enroll(t, issueToken(t, p.admin, p.base, api.EnrollTokenRequest{Office: "QN-TK"}).Token)
		ks = append(ks, k)
	}
	first := fetchCRL(t, p)
	if len(first.RevokedCertificateEntries) != 0 {
		t.Errorf("a CRL before any revocation lists %d certificates", len(first.RevokedCertificateEntries))
	}
	setState(t, p.admin, p.base, ks[0].id, "revoke")
	setState(t, p.admin, p.base, ks[1].id, "retire")
	crl := fetchCRL(t, p)
	caBlock, _ := pem.Decode([]byte(p.s.CAPEM()))
	ca, err := x509.ParseCertificate(caBlock.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if err := crl.CheckSignatureFrom(ca); err != nil {
		t.Errorf("CRL signature: %v", err)
	}
	if !listed(crl, ks[0].cert) || !listed(crl, ks[1].cert) || listed(crl, ks[2].cert) {
		t.Errorf("CRL lists revoked %v, retired %v, healthy %v; want true true false", listed(crl, ks[0].cert), listed(crl, ks[1].cert), listed(crl, ks[2].cert))
	}
	if crl.Number.Cmp(first.Number) <= 0 {
		t.Errorf("CRL number %v after %v", crl.Number, first.Number)
	}
	if now := time.Now(); crl.ThisUpdate.After(now) || crl.NextUpdate.Sub(now) < 50*time.Minute || crl.NextUpdate.Sub(now) > time.Hour {
		t.Errorf("CRL thisUpdate %v nextUpdate %v", crl.ThisUpdate, crl.NextUpdate)
	}
	// Unchanged: the same list again.
	if again := fetchCRL(t, p); !bytes.Equal(again.Raw, crl.Raw) {
		t.Error("the CRL was signed again with nothing changed")
	}
	openssl, err := exec.LookPath("openssl")
	if err != nil {
		t.Fatal("openssl is not installed (Debian package openssl): it checks the CRL's encoding")
	}
	cmd := exec.Command(openssl, "crl", "-inform", "DER", "-noout", "-text")
	cmd.Stdin = bytes.NewReader(crl.Raw)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("openssl crl: %v\n%s", err, out)
	}
	leaf, _ := x509.ParseCertificate(ks[0].cert.Certificate[0])
	if !strings.Contains(strings.ToUpper(string(out)), fmt.Sprintf("%X", leaf.SerialNumber)) {
		t.Errorf("openssl does not show serial %X:\n%s", leaf.SerialNumber, out)
	}
}

// TestDecommission: a kiosk retires itself; its certificate is refused
// from then on, the second call included, and the CRL lists it.
func TestDecommission(t *testing.T) {
	p := startTLSPortal(t, nil)
	k, _ := p.enroll(t, issueToken(t, p.admin, p.base, api.EnrollTokenRequest{Office: "QN-TK"}).Token)
	hc := tlsClient(p.roots, k.cert)
	u := p.base + api.PathDecommission
	if st, _, b := signedPost(t, hc, u, k.id, k.key, api.DecommissionRequest{KioskID: k.id, At: time.Now().Add(-time.Hour)}); st != 400 {
		t.Errorf("stale decommission: %d %s", st, b)
	}
	if err := p.heartbeat(k); err != nil {
		t.Fatalf("heartbeat after a refused decommission: %v", err)
	}
	if st, _, b := signedPost(t, hc, u, k.id, k.key, api.DecommissionRequest{KioskID: k.id, At: time.Now(), TechnicianCode: "tc-12"}); st != http.StatusNoContent {
		t.Fatalf("decommission: %d %s", st, b)
	}
	if st, code, _ := signedPost(t, hc, u, k.id, k.key, api.DecommissionRequest{KioskID: k.id, At: time.Now()}); st != 403 || code != api.CodeKioskRevoked {
		t.Errorf("second decommission: %d %s, want 403 %s", st, code, api.CodeKioskRevoked)
	}
	if err := p.heartbeat(k); !isCode(err, 403, api.CodeKioskRevoked) {
		t.Errorf("heartbeat after decommission: %v", err)
	}
	if !listed(fetchCRL(t, p), k.cert) {
		t.Error("the CRL does not list the decommissioned kiosk")
	}
	var ks []portal.AdminKiosk
	_, kb := adminDo(t, p.admin, "GET", p.base+"/api/v1/admin/kiosks", nil)
	if err := json.Unmarshal(kb, &ks); err != nil || len(ks) != 1 || ks[0].State != "retired" || ks[0].StateBy != "tc-12" {
		t.Errorf("admin kiosks after decommission: %s", kb)
	}
}

var reQRDataURL = regexp.MustCompile(`id="enroll-qr" src="data:image/png;base64,([A-Za-z0-9+/=&#;]+)"`)

// TestConsoleEnrollForm: the console's form gives a technician a QR that
// a reader decodes to the enrollment code of the chosen office, and the
// token in it enrolls a kiosk there; a bad office gets a message.
func TestConsoleEnrollForm(t *testing.T) {
	e := newEnv(t, nil)
	page := getText(t, e.url+"/")
	if !strings.Contains(page, `action="`+portal.PathConsoleEnroll+`"`) || !strings.Contains(page, `value="BKK-BR"`) {
		t.Fatalf("the console has no enrollment form:\n%s", page)
	}
	post := func(form url.Values) (int, string) {
		req, _ := http.NewRequest("POST", e.url+portal.PathConsoleEnroll, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Authorization", "Bearer "+testAdminToken)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	st, body := post(url.Values{"office": {"BKK-BR"}, "replace": {e.kid}, "hours": {"8"}})
	if st != 400 || !strings.Contains(body, "office") {
		t.Errorf("replacing a QN-TK kiosk with a BKK-BR code: %d\n%s", st, body)
	}
	st, body = post(url.Values{"office": {"BKK-BR"}, "hours": {"24"}, "issuedBy": {"op-3"}})
	if st != 200 {
		t.Fatalf("form: %d\n%s", st, body)
	}
	m := reQRDataURL.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no QR image on the page:\n%s", body)
	}
	pngBytes, err := base64.StdEncoding.DecodeString(html.UnescapeString(m[1])) // as a browser reads the attribute
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(pngBytes))
	if err != nil {
		t.Fatal(err)
	}
	bmp, err := gozxing.NewBinaryBitmapFromImage(img)
	if err != nil {
		t.Fatal(err)
	}
	res, err := qrcode.NewQRCodeReader().Decode(bmp, nil)
	if err != nil {
		t.Fatalf("the QR does not decode: %v", err)
	}
	code, err := api.ParseEnrollCode(res.GetText())
	if err != nil {
		t.Fatalf("the QR holds %q: %v", res.GetText(), err)
	}
	if code.Office != "BKK-BR" || code.CAFingerprint != e.s.CAFingerprint() || code.PortalURL != e.s.PublicURL() ||
		!strings.Contains(body, code.Token) {
		t.Errorf("code %+v", code)
	}
	_, pub := newKey(t)
	e.clk.Add(23 * time.Hour)
	resp, err := backendclient.New(e.url, nil, "", nil).Enroll(context.Background(), api.EnrollRequest{Token: code.Token, PublicKeyPEM: pub})
	if err != nil || resp.OfficeCode != "BKK-BR" {
		t.Errorf("enrolling with the code's token 23 h later: %+v %v", resp.OfficeCode, err)
	}
}

// TestRenewAfterExpiry: a kiosk offline past its certificate's end still
// renews with it (within 90 days), but uses it for nothing else; past the
// grace, or revoked, it does not renew.
func TestRenewAfterExpiry(t *testing.T) {
	clk := &clock{t: time.Now()}
	p := startTLSPortal(t, func(o *portal.Options) { o.Now = clk.Now })
	k, _ := p.enroll(t, issueToken(t, p.admin, p.base, api.EnrollTokenRequest{Office: "QN-TK"}).Token)
	late, _ := p.enroll(t, issueToken(t, p.admin, p.base, api.EnrollTokenRequest{Office: "QN-TK"}).Token)
	stolen, _ := p.enroll(t, issueToken(t, p.admin, p.base, api.EnrollTokenRequest{Office: "QN-TK"}).Token)
	setState(t, p.admin, p.base, stolen.id, "revoke")
	hb := func(k tlsKiosk) error {
		h := heartbeat(k.id)
		h.At, h.Seq = clk.Now(), uint64(clk.Now().UnixNano())
		return backendclient.New(p.base, tlsClient(p.roots, k.cert), k.id, k.key).Heartbeat(context.Background(), h)
	}
	renew := func(k tlsKiosk) (int, string, []byte) {
		return signedPost(t, tlsClient(p.roots, k.cert), p.base+api.PathRenew, k.id, k.key, api.RenewRequest{KioskID: k.id, At: clk.Now()})
	}

	clk.Add(api.DefaultDeviceCertTTL + 24*time.Hour) // offline a day past the end
	if err := hb(k); err == nil {
		t.Error("a heartbeat with an expired certificate was taken")
	} else if st, code := apiCode(err); st != 0 && (st != 401 || code != portal.CodeDeviceCertRequired) {
		t.Errorf("heartbeat with an expired certificate: %v", err)
	}
	st, code, b := renew(k)
	if st != 200 {
		t.Fatalf("renewal with a certificate expired a day ago: %d %s %s", st, code, b)
	}
	var rr api.RenewResponse
	_ = json.Unmarshal(b, &rr)
	if d := rr.NotAfter.Sub(clk.Now()); d < api.DefaultDeviceCertTTL-time.Minute || d > api.DefaultDeviceCertTTL {
		t.Errorf("renewed for %v", d)
	}
	if err := hb(p.kiosk(t, k.id, k.key, rr.CertificatePEM)); err != nil {
		t.Errorf("heartbeat with the renewed certificate: %v", err)
	}
	if st, code, _ := renew(stolen); st != 403 || code != api.CodeKioskRevoked {
		t.Errorf("renewal of a revoked kiosk's expired certificate: %d %s", st, code)
	}
	clk.Add(renewGrace)
	if st, code, _ := renew(late); st == 200 {
		t.Errorf("renewal with a certificate expired more than %v ago: %d %s", renewGrace, st, code)
	}
}

// renewGrace is the portal's: how long after its end a certificate renews.
const renewGrace = 90 * 24 * time.Hour

// TestEnrollTokenSingleUseUnderRace: the same code scanned by two kiosks
// at once (or sent twice by one) enrolls one kiosk; one renewal of two
// sent at once is taken.
func TestEnrollTokenSingleUseUnderRace(t *testing.T) {
	p := startTLSPortal(t, nil)
	tr := issueToken(t, p.admin, p.base, api.EnrollTokenRequest{Office: "QN-TK"})
	const n = 6
	type result struct {
		id  string
		err error
	}
	results := make(chan result, n)
	for range n {
		_, pub := newKey(t) // t's helpers only on the test's goroutine
		go func() {
			resp, err := backendclient.New(p.base, p.admin, "", nil).Enroll(context.Background(), api.EnrollRequest{Token: tr.Token, PublicKeyPEM: pub})
			results <- result{resp.KioskID, err}
		}()
	}
	var ok []string
	for range n {
		r := <-results
		switch {
		case r.err == nil:
			ok = append(ok, r.id)
		case !isCode(r.err, 403, portal.CodeEnrollTokenUsed):
			t.Errorf("a concurrent enrollment: %v, want 403 %s", r.err, portal.CodeEnrollTokenUsed)
		}
	}
	if len(ok) != 1 {
		t.Fatalf("one token enrolled %d kiosks: %v", len(ok), ok)
	}

	k, _ := p.enroll(t, issueToken(t, p.admin, p.base, api.EnrollTokenRequest{Office: "QN-TK"}).Token)
	body, _ := json.Marshal(api.RenewRequest{KioskID: k.id, At: time.Now()})
	sig, err := backendclient.Sign(k.key, body)
	if err != nil {
		t.Fatal(err)
	}
	statuses := make(chan int, n)
	for range n {
		go func() {
			req, _ := http.NewRequest("POST", p.base+api.PathRenew, bytes.NewReader(body))
			req.Header.Set(api.HeaderKioskID, k.id)
			req.Header.Set(api.HeaderKioskSignature, base64.StdEncoding.EncodeToString(sig))
			resp, err := tlsClient(p.roots, k.cert).Do(req)
			if err != nil {
				statuses <- 0
				return
			}
			resp.Body.Close()
			statuses <- resp.StatusCode
		}()
	}
	renewed := 0
	for range n {
		switch st := <-statuses; st {
		case 200:
			renewed++
		case http.StatusTooManyRequests:
		default:
			t.Errorf("a concurrent renewal: %d", st)
		}
	}
	if renewed != 1 {
		t.Errorf("%d of %d concurrent renewals taken, want 1", renewed, n)
	}
}
