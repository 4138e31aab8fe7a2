package kiosk

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"filippo.io/age"
	backendclient "govkiosk/backend-client"

	"govkiosk/backend-client/api"
	"govkiosk/backend-client/identity"
	"govkiosk/drivers/device"
	"govkiosk/kiosk/outbox"
	"govkiosk/kiosk/receipt"
)

// gate holds a fake device or service in a call until the test releases
// it, like a printer that stopped reading or a portal that stopped answering.
type gate struct {
	once     sync.Once
	entered  chan struct{} // closed when the first call arrives
	released chan struct{}
}

func newGate() *gate { return &gate{entered: make(chan struct{}), released: make(chan struct{})} }

// wait blocks until the gate is released or ctx ends; a nil gate is open.
func (g *gate) wait(ctx context.Context) {
	if g == nil {
		return
	}
	g.once.Do(func() { close(g.entered) })
	select {
	case <-g.released:
	case <-ctx.Done():
	}
}

// fakeClock is a settable clock.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

type fakeLogin struct {
	mu        sync.Mutex
	begun     int
	completed int
	ended     []string // access tokens revoked
	err       error
	beginErr  error            // BeginBound fails with it
	citizen   string           // citizen ID of the next login ("" = 079123456789)
	gate      *gate            // Begin and Complete wait on it
	binding   identity.Binding // of the last login begun
}

func (f *fakeLogin) EndSession(ctx context.Context, id *identity.Identity) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.ended = append(f.ended, id.AccessToken)
	id.AccessToken = ""
	return nil
}

func (f *fakeLogin) endedTokens() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.ended...)
}

func (f *fakeLogin) BeginBound(ctx context.Context, lang string, b identity.Binding) (string, *identity.Pending, error) {
	f.gate.wait(ctx)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.begun++
	f.binding = b
	if f.beginErr != nil {
		return "", nil, f.beginErr
	}
	return fmt.Sprintf("http://idp.test/authorize?ui_locales=%s&n=%d", lang, f.begun), &identity.Pending{}, nil
}

// fakeState is the state of every fake login: its callbacks carry it.
const fakeState = "y"

func (f *fakeLogin) CallbackMatches(p *identity.Pending, q url.Values) bool {
	return p != nil && len(q["state"]) == 1 && q.Get("state") == fakeState
}

func (f *fakeLogin) Complete(ctx context.Context, p *identity.Pending, q url.Values) (*identity.Identity, error) {
	f.gate.wait(ctx)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.completed++
	if f.err != nil {
		return nil, f.err
	}
	citizen := f.citizen
	if citizen == "" {
		citizen = "079123456789"
	}
	return &identity.Identity{
		CitizenID: citizen, Name: "Nguyễn Thị Hồng Nhung", GivenName: "Nhung", FamilyName: "Nguyễn",
		BirthDate: "1954-03-02", Address: "12 Trần Phú, Hội An", Phone: "0905123456", Profile: "vn", AccessToken: "at-1",
	}, nil
}

type fakePortal struct {
	code         string
	attempts     int
	statuses     map[string]api.ApplicationStatus
	gate         *gate // every call waits on it
	unauthorized bool  // the portal forgot the citizen's token (a restart)
	requests     int
	digests      []string // the review digest sent with each code
	codeErr      error    // RequestConfirmation fails with it
	verifyErr    error    // VerifyConfirmation fails with it
}

func (f *fakePortal) RequestConfirmation(ctx context.Context, tok string, req api.ConfirmationRequest) (api.ConfirmationChallenge, error) {
	f.gate.wait(ctx)
	f.requests++
	if f.unauthorized {
		return api.ConfirmationChallenge{}, &backendclient.APIError{StatusCode: 401, Code: "unauthorized"}
	}
	if tok != "at-1" {
		return api.ConfirmationChallenge{}, errors.New("bad token")
	}
	if f.codeErr != nil {
		return api.ConfirmationChallenge{}, f.codeErr
	}
	f.attempts = 5
	return api.ConfirmationChallenge{ID: "ch-1", Attempts: 5, ExpiresAt: time.Now().Add(5 * time.Minute)}, nil
}

