package update

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"golang.org/x/mod/semver"
)

// Release is the custom metadata of a release bundle in the signed targets
// role: it travels under the key "govkiosk" of the target's "custom" field,
// so it is covered by the targets signature like the bundle's hashes.
type Release struct {
	Version    string   `json:"version"`              // semantic version without the "v", e.g. "2.1.0"
	MinVersion string   `json:"minVersion,omitempty"` // oldest version that may update to it directly
	Arch       string   `json:"arch"`                 // GOARCH of the binaries, e.g. "amd64", "arm64"
	Rollout    *Rollout `json:"rollout,omitempty"`    // nil: every kiosk
}

// Rollout is the stage a release is at: which share of the fleet may take
// it, and when it may be installed. The fleet's planner rewrites it and
// re-signs the targets role as waves advance; a kiosk only reads it.
type Rollout struct {
	// Percent of the fleet (0-100, two decimals) whose bucket admits it.
	Percent float64 `json:"percent"`
	// Salt picks the buckets; one per release, so the same kiosks are not
	// always first.
	Salt string `json:"salt"`
	// Halted stops a rollout: no kiosk that has not installed the release
	// starts to.
	Halted bool `json:"halted,omitempty"`
	// Window is when a kiosk may switch to the release, in its local time;
	// empty: any time. Downloads run outside it.
	Window *Window `json:"window,omitempty"`
}

// Window is a daily maintenance window "HH:MM"-"HH:MM" in the kiosk's local
// time; End before Start spans midnight.
type Window struct {
	Start string `json:"start"`
	End   string `json:"end"`
}

// customKey is the key of Release in a target's custom metadata.
const customKey = "govkiosk"

// ParseCustom reads a Release from a target's custom metadata.
func ParseCustom(raw *json.RawMessage) (Release, error) {
	if raw == nil {
		return Release{}, errors.New("target has no custom metadata")
	}
	var c map[string]json.RawMessage
	if err := json.Unmarshal(*raw, &c); err != nil {
		return Release{}, fmt.Errorf("custom metadata: %w", err)
	}
	b, ok := c[customKey]
	if !ok {
		return Release{}, fmt.Errorf("custom metadata has no %q", customKey)
	}
	var r Release
	if err := json.Unmarshal(b, &r); err != nil {
		return Release{}, fmt.Errorf("custom metadata %q: %w", customKey, err)
	}
	return r, r.Validate()
}

// Custom is r as a target's custom metadata.
func (r Release) Custom() (*json.RawMessage, error) {
	if err := r.Validate(); err != nil {
		return nil, err
	}
	b, err := json.Marshal(map[string]Release{customKey: r})
	if err != nil {
		return nil, err
	}
	m := json.RawMessage(b)
	return &m, nil
}

// Validate reports every problem of r at once.
func (r Release) Validate() error {
	var errs []error
	if !ValidVersion(r.Version) {
		errs = append(errs, fmt.Errorf("version %q is not a semantic version like 1.2.3", r.Version))
	}
	if r.MinVersion != "" && !ValidVersion(r.MinVersion) {
		errs = append(errs, fmt.Errorf("minVersion %q is not a semantic version like 1.2.3", r.MinVersion))
	}
	if r.Arch == "" || strings.ContainsAny(r.Arch, "/\\ .") {
		errs = append(errs, fmt.Errorf("arch %q is not a GOARCH", r.Arch))
	}
	if ro := r.Rollout; ro != nil {
		if ro.Percent < 0 || ro.Percent > 100 {
			errs = append(errs, fmt.Errorf("rollout percent %v is outside 0-100", ro.Percent))
		}
		if ro.Window != nil {
			if _, _, err := ro.Window.parse(); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

// ValidVersion tells whether v is a semantic version without the "v" (the
// form directory names under releases/ take).
func ValidVersion(v string) bool {
	return v != "" && !strings.HasPrefix(v, "v") && semver.IsValid("v"+v) && !strings.ContainsAny(v, "/\\")
}

// CompareVersions is -1, 0 or +1 as a is older than, the same as or newer
// than b (semantic versions without the "v").
func CompareVersions(a, b string) int { return semver.Compare("v"+a, "v"+b) }

// Bucket is the kiosk's place in a rollout with salt, 0-9999: a pure
// function of the kiosk id, so the fleet and the kiosk agree on it without
// talking.
func Bucket(kioskID, salt string) int {
	h := sha256.Sum256([]byte(salt + "\x00" + kioskID))
	return int(binary.BigEndian.Uint64(h[:8]) % 10000)
}

// Admits tells whether the rollout lets kioskID take the release.
func (ro *Rollout) Admits(kioskID string) bool {
	if ro == nil {
		return true
	}
	if ro.Halted {
		return false
	}
	return Bucket(kioskID, ro.Salt) < int(ro.Percent*100+0.5)
}

// Open tells whether t (the kiosk's local time) falls in the window; a nil
// window is always open.
func (w *Window) Open(t time.Time) bool {
	if w == nil {
		return true
	}
	s, e, err := w.parse()
	if err != nil {
		return false
	}
	m := t.Hour()*60 + t.Minute()
	if s <= e {
		return m >= s && m < e
	}
	return m >= s || m < e
}

func (w *Window) parse() (start, end int, err error) {
	p := func(s string) (int, error) {
		t, err := time.Parse("15:04", s)
		if err != nil {
			return 0, fmt.Errorf("window time %q is not HH:MM", s)
		}
		return t.Hour()*60 + t.Minute(), nil
	}
	if start, err = p(w.Start); err != nil {
		return 0, 0, err
	}
	if end, err = p(w.End); err != nil {
		return 0, 0, err
	}
	if start == end {
		return 0, 0, fmt.Errorf("window %s-%s is empty", w.Start, w.End)
	}
	return start, end, nil
}
