package update

import (
	"errors"
	"fmt"
	"net/url"
	"time"

	"govkiosk/drivers/device"
)

// Settings are the "update" section of kiosk.json. No URL: updates are off.
//
//	"update": {"url": "https://fleet.example/tuf", "bytesPerSecond": 65536,
//	           "interval": "1h", "checkBound": "2m"}
type Settings struct {
	URL            string          `json:"url,omitempty"`            // the TUF repository
	BytesPerSecond int             `json:"bytesPerSecond,omitempty"` // download cap; 0: 64 KiB/s
	Interval       device.Duration `json:"interval,omitzero"`        // between looks; default 1 hour
	CheckBound     device.Duration `json:"checkBound,omitzero"`      // a new version's health checks; default 2 minutes
}

// DefaultBytesPerSecond is the download cap when Settings leave it out:
// about a third of a weak 1.5 Mbit/s link, so uploads keep going.
const DefaultBytesPerSecond = 64 << 10

// Enabled tells whether the kiosk updates itself.
func (s Settings) Enabled() bool { return s.URL != "" }

// Validate reports every problem at once.
func (s Settings) Validate() error {
	var errs []error
	if s.URL != "" {
		u, err := url.Parse(s.URL)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			errs = append(errs, fmt.Errorf("url %q is not an http(s) URL", s.URL))
		}
	}
	if s.BytesPerSecond < 0 {
		errs = append(errs, fmt.Errorf("bytesPerSecond %d is negative", s.BytesPerSecond))
	}
	if s.Interval.Duration < 0 || (s.Interval.Duration > 0 && s.Interval.Duration < time.Minute) {
		errs = append(errs, fmt.Errorf("interval %v must be at least a minute", s.Interval.Duration))
	}
	if s.CheckBound.Duration < 0 {
		errs = append(errs, errors.New("checkBound is negative"))
	}
	return errors.Join(errs...)
}

// Apply copies s into o.
func (s Settings) Apply(o *Options) {
	o.RepositoryURL = s.URL
	o.BytesPerSecond = s.BytesPerSecond
	if o.BytesPerSecond == 0 {
		o.BytesPerSecond = DefaultBytesPerSecond
	}
	o.Interval = s.Interval.Duration
	o.CheckBound = s.CheckBound.Duration
}
