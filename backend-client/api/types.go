// Package api holds the wire types of the portal API (openapi.yaml beside
// the backend-client package describes the same contract). Both the kiosk's
// client and the reference portal use these types, so they cannot drift.
package api

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"govkiosk/drivers/device"
	"govkiosk/kiosk/lang"
)

// Paths of the portal API, relative to the portal's base URL.
const (
	PathCatalogue     = "/api/v1/catalogue"            // GET  -> SignedCatalogue
	PathEnroll        = "/api/v1/enroll"               // POST EnrollRequest -> EnrollResponse
	PathHeartbeat     = "/api/v1/heartbeat"            // POST Heartbeat (kiosk-signed) -> 204
	PathConfirmations = "/api/v1/confirmations"        // POST (Bearer citizen access token) ConfirmationRequest -> ConfirmationChallenge
	PathVerify        = "/api/v1/confirmations/verify" // POST ConfirmationVerify -> ConfirmationResult
	PathApplications  = "/api/v1/applications"         // POST multipart (manifest, signature, doc-N) with Idempotency-Key -> SubmitResult
	PathUploads       = "/api/v1/uploads/"             // tus 1.0 (core, creation, checksum sha256, termination); each upload is one age-encrypted document
	PathPackets       = "/api/v1/packets/"             // POST PathPackets+{packetId}+"/finalise" FinaliseRequest with Idempotency-Key -> SubmitResult
	PathStatus        = "/api/v1/status/"              // GET  /api/v1/status/{ref} -> ApplicationStatus (ref: tracking or provisional number)
	PathTrack         = "/t/"                          // human page /t/{ref}; receipt QR codes encode PortalURL + PathTrack + ref
	PathIdP           = "/idp"                         // OIDC test provider issuer
	PathPhone         = "/phone"                       // simulated citizen phone
)

// Header names.
const (
	HeaderIdempotencyKey = "Idempotency-Key"
	HeaderKioskID        = "Kiosk-Id"
	HeaderKioskSignature = "Kiosk-Signature" // base64 ASN.1 ECDSA P-256 over SHA-256 of the request body
)

// Text is a label in several languages, keyed by the codes of kiosk/lang
// ("th", "vi", "en").
type Text map[string]string

// Get returns the text in code, falling back to lang.Fallback (English),
// then to the first supported language that has it, then to any.
func (t Text) Get(code string) string {
	if s, ok := t[code]; ok && s != "" {
		return s
	}
	if s, ok := t[lang.Fallback]; ok {
		return s
	}
	for _, c := range lang.Codes() {
		if s := t[c]; s != "" {
			return s
		}
	}
	for _, s := range t {
		return s
	}
	return ""
}

// Field types of a procedure form.
const (
	FieldText   = "text"
	FieldNumber = "number"
	FieldDate   = "date" // YYYY-MM-DD
	FieldSelect = "select"
	FieldPhone  = "phone"
)

// Field is one input on a procedure's form.
type Field struct {
	Name     string   `json:"name"`
	Type     string   `json:"type"`
	Label    Text     `json:"label"`
	Help     Text     `json:"help,omitempty"`
	Required bool     `json:"required"`
	Pattern  string   `json:"pattern,omitempty"` // Go regexp, anchored by the validator
	MinLen   int      `json:"minLen,omitempty"`
	MaxLen   int      `json:"maxLen,omitempty"`
	Min      *float64 `json:"min,omitempty"` // number fields
	Max      *float64 `json:"max,omitempty"`
	Options  []Option `json:"options,omitempty"` // select fields
	Prefill  string   `json:"prefill,omitempty"` // identity claim that fills it: name, birthdate, address, phone_number, citizen_id
	ReadOnly bool     `json:"readOnly,omitempty"`
}

// Option is one choice of a select field.
type Option struct {
	Value string `json:"value"`
	Label Text   `json:"label"`
}

// DocumentRequirement is one supporting document a procedure needs from
// the citizen: scanned at the kiosk. Documents a government registry holds
// are never among them (Procedure.FromRegistries).
type DocumentRequirement struct {
	Type     string `json:"type"` // e.g. "divorce-decree", "site-map"
	Label    Text   `json:"label"`
	MinPages int    `json:"minPages"`
	MaxPages int    `json:"maxPages"`
	Required bool   `json:"required"`
	// When limits the document to some answers of the form (the divorce
	// decree only for a citizen who is divorced); nil: always.
	When *Condition `json:"when,omitempty"`
}

// Condition holds when the form's select field Field has one of the
// values In.
type Condition struct {
	Field string   `json:"field"`
	In    []string `json:"in"`
}

