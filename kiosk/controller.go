package kiosk

import (
	"context"
	"crypto"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"image"
	"io"
	"log/slog"
	"net/url"
	"sync"
	"time"

	"govkiosk/backend-client/api"
	"govkiosk/backend-client/identity"
	"govkiosk/backend-client/idqr"
	"govkiosk/drivers/device"
	"govkiosk/kiosk/outbox"
	"govkiosk/kiosk/receipt"
)

// Printer prints receipts. Any receipt printer model implements it.
type Printer interface {
	Status(ctx context.Context) device.Status
	Print(ctx context.Context, parts ...device.PrintPart) (jobID string, err error)
	// Reprint prints a failed job again as a new job; it refuses when the
	// job printed after all, so a citizen never gets a silent duplicate.
	Reprint(ctx context.Context, failedID string, parts ...device.PrintPart) (jobID string, err error)
}

// DocumentScanner feeds pages from the ADF. Any sheet-fed scanner model
// implements it; its faults wrap device.ErrScanner*.
type DocumentScanner interface {
	Status(ctx context.Context) device.Status
	ScanBatch(ctx context.Context, maxPages int) ([]device.Page, error)
}

// Login is the national-ID login.
type Login interface {
	// BeginBound starts a login whose approval page on the citizen's phone
	// names b (office, kiosk, procedure); the provider's page on the kiosk
	// screen shows the number to pick on the phone.
	BeginBound(ctx context.Context, lang string, b identity.Binding) (authURL string, p *identity.Pending, err error)
	// CallbackMatches reports, without I/O and without using p up, whether
	// callback is the answer to p (its state).
	CallbackMatches(p *identity.Pending, callback url.Values) bool
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
	// Withdraw drops a packet the portal refused for good (needsAttention)
	// once the citizen has sent a corrected one instead.
	Withdraw(id string) error
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
	// RenderReceipt lays out and rasterises a receipt; nil uses receipt.Render
	// at ReceiptWidthDots.
	RenderReceipt func(d receipt.Data) (*image.Gray, error)
	// ReceiptWidthDots is the printer's paper width in dots (576 for 80 mm).
	ReceiptWidthDots int
	// ScanDPI is the resolution pages are assumed to have when the scanner
	// does not say (default 150).
	ScanDPI int
	// ScanDuplex: the scanner feeds both sides of a sheet, so it is asked
	// for twice a document's pages (blank backs are left out).
	ScanDuplex bool
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
	// Metrics counts sessions, submissions, prints, scans, QR reads,
	// login failures and ratings; nil counts nothing.
	Metrics Metrics
}

// Controller runs the citizen session. All methods are safe for concurrent
// use. The lock guards the session only: every call to a device, the portal,
// the provider or the disk happens with it released (see op), so a hung
// printer or portal never holds up a redraw.
type Controller struct {
	d Deps

	mu   sync.Mutex
	s    *session
	subs map[chan struct{}]struct{}

	bg           sync.WaitGroup // background work a wipe starts (token revocation)
	closed       bool
	ratings      [6]int // satisfaction ratings not yet logged: [0] in all, [n] of n stars
	outOfService bool   // the cabinet door is open: no session, nothing starts one
	revoked      bool   // the portal refuses the kiosk's identity: out of service for good
}

// NewController returns a controller on the attract screen.
func NewController(d Deps) *Controller {
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
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
	if d.ReceiptWidthDots == 0 {
		d.ReceiptWidthDots = device.Width80mm
	}
	if d.ScanDPI == 0 {
		d.ScanDPI = 150
	}
	if d.Metrics == nil {
		d.Metrics = noMetrics{}
	}
	if d.RenderReceipt == nil {
		width := d.ReceiptWidthDots
		d.RenderReceipt = func(r receipt.Data) (*image.Gray, error) { return receipt.Render(r, width) }
	}
	if d.Catalogue != nil {
		d.Catalogue.SetOffice(d.Config.OfficeCode)
	}
	c := &Controller{d: d, subs: map[chan struct{}]struct{}{}}
	c.s = c.newSession()
	return c
}

