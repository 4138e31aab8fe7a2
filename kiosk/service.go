package kiosk

// Service mode: the field technician's side of the kiosk. The cabinet door
// opening takes the kiosk out of service (Controller.SetOutOfService wipes
// any citizen's session); the screen then offers service mode, which a
// technician enters by holding a fleet-signed technician token to the QR
// reader. In service mode the screen shows every device with its status,
// media and required action, the outbox, the versions, and offers a test
// print read back by the kiosk's own imager, a QR read test, the paper and
// feeder acknowledgements, requeueing parked packets and the self-test.
// Service mode ends when the door closes, when the technician leaves, or
// after Timeout without a touch. Every entry, action and exit is logged by
// token id (never the technician's or a citizen's data) and reported to the
// fleet.

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"govkiosk/backend-client/fleetwire"
	"govkiosk/drivers/device"
	"govkiosk/kiosk/outbox"
	"govkiosk/kiosk/receipt"
)

// TechVerifier checks a technician token read by the QR reader and uses it
// up (provisioning.TechVerifier). Its errors wrap fleetwire.ErrTech* or a
// replay error.
type TechVerifier interface {
	Verify(data []byte) (fleetwire.TechClaims, error)
}

// ServiceDevice is one device as service mode sees it.
type ServiceDevice struct {
	Name   string
	Status func(ctx context.Context) device.Status
	// Clear forgets a fault the device latched (the last batch jammed) once
	// the technician says it is fixed; nil when the device latches nothing.
	Clear func()
}

// ServiceOutbox is the part of the outbox service mode shows and acts on.
type ServiceOutbox interface {
	List() ([]outbox.Entry, error)
	Requeue(id string) error
	Kick()
}

// ServiceDeps is what service mode is wired with. Only Verifier is
// required; a missing part hides its screen section.
type ServiceDeps struct {
	Log      *slog.Logger
	Now      func() time.Time
	Rand     io.Reader // the test print's code [crypto/rand]
	Verifier TechVerifier
	// PortalURL classifies the codes read (ClassifyQR).
	PortalURL string
	Devices   []ServiceDevice
	Outbox    ServiceOutbox
	// TestPrint prints a sample receipt whose QR code carries code.
	TestPrint func(ctx context.Context, code string) (jobID string, err error)
	// TestScan feeds one sheet from the scanner and returns it as a PNG.
	TestScan func(ctx context.Context) ([]byte, error)
	// SelfTest runs the same checks as `kioskctl selftest`, without
	// stopping the kiosk, and returns its text report.
	SelfTest func(ctx context.Context) (report string, ok bool)
	// Report sends an event to the fleet (kind, detail); nil: none.
	Report func(kind, detail string)
	// Refresh polls the devices again and sends the health at once, so a
	// cleared warning reaches the fleet now.
	Refresh func(ctx context.Context)
	// Logs returns the kiosk's last n log lines (which never hold personal
	// data); nil: none shown.
	Logs func(n int) []string
	// Version and Catalogue name the software and the catalogue in use.
	Version   string
	Catalogue func() string
	// Timeout ends service mode after this long without a touch
	// [DefaultServiceTimeout].
	Timeout time.Duration
	// Net wires the network test (service_net.go).
	Net NetDeps
	// Decommission retires the kiosk (service_decommission.go); nil: not
	// offered.
	Decommission func(ctx context.Context, technicianCode string) error
}

// DefaultServiceTimeout ends an untouched service mode.
const DefaultServiceTimeout = 10 * time.Minute

// ServiceLogLines is how many log lines the service screen shows.
const ServiceLogLines = 20

// TestPrintPrefix starts the QR payload of a test print.
const TestPrintPrefix = "GKTEST:"

