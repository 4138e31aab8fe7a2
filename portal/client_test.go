package portal_test

import (
	"govkiosk/portal/pdftest"

	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"govkiosk/backend-client"
	"govkiosk/backend-client/api"
	"govkiosk/portal"
	"govkiosk/provisioning"
)

// fakeIdentity stands in for the national-ID provider.
type fakeIdentity struct {
	mu        sync.Mutex
	tokens    map[string]portal.Citizen // access token -> the verified identity
	delivered map[string][]string
}

func newFakeIdentity() *fakeIdentity {
	return &fakeIdentity{
		tokens: map[string]portal.Citizen{
			"tok-an":      {ID: "049090001234", Name: "Nguyễn Văn An", BirthDate: "1990-09-04"},
			"tok-somchai": {ID: "1103700012345", Name: "สมชาย ใจดี", BirthDate: "1985-01-15"},
		},
		delivered: map[string][]string{},
	}
}

func (f *fakeIdentity) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "fake idp "+r.URL.Path) })
}

func (f *fakeIdentity) CitizenForAccessToken(t string) (portal.Citizen, bool) {
	c, ok := f.tokens[t]
	return c, ok
}

func (f *fakeIdentity) Deliver(citizenID, text string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.delivered[citizenID] = append(f.delivered[citizenID], text)
}

var codeRE = regexp.MustCompile(`\b(\d{6})\b`)

// lastCode reads the code out of the last text delivered to the citizen.
func (f *fakeIdentity) lastCode(t *testing.T, citizenID string) string {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	msgs := f.delivered[citizenID]
	if len(msgs) == 0 {
		t.Fatalf("nothing delivered to the citizen")
	}
	m := codeRE.FindStringSubmatch(msgs[len(msgs)-1])
	if m == nil {
		t.Fatalf("no code in %q", msgs[len(msgs)-1])
	}
	return m[1]
}

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

type env struct {
	s     *portal.Server
	url   string
	id    *fakeIdentity
	clk   *clock
	opts  portal.Options
	kiosk *backendclient.Client // enrolled, signing
	kid   string
	key   *ecdsa.PrivateKey
}

var ict = time.FixedZone("ICT", 7*3600)

// testAdminToken opens the console, the admin JSON and the phone simulator
// of a test env; getJSON and getText send it.
const testAdminToken = "test-admin-token-0123456789abcdefghij"