// Close logs the ratings not yet logged and waits for the background work
// of past sessions (revoking tokens at the provider), at most until ctx
// ends.
func (c *Controller) Close(ctx context.Context) error {
	c.mu.Lock()
	c.closed = true
	c.logRatingsLocked()
	c.mu.Unlock()
	done := make(chan struct{})
	go func() { c.bg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (c *Controller) newSession() *session {
	var b [8]byte
	if _, err := io.ReadFull(c.d.Rand, b[:]); err != nil {
		c.d.Log.Error("session id: randomness failed", "err", err)
	}
	return &session{
		id:           hex.EncodeToString(b[:]),
		lang:         c.languages()[0],
		step:         StepAttract,
		lastActivity: c.d.Now(),
	}
}

// Subscribe returns a channel that receives a tick whenever the screen
// should be redrawn because of something other than the citizen's own touch
// (a QR scan, the idle wipe, a long operation ending).
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
		if old.step != StepStatus {
			c.d.Metrics.SessionEnded(string(old.step), completedAt(old.step))
		}
	}
	if old.opCancel != nil {
		old.opCancel() // a scan or login in flight for this citizen stops
	}
	c.revokeLocked(old.id, old.ident)
	old.drop()
	c.changedLocked()
}

// revokeLocked ends the citizen's login at the provider in the background,
// without holding the next citizen up; Close joins it.
func (c *Controller) revokeLocked(sessionID string, id *identity.Identity) {
	if id == nil || c.d.Login == nil || c.closed {
		return
	}
	c.bg.Add(1)
	go func() {
		defer c.bg.Done()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := c.d.Login.EndSession(ctx, id); err != nil {
			c.d.Log.Warn("end of session at the provider failed", "session", sessionID, "err", err)
		}
	}()
}

func (c *Controller) touchLocked() { c.s.lastActivity = c.d.Now() }

// setNotice puts err on the current screen: its message when it is
// user-safe, a generic message and a code otherwise (the log has the rest).
func (c *Controller) setNotice(err error) {
	key, code := UserMessage(err)
	c.s.notice, c.s.noticeCode, c.s.noticeUntil, c.s.noticeAt = key, code, time.Time{}, c.d.Now()
	if ue := (*UserError)(nil); errors.As(err, &ue) && ue.Wait > 0 {
		c.s.noticeUntil = c.d.Now().Add(ue.Wait)
	}
	if c.s.step == StepLogin && loginFailure(key) {
		c.d.Metrics.LoginFailed(key)
	}
	if code != "" {
		c.log().Error("session error", "code", code, "step", string(c.s.step), "err", err)
	} else {
		c.log().Warn("citizen shown an error", "key", key, "step", string(c.s.step), "err", err)
	}
}

// waitMinutes is what a notice that asks the citizen to wait says: the
// minutes left until, rounded up, at least one; 0 for other notices.
func waitMinutes(notice string, until, now time.Time) int {
	if notice == "" || until.IsZero() {
		return 0
	}
	return max(1, int((until.Sub(now)+time.Minute-1)/time.Minute))
}

// errBusy answers a tap that arrives while an earlier one is still being
// carried out; nothing changes.
var errBusy = userErr(MsgBusy, errors.New("an operation is in progress"))

// do runs f under the lock when the session is at one of steps and not busy,
// after recording the citizen's activity: the preamble of every action that
// does no I/O. At another step it does nothing and returns nil: the tap came
// from a screen that is no longer shown.
func (c *Controller) do(steps []Step, f func(s *session) error) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.touchLocked()
	if !c.s.at(steps) || c.outOfService {
		return nil
	}
	if c.s.busy != "" {
		return errBusy
	}
	return f(c.s)
}

// op is an action that does I/O. begin checks the step and marks the session
// busy under the lock; the I/O runs unlocked; each apply re-takes the lock
// and runs only if the same session is still where the op left it. end
// clears busy. A wipe during the I/O (cancel, idle, door) makes every later
// apply a no-op, so nothing from one citizen reaches the next.
type op struct {
	c   *Controller
	sid string
	gen uint64
	// ctx is the op's own: it outlives the browser request that started it
	// (a redraw may navigate away mid-request) and ends when a wipe cancels
	// a cancellable op, or when the op ends.
	ctx    context.Context
	cancel context.CancelFunc
}

// errStale says an op's session is gone or has moved on.
var errStale = errors.New("session changed during the operation")