// Message keys of service mode (the UI translates each one).
const (
	MsgSvcTechInvalid  = "svc.err.tech_invalid"  // a bad or forged token
	MsgSvcTechExpired  = "svc.err.tech_expired"  // expired or not yet valid
	MsgSvcTechOffice   = "svc.err.tech_office"   // for another office
	MsgSvcTechReplayed = "svc.err.tech_replayed" // already used here
	MsgSvcNotActive    = "svc.err.not_active"    // an action outside service mode
	MsgSvcStillFault   = "svc.err.still_fault"   // acknowledged, but the device still reports the fault
	MsgSvcPrintFailed  = "svc.err.print_failed"
	MsgSvcRequeue      = "svc.err.requeue"
	MsgSvcScanFailed   = "svc.err.scan_failed"
	MsgSvcPrinted      = "svc.ok.printed"   // not an error: the test print is out, hold it to the reader
	MsgSvcReadBack     = "svc.ok.read_back" // not an error: the test print's QR was read back
	MsgSvcAcked        = "svc.ok.acked"
	MsgSvcRequeued     = "svc.ok.requeued"
)

// ServiceMessageKeys are the message keys service mode puts on screen.
var ServiceMessageKeys = []string{
	MsgSvcTechInvalid, MsgSvcTechExpired, MsgSvcTechOffice, MsgSvcTechReplayed, MsgSvcNotActive,
	MsgSvcStillFault, MsgSvcPrintFailed, MsgSvcRequeue, MsgSvcScanFailed, MsgSvcPrinted, MsgSvcReadBack, MsgSvcAcked, MsgSvcRequeued,
}

// Acknowledgements a technician can give.
const (
	AckPaper  = "paper"  // paper replaced: the printer's paper warnings
	AckFeeder = "feeder" // feeder cleared: the scanner's jam and cover warnings
)

var errSvcNotActive = userErr(MsgSvcNotActive, errors.New("service mode is not active"))

// ServiceView is a copy of what the service screen shows.
type ServiceView struct {
	DoorOpen bool
	Active   bool
	Lang     string // the technician's choice of language, or ""
	TokenID  string // the technician token that opened service mode
	Office   string
	Until    time.Time // when service mode ends without a touch
	Notice   string    // a message key (MsgSvc*), or ""

	Devices   []ServiceDeviceView
	Counts    map[outbox.State]int
	Attention []outbox.Entry // the packets parked for a person
	OutboxErr bool
	Version   string
	Catalogue string
	LogLines  []string // the last log lines, newest last

	LastQRKind  string // the kind of the last code read in service mode
	LastQRBytes int
	LastQRText  string // shown only for the kiosk's own test codes
	ScanSeq     int    // counts test scans: the screen's picture of the last one
	PrintJob    string // the last test print's job id
	PrintCode   string
	ReadBack    bool // the last test print's QR was read back by the imager

	SelfTestAt     time.Time
	SelfTestOK     bool
	SelfTestReport string

	// PINTyped is how many digits of a service PIN are typed on the offer
	// screen (never the digits); PINLocked is when PIN entry opens again
	// after too many wrong PINs (zero: open).
	PINTyped  int
	PINLocked time.Time
	// Net is the last network test (zero At: none yet).
	Net   NetReport
	Decom DecommissionView // service_decommission.go
}

// ServiceDeviceView is one device on the service screen: its status, and
// the acknowledgement its state asks for (AckPaper, AckFeeder or "").
type ServiceDeviceView struct {
	device.Status
	Ack string
}

// ackFor is the acknowledgement st asks for, if any.
func ackFor(st device.Status) string {
	switch {
	case st.Device == "printer" && !faultCleared(AckPaper, st):
		return AckPaper
	case st.Device == "scanner" && !faultCleared(AckFeeder, st):
		return AckFeeder
	}
	return ""
}

// Service is the kiosk's service mode.
type Service struct {
	d ServiceDeps

	mu        sync.Mutex
	door      bool
	active    bool
	token     fleetwire.TechClaims
	touched   time.Time
	notice    string
	lastKind  string
	lastBytes int
	lastText  string
	printJob  string
	printCode string
	readBack  bool
	scan      []byte // the last test scan (PNG), kept in memory until service mode ends
	scanSeq   int
	selfAt    time.Time
	selfOK    bool
	selfRep   string
	lang      string // the service screen's language; "" is the kiosk's
	subs      map[chan struct{}]struct{}

	// Service PINs (service_pin.go).
	pinMu     sync.Mutex // one PIN attempt at a time
	pins      []fleetwire.ServicePIN
	pinDraft  string // the digits typed on the offer screen
	pinFails  int    // wrong PINs in a row
	pinLocked time.Time

	// The last network test (service_net.go).
	net   NetReport
	decom DecommissionView
}