func newEnv(t *testing.T, mut func(*portal.Options)) *env {
	t.Helper()
	e := &env{id: newFakeIdentity(), clk: &clock{t: time.Date(2026, 3, 6, 9, 30, 0, 0, ict)}} // a Friday
	e.opts = portal.Options{
		PublicURL:  "http://portal.test",
		DataDir:    t.TempDir(),
		Identity:   e.id,
		Now:        e.clk.Now,
		AdminToken: testAdminToken,
		// Tests of other things ask for many codes at one instant; the
		// rate-limit tests set portal.DefaultRateLimits.
		RateLimits: portal.RateLimits{CodeGap: -1, CodesPerCitizen: -1, CodesPerKiosk: -1, WrongPerCitizen: -1, WrongPerKiosk: -1},
	}
	if mut != nil {
		mut(&e.opts)
	}
	s, err := portal.New(e.opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	ts := httptest.NewServer(s.Handler())
	t.Cleanup(ts.Close)
	e.s, e.url = s, ts.URL
	e.key, e.kid = e.enroll(t)
	e.kiosk = backendclient.New(e.url, ts.Client(), e.kid, e.key)
	e.kiosk.SetPortalKey(s.PublicKey())
	return e
}

func newKey(t *testing.T) (*ecdsa.PrivateKey, string) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(&k.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return k, string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
}

func (e *env) enroll(t *testing.T) (*ecdsa.PrivateKey, string) {
	t.Helper()
	tok, err := e.s.IssueEnrollToken()
	if err != nil {
		t.Fatal(err)
	}
	k, pub := newKey(t)
	resp, err := backendclient.New(e.url, nil, "", nil).Enroll(context.Background(), api.EnrollRequest{Token: tok, PublicKeyPEM: pub, Hostname: "kiosk-test"})
	if err != nil {
		t.Fatal(err)
	}
	return k, resp.KioskID
}

func apiCode(err error) (int, string) {
	var ae *backendclient.APIError
	if errors.As(err, &ae) {
		return ae.StatusCode, ae.Code
	}
	return 0, ""
}

func TestCatalogueSignature(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	cat, payload, err := e.kiosk.Catalogue(ctx, e.s.PublicKey())
	if err != nil {
		t.Fatal(err)
	}
	if len(cat.Procedures) != 5 || len(cat.Offices) != 2 || len(payload) == 0 {
		t.Fatalf("got %d procedures, %d payload bytes", len(cat.Procedures), len(payload))
	}
	other, _ := newKey(t)
	if _, _, err := e.kiosk.Catalogue(ctx, &other.PublicKey); err == nil {
		t.Error("catalogue verified with a foreign key")
	}
	// Tamper with a fetched payload.
	resp, err := http.Get(e.url + api.PathCatalogue)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var sc api.SignedCatalogue
	if err := json.NewDecoder(resp.Body).Decode(&sc); err != nil {
		t.Fatal(err)
	}
	if _, err := backendclient.VerifyCatalogue(sc, e.s.PublicKey()); err != nil {
		t.Fatalf("untouched catalogue: %v", err)
	}
	sc.Payload = bytes.Replace(sc.Payload, []byte(`"feeMinor":3000`), []byte(`"feeMinor":3001`), 1)
	if _, err := backendclient.VerifyCatalogue(sc, e.s.PublicKey()); err == nil {
		t.Error("tampered catalogue verified")
	}
}

func TestEnroll(t *testing.T) {
	e := newEnv(t, func(o *portal.Options) { o.EnrollTokens = []string{"field-token-0001"} })
	ctx := context.Background()
	c := backendclient.New(e.url, nil, "", nil)
	key, pub := newKey(t)

	resp, err := c.Enroll(ctx, api.EnrollRequest{Token: "field-token-0001", PublicKeyPEM: pub})
	if err != nil {
		t.Fatal(err)
	}
	if resp.KioskID != "KIOSK-0002" { // KIOSK-0001 is the env's own kiosk
		t.Errorf("kiosk id %q", resp.KioskID)
	}
	if resp.OIDCClientID != "govkiosk" || resp.OIDCIssuer != "http://portal.test/idp" || resp.OfficeCode == "" || resp.OfficeName.Get("vi") == "" ||
		resp.PortalAgeRecipient != e.s.AgeRecipient() {
		t.Errorf("bad config in %+v", resp)
	}
	// The certificate chains to the CA, names the kiosk, and holds its key.
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM([]byte(resp.PortalCAPEM)) {
		t.Fatal("bad CA PEM")
	}
	blk, _ := pem.Decode([]byte(resp.CertificatePEM))
	if blk == nil {
		t.Fatal("bad certificate PEM")
	}
	cert, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cert.Verify(x509.VerifyOptions{Roots: roots, CurrentTime: e.clk.Now(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Errorf("certificate does not chain: %v", err)
	}
	if cert.Subject.CommonName != resp.KioskID || !key.PublicKey.Equal(cert.PublicKey) {
		t.Errorf("certificate CN %q or key wrong", cert.Subject.CommonName)
	}
	// The CA whose fingerprint comes with the token signed the answer.
	if err := provisioning.VerifyEnrollment(resp, e.s.CAFingerprint()); err != nil {
		t.Errorf("enrollment answer: %v", err)
	}
	pblk, _ := pem.Decode([]byte(resp.PortalKeyPEM))
	pk, err := x509.ParsePKIXPublicKey(pblk.Bytes)
	if err != nil || !e.s.PublicKey().Equal(pk) {
		t.Errorf("portal key PEM is not the catalogue key: %v", err)
	}

	for _, tc := range []struct {
		name, token, pub string
		status           int
		code             string
	}{
		{"used token", "field-token-0001", pub, 403, portal.CodeEnrollTokenUsed},
		{"unknown token", "guess", pub, 403, portal.CodeEnrollTokenInvalid},
		{"empty token", "", pub, 403, portal.CodeEnrollTokenInvalid},
		{"bad key", "field-token-0001", "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n", 400, portal.CodeBadPublicKey},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := c.Enroll(ctx, api.EnrollRequest{Token: tc.token, PublicKeyPEM: tc.pub})
			if st, code := apiCode(err); st != tc.status || code != tc.code {
				t.Errorf("got %d %q (%v), want %d %q", st, code, err, tc.status, tc.code)
			}
			if !backendclient.IsPermanent(err) {
				t.Error("enroll refusal not permanent")
			}
		})
	}
}

func heartbeat(kioskID string) api.Heartbeat {
	return api.Heartbeat{KioskID: kioskID, Version: "0.1.0", At: time.Date(2026, 3, 6, 9, 29, 0, 0, ict), Seq: 1, Backlog: 2, DiskFree: 8 << 30, TemperatureC: 41.5,
		Warnings: []string{"paper-low"}}
}

func TestHeartbeat(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	if err := e.kiosk.Heartbeat(ctx, heartbeat(e.kid)); err != nil {
		t.Fatalf("signed heartbeat: %v", err)
	}
	wrongKey, _ := newKey(t)
	for _, tc := range []struct {
		name   string
		c      *backendclient.Client
		hb     api.Heartbeat
		status int
		code   string
	}{
		{"foreign key", backendclient.New(e.url, nil, e.kid, wrongKey), heartbeat(e.kid), 401, portal.CodeBadSignature},
		{"unsigned", backendclient.New(e.url, nil, e.kid, nil), heartbeat(e.kid), 401, portal.CodeBadSignature},
		{"unknown kiosk", backendclient.New(e.url, nil, "KIOSK-9999", wrongKey), heartbeat("KIOSK-9999"), 401, portal.CodeUnknownKiosk},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.c.Heartbeat(ctx, tc.hb)
			if st, code := apiCode(err); st != tc.status || code != tc.code {
				t.Errorf("got %d %q (%v), want %d %q", st, code, err, tc.status, tc.code)
			}
		})
	}
	// A signed body that claims to be another kiosk than the header.
	body, _ := json.Marshal(heartbeat("KIOSK-0042"))
	sig, _ := backendclient.Sign(e.key, body)
	req, _ := http.NewRequest("POST", e.url+api.PathHeartbeat, bytes.NewReader(body))
	req.Header.Set(api.HeaderKioskID, e.kid)
	req.Header.Set(api.HeaderKioskSignature, base64.StdEncoding.EncodeToString(sig))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 400 {
		t.Errorf("heartbeat for another kiosk: %s", resp.Status)
	}

	var ks []portal.AdminKiosk
	getJSON(t, e.url+"/api/v1/admin/kiosks", &ks)
	if len(ks) != 1 || ks[0].KioskID != e.kid || !ks[0].Enrolled || ks[0].Heartbeat.TemperatureC != 41.5 || !ks[0].LastSeen.Equal(e.clk.Now()) {
		t.Errorf("admin kiosks = %+v", ks)
	}
	page := getText(t, e.url+"/")
	for _, want := range []string{e.kid, "0.1.0", "paper-low", "41.5"} {
		if !strings.Contains(page, want) {
			t.Errorf("console lacks %q", want)
		}
	}
}

