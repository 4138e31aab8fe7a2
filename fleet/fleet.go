// Package fleet is the fleet service the monitoring team runs: the device
// registry, presence and telemetry received over MQTT 5, remote commands,
// history in a store (PostgreSQL in production, SQLite embedded), Prometheus
// export, alert rules for Alertmanager, and the staff console.
//
// This file is the contract between its parts: what the MQTT side records
// (presence, events, snapshots, command results) and what the store, the
// Prometheus exporter and the console read back. The kiosk never imports
// this package; it speaks the wire format in backend-client/fleetwire.
package fleet

import (
	"context"
	"errors"
	"time"
)

// ErrNotFound is what a Store returns (wrapped) for an unknown kiosk or
// command.
var ErrNotFound = errors.New("fleet: not found")

// KioskInfo is a kiosk's entry in the registry.
type KioskInfo struct {
	KioskID  string `json:"kioskId"`
	Office   string `json:"office"`   // office code, e.g. "TH-10-1001"
	Province string `json:"province"` // province/region code
	// Retired kiosks are out of the fleet: not listed (but with the
	// status "retired"), not counted, not exported, so never alerted.
	Retired bool `json:"retired"`
	// Identity says why a retired kiosk left: IdentityRevoked (its
	// certificates revoked at the portal: stolen, lost) or IdentityRetired
	// (decommissioned); empty otherwise.
	Identity string `json:"identity,omitempty"`
}

// Identity states of a kiosk that left the fleet (KioskInfo.Identity).
const (
	IdentityRevoked = "revoked"
	IdentityRetired = "retired"
)

// DeviceState is one device of a snapshot, after XFS4IoT: State is
// online|offline|noDevice|hardwareError|userError|busy, Media the paper or
// feeder state (full|low|out|jammed|ready|coverOpen), Action what a person
// must do (reset|clear|maintenance), all empty when not known.
type DeviceState struct {
	Name   string `json:"name"`
	State  string `json:"state"`
	Media  string `json:"media,omitempty"`
	Action string `json:"action,omitempty"`
}

// Snapshot is the kiosk's whole health at one moment (the retained snapshot
// topic, sent every interval and after a change).
type Snapshot struct {
	KioskID        string        `json:"kioskId"`
	At             time.Time     `json:"at"`
	Seq            uint64        `json:"seq"`
	Version        string        `json:"version"`
	Catalogue      string        `json:"catalogue,omitempty"` // catalogue version
	Devices        []DeviceState `json:"devices"`
	Backlog        int           `json:"backlog"`        // applications not yet acknowledged
	NeedsAttention int           `json:"needsAttention"` // packets parked for a person
	DiskFreeBytes  uint64        `json:"diskFreeBytes"`
	TemperatureC   float64       `json:"temperatureC"`
	CertNotAfter   time.Time     `json:"certNotAfter,omitzero"`
	OutOfService   bool          `json:"outOfService"`
	Warnings       []string      `json:"warnings,omitempty"`
	UpdateState    string        `json:"updateState,omitempty"`  // idle|downloading|installed|committed|rolledBack
	UpdateFailed   string        `json:"updateFailed,omitempty"` // with rolledBack: the version that failed
	// Sessions counts citizen sessions completed since the kiosk program
	// started, Ratings the satisfaction ratings 1..5 given since then
	// (Ratings[0] is the count of 1s); the console draws per-day charts
	// from their increase. Both are reset by a restart.
	Sessions uint64   `json:"sessions,omitempty"`
	Ratings  []uint64 `json:"ratings,omitempty"`
}

// Event is something that happened on a kiosk, sent once at QoS 1 and kept
// in order by Seq (per kiosk, across restarts).
type Event struct {
	KioskID string    `json:"kioskId"`
	Seq     uint64    `json:"seq"`
	At      time.Time `json:"at"`
	Kind    string    `json:"kind"`             // e.g. "paper-out", "scanner-jam", "door-open", "needs-attention", "update"
	Device  string    `json:"device,omitempty"` // the device it is about, if any
	Detail  string    `json:"detail,omitempty"` // short, never personal data
	// Summarised counts events dropped from a full offline queue and
	// folded into this one (oldest first).
	Summarised int `json:"summarised,omitempty"`
}

// Presence is a kiosk's online state as the broker sees it (the retained
// status topic and its Last Will).
type Presence struct {
	KioskID string    `json:"kioskId"`
	Online  bool      `json:"online"`
	At      time.Time `json:"at"`
}

// Command is a remote command to one kiosk and what became of it: every
// command is authorised, audited (By, SentAt) and idempotent (ID).
type Command struct {
	ID         string    `json:"id"` // also the MQTT correlation data
	KioskID    string    `json:"kioskId"`
	Name       string    `json:"name"` // requeue|refresh-catalogue|selftest|logs|restart|out-of-service|in-service
	Args       string    `json:"args,omitempty"`
	By         string    `json:"by"` // staff user who sent it
	SentAt     time.Time `json:"sentAt"`
	AnsweredAt time.Time `json:"answeredAt,omitzero"`
	State      string    `json:"state"` // pending|done|failed|expired
	Result     string    `json:"result,omitempty"`
}