func (f *fakePortal) VerifyConfirmation(ctx context.Context, tok string, v api.ConfirmationVerify) (api.ConfirmationResult, error) {
	f.gate.wait(ctx)
	f.digests = append(f.digests, v.ReviewDigest)
	if f.unauthorized {
		return api.ConfirmationResult{}, &backendclient.APIError{StatusCode: 401, Code: "unauthorized"}
	}
	if f.verifyErr != nil {
		return api.ConfirmationResult{}, f.verifyErr
	}
	if f.attempts == 0 {
		return api.ConfirmationResult{Reason: "exhausted"}, nil
	}
	if v.Code != f.code {
		f.attempts--
		if f.attempts == 0 {
			return api.ConfirmationResult{Reason: "exhausted"}, nil
		}
		return api.ConfirmationResult{AttemptsLeft: f.attempts, Reason: "wrong"}, nil
	}
	return api.ConfirmationResult{OK: true, Token: "confirmed-1"}, nil
}

func (f *fakePortal) Status(ctx context.Context, ref string) (api.ApplicationStatus, error) {
	f.gate.wait(ctx)
	st, ok := f.statuses[ref]
	if !ok {
		return api.ApplicationStatus{}, &backendclient.APIError{StatusCode: 404, Code: "not_found"}
	}
	return st, nil
}

type fakeScanner struct {
	state     device.State
	pages     int  // sheets
	duplex    bool // each sheet gives a front and an empty back
	blankOnly int  // then this many empty pages
	err       error
	gate      *gate // ScanBatch waits on it
}

func (f *fakeScanner) Status(context.Context) device.Status {
	return device.Status{Device: "scanner", State: f.state}
}

func (f *fakeScanner) ScanBatch(ctx context.Context, maxPages int) ([]device.Page, error) {
	f.gate.wait(ctx)
	if f.err != nil {
		return nil, f.err
	}
	// A small page at 150 dpi with a few lines of "words" (the scan
	// pipeline keeps it), and, for a duplex feeder, its empty back with a
	// speck (the pipeline leaves that out).
	img := image.NewGray(image.Rect(0, 0, 124, 175))
	for i := range img.Pix {
		img.Pix[i] = 0xff
	}
	for y := 40; y < 130; y += 12 {
		for x := 25; x < 100; x++ {
			if x%14 < 10 {
				for dy := range 5 {
					img.SetGray(x, y+dy, color.Gray{})
				}
			}
		}
	}
	back := image.NewGray(img.Rect)
	for i := range back.Pix {
		back.Pix[i] = 0xf0
	}
	back.SetGray(60, 80, color.Gray{})
	var b, bb bytes.Buffer
	png.Encode(&b, img)
	png.Encode(&bb, back)
	var pages []device.Page
	for i := 0; i < min(f.pages, maxPages); i++ {
		pages = append(pages, device.Page{PNG: b.Bytes(), Width: 124, Height: 175})
		if f.duplex && len(pages) < maxPages {
			pages = append(pages, device.Page{PNG: bb.Bytes(), Width: 124, Height: 175})
		}
	}
	for i := 0; i < f.blankOnly && len(pages) < maxPages; i++ {
		pages = append(pages, device.Page{PNG: bb.Bytes(), Width: 124, Height: 175})
	}
	return pages, nil
}

type fakePrinter struct {
	hang     bool  // block until the context ends, like a printer that stopped reading
	gate     *gate // Print waits on it
	err      error
	print    int
	reprints []string
}

func (f *fakePrinter) Reprint(ctx context.Context, failedID string, parts ...device.PrintPart) (string, error) {
	f.print++
	f.reprints = append(f.reprints, failedID)
	return "job-2", f.err
}

func (f *fakePrinter) Status(context.Context) device.Status {
	return device.Status{State: device.Online}
}
func (f *fakePrinter) Print(ctx context.Context, parts ...device.PrintPart) (string, error) {
	f.gate.wait(ctx)
	f.print++
	if f.hang {
		<-ctx.Done()
		return "job-1", ctx.Err()
	}
	return "job-1", f.err
}

