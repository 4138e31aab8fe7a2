package kiosk

import (
	"context"
	"image"
	"log/slog"
	"slices"
	"time"

	"govkiosk/backend-client/api"
	"govkiosk/backend-client/identity"
	"govkiosk/kiosk/document"
)

// Step is one screen of the citizen flow.
type Step string

const (
	StepAttract   Step = "attract"
	StepCatalogue Step = "catalogue"
	StepLogin     Step = "login"    // the provider's QR, inside the kiosk's own page
	StepIdentity  Step = "identity" // "Is this you?"
	StepForm      Step = "form"
	StepDocuments Step = "documents"
	StepReview    Step = "review"
	StepConfirm   Step = "confirm"
	StepReceipt   Step = "receipt"
	StepRating    Step = "rating"
	StepThanks    Step = "thanks"
	StepStatus    Step = "status"  // status of an earlier application, from its receipt QR
	StepRefused   Step = "refused" // the portal refused the application for good: what to do now
	// StepOutOfService is shown while the cabinet door is open: no session.
	StepOutOfService Step = "outOfService"
)

// Steps lists every step, in flow order, for tests and the UI's coverage.
var Steps = []Step{
	StepAttract, StepCatalogue, StepLogin, StepIdentity, StepForm, StepDocuments,
	StepReview, StepConfirm, StepReceipt, StepRating, StepThanks, StepStatus, StepRefused, StepOutOfService,
}

// ScannedDocument is one required document as scanned: a PDF of the pages
// kept and every fed page's cleaned thumbnail, held in memory only until
// the packet is written.
type ScannedDocument struct {
	Type   string
	PDF    []byte
	Pages  int           // pages in the PDF
	Thumbs [][]byte      // PNG of the pages in the PDF, in order
	Sheet  []ScannedPage // every page the feeder gave, in order, kept or left out

	scan []document.ScanPage // the pipeline's pages, to rebuild the PDF when a page is restored
}

// Receipt is what the citizen is handed at the end.
type Receipt struct {
	PacketID        string
	Reference       string // tracking number, or provisional number when Provisional
	Provisional     bool
	AppointmentDate string
	ReceivedAt      time.Time
	TrackURL        string
	Printed         bool
	PrintError      string // message key when printing failed
	JobID           string
	PNG             []byte // the receipt as rendered, shown on screen when the printer failed
	image           *image.Gray
}

// session is the one citizen's state. Everything in it is personal data and
// is dropped by wipe.
type session struct {
	id             string
	gen            uint64 // bumped by every transition: an op applies only to the state it started from
	lang           string
	largeText      bool
	voiceVolume    int // volume level the citizen chose for voice guidance, 0: the office's
	step           Step
	busy           string             // message key of the operation in progress, "" when none
	cancellable    bool               // Cancel may wipe while busy
	opCancel       context.CancelFunc // cancels the op in progress when the session is wiped
	procedure      *api.Procedure     // offered, with the documents its answers call for (applyAnswers)
	offered        *api.Procedure     // the procedure as the catalogue offers it
	pending        *identity.Pending
	loginURL       string    // the provider's page for pending, framed by the login screen
	loginAt        time.Time // when pending was begun
	loginRefreshes int       // fresh logins begun since the login screen was entered
	ident          *identity.Identity
	form           map[string]string
	formProblems   map[string]string
	question       int // the form's question on screen: an index into Questions(procedure.Fields)
	docs           []ScannedDocument
	docIndex       int
	challenge      *api.ConfirmationChallenge
	confirmToken   string
	attemptsLeft   int
	receipt        *Receipt
	status         *api.ApplicationStatus
	idqrChecked    bool   // the citizen's signed ID QR matched the logged-in identity
	refusal        string // message key of why the portal refused the application
	parked         string // packet the portal refused, withdrawn once a corrected one is written
	reloginFor     string // after an expired login: hash of the citizen whose form is kept
	resume         bool   // that citizen logged in again: back to review
	notice         string // message key of a user-safe error to show on the current screen
	noticeCode     string
	noticeUntil    time.Time // the notice asks the citizen to wait until then (zero: it does not)
	noticeAt       time.Time // when the notice was set
	lastActivity   time.Time
	askCancel      bool // "Do you want to stop?" is on screen
}

func (s *session) LogValue() slog.Value {
	return slog.GroupValue(slog.String("session", s.id), slog.String("step", string(s.step)))
}

// at reports whether the session is at one of steps (any step when none).
func (s *session) at(steps []Step) bool {
	return len(steps) == 0 || slices.Contains(steps, s.step)
}

// drop clears every reference to the citizen's data, so nothing outlives
// the session by accident (a View copy taken earlier holds copies).
func (s *session) drop() {
	s.loginURL = ""
	s.ident, s.pending, s.form, s.formProblems, s.docs, s.receipt, s.confirmToken = nil, nil, nil, nil, nil, nil, ""
	s.challenge, s.status, s.procedure, s.offered = nil, nil, nil, nil
}

// View is a read-only snapshot of the session for the UI to render.
type View struct {
	Revoked       bool // out of service for good: the kiosk's identity was revoked (StepOutOfService)
	SessionID     string
	Lang          string
	Languages     []string
	LargeText     bool
	VoiceVolume   int // volume level chosen for voice guidance; 0: the office's default
	Step          Step
	CanGoBack     bool
	Procedures    []ProcedureView
	Procedure     *api.Procedure
	MaskedName    string
	BirthYear     string
	Form          map[string]string
	FormProblems  map[string]string
	Docs          []ScannedDocument
	DocIndex      int
	CodeSent      bool
	CodeExpires   time.Time
	AttemptsLeft  int
	Receipt       *Receipt
	Status        *api.ApplicationStatus
	Notice        string
	NoticeCode    string
	NoticeMinutes int // for a notice that asks the citizen to wait: the minutes left, rounded up (at least 1)
	IdleSeconds   int // seconds of inactivity so far
	IdleTimeout   int
	IdleCountdown int
	OfficeName    string
	OfficeHelp    string // where to get help at this office (the counter, a helpline), from its profile
	KioskID       string
	IDQRChecked   bool   // the signed ID QR on the citizen's card matched their login
	Busy          string // message key of the operation in progress ("busy.sending"), "" when idle
	CanCancel     bool   // the cancel button works now
	Refusal       string // on StepRefused: message key of why the portal refused the application
	// LoginURL is the provider's login page (its QR) that the login screen
	// frames, "" when no login is pending (not begun, failed, timed out).
	LoginURL string
	// Question is the form's question on screen, an index into
	// Questions(Procedure.Fields); Questions is how many there are.
	Question, Questions int
	// Stage, Stages and StageKey are the step indicator: "Step Stage of
	// Stages: StageKey"; Stage is 0 off the citizen's flow.
	Stage, Stages int
	StageKey      string
	// AskCancel: the citizen pressed Cancel before submitting; the screen
	// asks whether to stop and delete everything.
	AskCancel bool
	// FromRegistries are the documents the office retrieves from
	// registries for the procedure and answers so far: "you do not need
	// to bring or scan" them.
	FromRegistries []RegistryDocView
}

// ProcedureView is a catalogue entry and whether it can be offered now.
type ProcedureView struct {
	api.Procedure
	Available bool
}
