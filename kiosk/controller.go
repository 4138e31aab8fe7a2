package kiosk

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"io"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	backendclient "govkiosk/backend-client"
	"govkiosk/backend-client/api"
	"govkiosk/backend-client/identity"
	"govkiosk/backend-client/idqr"
	"govkiosk/drivers/device"
	"govkiosk/kiosk/document"
	"govkiosk/kiosk/outbox"
	"govkiosk/kiosk/receipt"
)

// Printer prints a receipt image.
type Printer interface {
	Status(ctx context.Context) device.Status
	PrintImage(ctx context.Context, img image.Image) (jobID string, err error)
	// Reprint prints a failed job again as a new job; it refuses when the
	// job printed after all, so a citizen never gets a silent duplicate.
	Reprint(ctx context.Context, failedID string, parts ...device.PrintPart) (jobID string, err error)
}

// DocumentScanner feeds pages from the ADF.
type DocumentScanner interface {
	Status(ctx context.Context) device.Status
	ScanBatch(ctx context.Context, maxPages int) ([]device.Page, error)
}

// Login is the national-ID login.
type Login interface {
	Begin(ctx context.Context, lang string) (authURL string, p *identity.Pending, err error)
	Complete(ctx context.Context, p *identity.Pending, callback url.Values) (*identity.Identity, error)
	// EndSession revokes the citizen's tokens at the provider and clears them.
	EndSession(ctx context.Context, id *identity.Identity) error
}

// Portal is the part of the portal API a session uses directly.
type Portal interface {
	RequestConfirmation(ctx context.Context, accessToken string, req api.ConfirmationRequest) (api.ConfirmationChallenge, error)
	VerifyConfirmation(ctx context.Context, accessToken string, v api.ConfirmationVerify) (api.ConfirmationResult, error)
	Status(ctx context.Context, ref string) (api.ApplicationStatus, error)
}

// Outbox keeps packets durably until the portal acknowledges them.
type Outbox interface {
	Enqueue(ctx context.Context, p outbox.Packet) error
	Kick()
	Wait(ctx context.Context, id string) (outbox.Entry, error)
	// Admit says whether a new application can be taken (backlog, age, disk).
	Admit() error
}

// Deps is what the controller is wired with.
type Deps struct {
	Config    Config
	Log       *slog.Logger
	Now       func() time.Time
	Rand      io.Reader
	Signer    crypto.Signer // the device key
	Login     Login
	Portal    Portal
	Outbox    Outbox
	Printer   Printer         // nil when the kiosk has none
	Scanner   DocumentScanner // nil when the kiosk has none
	Catalogue *Catalogue
	// RenderReceipt lays out and rasterises a receipt; nil uses receipt.Render.
	RenderReceipt func(d receipt.Data) (*image.Gray, error)
	// SubmitWait is how long the citizen waits for the portal's tracking
	// number before getting a provisional receipt (default 10 s).
	SubmitWait time.Duration
	// PrintWait bounds printing one receipt (default 30 s); past it the
	// receipt is shown on screen and the job can be reprinted.
	PrintWait time.Duration
	// IDTrust verifies signed offline ID QR codes; nil: the trust list from
	// the signed catalogue.
	IDTrust *idqr.TrustList
	// Technician, when set, reports whether the kiosk is in technician mode
	// (the cabinet door is open) and takes provisioning codes scanned then.
	Technician func() bool
	Provision  func(ctx context.Context, payload []byte)
}

// Controller runs the citizen session. All methods are safe for concurrent use.
type Controller struct {
	d Deps

	mu   sync.Mutex
	s    *session
	subs map[chan struct{}]struct{}
}