// begin starts an op at one of steps. busy is the message key the screen
// shows meanwhile; cancellable says whether Cancel may wipe the session
// while the op runs (not while an application is being written). prepare
// runs under the lock and copies what the I/O needs; its error aborts the op.
// At another step begin returns (nil, nil).
func (c *Controller) begin(ctx context.Context, steps []Step, busy string, cancellable bool, prepare func(s *session) error) (*op, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.touchLocked()
	if !c.s.at(steps) || c.outOfService {
		return nil, nil
	}
	if c.s.busy != "" {
		return nil, errBusy
	}
	if prepare != nil {
		if err := prepare(c.s); err != nil {
			return nil, err
		}
	}
	o := &op{c: c, sid: c.s.id, gen: c.s.gen}
	o.ctx, o.cancel = context.WithCancel(context.WithoutCancel(ctx))
	c.s.opCancel = o.cancel
	c.s.setBusy(busy, cancellable)
	c.changedLocked()
	return o, nil
}

// setBusy says what the screen shows while an op runs and whether Cancel
// may stop it (a wipe then cancels the op's context).
func (s *session) setBusy(key string, cancellable bool) {
	s.busy, s.cancellable = key, cancellable
	if !cancellable {
		s.opCancel = nil
	}
}

// apply runs f on the op's session if it is still current and unchanged.
func (o *op) apply(f func(s *session) error) error {
	c := o.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.s.id != o.sid || c.s.gen != o.gen {
		return errStale
	}
	c.touchLocked()
	err := f(c.s)
	o.gen = c.s.gen
	c.changedLocked()
	return err
}

// end clears busy on the op's session, if it is still current.
func (o *op) end() {
	o.cancel()
	c := o.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.s.id == o.sid {
		c.s.busy, c.s.cancellable, c.s.opCancel = "", false, nil
		c.changedLocked()
	}
}

// View returns a copy of the current screen's data: nothing in it is shared
// with the session, so the UI may keep and read it while the session changes.
func (c *Controller) View(ctx context.Context) View {
	c.mu.Lock()
	v := c.viewLocked()
	c.mu.Unlock()
	if v.Step == StepStatus && v.Status != nil && v.Procedure == nil && c.d.Catalogue != nil {
		// The status screen names the procedure the application is for.
		if p, ok := c.d.Catalogue.Procedure(v.Status.ProcedureID); ok {
			v.Procedure = &p
		}
	}
	if v.Step == StepCatalogue && c.d.Catalogue != nil {
		// Device status is I/O: asked for with the lock released.
		scannerOK := c.scannerReady(ctx)
		for _, p := range c.d.Catalogue.Procedures() {
			v.Procedures = append(v.Procedures, ProcedureView{Procedure: p, Available: scannerOK || !p.NeedsScanner()})
		}
	}
	return v
}

// Step is the screen the kiosk shows now: what View(ctx).Step says,
// without a view's copies or its device I/O.
func (c *Controller) Step() Step {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.outOfService {
		return StepOutOfService // as the view says: the page shown is not stale
	}
	return c.s.step
}

// SetRevoked takes the kiosk out of service for good: the portal refuses
// its identity (revoked or retired), so no application could be sent.
// Only a new enrollment brings it back.
func (c *Controller) SetRevoked() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.revoked {
		return
	}
	c.revoked = true
	c.d.Log.Error("out of service: the kiosk's identity was revoked")
	if !c.outOfService {
		c.outOfService = true
		c.wipeLocked("revoked")
	}
}