// NewService returns the service mode of a kiosk.
func NewService(d ServiceDeps) (*Service, error) {
	if d.Verifier == nil {
		return nil, errors.New("service mode: no technician token verifier")
	}
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.Rand == nil {
		d.Rand = rand.Reader
	}
	if d.Timeout <= 0 {
		d.Timeout = DefaultServiceTimeout
	}
	return &Service{d: d, subs: map[chan struct{}]struct{}{}}, nil
}

// Subscribe returns a channel that ticks when the service screen should be
// redrawn (a code read, service mode entered or left).
func (s *Service) Subscribe() (<-chan struct{}, func()) {
	ch := make(chan struct{}, 1)
	s.mu.Lock()
	s.subs[ch] = struct{}{}
	s.mu.Unlock()
	return ch, func() {
		s.mu.Lock()
		delete(s.subs, ch)
		s.mu.Unlock()
	}
}

func (s *Service) changedLocked() {
	for ch := range s.subs {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}

func (s *Service) report(kind, detail string) {
	if s.d.Report != nil {
		s.d.Report(kind, detail)
	}
}

// SetDoor tells service mode the cabinet door opened or closed. Closing
// it ends service mode.
func (s *Service) SetDoor(open bool) {
	s.mu.Lock()
	if s.door == open {
		s.mu.Unlock()
		return
	}
	s.door = open
	var left string
	if !open && s.active {
		left = s.leaveLocked("door closed")
	}
	if !open {
		s.notice, s.pinDraft = "", ""
	}
	s.changedLocked()
	s.mu.Unlock()
	if left != "" {
		s.report("service-exit", left)
	}
}

// SetLang sets the service screen's language (a code the UI knows).
func (s *Service) SetLang(code string) {
	s.mu.Lock()
	s.lang = code
	s.changedLocked()
	s.mu.Unlock()
}

// DoorOpen reports what the door last said.
func (s *Service) DoorOpen() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.door
}

// Active reports whether a technician is in service mode.
func (s *Service) Active() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.active
}

// leaveLocked ends service mode and returns the fleet event's detail.
func (s *Service) leaveLocked(reason string) string {
	id := s.token.ID
	s.active = false
	s.token = fleetwire.TechClaims{}
	s.printJob, s.printCode, s.readBack = "", "", false
	s.lastKind, s.lastBytes, s.lastText = "", 0, ""
	s.selfRep, s.selfAt, s.selfOK = "", time.Time{}, false
	s.scan = nil
	s.net = NetReport{}
	s.decom = DecommissionView{}
	s.d.Log.Info("service mode left", "token", id, "reason", reason)
	return "token " + id + ": " + reason
}

// Leave ends service mode at the technician's request.
func (s *Service) Leave() {
	s.mu.Lock()
	if !s.active {
		s.mu.Unlock()
		return
	}
	detail := s.leaveLocked("technician left")
	s.changedLocked()
	s.mu.Unlock()
	s.report("service-exit", detail)
}

// Tick ends service mode when it has gone untouched for Timeout.
func (s *Service) Tick() {
	now := s.d.Now()
	s.mu.Lock()
	if !s.active || now.Sub(s.touched) < s.d.Timeout {
		s.mu.Unlock()
		return
	}
	detail := s.leaveLocked("timeout")
	s.changedLocked()
	s.mu.Unlock()
	s.report("service-exit", detail)
}

// Run ticks every interval until ctx is done.
func (s *Service) Run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			s.Tick()
		}
	}
}