// NewController returns a controller on the attract screen.
func NewController(d Deps) *Controller {
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.SubmitWait == 0 {
		d.SubmitWait = 10 * time.Second
	}
	if d.Rand == nil {
		d.Rand = rand.Reader
	}
	if d.PrintWait == 0 {
		d.PrintWait = 30 * time.Second
	}
	if d.RenderReceipt == nil {
		width := d.Config.Printer.WidthDots
		d.RenderReceipt = func(r receipt.Data) (*image.Gray, error) { return receipt.Render(r, width) }
	}
	c := &Controller{d: d, subs: map[chan struct{}]struct{}{}}
	c.s = c.newSession()
	return c
}

func (c *Controller) newSession() *session {
	var b [8]byte
	if c.d.Rand != nil {
		io.ReadFull(c.d.Rand, b[:])
	}
	return &session{
		id:           hex.EncodeToString(b[:]),
		lang:         c.d.Config.Languages[0],
		step:         StepAttract,
		lastActivity: c.d.Now(),
	}
}

// Subscribe returns a channel that receives a tick whenever the screen
// should be redrawn because of something other than the citizen's own touch
// (a QR scan, the idle wipe).
func (c *Controller) Subscribe() (<-chan struct{}, func()) {
	ch := make(chan struct{}, 1)
	c.mu.Lock()
	c.subs[ch] = struct{}{}
	c.mu.Unlock()
	return ch, func() {
		c.mu.Lock()
		delete(c.subs, ch)
		c.mu.Unlock()
	}
}

// changedLocked wakes the subscribers; c.mu is held.
func (c *Controller) changedLocked() {
	for ch := range c.subs {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}

func (c *Controller) log() *slog.Logger { return c.d.Log.With("session", c.s.id) }

// wipeLocked drops everything of the citizen and returns to attract.
func (c *Controller) wipeLocked(reason string) {
	old := c.s
	c.s = c.newSession()
	if old.step != StepAttract {
		c.d.Log.Info("session wiped", "session", old.id, "reason", reason, "at_step", string(old.step))
	}
	if id := old.ident; id != nil && c.d.Login != nil {
		// Revoke at the provider without holding the next citizen up.
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := c.d.Login.EndSession(ctx, id); err != nil {
				c.d.Log.Warn("end of session at the provider failed", "session", old.id, "err", err)
			}
		}()
	}
	// Drop references explicitly so nothing outlives the session by accident.
	old.ident, old.pending, old.form, old.docs, old.receipt, old.confirmToken = nil, nil, nil, nil, nil, ""
	c.changedLocked()
}

func (c *Controller) touchLocked() { c.s.lastActivity = c.d.Now() }

func (c *Controller) setNotice(err error) {
	key, code := UserMessage(err)
	c.s.notice, c.s.noticeCode = key, code
	if code != "" {
		c.log().Error("session error", "code", code, "step", string(c.s.step), "err", err)
	} else {
		c.log().Warn("citizen shown an error", "key", key, "step", string(c.s.step), "err", err)
	}
}

func (c *Controller) goTo(step Step) {
	c.s.step = step
	c.s.notice, c.s.noticeCode = "", ""
}

// View returns the current screen's data.
func (c *Controller) View(ctx context.Context) View {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.s
	v := View{
		SessionID:     s.id,
		Lang:          s.lang,
		Languages:     c.d.Config.Languages,
		LargeText:     s.largeText,
		Step:          s.step,
		CanGoBack:     prevStep(s) != "",
		Procedure:     s.procedure,
		Form:          s.form,
		FormProblems:  s.formProblems,
		Docs:          s.docs,
		DocIndex:      s.docIndex,
		CodeSent:      s.challenge != nil,
		AttemptsLeft:  s.attemptsLeft,
		Receipt:       s.receipt,
		Status:        s.status,
		Notice:        s.notice,
		NoticeCode:    s.noticeCode,
		IdleSeconds:   int(c.d.Now().Sub(s.lastActivity).Seconds()),
		IdleTimeout:   int(c.d.Config.IdleTimeout.Seconds()),
		IdleCountdown: int(c.d.Config.IdleCountdown.Seconds()),
		OfficeName:    api.Text(c.d.Config.OfficeName).Get(s.lang),
		KioskID:       c.d.Config.KioskID,
		IDQRChecked:   s.idqrChecked,
	}
	if s.challenge != nil {
		v.CodeExpires = s.challenge.ExpiresAt
	}
	if s.ident != nil {
		v.MaskedName = s.ident.MaskedName()
		v.BirthYear = s.ident.BirthYear()
	}
	if s.step == StepCatalogue {
		scannerOK := c.scannerReady(ctx)
		for _, p := range c.d.Catalogue.Procedures() {
			v.Procedures = append(v.Procedures, ProcedureView{Procedure: p, Available: scannerOK || !p.NeedsScanner()})
		}
	}
	return v
}