// fakeSender plays the portal for the outbox: it holds uploads in memory and
// decrypts the manifest with the portal's age identity at finalise.
type fakeSender struct {
	mu      sync.Mutex
	id      *age.X25519Identity
	down    bool
	uploads map[string][]byte
	got     [][]byte // plaintext manifests finalised
	calls   int
	refuse  error // Finalise answers with it (a permanent refusal)
}

func (f *fakeSender) CreateUpload(ctx context.Context, packetID, file string, size int64) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if f.down {
		return "", errors.New("connection refused")
	}
	u := "http://portal.test/api/v1/uploads/" + packetID + "-" + file
	if f.uploads == nil {
		f.uploads = map[string][]byte{}
	}
	f.uploads[u] = nil
	return u, nil
}

func (f *fakeSender) Upload(ctx context.Context, uploadURL string, data io.ReaderAt, size int64) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down {
		return errors.New("connection refused")
	}
	b := make([]byte, size)
	if _, err := data.ReadAt(b, 0); err != nil && err != io.EOF {
		return err
	}
	f.uploads[uploadURL] = b
	return nil
}

func (f *fakeSender) Finalise(ctx context.Context, req api.FinaliseRequest) (api.SubmitResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down {
		return api.SubmitResult{}, errors.New("connection refused")
	}
	if f.refuse != nil {
		return api.SubmitResult{}, f.refuse
	}
	r, err := age.Decrypt(bytes.NewReader(req.Manifest), f.id)
	if err != nil {
		return api.SubmitResult{}, err
	}
	m, err := io.ReadAll(r)
	if err != nil {
		return api.SubmitResult{}, err
	}
	f.got = append(f.got, m)
	return api.SubmitResult{TrackingNumber: "QN-2026-000001", AppointmentDate: "2026-11-27", ReceivedAt: time.Now()}, nil
}

var testProcedure = api.Procedure{
	ID: "marital-status", Code: "1.000656", Name: api.Text{"en": "Certificate of marital status"},
	Fields: []api.Field{
		{Name: "full_name", Type: api.FieldText, Label: api.Text{"en": "Name"}, Required: true, Prefill: "name"},
		{Name: "purpose", Type: api.FieldText, Label: api.Text{"en": "Purpose"}, Required: true, MinLen: 3},
	},
	Documents: []api.DocumentRequirement{
		{Type: "id-card", Label: api.Text{"en": "ID card"}, MinPages: 1, MaxPages: 2, Required: true},
		{Type: "divorce-decree", Label: api.Text{"en": "Divorce decree"}, MinPages: 1, MaxPages: 10},
	},
	ProcessingDays: 3,
}

type catSource struct{ sc api.SignedCatalogue }

func (c catSource) SignedCatalogue(context.Context) (api.SignedCatalogue, error) { return c.sc, nil }

type rig struct {
	t       *testing.T
	c       *Controller
	clock   *fakeClock
	login   *fakeLogin
	portal  *fakePortal
	scanner *fakeScanner
	printer *fakePrinter
	sender  *fakeSender
	ob      *outbox.Outbox
	key     *ecdsa.PrivateKey
	dir     string
	cancel  context.CancelFunc
}

func newRig(t *testing.T) *rig {
	t.Helper()
	return newRigWith(t, api.Catalogue{Procedures: []api.Procedure{testProcedure}}, "")
}