func TestHeartbeatAllowUnenrolled(t *testing.T) {
	e := newEnv(t, func(o *portal.Options) { o.AllowUnenrolled = true })
	ctx := context.Background()
	if err := backendclient.New(e.url, nil, "DEMO-1", nil).Heartbeat(ctx, api.Heartbeat{Version: "demo", At: e.clk.Now(), Seq: 1}); err != nil {
		t.Errorf("unenrolled demo kiosk refused: %v", err)
	}
	// An enrolled kiosk still needs its signature.
	if err := backendclient.New(e.url, nil, e.kid, nil).Heartbeat(ctx, heartbeat(e.kid)); err == nil {
		t.Error("unsigned heartbeat of an enrolled kiosk accepted")
	}
}

// multipartWriter writes p's multipart body and returns its content type.
func multipartWriter(w io.Writer, p packet) string {
	mw := multipart.NewWriter(w)
	mw.WriteField("manifest", string(p.manifest))
	mw.WriteField("signature", base64.StdEncoding.EncodeToString(p.sig))
	for _, d := range p.docs {
		fw, _ := mw.CreateFormFile(d.Name, d.Name)
		fw.Write(d.Data)
	}
	mw.Close()
	return mw.FormDataContentType()
}

// adminGet GETs url with the test admin token.
func adminGet(url string) (*http.Response, error) {
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+testAdminToken)
	return http.DefaultClient.Do(req)
}

func getJSON(t *testing.T, url string, v any) {
	t.Helper()
	resp, err := adminGet(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %s", url, resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatal(err)
	}
}