func (c *Controller) scannerReady(ctx context.Context) bool {
	if c.d.Scanner == nil {
		return false
	}
	return c.d.Scanner.Status(ctx).Usable()
}

// Touch records activity (the "I'm still here" button).
func (c *Controller) Touch() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.touchLocked()
}

// Tick wipes an abandoned session. The UI calls it from a ticker; tests call
// it with a fake clock.
func (c *Controller) Tick() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.s.step == StepAttract {
		return
	}
	idle := c.d.Now().Sub(c.s.lastActivity)
	if idle >= c.d.Config.IdleTimeout.Duration+c.d.Config.IdleCountdown.Duration {
		c.wipeLocked("idle")
	}
}

// Cancel ends the session at once and wipes it.
func (c *Controller) Cancel() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.wipeLocked("cancel")
}

// Start leaves the attract screen for the language choice.
func (c *Controller) Start() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.touchLocked()
	if c.s.step == StepAttract || c.s.step == StepStatus {
		c.goTo(StepLanguage)
	}
}

// SetLanguage switches the language; from the language screen it moves on.
func (c *Controller) SetLanguage(lang string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.touchLocked()
	for _, l := range c.d.Config.Languages {
		if l == lang {
			c.s.lang = lang
		}
	}
	if c.s.step == StepLanguage {
		c.goTo(StepCatalogue)
	}
}

// ToggleLargeText switches to larger text and back.
func (c *Controller) ToggleLargeText() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.touchLocked()
	c.s.largeText = !c.s.largeText
}

// Back returns to the previous screen where that is safe.
func (c *Controller) Back() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.touchLocked()
	prev := prevStep(c.s)
	if prev == "" {
		return
	}
	if c.s.step == StepDocuments && c.s.docIndex > 0 {
		c.s.docIndex--
		c.s.notice = ""
		return
	}
	if prev == StepDocuments && c.s.procedure != nil {
		c.s.docIndex = len(c.s.procedure.Documents) - 1
	}
	c.goTo(prev)
}

func prevStep(s *session) Step {
	switch s.step {
	case StepLanguage:
		return StepAttract
	case StepCatalogue:
		return StepLanguage
	case StepLogin:
		return StepCatalogue
	case StepDocuments:
		return StepForm
	case StepReview:
		if s.procedure != nil && len(s.procedure.Documents) > 0 {
			return StepDocuments
		}
		return StepForm
	case StepConfirm:
		return StepReview
	}
	return ""
}

// ChooseProcedure picks a procedure from the catalogue.
func (c *Controller) ChooseProcedure(ctx context.Context, id string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.touchLocked()
	if c.s.step != StepCatalogue {
		return nil
	}
	p, ok := c.d.Catalogue.Procedure(id)
	if !ok {
		c.setNotice(userErr(MsgGeneric, fmt.Errorf("unknown procedure %q", id)))
		return nil
	}
	if p.NeedsScanner() && !c.scannerReady(ctx) {
		c.setNotice(userErr(MsgProcedureUnready, errors.New("scanner not ready")))
		return nil
	}
	// Refuse before the citizen starts, never after they have typed and scanned.
	if err := c.d.Outbox.Admit(); err != nil {
		c.setNotice(userErr(MsgOutboxFull, err))
		return nil
	}
	c.s.procedure = &p
	c.goTo(StepLogin)
	return nil
}