// Holds reports whether the answers in form meet the condition; a nil
// condition always holds.
func (c *Condition) Holds(form map[string]string) bool {
	if c == nil {
		return true
	}
	v, ok := form[c.Field]
	return ok && slices.Contains(c.In, v)
}

// RegistryDocument is a document of the citizen's that a government
// registry already holds (an ID card, a house registration, a
// civil-status record): the office retrieves it from Registry, so the
// kiosk never asks for a copy and tells the citizen so.
type RegistryDocument struct {
	Type     string     `json:"type"`
	Label    Text       `json:"label"`
	Registry string     `json:"registry"` // a Catalogue.Registries ID
	When     *Condition `json:"when,omitempty"`
}

// Registry is a government register documents are retrieved from.
type Registry struct {
	ID      string   `json:"id"`      // e.g. "th-dopa"
	Country string   `json:"country"` // ISO 3166-1 alpha-2
	Name    Text     `json:"name"`
	Holds   []string `json:"holds"` // document types it holds: a procedure never asks to scan one of them
}

// Procedure is one public service a citizen can apply for.
type Procedure struct {
	ID             string                `json:"id"`
	Code           string                `json:"code"` // the national procedure code
	Name           Text                  `json:"name"`
	Summary        Text                  `json:"summary"`
	Fields         []Field               `json:"fields"`
	Documents      []DocumentRequirement `json:"documents"`
	FeeMinor       int64                 `json:"feeMinor"` // in the currency's minor unit
	Currency       string                `json:"currency"`
	ProcessingDays int                   `json:"processingDays"` // working days
	Agency         Text                  `json:"agency"`
	// FromRegistries are the documents the office retrieves itself from
	// government registries: the citizen neither brings nor scans them.
	FromRegistries []RegistryDocument `json:"fromRegistries,omitempty"`
}

// NeedsScanner reports whether the procedure may require a scanned
// document: any required one, also one required only for some answers
// (the kiosk cannot know the answers before offering the procedure).
func (p Procedure) NeedsScanner() bool {
	for _, d := range p.Documents {
		if d.Required {
			return true
		}
	}
	return false
}

// DocumentsFor are the documents the citizen is asked to scan given the
// answers in form: those whose condition holds, in catalogue order. The
// kiosk asks for these and the portal's intake checks against the same.
func (p Procedure) DocumentsFor(form map[string]string) []DocumentRequirement {
	var out []DocumentRequirement
	for _, d := range p.Documents {
		if d.When.Holds(form) {
			out = append(out, d)
		}
	}
	return out
}

// RegistryDocumentsFor are the documents retrieved from registries given
// the answers in form.
func (p Procedure) RegistryDocumentsFor(form map[string]string) []RegistryDocument {
	var out []RegistryDocument
	for _, d := range p.FromRegistries {
		if d.When.Holds(form) {
			out = append(out, d)
		}
	}
	return out
}

// Catalogue is the list of procedures a kiosk offers. Version is dotted
// numbers ("2026.1"); a kiosk never installs one older than the one it has
// (CompareVersions), nor one past ExpiresAt, so an old catalogue the portal
// really signed cannot be served to it again.
type Catalogue struct {
	Version    string      `json:"version"`
	IssuedAt   time.Time   `json:"issuedAt"`
	ExpiresAt  time.Time   `json:"expiresAt"` // set by the portal when it signs
	Procedures []Procedure `json:"procedures"`
	// Offices are the profiles of the offices kiosks stand in: a kiosk
	// offers what its office (Config.OfficeCode, set at enrollment) offers.
	Offices []Office `json:"offices,omitempty"`
	// Registries are the government registers documents are retrieved from.
	Registries []Registry `json:"registries,omitempty"`
	// IDIssuers is the trust list (JWKS) of the keys that sign offline ID
	// QR codes; it rides in the signed catalogue so rotation needs no visit.
	IDIssuers json.RawMessage `json:"idIssuers,omitempty"`
}

// Office is the profile of one service office of one country: what its
// kiosks offer and how they speak. It rides in the signed catalogue, so a
// new procedure, help number or language reaches every kiosk of the office
// without a visit; which office a kiosk belongs to is fixed when it is
// enrolled.
type Office struct {
	Code       string   `json:"code"`
	Country    string   `json:"country"` // ISO 3166-1 alpha-2: "TH", "VN"
	Name       Text     `json:"name"`
	Languages  []string `json:"languages"` // offered, the first is the default
	Currency   string   `json:"currency"`  // ISO 4217; every procedure offered charges in it
	TimeZone   string   `json:"timeZone"`  // IANA name, for receipts and dates: "Asia/Bangkok"
	Help       Text     `json:"help"`      // where to get help: the counter, a phone number
	Procedures []string `json:"procedures"`
}

