package outbox

import (
	"database/sql"
	"errors"
	"fmt"
	"time"

	"golang.org/x/sys/unix"

	"govkiosk/backend-client/api"
)

// Limits keep the kiosk from promising what it cannot keep, like MOSIP's
// registration client: when the backlog is too long or too old, or the disk
// too full, new applications are refused before the citizen starts (Admit)
// and at Enqueue. A zero field sets no limit.
type Limits struct {
	MaxBacklog    int           // packets not yet accepted by the portal
	MaxBacklogAge time.Duration // age of the oldest such packet
	MaxDiskBytes  int64         // encrypted packet bytes kept on disk (quota)
	MinFreeDisk   uint64        // free bytes that must remain on the outbox's file system
	// WarnFraction is how far towards a limit Pressure starts warning
	// (default 0.5: half the backlog, half the age, half the quota, or
	// twice the minimum free space).
	WarnFraction float64
}

// DefaultLimits is a starting point for a kiosk on a small SSD that may be
// offline for a few days. Its MaxBacklogAge is api.MaxPacketAge, the age up
// to which the portal honours a packet's confirmation token: a larger one
// would take applications the portal then refuses.
var DefaultLimits = Limits{
	MaxBacklog:    200,
	MaxBacklogAge: api.MaxPacketAge,
	MaxDiskBytes:  2 << 30,
	MinFreeDisk:   512 << 20,
	WarnFraction:  0.5,
}

// Errors of Admit and Enqueue when a limit is reached; test with errors.Is.
var (
	ErrBacklogFull   = errors.New("outbox: too many applications waiting to be sent")
	ErrBacklogTooOld = errors.New("outbox: applications have been waiting too long to be sent")
	ErrQuotaFull     = errors.New("outbox: storage quota for waiting applications is full")
	ErrDiskLow       = errors.New("outbox: disk space is low")
)

// IsLimit reports whether err is one of the limit errors.
func IsLimit(err error) bool {
	return errors.Is(err, ErrBacklogFull) || errors.Is(err, ErrBacklogTooOld) ||
		errors.Is(err, ErrQuotaFull) || errors.Is(err, ErrDiskLow)
}

// Pressure levels.
const (
	PressureOK       = "ok"
	PressureWarning  = "warning"  // a limit is near: tell the monitoring team
	PressureRefusing = "refusing" // a limit is reached: new applications are refused
)

// Pressure is how close the outbox is to its limits.
type Pressure struct {
	Level string // PressureOK, PressureWarning or PressureRefusing
	// Reasons are stable short codes, most severe first, suitable as health
	// warnings: "outbox-backlog-full", "outbox-backlog-high",
	// "outbox-backlog-too-old", "outbox-backlog-old", "outbox-quota-full",
	// "outbox-quota-high", "outbox-disk-low", "outbox-disk-getting-low".
	Reasons   []string
	Err       error         // when refusing: the error Admit returns
	Backlog   int           // packets not yet accepted by the portal
	Oldest    time.Duration // age of the oldest of them (0: none)
	DiskBytes int64         // encrypted packet bytes on disk
	FreeBytes uint64        // free bytes on the file system (0 when not measured)
}

// Admit says whether a new application may start: nil, or the limit error
// (ErrBacklogFull, ErrBacklogTooOld, ErrQuotaFull, ErrDiskLow) the kiosk
// turns into a message before the citizen begins.
func (o *Outbox) Admit() error { return o.admit(0) }

// Pressure measures the outbox against its limits, for the health monitor.
func (o *Outbox) Pressure() (Pressure, error) { return o.pressure(0) }

func (o *Outbox) admit(extra int64) error {
	p, err := o.pressure(extra)
	if err != nil {
		return err
	}
	return p.Err
}

// pressure measures with extra bytes about to be written.
func (o *Outbox) pressure(extra int64) (Pressure, error) {
	var (
		p      Pressure
		oldest sql.NullInt64
	)
	if err := o.db.QueryRow(`SELECT count(*), min(created_at) FROM packets WHERE state IN `+backlogStates).
		Scan(&p.Backlog, &oldest); err != nil {
		return Pressure{}, fmt.Errorf("outbox: measure backlog: %w", err)
	}
	if oldest.Valid {
		p.Oldest = max(o.now().Sub(time.Unix(0, oldest.Int64)), 0)
	}
	if err := o.db.QueryRow(`SELECT coalesce(sum(bytes), 0) FROM packets WHERE state != ?`, StatePurged).
		Scan(&p.DiskBytes); err != nil {
		return Pressure{}, fmt.Errorf("outbox: measure disk use: %w", err)
	}
	l := o.limits
	warn := l.WarnFraction
	if warn <= 0 || warn >= 1 {
		warn = 0.5
	}
	var refuse, warnings []string
	check := func(limited, full, high bool, fullCode, highCode string, fullErr error, detail string) {
		switch {
		case !limited:
		case full:
			refuse = append(refuse, fullCode)
			if p.Err == nil {
				p.Err = fmt.Errorf("%w (%s)", fullErr, detail)
			}
		case high:
			warnings = append(warnings, highCode)
		}
	}
	check(l.MaxBacklog > 0, p.Backlog >= l.MaxBacklog, float64(p.Backlog) >= warn*float64(l.MaxBacklog),
		"outbox-backlog-full", "outbox-backlog-high", ErrBacklogFull,
		fmt.Sprintf("%d waiting, limit %d", p.Backlog, l.MaxBacklog))
	check(l.MaxBacklogAge > 0, p.Oldest >= l.MaxBacklogAge, float64(p.Oldest) >= warn*float64(l.MaxBacklogAge),
		"outbox-backlog-too-old", "outbox-backlog-old", ErrBacklogTooOld,
		fmt.Sprintf("oldest waiting %s, limit %s", p.Oldest.Round(time.Second), l.MaxBacklogAge))
	check(l.MaxDiskBytes > 0, p.DiskBytes >= l.MaxDiskBytes || p.DiskBytes+extra > l.MaxDiskBytes, float64(p.DiskBytes+extra) >= warn*float64(l.MaxDiskBytes),
		"outbox-quota-full", "outbox-quota-high", ErrQuotaFull,
		fmt.Sprintf("%d bytes stored, quota %d", p.DiskBytes, l.MaxDiskBytes))
	if l.MinFreeDisk > 0 {
		free, err := o.diskFree(o.dir)
		if err != nil {
			return Pressure{}, fmt.Errorf("outbox: measure free disk: %w", err)
		}
		p.FreeBytes = free
		left := free - min(free, uint64(max(extra, 0)))
		check(true, left < l.MinFreeDisk, float64(left) < float64(l.MinFreeDisk)/warn,
			"outbox-disk-low", "outbox-disk-getting-low", ErrDiskLow,
			fmt.Sprintf("%d bytes free, minimum %d", free, l.MinFreeDisk))
	}
	p.Reasons = append(refuse, warnings...)
	switch {
	case len(refuse) > 0:
		p.Level = PressureRefusing
	case len(warnings) > 0:
		p.Level = PressureWarning
	default:
		p.Level = PressureOK
	}
	return p, nil
}

// statfsFree returns the bytes available to unprivileged users on the file
// system holding path.
func statfsFree(path string) (uint64, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(path, &st); err != nil {
		return 0, err
	}
	return st.Bavail * uint64(st.Bsize), nil
}
