package update

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"govkiosk/kiosk/atomicfile"
)

// Layout is where releases, the current link and the updater's own files
// live under one root (/var/lib/govkiosk on the appliance).
type Layout struct {
	Root string
}

// Releases is the directory holding one directory per installed version.
func (l Layout) Releases() string { return filepath.Join(l.Root, "releases") }

// Release is the directory of one version.
func (l Layout) Release(version string) string { return filepath.Join(l.Releases(), version) }

// Current is the symlink to the active release.
func (l Layout) Current() string { return filepath.Join(l.Root, "current") }

// nextLink is the symlink built beside Current and renamed over it.
func (l Layout) nextLink() string { return filepath.Join(l.Root, ".current.next") }

func (l Layout) updateDir() string   { return filepath.Join(l.Root, "update") }
func (l Layout) statePath() string   { return filepath.Join(l.updateDir(), "state.json") }
func (l Layout) metadataDir() string { return filepath.Join(l.updateDir(), "tuf") }
func (l Layout) downloadDir() string { return filepath.Join(l.updateDir(), "download") }

// CurrentVersion is the version the current link points to, "" when there
// is no link.
func (l Layout) CurrentVersion() (string, error) {
	dst, err := os.Readlink(l.Current())
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("read current link: %w", err)
	}
	v := filepath.Base(dst)
	if !ValidVersion(v) {
		return "", fmt.Errorf("current link points to %q, not a release", dst)
	}
	return v, nil
}

// switchTo points Current at version's release atomically: a new symlink is
// made beside it and renamed over it, then the directory is fsynced, so
// after a crash Current names either the old release or the new one.
// fault, when set, is called between the steps (tests crash there).
func (l Layout) switchTo(version string, fault func(step string) error) error {
	if !ValidVersion(version) {
		return fmt.Errorf("switch to %q: not a version", version)
	}
	if _, err := os.Stat(filepath.Join(l.Release(version), "kiosk")); err != nil {
		return fmt.Errorf("switch to %s: release not installed: %w", version, err)
	}
	next := l.nextLink()
	if err := os.Remove(next); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("switch to %s: %w", version, err)
	}
	if err := os.Symlink(filepath.Join("releases", version), next); err != nil {
		return fmt.Errorf("switch to %s: %w", version, err)
	}
	if fault != nil {
		if err := fault("linked"); err != nil {
			return err
		}
	}
	if err := os.Rename(next, l.Current()); err != nil {
		return fmt.Errorf("switch to %s: %w", version, err)
	}
	if fault != nil {
		if err := fault("renamed"); err != nil {
			return err
		}
	}
	return atomicfile.SyncDir(l.Root)
}

// Phase is where an update stands (the state file's "phase").
type Phase string

const (
	// Committed: Version runs and passed its health check (or was the
	// first release installed by the package).
	Committed Phase = "committed"
	// Pending: Trial is installed and Current is being switched to it; the
	// kiosk is about to restart.
	Pending Phase = "pending"
	// Trial: Trial has started (Boots times) and is checking its health.
	Trial Phase = "trial"
	// RolledBack: Failed did not pass its health check (Reason says why)
	// and Version runs again.
	RolledBack Phase = "rolledBack"
)

// stateFormat is the version of the state file's layout; a newer kiosk
// reads every older format and rewrites it in its own.
const stateFormat = 1

// State is the updater's state file, update/state.json under the root.
type State struct {
	Format  int    `json:"format"`
	Phase   Phase  `json:"phase"`
	Version string `json:"version"`          // the committed version, the one to fall back to
	Trial   string `json:"trial,omitempty"`  // the version on trial (Pending, Trial)
	Boots   int    `json:"boots,omitempty"`  // starts of Trial so far
	Failed  string `json:"failed,omitempty"` // the version rolled back (RolledBack)
	Reason  string `json:"reason,omitempty"` // why, short and free of personal data
}

// ReadState reads the state file; ok is false when there is none yet.
func (l Layout) ReadState() (s State, ok bool, err error) {
	b, err := os.ReadFile(l.statePath())
	if errors.Is(err, fs.ErrNotExist) {
		return State{}, false, nil
	}
	if err != nil {
		return State{}, false, fmt.Errorf("read update state: %w", err)
	}
	if err := json.Unmarshal(b, &s); err != nil {
		return State{}, false, fmt.Errorf("update state %s: %w", l.statePath(), err)
	}
	if s.Format == 0 { // written before the format marker: same fields
		s.Format = stateFormat
	}
	if s.Format > stateFormat {
		return State{}, false, fmt.Errorf("update state %s has format %d, newer than this kiosk's %d", l.statePath(), s.Format, stateFormat)
	}
	switch s.Phase {
	case Committed, Pending, Trial, RolledBack:
	default:
		return State{}, false, fmt.Errorf("update state %s: unknown phase %q", l.statePath(), s.Phase)
	}
	return s, true, nil
}

func (l Layout) writeState(s State) error {
	s.Format = stateFormat
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(l.updateDir(), 0o700); err != nil {
		return fmt.Errorf("write update state: %w", err)
	}
	return atomicfile.Write(l.statePath(), append(b, '\n'), 0o600)
}

// Installed lists the versions under releases/, complete ones only.
func (l Layout) Installed() ([]string, error) {
	ents, err := os.ReadDir(l.Releases())
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var vs []string
	for _, e := range ents {
		if e.IsDir() && ValidVersion(e.Name()) && !strings.HasPrefix(e.Name(), ".") {
			vs = append(vs, e.Name())
		}
	}
	return vs, nil
}