// BeginLogin returns the provider's login URL to send the kiosk browser to.
func (c *Controller) BeginLogin(ctx context.Context) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.touchLocked()
	if c.s.step != StepLogin {
		return "", userErr(MsgSessionExpired, errors.New("login started outside the login step"))
	}
	authURL, p, err := c.d.Login.Begin(ctx, c.s.lang)
	if err != nil {
		err = loginErr(err)
		c.setNotice(err)
		return "", err
	}
	c.s.pending = p
	return authURL, nil
}

func loginErr(err error) error {
	switch {
	case errors.Is(err, identity.ErrExpired):
		return userErr(MsgSessionExpired, err)
	case errors.Is(err, identity.ErrDenied):
		return userErr(MsgLoginDenied, err)
	case errors.Is(err, identity.ErrProviderDown):
		return userErr(MsgProviderDown, err)
	default:
		return userErr(MsgLoginFailed, err)
	}
}

// CompleteLogin takes the provider's callback.
func (c *Controller) CompleteLogin(ctx context.Context, q url.Values) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.touchLocked()
	if c.s.step != StepLogin || c.s.pending == nil {
		// A callback for a session that is gone: never log anybody in.
		c.d.Log.Warn("login callback without a pending login", "step", string(c.s.step))
		return userErr(MsgSessionExpired, errors.New("no pending login"))
	}
	p := c.s.pending
	c.s.pending = nil // single use, whatever happens
	id, err := c.d.Login.Complete(ctx, p, q)
	if err != nil {
		err = loginErr(err)
		c.setNotice(err)
		return err
	}
	c.s.ident = id
	c.log().Info("citizen logged in", "identity", id)
	c.goTo(StepIdentity)
	return nil
}

// ConfirmIdentity answers "Is this you?". No wipes the session.
func (c *Controller) ConfirmIdentity(yes bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.touchLocked()
	if c.s.step != StepIdentity {
		return
	}
	if !yes {
		c.wipeLocked("not me")
		return
	}
	c.s.form = prefill(c.s.procedure.Fields, c.s.ident)
	c.s.docs = make([]ScannedDocument, len(c.s.procedure.Documents))
	c.goTo(StepForm)
}

func prefill(fields []api.Field, id *identity.Identity) map[string]string {
	form := map[string]string{}
	for _, f := range fields {
		switch f.Prefill {
		case "name":
			form[f.Name] = id.Name
		case "birthdate":
			form[f.Name] = id.BirthDate
		case "address":
			form[f.Name] = id.Address
		case "phone_number":
			form[f.Name] = id.Phone
		case "citizen_id":
			form[f.Name] = id.CitizenID
		}
	}
	return form
}

// SubmitForm validates the form; valid values move on to the documents.
func (c *Controller) SubmitForm(values map[string]string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.touchLocked()
	if c.s.step != StepForm {
		return false
	}
	form := map[string]string{}
	for _, f := range c.s.procedure.Fields {
		if f.ReadOnly {
			form[f.Name] = c.s.form[f.Name]
			continue
		}
		form[f.Name] = strings.TrimSpace(values[f.Name])
	}
	c.s.form = form
	c.s.formProblems = ValidateForm(c.s.procedure.Fields, form)
	if len(c.s.formProblems) > 0 {
		return false
	}
	c.s.docIndex = 0
	if len(c.s.procedure.Documents) == 0 {
		c.goTo(StepReview)
	} else {
		c.goTo(StepDocuments)
	}
	return true
}

