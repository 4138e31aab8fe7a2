// Package fleetwire is the MQTT 5 wire format between a kiosk and the fleet
// service: topic names, payloads and command names. Both sides import it;
// it imports neither.
//
// Topics, all under one kiosk's own prefix (a broker ACL lets a kiosk
// publish and subscribe there only, with the kiosk id being its device
// certificate's common name):
//
//	govkiosk/v1/kiosk/{id}/status    retained, QoS 1: "online", or the Last Will "offline" (after a will delay)
//	govkiosk/v1/kiosk/{id}/snapshot  retained, QoS 1: Snapshot, sent when it changed or at a long interval
//	govkiosk/v1/kiosk/{id}/event     QoS 1: Event, in Seq order, queued on the kiosk while offline
//	govkiosk/v1/kiosk/{id}/cmd       QoS 1, fleet → kiosk: Command, with response topic and correlation data
//	govkiosk/v1/kiosk/{id}/reply     QoS 1, kiosk → fleet: Reply, with the command's correlation data
//
// Payloads are CBOR (RFC 8949) with small integer keys and times as Unix
// seconds, so a snapshot of a healthy kiosk is about a hundred bytes: the
// monthly cost on a metered link is counted by bench/fleet.
package fleetwire

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/fxamacker/cbor/v2"
)

// Prefix is the root of every fleet topic.
const Prefix = "govkiosk/v1/kiosk/"

// Topic kinds, the last level of a kiosk's topics.
const (
	KindStatus   = "status"
	KindSnapshot = "snapshot"
	KindEvent    = "event"
	KindCmd      = "cmd"
	KindReply    = "reply"
)

// Status payloads.
const (
	Online  = "online"
	Offline = "offline"
)

// AllKiosks is the fleet service's subscription filter for what kiosks send.
const (
	AllStatus    = Prefix + "+/" + KindStatus
	AllSnapshots = Prefix + "+/" + KindSnapshot
	AllEvents    = Prefix + "+/" + KindEvent
	AllReplies   = Prefix + "+/" + KindReply
)

// Topic is the topic of the given kind for a kiosk.
func Topic(kioskID, kind string) string { return Prefix + kioskID + "/" + kind }

// ErrBadTopic is a topic outside the fleet's layout.
var ErrBadTopic = errors.New("fleetwire: not a kiosk topic")

// ParseTopic splits a kiosk topic into the kiosk id and the kind.
func ParseTopic(topic string) (kioskID, kind string, err error) {
	rest, ok := strings.CutPrefix(topic, Prefix)
	if !ok {
		return "", "", fmt.Errorf("%w: %q", ErrBadTopic, topic)
	}
	kioskID, kind, ok = strings.Cut(rest, "/")
	if !ok || !ValidKioskID(kioskID) || strings.Contains(kind, "/") {
		return "", "", fmt.Errorf("%w: %q", ErrBadTopic, topic)
	}
	return kioskID, kind, nil
}

// ValidKioskID reports whether id can name a kiosk in a topic: 1–64 of
// letters, digits, '-', '_' and '.' (no MQTT wildcards or level separators).
func ValidKioskID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for _, r := range id {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_', r == '.':
		default:
			return false
		}
	}
	return true
}

// Command names.
const (
	CmdRequeue          = "requeue"           // Args: the packet id parked as needsAttention
	CmdRefreshCatalogue = "refresh-catalogue" // fetch the procedure catalogue now
	CmdSelfTest         = "selftest"          // run the self-test; the result is its report
	CmdLogs             = "logs"              // Args: how many of the last log lines (PII-free)
	CmdRestart          = "restart"           // exit with the code systemd restarts
	CmdOutOfService     = "out-of-service"    // Args: the message for the log and the fleet
	CmdInService        = "in-service"
)

// Commands are the names a kiosk obeys.
var Commands = []string{CmdRequeue, CmdRefreshCatalogue, CmdSelfTest, CmdLogs, CmdRestart, CmdOutOfService, CmdInService, CmdServicePIN}

// KnownCommand reports whether name is one of Commands.
func KnownCommand(name string) bool {
	for _, c := range Commands {
		if c == name {
			return true
		}
	}
	return false
}

// Device is one device of a snapshot: State, Media and Action as in
// drivers/device (XFS4IoT), empty when not known.
type Device struct {
	Name   string `cbor:"1,keyasint"`
	State  string `cbor:"2,keyasint,omitempty"`
	Media  string `cbor:"3,keyasint,omitempty"`
	Action string `cbor:"4,keyasint,omitempty"`
}

