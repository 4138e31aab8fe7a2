package kiosk

import (
	"image"
	"log/slog"
	"time"

	"govkiosk/backend-client/api"
	"govkiosk/backend-client/identity"
)

// Step is one screen of the citizen flow.
type Step string

const (
	StepAttract   Step = "attract"
	StepLanguage  Step = "language"
	StepCatalogue Step = "catalogue"
	StepLogin     Step = "login"    // the provider's QR page is open
	StepIdentity  Step = "identity" // "Is this you?"
	StepForm      Step = "form"
	StepDocuments Step = "documents"
	StepReview    Step = "review"
	StepConfirm   Step = "confirm"
	StepReceipt   Step = "receipt"
	StepRating    Step = "rating"
	StepThanks    Step = "thanks"
	StepStatus    Step = "status" // status of an earlier application, from its receipt QR
)

// ScannedDocument is one required document as scanned: a PDF and its page
// thumbnails, held in memory only until the packet is written.
type ScannedDocument struct {
	Type   string
	PDF    []byte
	Pages  int
	Thumbs [][]byte // PNG
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
	id           string
	lang         string
	largeText    bool
	step         Step
	history      []Step
	procedure    *api.Procedure
	pending      *identity.Pending
	ident        *identity.Identity
	form         map[string]string
	formProblems map[string]string
	docs         []ScannedDocument
	docIndex     int
	challenge    *api.ConfirmationChallenge
	confirmToken string
	attemptsLeft int
	receipt      *Receipt
	rating       int
	status       *api.ApplicationStatus
	idqrChecked  bool   // the citizen's signed ID QR matched the logged-in identity
	notice       string // message key of a user-safe error to show on the current screen
	noticeCode   string
	lastActivity time.Time
}

func (s *session) LogValue() slog.Value {
	return slog.GroupValue(slog.String("session", s.id), slog.String("step", string(s.step)))
}

// View is a read-only snapshot of the session for the UI to render.
type View struct {
	SessionID     string
	Lang          string
	Languages     []string
	LargeText     bool
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
	IdleSeconds   int // seconds of inactivity so far
	IdleTimeout   int
	IdleCountdown int
	OfficeName    string
	KioskID       string
	PrinterReady  bool
	Technician    bool
	IDQRChecked   bool // the signed ID QR on the citizen's card matched their login
}

// ProcedureView is a catalogue entry and whether it can be offered now.
type ProcedureView struct {
	api.Procedure
	Available bool
}