// KioskView is what the console and the exporter show of a kiosk: its
// registry entry, presence and latest snapshot.
type KioskView struct {
	KioskInfo
	Online   bool      `json:"online"`
	LastSeen time.Time `json:"lastSeen"`
	Snapshot *Snapshot `json:"snapshot,omitempty"`
}

// Filter selects kiosks for the console; empty fields match all.
type Filter struct {
	Province, Office, Version string
	Status                    string // ""|online|offline|problem, or retired: only the retired kiosks
	Offset, Limit             int
}

// Store keeps the registry, presence, telemetry history and the command
// audit. Implementations: SQLite (embedded default) and PostgreSQL; the same
// tests run against both. Methods are safe for concurrent use.
type Store interface {
	PutKiosk(ctx context.Context, k KioskInfo) error
	SetPresence(ctx context.Context, p Presence) error
	PutSnapshot(ctx context.Context, s Snapshot) error
	// AddEvent keeps an event once: a repeated (KioskID, Seq) is not an error.
	AddEvent(ctx context.Context, e Event) error
	PutCommand(ctx context.Context, c Command) error
	Kiosk(ctx context.Context, id string) (KioskView, error)
	Kiosks(ctx context.Context, f Filter) (views []KioskView, total int, err error)
	Events(ctx context.Context, kioskID string, since time.Time, limit int) ([]Event, error)
	Snapshots(ctx context.Context, kioskID string, since time.Time) ([]Snapshot, error)
	Commands(ctx context.Context, kioskID string, limit int) ([]Command, error)
	Command(ctx context.Context, id string) (Command, error)
	// Prune drops history (events, snapshots, answered commands) older
	// than before.
	Prune(ctx context.Context, before time.Time) error
	Close() error
}

// Commander sends a remote command to a kiosk over MQTT and records it in
// the Store: the console calls it. The command is delivered when the kiosk
// is next online unless it expires first (State "expired").
type Commander interface {
	Send(ctx context.Context, c Command) (Command, error)
}

// Problems says why a kiosk needs a look, most urgent first, as stable codes
// (the console translates them): "offline", "out-of-service", a device
// ("printer:out", "scanner:hardwareError"), "needs-attention" and the
// snapshot's warnings. Nil means all is well. The store's "problem" status
// and the console's ordering use it.
func (v KioskView) Problems() []string {
	var p []string
	if !v.Online {
		p = append(p, "offline")
	}
	if v.Snapshot == nil {
		return p
	}
	return append(p, v.Snapshot.Problems()...)
}

// Problems is what the snapshot alone says is wrong (see KioskView.Problems).
func (s *Snapshot) Problems() []string {
	var p []string
	if s.OutOfService {
		p = append(p, "out-of-service")
	}
	for _, d := range s.Devices {
		switch d.State {
		case "", "online", "busy", "noDevice":
		default:
			p = append(p, d.Name+":"+d.State)
		}
		switch d.Media {
		case "out", "jammed", "coverOpen":
			p = append(p, d.Name+":"+d.Media)
		}
	}
	if s.NeedsAttention > 0 {
		p = append(p, "needs-attention")
	}
	for _, w := range s.Warnings {
		p = append(p, "warning:"+w)
	}
	return p
}

// PresenceLog is kept by stores that remember every presence change, for
// the console's online/offline chart.
type PresenceLog interface {
	Presences(ctx context.Context, kioskID string, since time.Time) ([]Presence, error)
}

// GroupCount is how many kiosks of one office (or province, Office empty)
// are in each state.
type GroupCount struct {
	Province string `json:"province"`
	Office   string `json:"office,omitempty"`
	Total    int    `json:"total"`
	Online   int    `json:"online"`
	Problem  int    `json:"problem"` // offline or with a problem
}

// GroupDay is one day (UTC) of a province's or office's history.
type GroupDay struct {
	Day      time.Time `json:"day"`
	Outages  int       `json:"outages"`  // kiosks that went offline that day
	Sessions uint64    `json:"sessions"` // citizen sessions completed that day
}

// GroupHistorian is kept by stores that can draw a province's or office's
// history per day (the fleet overview's charts). Empty province and
// office mean the whole fleet.
type GroupHistorian interface {
	GroupHistory(ctx context.Context, province, office string, since time.Time) ([]GroupDay, error)
}

// Summarizer is kept by stores that can count kiosks per province or per
// office (byOffice) without reading each one, for the fleet overview.
type Summarizer interface {
	Summary(ctx context.Context, byOffice bool) ([]GroupCount, error)
}