// ScanDocument scans the current document from the feeder. The lock is not
// held while the scanner runs, so the idle timer and the screen stay alive.
func (c *Controller) ScanDocument(ctx context.Context) error {
	c.mu.Lock()
	c.touchLocked()
	if c.s.step != StepDocuments {
		c.mu.Unlock()
		return nil
	}
	sessionID, idx := c.s.id, c.s.docIndex
	req := c.s.procedure.Documents[idx]
	c.mu.Unlock()

	doc, err := c.scan(ctx, req)

	c.mu.Lock()
	defer c.mu.Unlock()
	if c.s.id != sessionID || c.s.step != StepDocuments || c.s.docIndex != idx {
		return nil // wiped or moved on while scanning: drop the pages
	}
	c.touchLocked()
	if err != nil {
		c.setNotice(err)
		return err
	}
	c.s.docs[idx] = doc
	c.s.notice = ""
	if doc.Pages < req.MinPages {
		c.setNotice(userErr(MsgTooFewPages, fmt.Errorf("%d pages, want at least %d", doc.Pages, req.MinPages)))
	}
	return nil
}

func (c *Controller) scan(ctx context.Context, req api.DocumentRequirement) (ScannedDocument, error) {
	if c.d.Scanner == nil {
		return ScannedDocument{}, userErr(MsgScannerDown, errors.New("no scanner"))
	}
	maxPages := req.MaxPages
	if maxPages <= 0 {
		maxPages = 10
	}
	pages, err := c.d.Scanner.ScanBatch(ctx, maxPages)
	switch {
	case errors.Is(err, device.ErrScannerJammed):
		return ScannedDocument{}, userErr(MsgScannerJammed, err)
	case errors.Is(err, device.ErrScannerNoPaper):
		return ScannedDocument{}, userErr(MsgScannerEmpty, err)
	case errors.Is(err, device.ErrScannerCoverOpen):
		return ScannedDocument{}, userErr(MsgScannerCover, err)
	case err != nil:
		return ScannedDocument{}, userErr(MsgScannerDown, err)
	}
	pdf, err := document.BuildPDF(pages, c.d.Config.Scanner.DPI)
	if err != nil {
		return ScannedDocument{}, fmt.Errorf("assemble pdf: %w", err)
	}
	thumbs, err := document.Thumbnails(pdf, 240)
	if err != nil {
		return ScannedDocument{}, fmt.Errorf("thumbnails: %w", err)
	}
	return ScannedDocument{Type: req.Type, PDF: pdf, Pages: len(pages), Thumbs: thumbs}, nil
}

// NextDocument accepts the current document and moves to the next or to review.
func (c *Controller) NextDocument() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.touchLocked()
	if c.s.step != StepDocuments {
		return
	}
	req := c.s.procedure.Documents[c.s.docIndex]
	doc := c.s.docs[c.s.docIndex]
	if doc.Pages == 0 && req.Required || doc.Pages > 0 && doc.Pages < req.MinPages {
		c.setNotice(userErr(MsgTooFewPages, fmt.Errorf("document %d has %d pages", c.s.docIndex, doc.Pages)))
		return
	}
	if c.s.docIndex+1 < len(c.s.procedure.Documents) {
		c.s.docIndex++
		c.s.notice = ""
		return
	}
	c.goTo(StepReview)
}

// RescanDocument drops the current document's pages.
func (c *Controller) RescanDocument() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.touchLocked()
	if c.s.step == StepDocuments {
		c.s.docs[c.s.docIndex] = ScannedDocument{}
		c.s.notice = ""
	}
}

// RequestCode asks the portal to send a confirmation code to the citizen's phone.
func (c *Controller) RequestCode(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.touchLocked()
	if c.s.step != StepReview && c.s.step != StepConfirm {
		return nil
	}
	ch, err := c.d.Portal.RequestConfirmation(ctx, c.s.ident.AccessToken, api.ConfirmationRequest{
		ProcedureID: c.s.procedure.ID, KioskID: c.d.Config.KioskID,
	})
	if err != nil {
		err = userErr(MsgCodeUnavailable, err)
		c.setNotice(err)
		return err
	}
	c.s.challenge = &ch
	c.s.attemptsLeft = ch.Attempts
	c.goTo(StepConfirm)
	return nil
}