func getText(t *testing.T, url string) string {
	t.Helper()
	resp, err := adminGet(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// confirm runs the confirmation flow for the review of newPacket's
// packet (with procedure as its procedure) and returns the token.
func (e *env) confirm(t *testing.T, access, citizenID, procedure string) string {
	t.Helper()
	p := e.newPacket(t, 0, "", func(m *api.Manifest, d []backendclient.Document) []backendclient.Document {
		m.ProcedureID = procedure
		return d
	})
	return e.confirmReview(t, access, citizenID, api.ReviewOf(p.m))
}

// confirmReview runs the confirmation flow for review at the env's kiosk
// and returns the token.
func (e *env) confirmReview(t *testing.T, access, citizenID string, review api.Review) string {
	t.Helper()
	return e.confirmAt(t, e.kiosk, access, citizenID, review)
}

// confirmAt runs the confirmation flow for review at the kiosk of client c.
func (e *env) confirmAt(t *testing.T, c *backendclient.Client, access, citizenID string, review api.Review) string {
	t.Helper()
	ctx := context.Background()
	ch, err := c.RequestConfirmation(ctx, access, api.ConfirmationRequest{ProcedureID: review.ProcedureID})
	if err != nil {
		t.Fatal(err)
	}
	res, err := c.VerifyConfirmation(ctx, access, api.ConfirmationVerify{ID: ch.ID, Code: e.id.lastCode(t, citizenID),
		ReviewDigest: api.ReviewDigest(review)})
	if err != nil || !res.OK || res.Token == "" {
		t.Fatalf("verify: %+v %v", res, err)
	}
	return res.Token
}

func TestConfirmation(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	const citizen = "049090001234"

	ch, err := e.kiosk.RequestConfirmation(ctx, "tok-an", api.ConfirmationRequest{ProcedureID: "marital-status"})
	if err != nil {
		t.Fatal(err)
	}
	if ch.Attempts != 5 || ch.Channel != "app" || !ch.ExpiresAt.Equal(e.clk.Now().Add(5*time.Minute)) || ch.ID == "" {
		t.Errorf("challenge = %+v", ch)
	}
	code := e.id.lastCode(t, citizen)
	digest := api.ReviewDigest(api.ReviewOf(e.newPacket(t, 0, "", nil).m))
	// A code without what it confirms is refused before it counts as a try.
	for _, d := range []string{"", "not-a-digest", strings.ToUpper(digest)} {
		_, err := e.kiosk.VerifyConfirmation(ctx, "tok-an", api.ConfirmationVerify{ID: ch.ID, Code: code, ReviewDigest: d})
		if st, c := apiCode(err); st != 400 || c != portal.CodeBadRequest {
			t.Errorf("review digest %q: %v, want 400", d, err)
		}
	}
	if txt := e.id.delivered[citizen][0]; !strings.Contains(txt, "govkiosk") || !strings.Contains(strings.ToLower(txt), "never share") {
		t.Errorf("delivered text %q", txt)
	}
	if _, err := e.kiosk.VerifyConfirmation(ctx, "tok-somchai", api.ConfirmationVerify{ID: ch.ID, Code: code, ReviewDigest: digest}); func() bool { st, _ := apiCode(err); return st != 403 }() {
		t.Errorf("another citizen verified the challenge: %v", err)
	}
	res, err := e.kiosk.VerifyConfirmation(ctx, "tok-an", api.ConfirmationVerify{ID: ch.ID, Code: code, ReviewDigest: digest})
	if err != nil || !res.OK || res.Token == "" || res.AttemptsLeft != 5 {
		t.Fatalf("right code: %+v %v", res, err)
	}
	res, err = e.kiosk.VerifyConfirmation(ctx, "tok-an", api.ConfirmationVerify{ID: ch.ID, Code: code, ReviewDigest: digest})
	if err != nil || res.OK || res.Reason != "expired" {
		t.Errorf("second use of a code: %+v %v", res, err)
	}

	// Five wrong codes exhaust the challenge; then even the right one fails.
	ch, err = e.kiosk.RequestConfirmation(ctx, "tok-an", api.ConfirmationRequest{ProcedureID: "marital-status"})
	if err != nil {
		t.Fatal(err)
	}
	code = e.id.lastCode(t, citizen)
	wrong := "000000"
	if code == wrong {
		wrong = "111111"
	}
	for i, want := range []struct {
		left   int
		reason string
	}{{4, "wrong"}, {3, "wrong"}, {2, "wrong"}, {1, "wrong"}, {0, "exhausted"}} {
		res, err := e.kiosk.VerifyConfirmation(ctx, "tok-an", api.ConfirmationVerify{ID: ch.ID, Code: wrong, ReviewDigest: digest})
		if err != nil || res.OK || res.AttemptsLeft != want.left || res.Reason != want.reason {
			t.Errorf("wrong code %d: %+v %v, want %d %s", i+1, res, err, want.left, want.reason)
		}
	}
	res, err = e.kiosk.VerifyConfirmation(ctx, "tok-an", api.ConfirmationVerify{ID: ch.ID, Code: code, ReviewDigest: digest})
	if err != nil || res.OK || res.Reason != "exhausted" || res.Token != "" {
		t.Errorf("right code after exhaustion: %+v %v", res, err)
	}

	// Expiry.
	ch, err = e.kiosk.RequestConfirmation(ctx, "tok-an", api.ConfirmationRequest{ProcedureID: "marital-status"})
	if err != nil {
		t.Fatal(err)
	}
	code = e.id.lastCode(t, citizen)
	e.clk.Add(5*time.Minute + time.Second)
	res, err = e.kiosk.VerifyConfirmation(ctx, "tok-an", api.ConfirmationVerify{ID: ch.ID, Code: code, ReviewDigest: digest})
	if err != nil || res.OK || res.Reason != "expired" {
		t.Errorf("expired code: %+v %v", res, err)
	}

	for _, tc := range []struct {
		name, access, proc string
		status             int
	}{
		{"no token", "", "marital-status", 401},
		{"bad token", "tok-stolen", "marital-status", 401},
		{"unknown procedure", "tok-an", "passport", 422},
	} {
		_, err := e.kiosk.RequestConfirmation(ctx, tc.access, api.ConfirmationRequest{ProcedureID: tc.proc})
		if st, _ := apiCode(err); st != tc.status {
			t.Errorf("%s: %v, want %d", tc.name, err, tc.status)
		}
	}
	// The token will be good for one kiosk's packet only: the kiosk must say which.
	if _, err := backendclient.New(e.url, nil, "", nil).RequestConfirmation(ctx, "tok-an", api.ConfirmationRequest{ProcedureID: "marital-status"}); func() bool { st, _ := apiCode(err); return st != 400 }() {
		t.Errorf("code requested for no kiosk: %v", err)
	}
	if _, err := e.kiosk.VerifyConfirmation(ctx, "tok-an", api.ConfirmationVerify{ID: "nope", Code: "123456", ReviewDigest: digest}); func() bool { st, _ := apiCode(err); return st != 404 }() {
		t.Errorf("unknown challenge: %v", err)
	}
}

type packet struct {
	manifest []byte
	sig      []byte
	docs     []backendclient.Document
	m        api.Manifest
}

func sha(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }

// newPacket builds a signed marital-status packet of a divorced citizen,
// with a 2-page divorce decree.
func (e *env) newPacket(t *testing.T, n int, token string, edit func(*api.Manifest, []backendclient.Document) []backendclient.Document) packet {
	t.Helper()
	pdf := pdftest.Scan(2, 0, nil)
	docs := []backendclient.Document{{Name: "doc-1.pdf", Data: pdf}}
	m := api.Manifest{
		PacketID:          fmt.Sprintf("0b9c2f6e-4a51-4d2b-9d1e-%012d", n),
		ProvisionalNumber: fmt.Sprintf("%s-20260306-%04d", e.kid, n),
		ProcedureID:       "marital-status",
		KioskID:           e.kid,
		OfficeCode:        "QN-TK",
		CreatedAt:         e.clk.Now(),
		Language:          "vi",
		Applicant:         api.Applicant{CitizenID: "049090001234", Name: "Nguyễn Văn An", BirthDate: "1990-09-04"},
		Form:              map[string]string{"full_name": "Nguyễn Văn An", "citizen_id": "049090001234", "purpose": "marriage", "marital_history": "divorced"},
		Documents:         []api.DocumentRef{{Type: "divorce-decree", File: "doc-1.pdf", Pages: 2, SHA256: sha(pdf), Size: int64(len(pdf))}},
		ConfirmationToken: token,
	}
	if edit != nil {
		docs = edit(&m, docs)
	}
	return seal(t, e.key, m, docs)
}

// seal signs m with the kiosk key and makes it a packet with docs.
func seal(t *testing.T, key *ecdsa.PrivateKey, m api.Manifest, docs []backendclient.Document) packet {
	t.Helper()
	mb, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	sig, err := backendclient.Sign(key, mb)
	if err != nil {
		t.Fatal(err)
	}
	return packet{manifest: mb, sig: sig, docs: docs, m: m}
}

func (e *env) submit(p packet) (api.SubmitResult, error) {
	return e.kiosk.Submit(context.Background(), p.manifest, p.sig, p.docs)
}

func TestSubmit(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	token := e.confirm(t, "tok-an", "049090001234", "marital-status")
	p := e.newPacket(t, 1, token, nil)

	res, err := e.submit(p)
	if err != nil {
		t.Fatal(err)
	}
	want := api.SubmitResult{ProvisionalNumber: p.m.ProvisionalNumber,
		AppointmentDate: "2026-03-11", ReceivedAt: e.clk.Now(), Duplicate: false} // Fri + 3 working days
	if !trackingRE.MatchString(res.TrackingNumber) || res.ProvisionalNumber != want.ProvisionalNumber ||
		res.AppointmentDate != want.AppointmentDate || !res.ReceivedAt.Equal(want.ReceivedAt) || res.Duplicate {
		t.Errorf("result %+v, want %+v", res, want)
	}

	// The same packet again (lost answer): same result, marked duplicate.
	e.clk.Add(time.Hour)
	dup, err := e.submit(p)
	if err != nil {
		t.Fatal(err)
	}
	if !dup.Duplicate || dup.TrackingNumber != res.TrackingNumber || !dup.ReceivedAt.Equal(res.ReceivedAt) {
		t.Errorf("duplicate = %+v", dup)
	}
	var apps []portal.AdminApplication
	getJSON(t, e.url+"/api/v1/admin/applications", &apps)
	if len(apps) != 1 {
		t.Fatalf("%d applications stored, want 1", len(apps))
	}
	a := apps[0]
	if a.PacketID != p.m.PacketID || a.KioskID != e.kid || a.ProcedureID != "marital-status" ||
		len(a.Documents) != 1 || a.Documents[0].Pages != 2 || a.Documents[0].SHA256 != p.m.Documents[0].SHA256 {
		t.Errorf("admin application = %+v", a)
	}
	var detail portal.AdminApplicationDetail
	getJSON(t, e.url+"/api/v1/admin/applications/"+res.TrackingNumber, &detail)
	if detail.Form["purpose"] != "marriage" || detail.PacketID != p.m.PacketID {
		t.Errorf("admin application detail = %+v", detail)
	}

	// Status by tracking and provisional number; nothing personal in it.
	for _, ref := range []string{res.TrackingNumber, res.ProvisionalNumber} {
		st, err := e.kiosk.Status(ctx, ref)
		if err != nil {
			t.Fatalf("status %s: %v", ref, err)
		}
		if st.TrackingNumber != res.TrackingNumber || st.Status != "received" || st.AppointmentDate != "2026-03-11" || st.ProcedureID != "marital-status" {
			t.Errorf("status %s = %+v", ref, st)
		}
	}
	if _, err := e.kiosk.Status(ctx, "QN-2026-999999"); func() bool { st, _ := apiCode(err); return st != 404 }() {
		t.Errorf("unknown ref: %v", err)
	}
	page := getText(t, e.url+"/t/"+res.TrackingNumber+"?lang=vi")
	if !strings.Contains(page, res.TrackingNumber) || !strings.Contains(page, "Xác nhận tình trạng hôn nhân") && !strings.Contains(page, "xác nhận tình trạng hôn nhân") || strings.Contains(page, "Nguyễn Văn An") {
		t.Errorf("track page wrong:\n%s", page)
	}
	console := getText(t, e.url+"/")
	if !strings.Contains(console, res.TrackingNumber) || strings.Contains(console, "Nguyễn Văn An") || strings.Contains(console, "049090001234") {
		t.Errorf("console shows wrong or personal data")
	}

	// Same Idempotency-Key with another manifest.
	other := e.newPacket(t, 1, token, func(m *api.Manifest, d []backendclient.Document) []backendclient.Document {
		m.Form["purpose"] = "other"
		return d
	})
	if _, err := e.submit(other); func() bool { st, c := apiCode(err); return st != 422 || c != portal.CodeIdempotencyKeyReused }() {
		t.Errorf("reused key: %v", err)
	}
	// The used confirmation token cannot carry a second packet.
	if _, err := e.submit(e.newPacket(t, 2, token, nil)); func() bool { st, c := apiCode(err); return st != 403 || c != portal.CodeConfirmationInvalid }() {
		t.Errorf("reused confirmation token: %v", err)
	}
}

func TestSubmitRejects(t *testing.T) {
	e := newEnv(t, nil)
	token := e.confirm(t, "tok-an", "049090001234", "marital-status")
	otherProc := e.confirm(t, "tok-an", "049090001234", "house-building-permit")
	otherCitizen := e.confirm(t, "tok-somchai", "1103700012345", "marital-status")
	wrongKey, _ := newKey(t)
	for i, tc := range []struct {
		name   string
		token  string
		edit   func(*api.Manifest, []backendclient.Document) []backendclient.Document
		resign *ecdsa.PrivateKey
		status int
		code   string
	}{
		{"sha mismatch", token, func(m *api.Manifest, d []backendclient.Document) []backendclient.Document {
			m.Documents[0].SHA256 = strings.Repeat("0", 64)
			return d
		}, nil, 422, portal.CodeDocumentMismatch},
		{"size mismatch", token, func(m *api.Manifest, d []backendclient.Document) []backendclient.Document {
			m.Documents[0].Size++
			return d
		}, nil, 422, portal.CodeDocumentMismatch},
		{"bad signature", token, nil, wrongKey, 401, portal.CodeBadSignature},
		{"page count lie", token, func(m *api.Manifest, d []backendclient.Document) []backendclient.Document {
			m.Documents[0].Pages = 1
			return d
		}, nil, 422, portal.CodePageCountMismatch},
		{"too many pages", token, func(m *api.Manifest, d []backendclient.Document) []backendclient.Document {
			pdf := pdftest.Scan(11, 0, nil)
			m.Documents[0] = api.DocumentRef{Type: "divorce-decree", File: "doc-1.pdf", Pages: 11, SHA256: sha(pdf), Size: int64(len(pdf))}
			return []backendclient.Document{{Name: "doc-1.pdf", Data: pdf}}
		}, nil, 422, portal.CodePageLimit},
		{"not a pdf", token, func(m *api.Manifest, d []backendclient.Document) []backendclient.Document {
			junk := []byte("%PDF-1.4 but not really")
			m.Documents[0] = api.DocumentRef{Type: "divorce-decree", File: "doc-1.pdf", Pages: 1, SHA256: sha(junk), Size: int64(len(junk))}
			return []backendclient.Document{{Name: "doc-1.pdf", Data: junk}}
		}, nil, 422, portal.CodeBadPDF},
		{"missing part", token, func(m *api.Manifest, d []backendclient.Document) []backendclient.Document {
			return nil
		}, nil, 400, portal.CodeMissingDocument},
		{"required document missing", token, func(m *api.Manifest, d []backendclient.Document) []backendclient.Document {
			m.Documents = nil
			return nil
		}, nil, 422, portal.CodeMissingDocument},
		{"document the answers do not call for", token, func(m *api.Manifest, d []backendclient.Document) []backendclient.Document {
			m.Form["marital_history"] = "never_married"
			return d
		}, nil, 422, portal.CodeUnexpectedDocument},
		{"copy of a document a registry holds", token, func(m *api.Manifest, d []backendclient.Document) []backendclient.Document {
			m.Documents[0].Type = "id-card"
			return d
		}, nil, 422, portal.CodeUnexpectedDocument},
		{"extra part", token, func(m *api.Manifest, d []backendclient.Document) []backendclient.Document {
			return append(d, backendclient.Document{Name: "doc-9.pdf", Data: pdftest.Scan(1, 0, nil)})
		}, nil, 400, portal.CodeUnexpectedDocument},
		{"path in file name", token, func(m *api.Manifest, d []backendclient.Document) []backendclient.Document {
			m.Documents[0].File = "../../etc/passwd"
			d[0].Name = "../../etc/passwd"
			return d
		}, nil, 400, portal.CodeBadManifest},
		{"invalid form", token, func(m *api.Manifest, d []backendclient.Document) []backendclient.Document {
			m.Form["purpose"] = "fun"
			return d
		}, nil, 422, portal.CodeInvalidForm},
		{"token for another procedure", otherProc, nil, nil, 403, portal.CodeConfirmationInvalid},
		{"token of another citizen", otherCitizen, nil, nil, 403, portal.CodeConfirmationInvalid},
		{"no token", "", nil, nil, 403, portal.CodeConfirmationInvalid},
		{"forged token", "forged", nil, nil, 403, portal.CodeConfirmationInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := e.newPacket(t, 100+i, tc.token, tc.edit)
			if tc.resign != nil {
				p.sig, _ = backendclient.Sign(tc.resign, p.manifest)
			}
			_, err := e.submit(p)
			if st, code := apiCode(err); st != tc.status || code != tc.code {
				t.Errorf("got %d %q (%v), want %d %q", st, code, err, tc.status, tc.code)
			}
			if !backendclient.IsPermanent(err) {
				t.Errorf("%v is not permanent", err)
			}
		})
	}
	var apps []portal.AdminApplication
	getJSON(t, e.url+"/api/v1/admin/applications", &apps)
	if len(apps) != 0 {
		t.Errorf("%d applications stored from rejected packets", len(apps))
	}
	// The good token survived all the rejections.
	if _, err := e.submit(e.newPacket(t, 1, token, nil)); err != nil {
		t.Errorf("good packet after rejections: %v", err)
	}
}

func TestIdempotencyKeyHeader(t *testing.T) {
	e := newEnv(t, nil)
	token := e.confirm(t, "tok-an", "049090001234", "marital-status")
	p := e.newPacket(t, 1, token, nil)
	post := func(key string) int {
		var buf bytes.Buffer
		mw := multipartWriter(&buf, p)
		req, _ := http.NewRequest("POST", e.url+api.PathApplications, &buf)
		req.Header.Set("Content-Type", mw)
		req.Header.Set(api.HeaderKioskID, p.m.KioskID)
		if key != "" {
			req.Header.Set(api.HeaderIdempotencyKey, key)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for _, tc := range []struct {
		key  string
		want int
	}{
		{"", 400},
		{`"another-packet"`, 400},
		{p.m.PacketID, 201},             // unquoted accepted
		{`"` + p.m.PacketID + `"`, 200}, // quoted, duplicate now
	} {
		if got := post(tc.key); got != tc.want {
			t.Errorf("Idempotency-Key %q: %d, want %d", tc.key, got, tc.want)
		}
	}
}

func TestAppointmentThroughAPI(t *testing.T) {
	for _, tc := range []struct {
		now  time.Time
		want string
	}{
		{time.Date(2026, 3, 2, 8, 0, 0, 0, ict), "2026-03-05"},    // Mon + 3
		{time.Date(2026, 3, 5, 8, 0, 0, 0, ict), "2026-03-10"},    // Thu + 3 skips the weekend
		{time.Date(2026, 3, 7, 8, 0, 0, 0, ict), "2026-03-11"},    // Sat + 3
		{time.Date(2026, 12, 31, 15, 0, 0, 0, ict), "2027-01-05"}, // Thu + 3 across the year
	} {
		t.Run(tc.now.Format("Mon 2006-01-02"), func(t *testing.T) {
			e := newEnv(t, nil)
			e.clk.t = tc.now
			res, err := e.submit(e.newPacket(t, 1, e.confirm(t, "tok-an", "049090001234", "marital-status"), nil))
			if err != nil {
				t.Fatal(err)
			}
			if res.AppointmentDate != tc.want {
				t.Errorf("appointment %s, want %s", res.AppointmentDate, tc.want)
			}
			if want := fmt.Sprintf("QN-%d-", tc.now.Year()); !strings.HasPrefix(res.TrackingNumber, want) || !portal.ValidTrackingNumber(res.TrackingNumber) {
				t.Errorf("tracking %s, want %s and 9 characters", res.TrackingNumber, want)
			}
		})
	}
}

func TestRestartKeepsState(t *testing.T) {
	dir := t.TempDir()
	id := newFakeIdentity()
	opts := portal.Options{PublicURL: "http://portal.test", DataDir: dir, Identity: id}
	s1, err := portal.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := s1.IssueEnrollToken()
	if err != nil {
		t.Fatal(err)
	}
	pub1 := s1.PublicKey()
	if err := s1.Close(); err != nil {
		t.Fatal(err)
	}
	s2, err := portal.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if !pub1.Equal(s2.PublicKey()) {
		t.Error("portal key changed across restarts")
	}
	ts := httptest.NewServer(s2.Handler())
	defer ts.Close()
	_, pem := newKey(t)
	if _, err := backendclient.New(ts.URL, nil, "", nil).Enroll(context.Background(), api.EnrollRequest{Token: tok, PublicKeyPEM: pem}); err != nil {
		t.Errorf("token issued before restart: %v", err)
	}
	if body := getText(t, ts.URL+"/idp/.well-known/openid-configuration"); !strings.HasPrefix(body, "fake idp") {
		t.Errorf("identity provider not mounted: %q", body)
	}
}

func TestStart(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	s, url, err := portal.Start(ctx, portal.Options{Listen: "127.0.0.1:0", DataDir: t.TempDir(), Identity: newFakeIdentity()})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(url, "https://127.0.0.1:") || strings.HasSuffix(url, ":0") {
		t.Errorf("url %q", url)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM([]byte(s.CAPEM()))
	hc := tlsClient(roots)
	if _, _, err := backendclient.New(url, hc, "", nil).Catalogue(ctx, s.PublicKey()); err != nil {
		t.Errorf("catalogue from the started portal: %v", err)
	}
	// Its certificate is for every name it is reached by on this machine.
	if _, _, err := backendclient.New(strings.Replace(url, "127.0.0.1", "localhost", 1), hc, "", nil).Catalogue(ctx, s.PublicKey()); err != nil {
		t.Errorf("catalogue by the name localhost: %v", err)
	}
	cancel()
	<-s.Done()
	if _, err := hc.Get(url + api.PathCatalogue); err == nil {
		t.Error("portal still serving after cancel")
	}

	// Plain http only on loopback, for demos and tests.
	if _, _, err := portal.Start(context.Background(), portal.Options{Listen: "0.0.0.0:0", PlainHTTP: true, DataDir: t.TempDir(), Identity: newFakeIdentity()}); err == nil {
		t.Error("plain http on every interface accepted")
	}
	ctx, cancel = context.WithCancel(context.Background())
	defer cancel()
	s, url, err = portal.Start(ctx, portal.Options{Listen: "127.0.0.1:0", PlainHTTP: true, DataDir: t.TempDir(), Identity: newFakeIdentity()})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(url, "http://127.0.0.1:") {
		t.Errorf("plain http url %q", url)
	}
	cancel()
	<-s.Done()
}

// TestRealIdentityProvider mounts the national-ID test provider of
// govkiosk/portal/idp, as cmd/portal does.
func TestRealIdentityProvider(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s, url, err := portal.Start(ctx, portal.Options{Listen: "127.0.0.1:0", DataDir: t.TempDir(), PlainHTTP: true, PhoneSimulator: true,
		AdminToken: testAdminToken, KioskRedirectURIs: []string{"http://127.0.0.1:8080/auth/callback"}})
	if err != nil {
		t.Fatal(err)
	}
	var disc struct {
		Issuer  string `json:"issuer"`
		JWKSURI string `json:"jwks_uri"`
	}
	getJSON(t, url+"/idp/.well-known/openid-configuration", &disc)
	if disc.Issuer != url+"/idp" || !strings.HasPrefix(disc.JWKSURI, url+"/idp/") {
		t.Errorf("discovery = %+v", disc)
	}
	resp, err := adminGet(url + "/phone")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("phone simulator: %s", resp.Status)
	}
	// Without a login there is no citizen behind a made-up token.
	_, err = backendclient.New(url, nil, "", nil).RequestConfirmation(ctx, "made-up", api.ConfirmationRequest{ProcedureID: "marital-status"})
	if st, _ := apiCode(err); st != 401 {
		t.Errorf("made-up access token: %v", err)
	}
	cancel()
	<-s.Done()
}

func TestSubmitUnenrolledDemoKiosk(t *testing.T) {
	for _, allow := range []bool{true, false} {
		t.Run(fmt.Sprint("allow=", allow), func(t *testing.T) {
			e := newEnv(t, func(o *portal.Options) { o.AllowUnenrolled = allow })
			demo := backendclient.New(e.url, nil, "DEMO-1", nil)
			demo.SetPortalKey(e.s.PublicKey())
			p := e.newPacket(t, 1, "", func(m *api.Manifest, d []backendclient.Document) []backendclient.Document {
				m.KioskID = "DEMO-1"
				return d
			})
			if !allow {
				// An unenrolled kiosk cannot even ask for a confirmation code.
				_, err := demo.RequestConfirmation(context.Background(), "tok-an", api.ConfirmationRequest{ProcedureID: "marital-status", KioskID: "DEMO-1"})
				if st, code := apiCode(err); st != 401 || code != portal.CodeUnknownKiosk {
					t.Errorf("code for an unenrolled kiosk: %v", err)
				}
			}
			token := "made-up-confirmation-token-for-an-unenrolled-kiosk"
			if allow {
				token = e.confirmAt(t, demo, "tok-an", "049090001234", api.ReviewOf(p.m))
			}
			p = withToken(t, e.key, p, token)
			_, err := demo.Submit(context.Background(), p.manifest, nil, p.docs)
			if allow && err != nil {
				t.Errorf("demo kiosk refused: %v", err)
			}
			if st, code := apiCode(err); !allow && (st != 401 || code != portal.CodeUnknownKiosk) {
				t.Errorf("unenrolled kiosk: %v", err)
			}
		})
	}
	e := newEnv(t, nil)
	resp, err := http.Get(e.url + "/t/QN-2026-424242")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 404 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Errorf("unknown track page: %s %s", resp.Status, resp.Header.Get("Content-Type"))
	}
}