// Snapshot is a kiosk's whole health at one moment. It carries no
// personal data.
type Snapshot struct {
	At             int64    `cbor:"1,keyasint"` // Unix seconds
	Seq            uint64   `cbor:"2,keyasint,omitempty"`
	Version        string   `cbor:"3,keyasint,omitempty"`
	Catalogue      string   `cbor:"4,keyasint,omitempty"`
	Devices        []Device `cbor:"5,keyasint,omitempty"`
	Backlog        int      `cbor:"6,keyasint,omitempty"`
	NeedsAttention int      `cbor:"7,keyasint,omitempty"`
	DiskFreeMB     uint64   `cbor:"8,keyasint,omitempty"` // MiB: bytes would change every time
	TemperatureC   float32  `cbor:"9,keyasint,omitempty"`
	CertNotAfter   int64    `cbor:"10,keyasint,omitempty"` // Unix seconds
	OutOfService   bool     `cbor:"11,keyasint,omitempty"`
	Warnings       []string `cbor:"12,keyasint,omitempty"`
	UpdateState    string   `cbor:"13,keyasint,omitempty"`
	// Sessions and Ratings are counts since the kiosk program started:
	// sessions completed, ratings given per star (1..5). They do not make
	// a snapshot news (SameHealth): they ride on the next one.
	Sessions uint64   `cbor:"14,keyasint,omitempty"`
	Ratings  []uint64 `cbor:"15,keyasint,omitempty"`
	// UpdateFailed is, with UpdateState rolledBack, the version that failed.
	UpdateFailed string `cbor:"16,keyasint,omitempty"`
}

// Event is something that happened on a kiosk, numbered per kiosk.
type Event struct {
	Seq    uint64 `cbor:"1,keyasint"`
	At     int64  `cbor:"2,keyasint"` // Unix seconds
	Kind   string `cbor:"3,keyasint"`
	Device string `cbor:"4,keyasint,omitempty"`
	Detail string `cbor:"5,keyasint,omitempty"`
	// Summarised counts the events dropped from a full offline queue and
	// folded into this one.
	Summarised int `cbor:"6,keyasint,omitempty"`
}

// Command is a remote command; its id is also the MQTT correlation data.
type Command struct {
	ID   string `cbor:"1,keyasint"`
	Name string `cbor:"2,keyasint"`
	Args string `cbor:"3,keyasint,omitempty"`
}

// Reply is a kiosk's answer to a command.
type Reply struct {
	ID     string `cbor:"1,keyasint"`
	OK     bool   `cbor:"2,keyasint,omitempty"`
	Result string `cbor:"3,keyasint,omitempty"` // the outcome, or why it failed; never personal data
}

// MaxPayload bounds what either side decodes.
const MaxPayload = 64 << 10

var (
	encMode cbor.EncMode
	decMode cbor.DecMode
)

func init() {
	var err error
	if encMode, err = (cbor.EncOptions{Sort: cbor.SortCanonical}).EncMode(); err != nil {
		panic(err)
	}
	if decMode, err = (cbor.DecOptions{MaxArrayElements: 4096, MaxMapPairs: 64, MaxNestedLevels: 8}).DecMode(); err != nil {
		panic(err)
	}
}

// Marshal encodes v (a Snapshot, Event, Command or Reply).
func Marshal(v any) ([]byte, error) { return encMode.Marshal(v) }

// ErrBadPayload is a payload that does not decode.
var ErrBadPayload = errors.New("fleetwire: bad payload")

// Unmarshal decodes b into v, refusing oversized input.
func Unmarshal(b []byte, v any) error {
	if len(b) > MaxPayload {
		return fmt.Errorf("%w: %d bytes", ErrBadPayload, len(b))
	}
	if err := decMode.Unmarshal(b, v); err != nil {
		return fmt.Errorf("%w: %v", ErrBadPayload, err)
	}
	return nil
}

// Unix is t as wire seconds (0 for the zero time).
func Unix(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.Unix()
}

// Time is wire seconds as a time (the zero time for 0).
func Time(s int64) time.Time {
	if s == 0 {
		return time.Time{}
	}
	return time.Unix(s, 0).UTC()
}

// SameHealth reports whether two snapshots say the same about the kiosk,
// apart from their time and number and the small drift of free disk and
// temperature: a snapshot that says nothing new waits for the interval.
func SameHealth(a, b Snapshot) bool {
	if a.Version != b.Version || a.Catalogue != b.Catalogue || a.Backlog != b.Backlog ||
		a.NeedsAttention != b.NeedsAttention || a.OutOfService != b.OutOfService ||
		a.UpdateState != b.UpdateState || a.UpdateFailed != b.UpdateFailed || a.CertNotAfter != b.CertNotAfter ||
		len(a.Devices) != len(b.Devices) || len(a.Warnings) != len(b.Warnings) {
		return false
	}
	for i := range a.Devices {
		if a.Devices[i] != b.Devices[i] {
			return false
		}
	}
	for i := range a.Warnings {
		if a.Warnings[i] != b.Warnings[i] {
			return false
		}
	}
	return true
}