// Office finds an office profile by code.
func (c Catalogue) Office(code string) (Office, bool) {
	for _, o := range c.Offices {
		if o.Code == code {
			return o, true
		}
	}
	return Office{}, false
}

// Registry finds a registry by ID.
func (c Catalogue) Registry(id string) (Registry, bool) {
	for _, r := range c.Registries {
		if r.ID == id {
			return r, true
		}
	}
	return Registry{}, false
}

// CompareVersions compares two catalogue versions, dotted decimal numbers
// ("2026.1" < "2026.10" < "2027"): -1, 0 or +1. A missing part counts as 0.
// A version that is not dotted numbers is an error.
func CompareVersions(a, b string) (int, error) {
	pa, err := versionParts(a)
	if err != nil {
		return 0, err
	}
	pb, err := versionParts(b)
	if err != nil {
		return 0, err
	}
	for i := range max(len(pa), len(pb)) {
		var x, y uint64
		if i < len(pa) {
			x = pa[i]
		}
		if i < len(pb) {
			y = pb[i]
		}
		if x != y {
			return cmp.Compare(x, y), nil
		}
	}
	return 0, nil
}

func versionParts(v string) ([]uint64, error) {
	var out []uint64
	for p := range strings.SplitSeq(v, ".") {
		n, err := strconv.ParseUint(p, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("catalogue version %q is not dotted numbers", v)
		}
		out = append(out, n)
	}
	return out, nil
}

// SignedCatalogue carries the catalogue's JSON bytes exactly as signed.
// Signature is ECDSA P-256 (ASN.1) over SHA-256 of Payload, by the portal key.
type SignedCatalogue struct {
	Payload   []byte `json:"payload"`
	Signature []byte `json:"signature"`
	KeyID     string `json:"keyId"`
}

// EnrollRequest asks the portal to enroll a kiosk with a one-time token.
type EnrollRequest struct {
	Token        string `json:"token"`
	PublicKeyPEM string `json:"publicKeyPem"` // PKIX ECDSA P-256
	Hostname     string `json:"hostname,omitempty"`
}

// EnrollResponse gives the kiosk its identity and configuration.
type EnrollResponse struct {
	KioskID        string `json:"kioskId"`
	CertificatePEM string `json:"certificatePem"` // kiosk certificate signed by the portal CA
	PortalCAPEM    string `json:"portalCaPem"`
	PortalKeyPEM   string `json:"portalKeyPem"` // public key that signs catalogues and config
	OfficeCode     string `json:"officeCode"`
	OfficeName     Text   `json:"officeName"`
	OIDCIssuer     string `json:"oidcIssuer"`
	OIDCClientID   string `json:"oidcClientId"`
	// OIDCACRValues are the levels of assurance (acr) a citizen's login at
	// the kiosk must reach, strongest first.
	OIDCACRValues []string `json:"oidcAcrValues,omitempty"`
	// PortalAgeRecipient is the portal's age X25519 recipient ("age1..."): the
	// kiosk encrypts packets at rest to it, so it cannot read them back.
	PortalAgeRecipient string `json:"portalAgeRecipient"`
	// FleetBroker and FleetTechKey, when the operator set them, are the
	// fleet link the kiosk joins (kiosk.json's fleet.broker, a tls://
	// URL) and the technician-code key it pins (fleet.techKey,
	// "ed25519:BASE64"): signed with the rest, so a kiosk set up by its
	// enrollment code alone joins the right fleet and trusts only its
	// technicians.
	FleetBroker  string `json:"fleetBroker,omitempty"`
	FleetTechKey string `json:"fleetTechKey,omitempty"`
	// Signature is the enrollment CA's signature over SignedBytes: base64
	// of an ASN.1 ECDSA signature over SHA-256. With the CA fingerprint the
	// technician got with the token it proves that the portal key, the age
	// recipient and the rest of the answer come from the portal, not from
	// a man in the middle.
	Signature string `json:"signature"`
}

// SignedBytes is what the enrollment CA signs in an enrollment answer: a
// domain-separation line and the answer's JSON (fields in declaration
// order, officeName's keys sorted) without the signature.
func (r EnrollResponse) SignedBytes() []byte {
	r.Signature = ""
	b, _ := json.Marshal(r) // strings, a string map and a string slice: cannot fail
	return append([]byte("govkiosk enrollment answer v1\n"), b...)
}

