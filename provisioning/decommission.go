package provisioning

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"govkiosk/drivers/device"
	"govkiosk/kiosk/atomicfile"
	"govkiosk/kiosk/config"
)

// Retirer tells the portal the kiosk retires itself
// (backendclient.Client is the real one).
type Retirer interface {
	Decommission(ctx context.Context, at time.Time, technicianCode string) error
}

// ErrUndelivered refuses a decommission while applications wait in the
// outbox: wiping the kiosk would lose them.
type ErrUndelivered struct{ N int }

// Undelivered is how many applications wait.
func (e ErrUndelivered) Undelivered() int { return e.N }

func (e ErrUndelivered) Error() string {
	if e.N == 1 {
		return "1 application is not yet delivered; wait for it or call support"
	}
	return fmt.Sprintf("%d applications are not yet delivered; wait for them or call support", e.N)
}

// ErrPortalUnreachable is a decommission the portal did not confirm:
// nothing was wiped.
var ErrPortalUnreachable = errors.New("the portal could not be reached to retire this kiosk; nothing was wiped")

// DecommissionOptions are what Decommission needs.
type DecommissionOptions struct {
	Config config.Config // the kiosk's kiosk.json
	Portal Retirer       // nil only with Offline
	// Undelivered counts the applications not yet accepted by the portal
	// (outbox.Backlog).
	Undelivered func() (int, error)
	// Offline wipes even when the portal cannot be reached (kioskctl
	// --offline): the fleet must then retire the kiosk.
	Offline        bool
	TechnicianCode string // id of the code that opened service mode, for the portal's audit log
	Now            func() time.Time
}

// Decommission retires the kiosk: refused while anything is undelivered;
// then the portal is told, and only once it confirmed are the identity
// and the kiosk's data wiped (Wipe). A portal that cannot be reached gives
// ErrPortalUnreachable and wipes nothing, unless Offline: then the kiosk
// is wiped all the same and told reports false.
func Decommission(ctx context.Context, o DecommissionOptions) (told bool, err error) {
	if told, err = Retire(ctx, o); err != nil {
		return false, err
	}
	return told, Wipe(o.Config)
}

// Retire is Decommission without the wipe, for a running kiosk that wipes
// once its parts are closed: the same refusals, and the portal told.
func Retire(ctx context.Context, o DecommissionOptions) (told bool, err error) {
	if o.Undelivered == nil {
		return false, errors.New("decommission: no outbox to check")
	}
	n, err := o.Undelivered()
	if err != nil {
		return false, fmt.Errorf("decommission: the outbox cannot be read, so nothing is wiped: %w", err)
	}
	if n > 0 {
		return false, ErrUndelivered{N: n}
	}
	if o.Portal == nil {
		return false, errors.New("decommission: no portal client")
	}
	now := o.Now
	if now == nil {
		now = time.Now
	}
	told = true
	if err := o.Portal.Decommission(ctx, now(), o.TechnicianCode); err != nil {
		switch {
		case EnrollFailure(err) != FailUnreachable:
			return false, fmt.Errorf("decommission: the portal refused, nothing was wiped: %w", err)
		case !o.Offline:
			return false, fmt.Errorf("%w: %w", ErrPortalUnreachable, err)
		}
		told = false
	}
	return told, nil
}

// kept are the entries of the data directory a wipe leaves: the installed
// software (kiosk/update's releases, the current link and its state).
var kept = map[string]bool{"releases": true, "current": true, ".current.next": true, "update": true}

// Wipe removes the kiosk's identity and data from its data directory: the
// device key (scrubbed), the certificates, the portal's keys, the outbox,
// the fleet queue, the catalogue and the rest, keeping only the installed
// software. kiosk.json is first rewritten with the device settings alone
// (config.Config.DevicesOnly), so that whatever happens next the kiosk
// starts in setup mode, with its QR reader, and not as the old kiosk.
func Wipe(cfg config.Config) error {
	dir := cfg.DataDir
	if dir == "" {
		return errors.New("wipe: no data directory")
	}
	js, err := json.MarshalIndent(cfg.DevicesOnly(), "", "  ")
	if err != nil {
		return fmt.Errorf("wipe: %w", err)
	}
	if err := atomicfile.Write(filepath.Join(dir, ConfigFile), append(js, '\n'), 0o644); err != nil {
		return fmt.Errorf("wipe: %w", err)
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("wipe: %w", err)
	}
	var errs []error
	for _, e := range ents {
		if e.Name() == ConfigFile || kept[e.Name()] {
			continue
		}
		if err := device.RemoveScrubbed(filepath.Join(dir, e.Name())); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("wipe: %w", err)
	}
	return nil
}
