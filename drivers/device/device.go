package device

import (
	"context"
	"encoding/json"
	"fmt"
	"time"
)

// Device is what every driver is, whatever its class and model: it reports
// its status in the shared model, names itself for logs and technicians
// ("printer(/dev/ttyUSB0)") and releases what it holds. Each driver package
// guards this at compile time:
//
//	var _ device.Device = (*Printer)(nil)
//
// The interfaces a caller needs beyond it (print, scan, read codes) are
// defined where they are used, over the neutral types of this package.
type Device interface {
	Status(ctx context.Context) Status
	String() string
	Close() error
}

// Duration is a time.Duration written as text ("120s", "5s", "250ms") in
// JSON and any other text encoding, for driver options and the kiosk's
// configuration file.
type Duration struct{ time.Duration }

// D makes a Duration.
func D(d time.Duration) Duration { return Duration{d} }

// MarshalText writes the duration like time.Duration.String.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText reads what time.ParseDuration reads.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return err
	}
	d.Duration = v
	return nil
}

// MarshalJSON writes the duration as a JSON string.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(d.String()) }

// UnmarshalJSON reads a JSON string such as "120s"; a bare number is
// refused with a message that says what is wanted.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("duration must be a string like \"120s\": %w", err)
	}
	return d.UnmarshalText([]byte(s))
}