// newRigWith is newRig with another catalogue and office code.
func newRigWith(t *testing.T, catalogue api.Catalogue, office string) *rig {
	t.Helper()
	dir := t.TempDir()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	clock := &fakeClock{t: time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)}
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	portalID, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	ob, err := outbox.Open(outbox.Options{
		Dir: filepath.Join(dir, "outbox"), Log: log, Recipient: portalID.Recipient(),
		MinBackoff: 20 * time.Millisecond, MaxBackoff: 50 * time.Millisecond, IsPermanent: backendclient.IsPermanent,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ob.Close() })
	sender := &fakeSender{id: portalID}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go ob.Run(ctx, sender)

	// A catalogue signed with a throwaway key, verified the way the kiosk does.
	catalogue.Version, catalogue.ExpiresAt = "1", clock.t.Add(7*24*time.Hour)
	payload, _ := json.Marshal(catalogue)
	catKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	sum := sha256.Sum256(payload)
	sig, _ := ecdsa.SignASN1(rand.Reader, catKey, sum[:])
	verify := func(sc api.SignedCatalogue, k *ecdsa.PublicKey) (api.Catalogue, error) {
		s := sha256.Sum256(sc.Payload)
		if !ecdsa.VerifyASN1(k, s[:], sc.Signature) {
			return api.Catalogue{}, errors.New("bad signature")
		}
		var c api.Catalogue
		return c, json.Unmarshal(sc.Payload, &c)
	}
	cat := NewCatalogue(dir, &catKey.PublicKey, verify, log, clock.Now)
	if err := cat.Refresh(context.Background(), catSource{api.SignedCatalogue{Payload: payload, Signature: sig}}); err != nil {
		t.Fatal(err)
	}

	cfg := Config{KioskID: "KIOSK-0001", PortalURL: "http://portal.test", DataDir: dir, OfficeCode: office, OfficeName: map[string]string{"en": "Hoi An"}}
	cfg.OIDC.Issuer, cfg.OIDC.ClientID, cfg.OIDC.RedirectURL = "http://idp.test", "govkiosk", "http://127.0.0.1:8080/auth/callback"
	cfg.SetDefaults()
	r := &rig{
		t: t, clock: clock, login: &fakeLogin{}, portal: &fakePortal{code: "424242", statuses: map[string]api.ApplicationStatus{}},
		scanner: &fakeScanner{state: device.Online, pages: 2}, printer: &fakePrinter{}, sender: sender, ob: ob, key: key, dir: dir, cancel: cancel,
	}
	r.c = NewController(Deps{
		Config: cfg, Log: log, Now: clock.Now, Rand: rand.Reader, Signer: key,
		Login: r.login, Portal: r.portal, Outbox: ob, Printer: r.printer, Scanner: r.scanner, Catalogue: cat,
		RenderReceipt: func(d receipt.Data) (*image.Gray, error) { return image.NewGray(image.Rect(0, 0, 576, 100)), nil },
		SubmitWait:    3 * time.Second,
	})
	return r
}

func (r *rig) walkToConfirmT() { r.t.Helper(); r.walkToConfirm(r.t) }