func (c *Controller) viewLocked() View {
	s := c.s
	if c.outOfService {
		return View{
			Revoked:   c.revoked,
			SessionID: s.id, Lang: s.lang, Languages: c.languages(),
			LargeText: s.largeText, VoiceVolume: s.voiceVolume, Step: StepOutOfService,
			OfficeName: c.officeName(s.lang), OfficeHelp: c.officeHelp(s.lang), KioskID: c.d.Config.KioskID,
		}
	}
	v := View{
		SessionID:     s.id,
		Lang:          s.lang,
		Languages:     c.languages(),
		LargeText:     s.largeText,
		VoiceVolume:   s.voiceVolume,
		Step:          s.step,
		CanGoBack:     s.busy == "" && s.canGoBack(),
		CanCancel:     s.busy == "" || s.cancellable,
		Busy:          s.busy,
		Form:          cloneMap(s.form),
		FormProblems:  cloneMap(s.formProblems),
		DocIndex:      s.docIndex,
		CodeSent:      s.challenge != nil,
		AttemptsLeft:  s.attemptsLeft,
		Notice:        s.notice,
		NoticeCode:    s.noticeCode,
		NoticeMinutes: waitMinutes(s.notice, s.noticeUntil, c.d.Now()),
		IdleSeconds:   int(c.d.Now().Sub(s.lastActivity).Seconds()),
		IdleTimeout:   int(c.d.Config.IdleTimeout.Seconds()),
		IdleCountdown: int(c.d.Config.IdleCountdown.Seconds()),
		OfficeName:    c.officeName(s.lang),
		OfficeHelp:    c.officeHelp(s.lang),
		KioskID:       c.d.Config.KioskID,
		IDQRChecked:   s.idqrChecked,
		Refusal:       s.refusal,
		LoginURL:      s.loginURL,
		Question:      s.question,
		AskCancel:     s.askCancel,
	}
	v.Stage, v.Stages, v.StageKey = s.progress()
	if s.procedure != nil {
		p := *s.procedure // the catalogue's slices are never written
		v.Procedure = &p
		v.Questions = len(Questions(p.Fields))
		v.FromRegistries = c.registryDocs(s)
	}
	if s.docs != nil {
		v.Docs = make([]ScannedDocument, len(s.docs))
		for i, d := range s.docs {
			d.Thumbs = append([][]byte(nil), d.Thumbs...) // the bytes themselves are never written
			d.Sheet = append([]ScannedPage(nil), d.Sheet...)
			d.scan = nil // the pipeline's pages stay in the session
			v.Docs[i] = d
		}
	}
	if s.receipt != nil {
		r := *s.receipt
		r.image = nil
		v.Receipt = &r
	}
	if s.status != nil {
		st := *s.status
		v.Status = &st
	}
	if s.challenge != nil {
		v.CodeExpires = s.challenge.ExpiresAt
	}
	if s.ident != nil {
		v.MaskedName = s.ident.MaskedName()
		v.BirthYear = s.ident.BirthYear()
	}
	return v
}

func cloneMap(m map[string]string) map[string]string {
	if m == nil {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
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
// it with a fake clock. A session busy with an operation is left alone: every
// operation has its own deadline.
func (c *Controller) Tick() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.s.step == StepAttract {
		// A message shown on the start screen (a code held to the reader
		// there) is for whoever held it, not the next citizen.
		if c.s.notice != "" && c.d.Now().Sub(c.s.noticeAt) >= AttractNoticeFor {
			c.s.notice, c.s.noticeCode, c.s.noticeUntil = "", "", time.Time{}
			c.changedLocked()
		}
		return
	}
	if c.s.busy != "" {
		return
	}
	if c.s.step == StepLogin && c.s.pending != nil && c.d.Now().Sub(c.s.loginAt) >= LoginPageWait {
		// The provider's page neither came back with an answer nor with an
		// expired QR: it cannot reach the provider. Say so instead of
		// leaving "Waiting for your approval…" on screen.
		c.s.pending, c.s.loginURL = nil, ""
		c.setNotice(userErr(MsgProviderDown, errors.New("no answer from the login page")))
		c.changedLocked()
	}
	idle := c.d.Now().Sub(c.s.lastActivity)
	if idle >= c.d.Config.IdleTimeout.Duration+c.d.Config.IdleCountdown.Duration {
		c.wipeLocked("idle")
	}
}

// LoginPageWait is how long the login screen waits for the provider's page
// to come back (an approval, a refusal, or its QR expiring, which the
// reference provider does after 60 s) before it says the ID service cannot
// be reached.
const LoginPageWait = 90 * time.Second

// AttractNoticeFor is how long a message stays on the start screen.
const AttractNoticeFor = 20 * time.Second

// RunIdle wipes abandoned sessions until ctx is done.
func (c *Controller) RunIdle(ctx context.Context) error {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			c.Tick()
		}
	}
}

// SetOutOfService takes the kiosk out of service (true: the cabinet door
// opened) or puts it back (false). Out of service, any citizen's session is
// wiped at once, even mid-operation (an application being written is still
// written and sent; the citizen's copy of the receipt reaches their phone),
// the screen says the kiosk is out of service and nothing starts a session.
// Only a technician's provisioning code is still read (HandleScan).
func (c *Controller) SetOutOfService(out bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.revoked || c.outOfService == out {
		return
	}
	c.outOfService = out
	if out {
		c.d.Log.Warn("out of service: the cabinet door is open")
		c.wipeLocked("door open")
	} else {
		c.d.Log.Info("back in service: the cabinet door is closed")
		c.wipeLocked("door closed")
	}
}

// Cancel ends the session at once and wipes it. While an application is
// being written and sent it refuses: the citizen's receipt is seconds away.
func (c *Controller) Cancel() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.s.busy != "" && !c.s.cancellable {
		return errBusy
	}
	c.wipeLocked("cancel")
	return nil
}