// VerifyCode checks the typed code; a right code submits the application.
func (c *Controller) VerifyCode(ctx context.Context, code string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.touchLocked()
	if c.s.step != StepConfirm || c.s.challenge == nil {
		return nil
	}
	code = strings.TrimSpace(code)
	res, err := c.d.Portal.VerifyConfirmation(ctx, c.s.ident.AccessToken, api.ConfirmationVerify{ID: c.s.challenge.ID, Code: code})
	if err != nil {
		err = userErr(MsgCodeUnavailable, err)
		c.setNotice(err)
		return err
	}
	if !res.OK {
		c.s.attemptsLeft = res.AttemptsLeft
		key := MsgCodeWrong
		switch res.Reason {
		case "expired":
			key = MsgCodeExpired
		case "exhausted":
			key = MsgCodeExhausted
		}
		if key != MsgCodeWrong {
			c.s.challenge = nil // a new code must be requested
		}
		err := userErr(key, errors.New("confirmation refused: "+res.Reason))
		c.setNotice(err)
		return err
	}
	c.s.confirmToken = res.Token
	return c.submitLocked(ctx)
}

// submitLocked writes the packet durably, then waits a little for the portal.
func (c *Controller) submitLocked(ctx context.Context) error {
	s := c.s
	now := c.d.Now().UTC()
	packetID := uuid.Must(uuid.NewRandomFromReader(randOr(c.d.Rand))).String()
	provisional := provisionalNumber(c.d.Config.KioskID, now, packetID)
	m := api.Manifest{
		PacketID:          packetID,
		ProvisionalNumber: provisional,
		ProcedureID:       s.procedure.ID,
		KioskID:           c.d.Config.KioskID,
		OfficeCode:        c.d.Config.OfficeCode,
		CreatedAt:         now,
		Language:          s.lang,
		Applicant: api.Applicant{
			CitizenID: s.ident.CitizenID, Name: s.ident.Name, BirthDate: s.ident.BirthDate, Phone: s.ident.Phone,
		},
		Form:              s.form,
		ConfirmationToken: s.confirmToken,
	}
	var docs []outbox.Doc
	for i, d := range s.docs {
		if d.Pages == 0 {
			continue
		}
		name := fmt.Sprintf("doc-%d-%s.pdf", i+1, d.Type)
		sum := sha256.Sum256(d.PDF)
		m.Documents = append(m.Documents, api.DocumentRef{
			Type: d.Type, File: name, Pages: d.Pages, SHA256: hex.EncodeToString(sum[:]), Size: int64(len(d.PDF)),
		})
		docs = append(docs, outbox.Doc{Name: name, Data: d.PDF})
	}
	mj, err := json.Marshal(m)
	if err != nil {
		return err
	}
	digest := sha256.Sum256(mj)
	sig, err := c.d.Signer.Sign(randOr(c.d.Rand), digest[:], crypto.SHA256) // ECDSA: ASN.1
	if err != nil {
		c.setNotice(err)
		return err
	}
	if err := c.d.Outbox.Enqueue(ctx, outbox.Packet{
		ID: packetID, ProvisionalNumber: provisional, ManifestJSON: mj, Signature: sig, Docs: docs,
	}); err != nil {
		if outbox.IsLimit(err) {
			err = userErr(MsgOutboxFull, err)
		}
		c.setNotice(err)
		return err
	}
	// From here on the application is safe: the citizen may be told "received".
	s.confirmToken = ""
	c.log().Info("application queued", "packet", packetID, "procedure", s.procedure.ID, "documents", len(docs))
	c.d.Outbox.Kick()

	r := &Receipt{PacketID: packetID, Reference: provisional, Provisional: true, ReceivedAt: now}
	wctx, cancel := context.WithTimeout(ctx, c.d.SubmitWait)
	entry, werr := c.d.Outbox.Wait(wctx, packetID)
	cancel()
	if werr == nil && entry.Delivered() && entry.Result != nil {
		r.Reference = entry.Result.TrackingNumber
		r.Provisional = false
		r.AppointmentDate = entry.Result.AppointmentDate
		r.ReceivedAt = entry.Result.ReceivedAt
	} else {
		c.log().Warn("portal did not answer in time; provisional receipt", "packet", packetID)
		r.AppointmentDate = appointmentEstimate(now, s.procedure.ProcessingDays)
	}
	r.TrackURL = strings.TrimRight(c.d.Config.PortalURL, "/") + api.PathTrack + r.Reference
	s.receipt = r
	c.printReceiptLocked(ctx)
	c.goTo(StepReceipt)
	return nil
}