// HandleScan takes the codes read while the cabinet door is open: a
// technician token enters service mode; in service mode any other code is
// the QR read test (and a test print's code proves the print read back).
// It reports whether it took data; when it did not, the controller has it.
// A provisioning code is always left to the controller.
func (s *Service) HandleScan(data []byte) bool {
	s.mu.Lock()
	if !s.door {
		s.mu.Unlock()
		return false
	}
	if fleetwire.IsTechToken(data) {
		s.mu.Unlock()
		s.enter(data)
		return true
	}
	kind, _ := ClassifyQR(data, s.d.PortalURL)
	if kind == QRProvisioning || !s.active {
		s.mu.Unlock()
		return kind != QRProvisioning // nothing else is served while the door is open
	}
	s.touched = s.d.Now()
	text := string(data)
	s.lastBytes = len(data)
	s.lastKind, s.lastText = kind, ""
	if strings.HasPrefix(text, TestPrintPrefix) {
		s.lastKind, s.lastText = "test", text
		if text == s.printCode && s.printCode != "" {
			s.readBack = true
			s.notice = MsgSvcReadBack
		}
	}
	readBack, id := s.readBack && s.lastKind == "test", s.token.ID
	s.changedLocked()
	s.mu.Unlock()
	s.d.Log.Info("service: qr read test", "kind", kind, "bytes", len(data), "token", id)
	if readBack {
		s.report("service-action", "token "+id+": test print read back")
	}
	return true
}

// enter verifies a technician token and enters service mode.
func (s *Service) enter(data []byte) {
	c, err := s.d.Verifier.Verify(data) // may write the used-token file: no lock held
	s.mu.Lock()
	kind, detail := "", ""
	switch {
	case err != nil:
		s.notice = techNotice(err)
		s.d.Log.Warn("technician token refused", "err", err)
		kind, detail = "service-refused", err.Error()
	case !s.door:
		s.d.Log.Warn("technician token read as the door closed: not entering", "token", c.ID)
	default:
		if s.active {
			s.d.Log.Info("service mode: another technician token", "token", c.ID, "previous", s.token.ID)
		}
		s.active, s.token, s.touched, s.notice, s.pinDraft = true, c, s.d.Now(), "", ""
		s.d.Log.Info("service mode entered", "token", c.ID, "office", c.Office)
		kind, detail = "service-enter", "token "+c.ID
	}
	s.changedLocked()
	s.mu.Unlock()
	if kind != "" {
		s.report(kind, detail)
	}
}

func techNotice(err error) string {
	switch {
	case errors.Is(err, fleetwire.ErrTechExpired), errors.Is(err, fleetwire.ErrTechNotYet):
		return MsgSvcTechExpired
	case errors.Is(err, fleetwire.ErrTechOffice):
		return MsgSvcTechOffice
	case errors.Is(err, fleetwire.ErrTechSignature), errors.Is(err, fleetwire.ErrTechMalformed), errors.Is(err, fleetwire.ErrTechTooLong):
		return MsgSvcTechInvalid
	}
	return MsgSvcTechReplayed
}

// touch checks that service mode is active, keeps it alive and returns the
// token id for the log.
func (s *Service) touch() (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.active {
		return "", errSvcNotActive
	}
	s.touched = s.d.Now()
	return s.token.ID, nil
}

func (s *Service) setNotice(key string) {
	s.mu.Lock()
	s.notice = key
	s.changedLocked()
	s.mu.Unlock()
}

func (s *Service) action(id, what string) {
	s.d.Log.Info("service action", "token", id, "action", what)
	s.report("service-action", "token "+id+": "+what)
}

