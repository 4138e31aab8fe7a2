package service_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"html"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"
	"golang.org/x/crypto/bcrypt"

	"govkiosk/backend-client/api"
	"govkiosk/backend-client/portaladmin"
	"govkiosk/fleet"
	"govkiosk/fleet/console"
	"govkiosk/fleet/crl"
	"govkiosk/fleet/exporter"
	"govkiosk/fleet/fleettest"
	"govkiosk/fleet/memstore"
	"govkiosk/fleet/pki"
	"govkiosk/fleet/service"
	"govkiosk/portal"
)

const adminToken = "fleet-test-admin-token-0123456789"

// staff is a console user agent with its own cookies.
type staff struct {
	t    *testing.T
	base string
	c    *http.Client
	csrf string
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func login(t *testing.T, base, user string) *staff {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	s := &staff{t: t, base: base, c: &http.Client{Jar: jar, Timeout: 20 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
	code, _, body := s.do("POST", "/login", url.Values{"user": {user}, "password": {"pw-" + user}, "next": {"/"}})
	if code != http.StatusSeeOther {
		t.Fatalf("login %s: %d\n%s", user, code, body)
	}
	_, _, body = s.do("GET", "/", nil)
	m := csrfRE.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no CSRF token on the list page:\n%s", body)
	}
	s.csrf = m[1]
	return s
}

func (s *staff) do(method, path string, form url.Values) (int, http.Header, string) {
	s.t.Helper()
	var body io.Reader
	if form != nil {
		if s.csrf != "" {
			form.Set("csrf", s.csrf)
		}
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, s.base+path, body)
	if err != nil {
		s.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := s.c.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

type mqttKiosk struct {
	c    *paho.Client
	gone chan *paho.Disconnect
}

// connectKiosk opens an MQTT 5 session with the kiosk's device
// certificate and returns its CONNACK reason code.
func connectKiosk(t *testing.T, addr string, brokerCA *pki.CA, id string, cert tls.Certificate) (*mqttKiosk, byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	d := tls.Dialer{Config: &tls.Config{Certificates: []tls.Certificate{cert}, RootCAs: brokerCA.Pool(), MinVersion: tls.VersionTLS12}}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		t.Fatalf("kiosk %s: TLS to the broker: %v", id, err)
	}
	k := &mqttKiosk{gone: make(chan *paho.Disconnect, 1)}
	k.c = paho.NewClient(paho.ClientConfig{Conn: conn, OnClientError: func(error) {},
		OnServerDisconnect: func(d *paho.Disconnect) { k.gone <- d }})
	t.Cleanup(func() { k.c.Disconnect(&paho.Disconnect{}) })
	ack, err := k.c.Connect(ctx, &paho.Connect{ClientID: id, KeepAlive: 30, CleanStart: true})
	if ack == nil {
		t.Fatalf("kiosk %s: no CONNACK: %v", id, err)
	}
	return k, ack.ReasonCode
}

// enrollKiosk enrolls a new kiosk at the portal with the token of an
// enrollment code, as the kiosk's setup does, and returns its id and
// device certificate.
func enrollKiosk(t *testing.T, code string) (string, tls.Certificate) {
	t.Helper()
	ec, err := api.ParseEnrollCode(code)
	if err != nil {
		t.Fatalf("the console's code %q: %v", code, err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := x509.MarshalPKIXPublicKey(&key.PublicKey)
	body, _ := json.Marshal(api.EnrollRequest{Token: ec.Token, Hostname: "kiosk-test",
		PublicKeyPEM: string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub}))})
	resp, err := http.Post(ec.PortalURL+api.PathEnroll, "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusCreated {
		t.Fatalf("enroll with the console's code: %s\n%s", resp.Status, b)
	}
	var er api.EnrollResponse
	if err := json.Unmarshal(b, &er); err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode([]byte(er.CertificatePEM))
	if blk == nil {
		t.Fatalf("enroll answer without a certificate: %s", b)
	}
	leaf, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return er.KioskID, tls.Certificate{Certificate: [][]byte{blk.Bytes}, PrivateKey: key, Leaf: leaf}
}

var codeRE = regexp.MustCompile(`<pre class="code">([^<]+)</pre>`)

// The whole lifecycle through the fleet console against the real portal:
// an operator issues an enrollment code, a kiosk enrolls with it and joins
// the embedded broker with its device certificate; the operator revokes it
// (confirm step), the portal revokes its certificates, the fleet fetches
// the revocation list at once and the broker drops the kiosk and refuses
// it again; the registry marks it revoked, the exporter leaves it out (no
// KioskOffline), and the audit has who did what.
func TestEnrollAndRevokeThroughRealPortal(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	log := slog.New(slog.DiscardHandler)
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	ps, portalURL, err := portal.Start(ctx, portal.Options{Listen: "127.0.0.1:0", PlainHTTP: true, DataDir: t.TempDir(),
		AdminToken: adminToken, OfficeCode: "QN-TK", KioskRedirectURIs: []string{"http://127.0.0.1:8080/auth/callback"}, Log: log.With("part", "portal")})
	if err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode([]byte(ps.CAPEM()))
	kioskCA, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	crlFile := filepath.Join(t.TempDir(), "crl.pem")
	list, err := crl.New(crl.Options{URL: portalURL + api.PathCRL, CA: kioskCA, File: crlFile, Interval: time.Hour, Log: log})
	if err != nil {
		t.Fatal(err)
	}
	brokerCA, err := pki.NewCA("fleet broker CA", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	server, err := brokerCA.Server("127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	kioskCAs := x509.NewCertPool()
	kioskCAs.AddCert(kioskCA)
	st := memstore.New()
	svc, err := service.Start(ctx, service.Options{MQTTListen: "127.0.0.1:0", ServerCert: &server, KioskCAs: kioskCAs,
		Store: st, CRL: list, Log: log.With("part", "fleet")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { svc.Close() })
	fleettest.WaitFor(t, 10*time.Second, "the fleet service's first revocation list from the portal", func() bool { return list.Number() != nil })

	admin, err := portaladmin.New(portalURL, adminToken, nil)
	if err != nil {
		t.Fatal(err)
	}
	users := console.Users{}
	for _, u := range []string{"lan", "binh"} {
		h, _ := bcrypt.GenerateFromPassword([]byte("pw-"+u), bcrypt.MinCost)
		users[u] = h
	}
	con, err := console.New(console.Options{Store: st, Commander: svc.Hub, Users: users, Portal: admin, RefreshCRL: list.Refresh,
		Offices: []string{"QN-TK", "BKK-BR"}, Operators: []string{"lan"}, Logger: log.With("part", "console")})
	if err != nil {
		t.Fatal(err)
	}
	web := httptest.NewServer(con)
	defer web.Close()
	lan, binh := login(t, web.URL, "lan"), login(t, web.URL, "binh")

	// Only an operator may issue a code.
	if code, _, _ := binh.do("POST", "/enroll", url.Values{"office": {"QN-TK"}, "ttl": {"2"}}); code != http.StatusForbidden {
		t.Errorf("a non-operator issuing a code: %d, want 403", code)
	}
	if code, _, body := lan.do("POST", "/enroll", url.Values{"office": {"QN-TK"}, "ttl": {"73"}}); code != http.StatusBadRequest || !strings.Contains(body, "1 to 72") {
		t.Errorf("a 73-hour code: %d, want 400 saying 1 to 72\n%s", code, body)
	}
	code, _, body := lan.do("GET", "/enroll?office=QN-TK", nil)
	if code != 200 || !strings.Contains(body, `name="ttl"`) {
		t.Fatalf("enroll form: %d\n%s", code, body)
	}
	code, hdr, body := lan.do("POST", "/enroll", url.Values{"office": {"QN-TK"}, "ttl": {"2"}})
	if code != 200 {
		t.Fatalf("issue a code: %d\n%s", code, body)
	}
	m := codeRE.FindStringSubmatch(body)
	if m == nil || !strings.Contains(body, `src="data:image/png;base64,`) || !strings.Contains(hdr.Get("Content-Security-Policy"), "img-src 'self' data:") {
		t.Fatalf("the issued code's page lacks the code text or its QR:\n%s", body)
	}
	kioskID, cert := enrollKiosk(t, html.UnescapeString(m[1]))
	brokerAddr := svc.Broker.Addr().String()
	k, ack := connectKiosk(t, brokerAddr, brokerCA, kioskID, cert)
	if ack != 0 {
		t.Fatalf("the new kiosk %s at the broker: CONNACK 0x%02X, want success", kioskID, ack)
	}
	// The registry learns its office from its certificate, and the enroll
	// page offers it for replacement.
	if v, err := st.Kiosk(ctx, kioskID); err != nil || v.Office != "QN-TK" {
		t.Errorf("registry after the kiosk joined: %+v, %v; want office QN-TK from its certificate", v.KioskInfo, err)
	}
	if _, _, body := lan.do("GET", "/enroll?office=QN-TK", nil); !strings.Contains(body, "<option>"+kioskID+"</option>") {
		t.Errorf("the enroll page does not offer %s for replacement:\n%s", kioskID, body)
	}

	// Revoke: the confirm step first, then the portal, the list, the broker.
	if _, _, body := lan.do("GET", "/kiosk/"+kioskID, nil); !strings.Contains(body, "/kiosk/"+kioskID+"/revoke") {
		t.Errorf("the kiosk page offers no revoke button to an operator:\n%s", body)
	}
	if _, _, body := binh.do("GET", "/kiosk/"+kioskID, nil); strings.Contains(body, "/kiosk/"+kioskID+"/revoke") {
		t.Error("the kiosk page offers the revoke button to a non-operator")
	}
	if code, _, body := lan.do("GET", "/kiosk/"+kioskID+"/revoke", nil); code != 200 || !strings.Contains(body, `name="reason"`) {
		t.Errorf("the revoke confirm page: %d\n%s", code, body)
	}
	if code, _, _ := lan.do("POST", "/kiosk/"+kioskID+"/revoke", url.Values{"reason": {"stolen"}}); code != http.StatusBadRequest {
		t.Errorf("revoke without typing the id: %d, want 400", code)
	}
	if code, _, _ := binh.do("POST", "/kiosk/"+kioskID+"/revoke", url.Values{"reason": {"stolen"}, "confirm": {kioskID}}); code != http.StatusForbidden {
		t.Errorf("a non-operator revoking: %d, want 403", code)
	}
	select {
	case <-k.gone:
		t.Fatal("the kiosk was dropped before anyone revoked it")
	default:
	}
	code, hdr, body = lan.do("POST", "/kiosk/"+kioskID+"/revoke", url.Values{"reason": {"stolen"}, "confirm": {kioskID}})
	if code != http.StatusSeeOther || !strings.Contains(hdr.Get("Location"), "identity=revoked") || strings.Contains(hdr.Get("Location"), "crl=later") {
		t.Fatalf("revoke: %d %v\n%s", code, hdr, body)
	}
	select {
	case d := <-k.gone:
		if d.ReasonCode != 0x87 {
			t.Errorf("the revoked kiosk's DISCONNECT: 0x%02X, want 0x87", d.ReasonCode)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("waited 10s for the broker to drop the kiosk the console revoked")
	}
	if _, ack := connectKiosk(t, brokerAddr, brokerCA, kioskID, cert); ack != 0x8A {
		t.Errorf("the revoked kiosk reconnecting: CONNACK 0x%02X, want 0x8A banned", ack)
	}
	if !list.Revoked(cert.Leaf) {
		t.Error("the fleet's list does not name the revoked certificate")
	}
	if b, err := os.ReadFile(crlFile); err != nil || !strings.Contains(string(b), "BEGIN X509 CRL") {
		t.Errorf("the list on disk for mosquitto: %v", err)
	}

	// The registry, the pages, the exporter and the audit.
	v, err := st.Kiosk(ctx, kioskID)
	if err != nil || !v.Retired || v.Identity != fleet.IdentityRevoked {
		t.Errorf("registry entry after revoke: %+v, %v; want retired, revoked", v.KioskInfo, err)
	}
	if _, _, body := lan.do("GET", "/kiosk/"+kioskID+"?identity=revoked", nil); !strings.Contains(body, "revoked (stolen or lost)") || !strings.Contains(body, "the broker has dropped it") {
		t.Errorf("the kiosk page after revoke does not say so:\n%s", body)
	}
	if _, _, body := lan.do("GET", "/?status=retired", nil); !strings.Contains(body, ">"+kioskID+"<") || !strings.Contains(body, "revoked (stolen or lost)") {
		t.Errorf("the list of retired kiosks lacks it:\n%s", body)
	}
	var metrics strings.Builder
	if err := exporter.New(st, nil).WriteText(&metrics); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(metrics.String(), `kiosk="`+kioskID+`"`) {
		t.Error("the exporter still exports the revoked kiosk (KioskOffline would page for it)")
	}
	cmds, _ := st.Commands(ctx, kioskID, 10)
	if len(cmds) != 1 || cmds[0].Name != console.ActionRevoke || cmds[0].By != "lan" || cmds[0].State != "done" || cmds[0].Args != "stolen" {
		t.Errorf("audit of the kiosk: %+v, want one revoke by lan, done, stolen", cmds)
	}
	if cmds, _ := st.Commands(ctx, "office:QN-TK", 10); len(cmds) != 1 || cmds[0].Name != console.ActionEnroll || cmds[0].By != "lan" {
		t.Errorf("audit of the enrollment code: %+v, want one by lan", cmds)
	}

	// The portal's refusal reaches the operator, and is audited.
	if err := st.PutKiosk(ctx, fleet.KioskInfo{KioskID: "k-unknown-to-portal", Office: "QN-TK"}); err != nil {
		t.Fatal(err)
	}
	code, _, body = lan.do("POST", "/kiosk/k-unknown-to-portal/retire", url.Values{"reason": {"decommissioned"}, "confirm": {"k-unknown-to-portal"}})
	if code != http.StatusBadGateway || !strings.Contains(body, "The portal refused: no kiosk k-unknown-to-portal") {
		t.Errorf("retiring a kiosk the portal does not know: %d\n%s", code, body)
	}
	if cmds, _ := st.Commands(ctx, "k-unknown-to-portal", 10); len(cmds) != 1 || cmds[0].State != "failed" {
		t.Errorf("audit of the refused retire: %+v, want one failed", cmds)
	}
	if v, _ := st.Kiosk(ctx, "k-unknown-to-portal"); v.Retired {
		t.Error("a refused retire marked the kiosk retired")
	}
}