func (c *Controller) receiptData() receipt.Data {
	s := c.s
	d := receipt.Data{
		Lang:            s.lang,
		OfficeName:      api.Text(c.d.Config.OfficeName).Get(s.lang),
		KioskID:         c.d.Config.KioskID,
		Procedure:       s.procedure.Name.Get(s.lang),
		ProcedureCode:   s.procedure.Code,
		ApplicantName:   s.ident.Name,
		MaskedCitizenID: MaskID(s.ident.CitizenID),
		Reference:       s.receipt.Reference,
		Provisional:     s.receipt.Provisional,
		ReceivedAt:      s.receipt.ReceivedAt,
		AppointmentDate: s.receipt.AppointmentDate,
		FeeMinor:        s.procedure.FeeMinor,
		Currency:        s.procedure.Currency,
		TrackURL:        s.receipt.TrackURL,
	}
	for i, doc := range s.docs {
		if doc.Pages > 0 {
			d.Documents = append(d.Documents, receipt.Document{Label: s.procedure.Documents[i].Label.Get(s.lang), Pages: doc.Pages})
		}
	}
	return d
}

// printReceiptLocked prints, or keeps the receipt for the screen when it cannot.
func (c *Controller) printReceiptLocked(ctx context.Context) {
	r := c.s.receipt
	img, err := c.d.RenderReceipt(c.receiptData())
	if err != nil {
		c.log().Error("receipt render failed", "err", err)
		r.PrintError = "err.printer_unavailable"
		return
	}
	r.PNG = encodePNG(img)
	r.image = img
	if c.d.Printer == nil {
		r.PrintError = "err.printer_unavailable"
		return
	}
	pctx, cancel := context.WithTimeout(ctx, c.d.PrintWait)
	defer cancel()
	job, err := c.d.Printer.PrintImage(pctx, img)
	r.JobID = job
	if err != nil {
		c.log().Warn("receipt not printed", "job", job, "err", err)
		r.PrintError = "err.printer_unavailable"
		return
	}
	r.Printed = true
}

// ReprintReceipt tries the printer again (after paper was refilled).
func (c *Controller) ReprintReceipt(ctx context.Context) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.touchLocked()
	r := c.s.receipt
	if c.s.step != StepReceipt || r == nil || r.Printed || c.d.Printer == nil || r.image == nil {
		return
	}
	if r.JobID == "" {
		c.printReceiptLocked(ctx)
		return
	}
	pctx, cancel := context.WithTimeout(ctx, c.d.PrintWait)
	defer cancel()
	job, err := c.d.Printer.Reprint(pctx, r.JobID, device.PrintPart{Image: r.image})
	if err != nil {
		c.log().Warn("receipt reprint failed", "job", r.JobID, "err", err)
		r.PrintError = "err.printer_unavailable"
		return
	}
	r.JobID, r.Printed, r.PrintError = job, true, ""
}

// ReceiptDone moves from the receipt to the rating.
func (c *Controller) ReceiptDone() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.touchLocked()
	if c.s.step == StepReceipt {
		c.goTo(StepRating)
	}
}

// Rate records the 1–5 satisfaction rating (anonymous) and thanks the citizen.
func (c *Controller) Rate(n int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.touchLocked()
	if c.s.step != StepRating {
		return
	}
	if n >= 1 && n <= 5 {
		c.s.rating = n
		c.d.Log.Info("satisfaction rating", "rating", n, "procedure", c.s.procedure.ID)
	}
	// Personal data is no longer needed: drop it now, keep only the language.
	lang := c.s.lang
	c.wipeLocked("finished")
	c.s.lang = lang
	c.goTo(StepThanks)
}