// Heartbeat is the kiosk's health report, sent every minute. The portal
// takes it only when At is within HeartbeatWindow of its own clock and Seq
// is above the last Seq it took from the kiosk, so a captured heartbeat
// cannot be sent again to make a kiosk look alive.
type Heartbeat struct {
	KioskID      string          `json:"kioskId"`
	Version      string          `json:"version"`
	At           time.Time       `json:"at"`
	Seq          uint64          `json:"seq"` // grows with every heartbeat of the kiosk, across restarts
	Devices      []device.Status `json:"devices"`
	Backlog      int             `json:"backlog"` // applications not yet acknowledged by the portal
	DiskFree     uint64          `json:"diskFreeBytes"`
	TemperatureC float64         `json:"temperatureC"`
	Warnings     []string        `json:"warnings,omitempty"`
	// UpdateState is the updater's: idle|downloading|installed|committed|rolledBack;
	// UpdateFailed the version rolled back, with rolledBack.
	UpdateState  string `json:"updateState,omitempty"`
	UpdateFailed string `json:"updateFailed,omitempty"`
}

// HeartbeatWindow is how far a heartbeat's At may be from the portal's clock.
const HeartbeatWindow = 5 * time.Minute

// ConfirmationRequest asks the portal to send a confirmation code to the
// citizen's own phone. The citizen is the one of the Bearer access token.
type ConfirmationRequest struct {
	ProcedureID string `json:"procedureId"`
	KioskID     string `json:"kioskId"`
	// Language is the session's (a kiosk/lang code): the message with the
	// code is written in it. Empty or unsupported: English.
	Language string `json:"language,omitempty"`
}

// ConfirmationChallenge tells the kiosk a code is on its way. The code itself
// never comes back to the kiosk.
type ConfirmationChallenge struct {
	ID        string    `json:"id"`
	ExpiresAt time.Time `json:"expiresAt"`
	Channel   string    `json:"channel"` // e.g. "app"
	Attempts  int       `json:"attemptsLeft"`
}

// ConfirmationVerify carries the code the citizen typed and what it
// confirms: ReviewDigest (see Review) of exactly what the citizen reviewed.
// The token the portal answers is good only for a packet from the kiosk that
// asked for the code (ConfirmationRequest.KioskID) whose manifest and
// documents give the same digest.
type ConfirmationVerify struct {
	ID           string `json:"id"`
	Code         string `json:"code"`
	ReviewDigest string `json:"reviewDigest"` // lower-case hex SHA-256
}

// MaxPacketAge is how long a kiosk may hold an application it has not yet
// delivered: the kiosk's outbox refuses new applications once its oldest
// packet is this old (outbox.DefaultLimits), and the portal honours a
// confirmation token for at least this long after issuing it, so a packet
// the kiosk still holds is never refused for its age.
const MaxPacketAge = 72 * time.Hour

// ConfirmationResult is the proof of confirmation that goes into the manifest.
type ConfirmationResult struct {
	OK           bool   `json:"ok"`
	Token        string `json:"token,omitempty"`
	AttemptsLeft int    `json:"attemptsLeft"`
	Reason       string `json:"reason,omitempty"` // wrong, expired, exhausted
}

// Applicant is who applies. Name and CitizenID are personal data.
type Applicant struct {
	CitizenID string `json:"citizenId"`
	Name      string `json:"name"`
	BirthDate string `json:"birthDate,omitempty"`
	Phone     string `json:"phone,omitempty"`
}

// DocumentRef describes one document file in a packet.
type DocumentRef struct {
	Type   string `json:"type"`
	File   string `json:"file"` // name of the multipart part and of the file in the packet
	Pages  int    `json:"pages"`
	SHA256 string `json:"sha256"` // hex
	Size   int64  `json:"size"`
}

// Manifest is the signed description of one application packet.
type Manifest struct {
	PacketID          string            `json:"packetId"` // UUID, also the Idempotency-Key
	ProvisionalNumber string            `json:"provisionalNumber"`
	ProcedureID       string            `json:"procedureId"`
	KioskID           string            `json:"kioskId"`
	OfficeCode        string            `json:"officeCode"`
	CreatedAt         time.Time         `json:"createdAt"`
	Language          string            `json:"language"`
	Applicant         Applicant         `json:"applicant"`
	Form              map[string]string `json:"form"`
	Documents         []DocumentRef     `json:"documents"`
	ConfirmationToken string            `json:"confirmationToken"`
}