// walkToForm drives a session from attract to the form, logged in.
func (r *rig) walkToForm() {
	t := r.t
	t.Helper()
	ctx := context.Background()
	r.c.Start()
	r.c.SetLanguage("en")
	if err := r.c.ChooseProcedure(ctx, "marital-status"); err != nil {
		t.Fatal(err)
	}
	if _, err := r.c.BeginLogin(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := r.c.CompleteLogin(ctx, url.Values{"code": {"x"}, "state": {"y"}}); err != nil {
		t.Fatal(err)
	}
	if err := r.c.ConfirmIdentity(true); err != nil {
		t.Fatal(err)
	}
	if s := r.c.View(ctx).Step; s != StepForm {
		t.Fatalf("walk to the form ended at %s", s)
	}
}

// walkToDocuments drives a session to the first document.
func (r *rig) walkToDocuments() {
	t := r.t
	t.Helper()
	r.walkToForm()
	if err := r.c.SubmitForm(map[string]string{"full_name": "Nguyễn Thị Hồng Nhung", "purpose": "marriage registration"}); err != nil {
		t.Fatal(err)
	}
	if s := r.c.View(context.Background()).Step; s != StepDocuments {
		t.Fatalf("walk to the documents ended at %s", s)
	}
}

// walkToConfirm drives a session from attract to the code screen.
func (r *rig) walkToConfirm(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	c := r.c
	c.Start()
	c.SetLanguage("en")
	if err := c.ChooseProcedure(ctx, "marital-status"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.BeginLogin(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CompleteLogin(ctx, url.Values{"code": {"x"}, "state": {"y"}}); err != nil {
		t.Fatal(err)
	}
	v := c.View(ctx)
	if v.Step != StepIdentity || v.MaskedName == "" || strings.Contains(v.MaskedName, "Hồng Nhung") {
		t.Fatalf("identity step shows %q at %s; want a masked name", v.MaskedName, v.Step)
	}
	c.ConfirmIdentity(true)
	if got := c.View(ctx).Form["full_name"]; got != "Nguyễn Thị Hồng Nhung" {
		t.Fatalf("form not prefilled from the ID: %q", got)
	}
	if c.SubmitForm(map[string]string{"full_name": "Nguyễn Thị Hồng Nhung", "purpose": ""}) == nil {
		t.Fatal("empty purpose accepted")
	}
	if p := c.View(ctx).FormProblems["purpose"]; p != FieldRequired {
		t.Fatalf("purpose problem %q, want %q", p, FieldRequired)
	}
	if err := c.SubmitForm(map[string]string{"full_name": "Nguyễn Thị Hồng Nhung", "purpose": "marriage registration"}); err != nil {
		t.Fatalf("valid form refused: %v", c.View(ctx).FormProblems)
	}
	if err := c.ScanDocument(ctx); err != nil {
		t.Fatal(err)
	}
	v = c.View(ctx)
	if v.Docs[0].Pages != 2 || len(v.Docs[0].Thumbs) != 2 {
		t.Fatalf("scanned %d pages, %d thumbs; want 2, 2", v.Docs[0].Pages, len(v.Docs[0].Thumbs))
	}
	c.NextDocument()
	if v := c.View(ctx); v.Step != StepDocuments || v.DocIndex != 1 {
		t.Fatalf("after the first document at %s/%d, want the optional second", v.Step, v.DocIndex)
	}
	c.NextDocument() // skip the optional one
	if s := c.View(ctx).Step; s != StepReview {
		t.Fatalf("after documents at %s, want review", s)
	}
	if err := c.RequestCode(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestHappyPathSubmitsSignedPacketAndPrints(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	r.walkToConfirm(t)
	if err := r.c.VerifyCode(ctx, "111111"); err == nil {
		t.Fatal("wrong code accepted")
	}
	v := r.c.View(ctx)
	if v.Notice != MsgCodeWrong || v.AttemptsLeft != 4 {
		t.Fatalf("after a wrong code: notice %q attempts %d", v.Notice, v.AttemptsLeft)
	}
	if err := r.c.VerifyCode(ctx, "424242"); err != nil {
		t.Fatal(err)
	}
	v = r.c.View(ctx)
	if v.Step != StepReceipt || v.Receipt.Provisional || v.Receipt.Reference != "QN-2026-000001" {
		t.Fatalf("receipt %+v at %s", v.Receipt, v.Step)
	}
	if !v.Receipt.Printed || r.printer.print != 1 {
		t.Fatalf("receipt printed=%v, print calls %d", v.Receipt.Printed, r.printer.print)
	}
	if v.Receipt.TrackURL != "http://portal.test/t/QN-2026-000001" {
		t.Fatalf("track URL %q", v.Receipt.TrackURL)
	}
	// The portal got a manifest with the form, the document and a valid signature.
	r.sender.mu.Lock()
	got := r.sender.got
	r.sender.mu.Unlock()
	if len(got) != 1 {
		t.Fatalf("portal got %d packets, want 1", len(got))
	}
	var m api.Manifest
	if err := json.Unmarshal(got[0], &m); err != nil {
		t.Fatal(err)
	}
	if m.Form["purpose"] != "marriage registration" || len(m.Documents) != 1 || m.Documents[0].Pages != 2 || m.ConfirmationToken != "confirmed-1" {
		t.Fatalf("manifest %+v", m)
	}
	// The code confirmed exactly this packet: the digest sent with it is
	// the one the portal computes from the manifest it receives.
	if d := r.portal.digests; len(d) == 0 || !api.ValidReviewDigest(d[len(d)-1]) || d[len(d)-1] != api.ReviewDigest(api.ReviewOf(m)) {
		t.Fatalf("review digests sent %q; the packet's is %s", d, api.ReviewDigest(api.ReviewOf(m)))
	}
	r.c.ReceiptDone()
	r.c.Rate(5)
	v = r.c.View(ctx)
	if v.Step != StepThanks || v.MaskedName != "" || v.Form != nil || v.Receipt != nil {
		t.Fatalf("after rating the session still holds data: %+v", v)
	}
	r.c.Finish()
	if s := r.c.View(ctx).Step; s != StepAttract {
		t.Fatalf("after finish at %s", s)
	}
	// The citizen's tokens were revoked at the provider when the session ended.
	deadline := time.Now().Add(5 * time.Second)
	for len(r.login.endedTokens()) == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if got := r.login.endedTokens(); len(got) != 1 || got[0] != "at-1" {
		t.Fatalf("tokens revoked at the end: %v, want [at-1]", got)
	}
}

func TestPortalDownGivesProvisionalReceiptAndDeliversLater(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	r.sender.mu.Lock()
	r.sender.down = true
	r.sender.mu.Unlock()
	r.walkToConfirm(t)
	if err := r.c.VerifyCode(ctx, "424242"); err != nil {
		t.Fatal(err)
	}
	v := r.c.View(ctx)
	if !v.Receipt.Provisional || !strings.HasPrefix(v.Receipt.Reference, "P-K0001-") {
		t.Fatalf("want a provisional receipt, got %+v", v.Receipt)
	}
	if v.Receipt.AppointmentDate != "2026-11-25" { // Fri 20 Nov + 3 working days
		t.Fatalf("appointment %q", v.Receipt.AppointmentDate)
	}
	n, _ := r.ob.Backlog()
	if n != 1 {
		t.Fatalf("backlog %d, want 1", n)
	}
	// The network returns: the packet is delivered exactly once.
	r.sender.mu.Lock()
	r.sender.down = false
	r.sender.mu.Unlock()
	r.ob.Kick()
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	e, err := r.ob.Wait(wctx, v.Receipt.PacketID)
	if err != nil || !e.Delivered() {
		t.Fatalf("not delivered: %+v %v", e, err)
	}
	r.sender.mu.Lock()
	defer r.sender.mu.Unlock()
	if len(r.sender.got) != 1 {
		t.Fatalf("delivered %d times", len(r.sender.got))
	}
}

func TestIdleTimeoutWipesAndLateCallbackIsRefused(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	r.c.Start()
	r.c.SetLanguage("vi")
	r.c.ChooseProcedure(ctx, "marital-status")
	if _, err := r.c.BeginLogin(ctx); err != nil {
		t.Fatal(err)
	}
	r.clock.Add(120 * time.Second)
	r.c.Tick()
	if s := r.c.View(ctx).Step; s != StepLogin {
		t.Fatalf("wiped during the countdown: at %s", s)
	}
	r.clock.Add(30 * time.Second)
	r.c.Tick()
	v := r.c.View(ctx)
	if v.Step != StepAttract || v.Procedure != nil {
		t.Fatalf("not wiped after idle: %+v", v)
	}
	_, err := r.c.CompleteLogin(ctx, url.Values{"code": {"x"}, "state": {"y"}})
	var ue *UserError
	if !errors.As(err, &ue) || ue.Key != MsgSessionExpired {
		t.Fatalf("late callback: %v", err)
	}
	if r.login.completed != 0 {
		t.Fatal("a callback after the wipe reached the provider exchange")
	}
}

func TestScannerDownHidesProceduresThatNeedIt(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	r.scanner.state = device.HardwareError
	r.c.Start()
	r.c.SetLanguage("th")
	v := r.c.View(ctx)
	if len(v.Procedures) != 1 || v.Procedures[0].Available {
		t.Fatalf("procedure offered with the scanner down: %+v", v.Procedures)
	}
	r.c.ChooseProcedure(ctx, "marital-status")
	if v := r.c.View(ctx); v.Step != StepCatalogue || v.Notice != MsgProcedureUnready {
		t.Fatalf("at %s with notice %q", v.Step, v.Notice)
	}
}

func TestScannerJamIsExplained(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	r.scanner.err = device.ErrScannerJammed
	r.c.Start()
	r.c.SetLanguage("en")
	r.c.ChooseProcedure(ctx, "marital-status")
	r.c.BeginLogin(ctx)
	r.c.CompleteLogin(ctx, url.Values{"state": {fakeState}})
	r.c.ConfirmIdentity(true)
	r.c.SubmitForm(map[string]string{"full_name": "A B", "purpose": "work permit"})
	r.c.ScanDocument(ctx)
	v := r.c.View(ctx)
	if v.Notice != MsgScannerJammed || v.Step != StepDocuments {
		t.Fatalf("jam: notice %q at %s", v.Notice, v.Step)
	}
	r.c.NextDocument()
	if v := r.c.View(ctx); v.Step != StepDocuments || v.Notice != MsgTooFewPages {
		t.Fatalf("moved on without pages: %s %q", v.Step, v.Notice)
	}
}

func TestPrinterFailureShowsReceiptOnScreen(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	r.printer.err = errors.New("paper out")
	r.walkToConfirm(t)
	r.c.VerifyCode(ctx, "424242")
	v := r.c.View(ctx)
	if v.Receipt.Printed || v.Receipt.PrintError == "" || len(r.c.ReceiptPNG()) == 0 {
		t.Fatalf("receipt %+v", v.Receipt)
	}
	r.printer.err = nil
	r.c.ReprintReceipt(ctx)
	if v := r.c.View(ctx); !v.Receipt.Printed || r.printer.print != 2 || len(r.printer.reprints) != 1 || r.printer.reprints[0] != "job-1" {
		t.Fatalf("reprint: printed=%v calls=%d reprints of %v", v.Receipt.Printed, r.printer.print, r.printer.reprints)
	}
	r.c.ReprintReceipt(ctx)
	if r.printer.print != 2 {
		t.Fatal("a printed receipt was printed again")
	}
}

func TestCodeExhaustedNeedsNewCode(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	r.walkToConfirm(t)
	for i := 0; i < 5; i++ {
		r.c.VerifyCode(ctx, "000000")
	}
	v := r.c.View(ctx)
	if v.Notice != MsgCodeExhausted || v.CodeSent {
		t.Fatalf("after 5 wrong codes: notice %q codeSent %v", v.Notice, v.CodeSent)
	}
	var ue *UserError
	if err := r.c.VerifyCode(ctx, "424242"); !errors.As(err, &ue) || ue.Key != MsgCodeExpired || r.c.View(ctx).Step != StepConfirm {
		t.Fatalf("a code was checked without a new challenge: %v", err)
	}
	r.c.RequestCode(ctx)
	if err := r.c.VerifyCode(ctx, "424242"); err != nil {
		t.Fatal(err)
	}
	if s := r.c.View(ctx).Step; s != StepReceipt {
		t.Fatalf("at %s", s)
	}
}

func TestReceiptQRShowsStatus(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	r.portal.statuses["QN-2026-000009"] = api.ApplicationStatus{TrackingNumber: "QN-2026-000009", Status: "in-review"}
	r.c.HandleScan(ctx, []byte("http://portal.test/t/QN-2026-000009"))
	v := r.c.View(ctx)
	if v.Step != StepStatus || v.Status == nil || v.Status.Status != "in-review" {
		t.Fatalf("status screen: %+v", v)
	}
	r.c.HandleScan(ctx, []byte("http://portal.test/t/QN-2026-999999"))
	if v := r.c.View(ctx); v.Notice != MsgStatusNotFound || v.Status != nil {
		t.Fatalf("unknown tracking number: %+v", v)
	}
	r.c.Cancel()
	r.c.HandleScan(ctx, []byte("https://evil.example/t/QN-2026-000009"))
	if v := r.c.View(ctx); v.Notice != MsgNotForKiosk || v.Status != nil {
		t.Fatalf("foreign QR: %+v", v)
	}
}

func TestPacketFilesGoneAfterAcknowledgement(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	r.walkToConfirm(t)
	r.c.VerifyCode(ctx, "424242")
	r.c.ReceiptDone()
	r.c.Rate(4)
	// Nothing personal may remain in the data folder: look for the name and ID.
	err := filepath.Walk(r.dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil || fi.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		for _, s := range []string{"079123456789", "Hồng Nhung", "marriage registration"} {
			if bytes.Contains(b, []byte(s)) {
				t.Errorf("%s still holds %q", p, s)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestHungPrinterNeverHoldsTheCitizen: a printer that stops answering costs
// at most PrintWait, then the receipt is on screen.
func TestHungPrinterNeverHoldsTheCitizen(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	r.printer.hang = true
	r.c.d.PrintWait = 50 * time.Millisecond
	r.walkToConfirm(t)
	if err := r.c.VerifyCode(ctx, "424242"); err != nil {
		t.Fatal(err)
	}
	v := r.c.View(ctx)
	if v.Step != StepReceipt || v.Receipt.Printed || v.Receipt.PrintError == "" || len(r.c.ReceiptPNG()) == 0 {
		t.Fatalf("hung printer: step %s receipt %+v", v.Step, v.Receipt)
	}
}

// TestCodeRateLimitsShowTheWait: the portal's 429 reaches the citizen as a
// plain message with the wait in minutes, and a new code that was sent is
// said to have been sent.
func TestCodeRateLimitsShowTheWait(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	r.walkToConfirm(t)

	r.portal.codeErr = &backendclient.APIError{StatusCode: 429, Code: "rate-limited", Reason: api.ReasonCodeGap, RetryAfter: 95 * time.Second}
	var ue *UserError
	if err := r.c.RequestCode(ctx); !errors.As(err, &ue) || ue.Key != MsgCodeWait {
		t.Fatalf("resend while rate-limited: %v", err)
	}
	if v := r.c.View(ctx); v.Notice != MsgCodeWait || v.NoticeMinutes != 2 || v.Step != StepConfirm || !v.CodeSent {
		t.Errorf("notice %q, %d minutes, step %s, code sent %v; want %s, 2 minutes, the first code still usable", v.Notice, v.NoticeMinutes, v.Step, v.CodeSent, MsgCodeWait)
	}
	r.clock.Add(time.Minute)
	if v := r.c.View(ctx); v.NoticeMinutes != 1 {
		t.Errorf("a minute later the screen says %d minutes", v.NoticeMinutes)
	}

	r.portal.codeErr = nil
	if err := r.c.RequestCode(ctx); err != nil {
		t.Fatal(err)
	}
	if v := r.c.View(ctx); v.Notice != MsgCodeResent || v.NoticeMinutes != 0 {
		t.Errorf("after a new code: notice %q (%d minutes), want %s", v.Notice, v.NoticeMinutes, MsgCodeResent)
	}

	r.portal.verifyErr = &backendclient.APIError{StatusCode: 429, Code: "rate-limited", Reason: api.ReasonCitizenWrongCodes, RetryAfter: 50 * time.Minute}
	if err := r.c.VerifyCode(ctx, "111111"); !errors.As(err, &ue) || ue.Key != MsgCodeLocked {
		t.Fatalf("check while locked out: %v", err)
	}
	if v := r.c.View(ctx); v.Notice != MsgCodeLocked || v.NoticeMinutes != 50 {
		t.Errorf("notice %q, %d minutes; want %s, 50", v.Notice, v.NoticeMinutes, MsgCodeLocked)
	}
	r.portal.verifyErr = &backendclient.APIError{StatusCode: 429, Code: "rate-limited", Reason: api.ReasonKioskWrongCodes}
	if r.c.VerifyCode(ctx, "111111"); r.c.View(ctx).NoticeMinutes != 1 {
		t.Errorf("a 429 without a wait: %d minutes, want 1", r.c.View(ctx).NoticeMinutes)
	}
}

// TestStartScreenMessageDoesNotWaitForTheNextCitizen: a message shown on
// the start screen (an ID-card QR held to the reader there) goes after
// AttractNoticeFor, so the next citizen meets a clean screen.
func TestStartScreenMessageDoesNotWaitForTheNextCitizen(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	r.c.HandleScan(ctx, []byte("NID1:6BFOXN*TS0BI$ZD.P9UOL97O4-2HH77HRM3DSPTLRR+%3"))
	if v := r.c.View(ctx); v.Step != StepAttract || v.Notice != MsgIDQRNotLogin {
		t.Fatalf("ID-card QR on the start screen: %+v", v)
	}
	r.clock.Add(AttractNoticeFor / 2)
	r.c.Tick()
	if v := r.c.View(ctx); v.Notice != MsgIDQRNotLogin {
		t.Fatalf("the message went after %v, before its reader could read it", AttractNoticeFor/2)
	}
	r.clock.Add(AttractNoticeFor)
	r.c.Tick()
	if v := r.c.View(ctx); v.Step != StepAttract || v.Notice != "" {
		t.Fatalf("the start screen still greets the next citizen with %q", v.Notice)
	}
}