// Finish leaves the thank-you screen.
func (c *Controller) Finish() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.wipeLocked("thanks shown")
}

// HandleScan routes a code from the QR reader. Payloads are never logged.
func (c *Controller) HandleScan(ctx context.Context, data []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	kind, ref := ClassifyQR(data, c.d.Config.PortalURL)
	c.d.Log.Info("qr scanned", "kind", kind, "bytes", len(data), "step", string(c.s.step))
	idle := c.s.step == StepAttract || c.s.step == StepStatus
	switch {
	case kind == QRIdentity:
		c.touchLocked()
		c.identityQRLocked(data)
	case kind == QRProvisioning && c.d.Technician != nil && c.d.Technician():
		if c.d.Provision != nil {
			c.d.Provision(ctx, data)
		}
		return
	case !idle:
		return // mid-session scans are ignored; the citizen is busy with something else
	case kind == QRTracking:
		c.touchLocked()
		st, err := c.d.Portal.Status(ctx, ref)
		c.goTo(StepStatus)
		c.s.status = nil
		if err != nil {
			key := MsgStatusOffline
			var apiErr *backendclient.APIError
			if errors.As(err, &apiErr) && apiErr.StatusCode == 404 {
				key = MsgStatusNotFound
			}
			c.setNotice(userErr(key, err))
		} else {
			c.s.status = &st
		}
	default:
		c.touchLocked()
		c.goTo(StepStatus)
		c.s.status = nil
		c.setNotice(userErr(MsgNotForKiosk, fmt.Errorf("qr kind %s", kind)))
	}
	c.changedLocked()
}

// identityQRLocked checks the signed ID QR on a citizen's card. It may
// cross-check and prefill the form of the citizen who logged in with the
// national ID; it never logs anybody in on its own.
func (c *Controller) identityQRLocked(data []byte) {
	s := c.s
	if s.step != StepForm || s.ident == nil {
		c.setNotice(userErr(MsgIDQRNotLogin, errors.New("identity QR outside the form")))
		return
	}
	trust := c.d.IDTrust
	if trust == nil {
		trust = c.d.Catalogue.IDTrust()
	}
	claims, err := idqr.Decode(data, trust, c.d.Now(), idqr.Limits{})
	if err != nil {
		c.setNotice(userErr(MsgIDQRInvalid, err))
		return
	}
	if claims.CitizenID != s.ident.CitizenID {
		c.setNotice(userErr(MsgIDQROtherPerson, errors.New("identity QR of another citizen")))
		return
	}
	for _, f := range s.procedure.Fields {
		if s.form[f.Name] != "" {
			continue
		}
		switch f.Prefill {
		case "birthdate":
			s.form[f.Name] = claims.BirthDate
		case "address":
			s.form[f.Name] = claims.Address
		case "name":
			s.form[f.Name] = claims.Name
		}
	}
	s.idqrChecked = true
	s.notice, s.noticeCode = "", ""
	c.log().Info("signed ID QR matched the logged-in citizen", "issuer_key", claims.KeyID)
}

// ReceiptPNG returns the current receipt image for the screen.
func (c *Controller) ReceiptPNG() []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.s.receipt == nil {
		return nil
	}
	return c.s.receipt.PNG
}

// Thumbnail returns page p of document d of the current session.
func (c *Controller) Thumbnail(d, p int) []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	if d < 0 || d >= len(c.s.docs) || p < 0 || p >= len(c.s.docs[d].Thumbs) {
		return nil
	}
	return c.s.docs[d].Thumbs[p]
}

// RunIdle wipes abandoned sessions until ctx is done.
func (c *Controller) RunIdle(ctx context.Context) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			c.Tick()
		}
	}
}