// View returns a copy of the service screen. Device status and the outbox
// are read with no lock held.
func (s *Service) View(ctx context.Context) ServiceView {
	s.mu.Lock()
	v := ServiceView{
		DoorOpen: s.door, Active: s.active, Lang: s.lang, TokenID: s.token.ID, Office: s.token.Office,
		Notice: s.notice, Version: s.d.Version,
		LastQRKind: s.lastKind, LastQRBytes: s.lastBytes, LastQRText: s.lastText,
		ScanSeq: s.scanSeq, PrintJob: s.printJob, PrintCode: s.printCode, ReadBack: s.readBack,
		SelfTestAt: s.selfAt, SelfTestOK: s.selfOK, SelfTestReport: s.selfRep,
		PINTyped: len(s.pinDraft), Net: s.net,
		Decom: s.decom,
	}
	if s.d.Now().Before(s.pinLocked) {
		v.PINLocked = s.pinLocked
	}
	v.Decom.Offered = s.d.Decommission != nil
	if s.active {
		v.Until = s.touched.Add(s.d.Timeout)
	}
	s.mu.Unlock()
	if !v.Active {
		return v
	}
	for _, d := range s.d.Devices {
		st := d.Status(ctx)
		if st.Device == "" {
			st.Device = d.Name
		}
		v.Devices = append(v.Devices, ServiceDeviceView{Status: st, Ack: ackFor(st)})
	}
	if s.d.Outbox != nil {
		es, err := s.d.Outbox.List()
		v.OutboxErr = err != nil
		v.Counts = map[outbox.State]int{}
		for _, e := range es {
			v.Counts[e.State]++
			if e.State == outbox.StateNeedsAttention {
				v.Attention = append(v.Attention, e)
			}
		}
	}
	if s.d.Catalogue != nil {
		v.Catalogue = s.d.Catalogue()
	}
	if s.d.Logs != nil {
		v.LogLines = s.d.Logs(ServiceLogLines)
	}
	return v
}

// TestPrint prints a sample receipt whose QR carries a fresh code; holding
// it to the reader proves printer and imager work (HandleScan).
func (s *Service) TestPrint(ctx context.Context) error {
	id, err := s.touch()
	if err != nil {
		return err
	}
	if s.d.TestPrint == nil {
		return userErr(MsgSvcPrintFailed, errors.New("no printer wired"))
	}
	b := make([]byte, 8)
	if _, err := io.ReadFull(s.d.Rand, b); err != nil {
		return userErr(MsgSvcPrintFailed, err)
	}
	code := TestPrintPrefix + hex.EncodeToString(b)
	s.mu.Lock()
	s.printCode, s.printJob, s.readBack = code, "", false
	s.mu.Unlock()
	job, err := s.d.TestPrint(ctx, code)
	if err != nil {
		s.d.Log.Warn("service: test print failed", "token", id, "err", err)
		s.setNotice(MsgSvcPrintFailed)
		return userErr(MsgSvcPrintFailed, err)
	}
	s.mu.Lock()
	if s.printCode == code {
		s.printJob = job
	}
	s.notice = MsgSvcPrinted
	s.changedLocked()
	s.mu.Unlock()
	s.action(id, "test print "+job)
	return nil
}

// TestScan feeds one sheet and keeps its picture for the screen
// (ScanPNG) until service mode ends.
func (s *Service) TestScan(ctx context.Context) error {
	id, err := s.touch()
	if err != nil {
		return err
	}
	if s.d.TestScan == nil {
		return userErr(MsgSvcScanFailed, errors.New("no scanner wired"))
	}
	png, err := s.d.TestScan(ctx)
	if err != nil {
		s.d.Log.Warn("service: test scan failed", "token", id, "err", err)
		s.setNotice(MsgSvcScanFailed)
		return userErr(MsgSvcScanFailed, err)
	}
	s.mu.Lock()
	if s.active {
		s.scan, s.scanSeq, s.notice = png, s.scanSeq+1, ""
	}
	s.changedLocked()
	s.mu.Unlock()
	s.action(id, "test scan")
	return nil
}

// ScanPNG is the last test scan, while service mode lasts.
func (s *Service) ScanPNG() ([]byte, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.scan, s.active && s.scan != nil
}

// faultCleared says whether st no longer shows what ack is about.
func faultCleared(ack string, st device.Status) bool {
	switch ack {
	case AckPaper:
		return st.Media != device.PaperOut && st.Media != device.PaperJammed && st.Media != device.PaperLow
	case AckFeeder:
		return st.Media != device.ScannerJammed && st.Media != device.ScannerCoverOpen
	}
	return false
}

