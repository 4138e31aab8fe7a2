package portal_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"govkiosk/backend-client/api"
	"govkiosk/portal"
)

// get fetches u with the given Authorization header (none if empty) and
// does not follow redirects.
func get(t *testing.T, c *http.Client, u, auth string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", u, nil)
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	if c == nil {
		c = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(b)
}

// TestAdminNeedsAuthentication is the attack of anybody who reaches the
// portal reading the admin JSON and the console, and acting as any citizen
// on the phone simulator.
func TestAdminNeedsAuthentication(t *testing.T) {
	e := newEnv(t, func(o *portal.Options) { o.PhoneSimulator = true })
	admin := []string{"/api/v1/admin/applications", "/api/v1/admin/kiosks", "/", "/phone", "/phone/api/pending", "/phone/api/inbox?citizen=049090001234", "/phone/idcard?citizen=049190012345"}
	for _, p := range admin {
		for _, auth := range []string{"", "Bearer wrong-token", "Basic " + testAdminToken} {
			resp, _ := get(t, nil, e.url+p, auth)
			if resp.StatusCode == 200 {
				t.Errorf("GET %s with %q: 200, want a refusal", p, auth)
			}
		}
		if resp, body := get(t, nil, e.url+p, "Bearer "+testAdminToken); resp.StatusCode != 200 {
			t.Errorf("GET %s with the admin token: %s %.200s", p, resp.Status, body)
		}
	}
	// The API answers 401; a browser is sent to the login form.
	if resp, body := get(t, nil, e.url+"/api/v1/admin/applications", ""); resp.StatusCode != 401 || !strings.Contains(body, portal.CodeUnauthorized) {
		t.Errorf("admin JSON without a token: %s %s", resp.Status, body)
	}
	if resp, _ := get(t, nil, e.url+"/", ""); resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/login") {
		t.Errorf("console without a token: %s to %q, want the login form", resp.Status, resp.Header.Get("Location"))
	}

	// The login form sets a cookie that opens the console and the phone.
	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar}
	resp, err := browser.PostForm(e.url+"/login", url.Values{"token": {"wrong"}, "next": {"/"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 {
		t.Errorf("login with a wrong token: %s", resp.Status)
	}
	if resp, _ := get(t, browser, e.url+"/api/v1/admin/kiosks", ""); resp.StatusCode != 401 {
		t.Errorf("after a failed login: %s", resp.Status)
	}
	resp, err = browser.PostForm(e.url+"/login", url.Values{"token": {testAdminToken}, "next": {"/phone"}})
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != "fake idp /phone" {
		t.Errorf("login: %s, landed on %s", resp.Status, resp.Request.URL)
	}
	for _, p := range admin {
		if resp, _ := get(t, browser, e.url+p, ""); resp.StatusCode != 200 {
			t.Errorf("GET %s after login: %s", p, resp.Status)
		}
	}
	// Only local paths to go back to.
	noFollow := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err = noFollow.PostForm(e.url+"/login", url.Values{"token": {testAdminToken}, "next": {"//evil.example/x"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if loc := resp.Header.Get("Location"); loc != "/" {
		t.Errorf("login sends the browser to %q", loc)
	}
}

// TestPhoneSimulatorOnlyInDemo: without the option there is no phone
// simulator at all, whoever asks.
func TestPhoneSimulatorOnlyInDemo(t *testing.T) {
	e := newEnv(t, nil)
	for _, p := range []string{"/phone", "/phone/api/pending", "/phone/api/inbox?citizen=049090001234", "/phone/idcard?citizen=049190012345"} {
		if resp, _ := get(t, nil, e.url+p, "Bearer "+testAdminToken); resp.StatusCode != 404 {
			t.Errorf("GET %s without the phone simulator: %s", p, resp.Status)
		}
	}
}

// TestAdminListHasNoPersonalData: the list of applications carries no
// form answers (names, ID numbers); one application's detail, for the
// caseworker, does.
func TestAdminListHasNoPersonalData(t *testing.T) {
	e := newEnv(t, nil)
	res, err := e.submit(e.newPacket(t, 1, e.confirm(t, "tok-an", "049090001234", "marital-status"), nil))
	if err != nil {
		t.Fatal(err)
	}
	_, list := get(t, nil, e.url+"/api/v1/admin/applications", "Bearer "+testAdminToken)
	if !strings.Contains(list, res.TrackingNumber) {
		t.Fatalf("list lacks %s: %s", res.TrackingNumber, list)
	}
	for _, personal := range []string{"049090001234", "Nguyễn Văn An", "Nguy\\u1ec5n", "full_name"} {
		if strings.Contains(list, personal) {
			t.Errorf("admin list holds %q: %s", personal, list)
		}
	}
	var detail portal.AdminApplicationDetail
	getJSON(t, e.url+"/api/v1/admin/applications/"+res.TrackingNumber, &detail)
	if detail.TrackingNumber != res.TrackingNumber || detail.Form["full_name"] != "Nguyễn Văn An" || len(detail.Documents) != 1 {
		t.Errorf("detail = %+v", detail)
	}
	if resp, _ := get(t, nil, e.url+"/api/v1/admin/applications/"+res.TrackingNumber, ""); resp.StatusCode != 401 {
		t.Errorf("detail without the token: %s", resp.Status)
	}
}

// TestStartRefusesOpenListenWithoutTLS: the portal serves personal data
// and an admin token over its listener; not in the clear beyond loopback.
func TestStartRefusesOpenListenWithoutTLS(t *testing.T) {
	for _, addr := range []string{"0.0.0.0:0", ":0"} {
		ctx, cancel := context.WithCancel(context.Background())
		s, _, err := portal.Start(ctx, portal.Options{Listen: addr, PlainHTTP: true, DataDir: t.TempDir(), Identity: newFakeIdentity()})
		if err == nil {
			t.Errorf("listen %s without TLS: started", addr)
			cancel()
			<-s.Done()
			continue
		}
		cancel()
		if !strings.Contains(err.Error(), "loopback") {
			t.Errorf("listen %s: %v, want it to refuse plain http beyond loopback", addr, err)
		}
	}
	// With a certificate it serves HTTPS.
	certFile, keyFile := selfSignedCert(t)
	ctx, cancel := context.WithCancel(context.Background())
	s, u, err := portal.Start(ctx, portal.Options{Listen: "0.0.0.0:0", DataDir: t.TempDir(), Identity: newFakeIdentity(),
		TLSCertFile: certFile, TLSKeyFile: keyFile})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { cancel(); <-s.Done() }()
	if !strings.HasPrefix(u, "https://") {
		t.Errorf("public URL %q", u)
	}
	port := u[strings.LastIndex(u, ":"):]
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}, Timeout: 10 * time.Second}
	resp, err := c.Get("https://127.0.0.1" + port + api.PathCatalogue)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("catalogue over TLS: %s", resp.Status)
	}
}

// selfSignedCert writes a throwaway certificate for 127.0.0.1.
func selfSignedCert(t *testing.T) (certFile, keyFile string) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "portal.test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	kder, _ := x509.MarshalECPrivateKey(k)
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600)
	return certFile, keyFile
}