// FinaliseRequest closes a packet whose documents were uploaded with tus.
// Sent as POST PathPackets+{packetId}+"/finalise" with the header
// Idempotency-Key: "<packetId>" (a quoted string, per the IETF draft).
type FinaliseRequest struct {
	PacketID string `json:"packetId"`
	// Manifest is the manifest JSON encrypted with age to PortalAgeRecipient.
	Manifest []byte `json:"manifest"`
	// Signature is ECDSA P-256 (ASN.1) by the kiosk key over SHA-256 of the
	// plaintext manifest JSON.
	Signature []byte `json:"signature"`
	// Uploads maps each DocumentRef.File to its tus upload URL; the content of
	// each upload is that document encrypted with age to PortalAgeRecipient.
	// The SHA-256 and size in the manifest are of the plaintext PDF.
	Uploads map[string]string `json:"uploads"`
}

// SubmitResult is the portal's answer to a submission.
type SubmitResult struct {
	TrackingNumber    string    `json:"trackingNumber"`
	ProvisionalNumber string    `json:"provisionalNumber"`
	AppointmentDate   string    `json:"appointmentDate"` // YYYY-MM-DD
	ReceivedAt        time.Time `json:"receivedAt"`
	Duplicate         bool      `json:"duplicate"`
	// Acknowledgement is the portal's signed statement of this result. The
	// kiosk believes a packet delivered, and deletes it, only on a valid
	// one, and takes the result from it rather than from the fields above.
	Acknowledgement *SignedAcknowledgement `json:"acknowledgement,omitempty"`
}

// AcknowledgementKind is Acknowledgement.Kind: it keeps a signed
// acknowledgement from being taken for anything else the portal key signs.
const AcknowledgementKind = "govkiosk.packet-acknowledgement.v1"

// Acknowledgement is what the portal signs when it has a packet: which
// packet, the request it answers, and the result.
type Acknowledgement struct {
	Kind     string `json:"kind"` // AcknowledgementKind
	PacketID string `json:"packetId"`
	// ManifestSHA256 is the hex SHA-256 of the manifest exactly as the
	// answered request carried it: the age-encrypted FinaliseRequest.Manifest
	// for finalise, the "manifest" part for a multipart submission.
	ManifestSHA256    string    `json:"manifestSha256"`
	TrackingNumber    string    `json:"trackingNumber"`
	ProvisionalNumber string    `json:"provisionalNumber"`
	AppointmentDate   string    `json:"appointmentDate"`
	ReceivedAt        time.Time `json:"receivedAt"`
	Duplicate         bool      `json:"duplicate"`
}

// SignedAcknowledgement carries an Acknowledgement's JSON bytes exactly as
// signed, in the scheme of SignedCatalogue: Signature is ECDSA P-256
// (ASN.1) over SHA-256 of Payload, by the portal key.
type SignedAcknowledgement struct {
	Payload   []byte `json:"payload"`
	Signature []byte `json:"signature"`
	KeyID     string `json:"keyId"`
}

// ErrUnverifiedAnswer is wrapped by the error of a submission whose success
// answer does not carry a valid Acknowledgement for it (missing, forged,
// altered, or for another packet or request): the packet is not delivered.
var ErrUnverifiedAnswer = errors.New("portal answer not verified")

// ApplicationStatus is what anybody holding a receipt may see: no personal data.
type ApplicationStatus struct {
	TrackingNumber  string    `json:"trackingNumber"`
	ProcedureID     string    `json:"procedureId"`
	Status          string    `json:"status"` // received, in-review, ready, rejected
	AppointmentDate string    `json:"appointmentDate"`
	ReceivedAt      time.Time `json:"receivedAt"`
}

// Error is the body of every non-2xx answer. A 429 (and a 503 busy) also
// says why and how long to wait; its Retry-After header holds the same
// seconds.
type Error struct {
	Code       string `json:"code"`
	Message    string `json:"message"`
	Reason     string `json:"reason,omitempty"`     // of a 429: one of the Reason constants
	RetryAfter int    `json:"retryAfter,omitempty"` // seconds to wait before asking again
}

// Reasons of a 429 rate-limited answer to a confirmation request or check.
const (
	ReasonCodeGap           = "code-gap"            // a code was sent to this citizen moments ago
	ReasonCitizenCodes      = "citizen-codes"       // enough codes were sent to this citizen for now
	ReasonCitizenWrongCodes = "citizen-wrong-codes" // this citizen typed too many wrong codes
	ReasonKioskCodes        = "kiosk-codes"         // this kiosk asked for too many codes
	ReasonKioskWrongCodes   = "kiosk-wrong-codes"   // too many wrong codes were typed at this kiosk
)