// Acknowledge is "paper replaced" (AckPaper) or "feeder cleared"
// (AckFeeder): the device's latched fault is forgotten, the device is asked
// again, and when it agrees the warning clears at once (Refresh) and the
// fleet hears of it. When the device still reports the fault, the
// technician is told so.
func (s *Service) Acknowledge(ctx context.Context, ack string) error {
	id, err := s.touch()
	if err != nil {
		return err
	}
	name := map[string]string{AckPaper: "printer", AckFeeder: "scanner"}[ack]
	i := slices.IndexFunc(s.d.Devices, func(d ServiceDevice) bool { return d.Name == name })
	if i < 0 {
		return userErr(MsgSvcStillFault, fmt.Errorf("acknowledge %q: no such device", ack))
	}
	d := s.d.Devices[i]
	if d.Clear != nil {
		d.Clear()
	}
	st := d.Status(ctx)
	if !faultCleared(ack, st) {
		s.d.Log.Warn("service: acknowledged, but the device still reports the fault", "token", id, "device", name, "media", st.Media)
		s.setNotice(MsgSvcStillFault)
		return userErr(MsgSvcStillFault, fmt.Errorf("%s still reports %s", name, st.Media))
	}
	if s.d.Refresh != nil {
		s.d.Refresh(ctx)
	}
	s.setNotice(MsgSvcAcked)
	s.action(id, "acknowledged "+ack)
	return nil
}

// Requeue sends a parked packet (needsAttention) again.
func (s *Service) Requeue(_ context.Context, packetID string) error {
	id, err := s.touch()
	if err != nil {
		return err
	}
	if s.d.Outbox == nil {
		return userErr(MsgSvcRequeue, errors.New("no outbox"))
	}
	es, err := s.d.Outbox.List()
	if err != nil {
		return userErr(MsgSvcRequeue, err)
	}
	i := slices.IndexFunc(es, func(e outbox.Entry) bool { return e.ID == packetID })
	if i < 0 || es[i].State != outbox.StateNeedsAttention {
		s.setNotice(MsgSvcRequeue)
		return userErr(MsgSvcRequeue, fmt.Errorf("packet %q is not parked", packetID))
	}
	if err := s.d.Outbox.Requeue(packetID); err != nil {
		s.setNotice(MsgSvcRequeue)
		return userErr(MsgSvcRequeue, err)
	}
	s.d.Outbox.Kick()
	s.setNotice(MsgSvcRequeued)
	s.action(id, "requeued "+packetID)
	return nil
}

// SelfTest runs the self-test while the kiosk keeps running, keeps its
// report for the screen and sends it to the fleet.
func (s *Service) SelfTest(ctx context.Context) error {
	id, err := s.touch()
	if err != nil {
		return err
	}
	if s.d.SelfTest == nil {
		return userErr(MsgGeneric, errors.New("no self-test wired"))
	}
	rep, ok := s.d.SelfTest(ctx)
	s.mu.Lock()
	s.selfAt, s.selfOK, s.selfRep = s.d.Now(), ok, rep
	s.notice = ""
	s.changedLocked()
	s.mu.Unlock()
	s.d.Log.Info("service: self-test", "token", id, "ok", ok)
	kind := "selftest-passed"
	if !ok {
		kind = "selftest-failed"
	}
	s.report(kind, rep)
	return nil
}

// TestReceipt is the sample receipt of a test print: the code as a QR
// image as wide as the paper allows, so the kiosk's own imager reads it.
func TestReceipt(code string, widthDots int) ([]device.PrintPart, error) {
	if widthDots <= 0 {
		widthDots = device.Width80mm
	}
	img, err := receipt.QRCode(code, min(300, widthDots*5/8))
	if err != nil {
		return nil, err
	}
	return []device.PrintPart{{Image: receipt.ToMono(img, widthDots)}}, nil
}
