package update

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/theupdateframework/go-tuf/v2/metadata"
	"github.com/theupdateframework/go-tuf/v2/metadata/config"
	"github.com/theupdateframework/go-tuf/v2/metadata/fetcher"
	"github.com/theupdateframework/go-tuf/v2/metadata/updater"
	"golang.org/x/time/rate"

	"govkiosk/kiosk/atomicfile"
)

// ErrNotPinned: the kiosk has no trusted root yet (kioskctl provision pins it).
var ErrNotPinned = errors.New("update: no trusted TUF root pinned")

// Check is one health check a new version must pass before it is committed.
type Check struct {
	Name string
	Run  func(ctx context.Context) error
}

// Options configure an Updater. Root, Version, KioskID and (for Run)
// RepositoryURL are required.
type Options struct {
	Root    string // the layout root, /var/lib/govkiosk on the appliance
	Version string // the running kiosk's version
	Arch    string // default runtime.GOARCH
	KioskID string

	// RepositoryURL is the TUF repository: metadata at RepositoryURL/,
	// bundles under RepositoryURL/targets/.
	RepositoryURL string
	Client        *http.Client // default http.DefaultClient; metadata requests also get MetadataTimeout

	BytesPerSecond int           // download cap; 0: none
	Busy           func() bool   // true while a citizen is in a session: no download, no switch
	Restart        func() error  // asks the supervisor (systemd) to start Current again; default: return ErrRestart
	Checks         []Check       // all must pass within CheckBound for a trial to commit
	CheckBound     time.Duration // default 2 minutes
	MaxBoots       int           // starts of a trial version before it is rolled back unchecked; default 3

	Interval        time.Duration                    // between looks at the repository; default 1 hour
	BusyPoll        time.Duration                    // how often a busy kiosk is asked again; default 30 s
	Stall           time.Duration                    // a download receiving nothing this long is cut; default 1 minute
	MetadataTimeout time.Duration                    // per metadata request; default 30 s
	Backoff         func(failures int) time.Duration // after a failed look or download; default 1 min doubling to 1 h
	Clock           func() time.Time                 // default time.Now; also the reference time for metadata expiry
	Log             *slog.Logger

	fault func(step string) error // crash points for tests
}

func (o Options) withDefaults() (Options, error) {
	var errs []error
	if o.Root == "" {
		errs = append(errs, errors.New("update: no root directory"))
	}
	if !ValidVersion(o.Version) {
		errs = append(errs, fmt.Errorf("update: running version %q is not a semantic version", o.Version))
	}
	if o.KioskID == "" {
		errs = append(errs, errors.New("update: no kiosk id"))
	}
	if o.BytesPerSecond < 0 {
		errs = append(errs, fmt.Errorf("update: bytes per second %d is negative", o.BytesPerSecond))
	}
	if o.Arch == "" {
		o.Arch = runtime.GOARCH
	}
	if o.Client == nil {
		o.Client = http.DefaultClient
	}
	if o.Restart == nil {
		o.Restart = func() error { return ErrRestart }
	}
	if o.CheckBound <= 0 {
		o.CheckBound = 2 * time.Minute
	}
	if o.MaxBoots <= 0 {
		o.MaxBoots = 3
	}
	if o.Interval <= 0 {
		o.Interval = time.Hour
	}
	if o.BusyPoll <= 0 {
		o.BusyPoll = 30 * time.Second
	}
	if o.Stall <= 0 {
		o.Stall = time.Minute
	}
	if o.MetadataTimeout <= 0 {
		o.MetadataTimeout = 30 * time.Second
	}
	if o.Backoff == nil {
		o.Backoff = func(n int) time.Duration {
			d := time.Minute << min(n-1, 6)
			return min(d, time.Hour)
		}
	}
	if o.Clock == nil {
		o.Clock = time.Now
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	return o, errors.Join(errs...)
}

// Updater keeps the kiosk's release current: see the package doc.
type Updater struct {
	opts   Options
	layout Layout

	mu     sync.Mutex
	status string // idle|downloading|installed|committed|rolledBack, as the fleet snapshot takes it
	failed string

	started bool  // Start ran
	start   State // what it left
	rt      Runtime
}

// New checks opts and returns an Updater; it touches no file.
func New(opts Options) (*Updater, error) {
	o, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	return &Updater{opts: o, layout: Layout{Root: o.Root}, status: "idle",
		rt: Runtime{Busy: o.Busy, Client: o.Client, Checks: o.Checks}}, nil
}

// Runtime is what the updater needs of the running kiosk that exists only
// once it is up (the updater itself is made first, so that Start counts a
// trial's start before anything else can fail).
type Runtime struct {
	Busy   func() bool  // as Options.Busy
	Client *http.Client // as Options.Client; nil: keep
	Checks []Check      // as Options.Checks
}

// Wire sets the runtime parts; call it before Run.
func (u *Updater) Wire(rt Runtime) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if rt.Client == nil {
		rt.Client = u.rt.Client
	}
	u.rt = rt
}

func (u *Updater) runtime() Runtime {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.rt
}

// Pin stores the TUF root the kiosk trusts from now on (at provisioning;
// later roots arrive signed by it through the repository).
func Pin(root string, rootJSON []byte) error {
	if _, err := (&metadata.Metadata[metadata.RootType]{}).FromBytes(rootJSON); err != nil {
		return fmt.Errorf("pin TUF root: %w", err)
	}
	l := Layout{Root: root}
	if err := os.MkdirAll(l.metadataDir(), 0o700); err != nil {
		return fmt.Errorf("pin TUF root: %w", err)
	}
	return atomicfile.Write(filepath.Join(l.metadataDir(), "root.json"), rootJSON, 0o600)
}

// UpdateState is the update state for the fleet snapshot and the failed
// version, if the last trial was rolled back.
func (u *Updater) UpdateState() (state, failed string) {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.status, u.failed
}

func (u *Updater) setStatus(s string) {
	u.mu.Lock()
	u.status = s
	u.mu.Unlock()
}

// Offer is a release the repository offers this kiosk, verified by TUF.
type Offer struct {
	Release Release
	target  *metadata.TargetFiles
	url     string
}

// Name is the offer's target name.
func (o *Offer) Name() string { return o.target.Path }

// Look refreshes the trusted metadata from the repository (go-tuf refuses
// tampered, rolled-back and expired metadata) and returns the newest
// release this kiosk may take, or nil when there is none.
func (u *Updater) Look(ctx context.Context) (*Offer, error) {
	if u.opts.RepositoryURL == "" {
		return nil, errors.New("update: no repository URL")
	}
	trusted, err := os.ReadFile(filepath.Join(u.layout.metadataDir(), "root.json"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, ErrNotPinned
	}
	if err != nil {
		return nil, fmt.Errorf("update: %w", err)
	}
	base := strings.TrimSuffix(u.opts.RepositoryURL, "/")
	cfg, err := config.New(base, trusted)
	if err != nil {
		return nil, fmt.Errorf("update: %w", err)
	}
	cfg.LocalMetadataDir = u.layout.metadataDir()
	cfg.LocalTargetsDir = u.layout.downloadDir()
	mc := *u.runtime().Client
	mc.Timeout = u.opts.MetadataTimeout
	f := fetcher.NewDefaultFetcher() // one try per file: Run retries with its own backoff
	f.SetHTTPClient(ctxClient{ctx: ctx, c: &mc})
	cfg.Fetcher = f
	up, err := updater.New(cfg)
	if err != nil {
		return nil, fmt.Errorf("update: trusted root: %w", err)
	}
	up.UnsafeSetRefTime(u.opts.Clock())
	if err := up.Refresh(); err != nil {
		return nil, fmt.Errorf("update: refresh metadata: %w", err)
	}
	_, failed := u.UpdateState()
	consistent := up.GetTrustedMetadataSet().Root.Signed.ConsistentSnapshot
	var best *Offer
	for name, tf := range up.GetTopLevelTargets() {
		rel, err := ParseCustom(tf.Custom)
		if err != nil {
			u.opts.Log.Warn("update: target ignored", "target", name, "err", err)
			continue
		}
		switch {
		case rel.Arch != u.opts.Arch,
			CompareVersions(rel.Version, u.opts.Version) <= 0,
			rel.MinVersion != "" && CompareVersions(u.opts.Version, rel.MinVersion) < 0,
			rel.Version == failed,
			!rel.Rollout.Admits(u.opts.KioskID),
			best != nil && CompareVersions(rel.Version, best.Release.Version) <= 0:
			continue
		}
		remote := url.PathEscape(name)
		if consistent {
			remote = hex.EncodeToString(tf.Hashes["sha256"]) + "." + remote
		}
		best = &Offer{Release: rel, target: tf, url: base + "/targets/" + remote}
	}
	return best, nil
}

// ctxClient ends go-tuf's metadata requests with ctx.
type ctxClient struct {
	ctx context.Context
	c   *http.Client
}

func (c ctxClient) Do(req *http.Request) (*http.Response, error) {
	return c.c.Do(req.WithContext(c.ctx))
}

// Download brings the offer's bundle into the data directory, resuming a
// partial file, within the bandwidth cap, stopping with ErrBusy when a
// citizen starts a session. It returns nil only once the file matches the
// signed length and hashes.
func (u *Updater) Download(ctx context.Context, o *Offer) (string, error) {
	path, err := u.layout.partialPath(o.target)
	if err != nil {
		return "", err
	}
	u.layout.dropPartials(path)
	rt := u.runtime()
	d := &downloader{client: rt.Client, busy: rt.Busy, stall: u.opts.Stall}
	if u.opts.BytesPerSecond > 0 {
		d.limiter = rate.NewLimiter(rate.Limit(u.opts.BytesPerSecond), chunk) // at most one chunk early
	}
	u.setStatus("downloading")
	if err := d.fetch(ctx, o.url, path, o.target); err != nil {
		return "", err
	}
	return path, nil
}

// Install unpacks a verified bundle into releases/<version>, records the
// trial, switches Current to it and asks for a restart. The kiosk that
// starts from the new release finishes the job in Boot.
func (u *Updater) Install(o *Offer, bundle string) error {
	if err := u.layout.unpack(bundle, o.Release); err != nil {
		return err
	}
	st := State{Phase: Pending, Version: u.opts.Version, Trial: o.Release.Version}
	if err := u.layout.writeState(st); err != nil {
		return err
	}
	if err := u.fault("pending"); err != nil {
		return err
	}
	if err := u.layout.switchTo(o.Release.Version, u.opts.fault); err != nil {
		return err
	}
	os.Remove(bundle)
	u.setStatus("installed")
	u.opts.Log.Info("update: installed, restarting", "version", o.Release.Version)
	return u.opts.Restart()
}

func (u *Updater) fault(step string) error {
	if u.opts.fault == nil {
		return nil
	}
	return u.opts.fault(step)
}

// ErrRestart is what Install and a rollback return when no Restart
// function is set: the kiosk must exit so that its supervisor starts
// Current again. Run returns it.
var ErrRestart = errors.New("update: restart into the release current names")

// Start counts this start of a version on trial, first thing at start-up
// before anything else can fail, and rolls the trial back when it has
// started more than MaxBoots times without passing its checks (so a
// version that crashes before it can check itself does not stay). It also
// repairs what a crash left: a half-made link, a switch cut short, a
// rollback whose switch did not happen. Boot calls it when it has not run.
func (u *Updater) Start() (State, error) {
	u.mu.Lock()
	if u.started {
		st := u.start
		u.mu.Unlock()
		return st, nil
	}
	u.started = true
	u.mu.Unlock()
	st, err := u.begin()
	u.mu.Lock()
	u.start = st
	u.mu.Unlock()
	return st, err
}

func (u *Updater) begin() (State, error) {
	l, me := u.layout, u.opts.Version
	st, ok, err := l.ReadState()
	if err != nil {
		return State{}, err
	}
	os.Remove(l.nextLink()) // a switch cut short between link and rename
	if !ok {
		st = State{Phase: Committed, Version: me}
		return st, u.settle(st)
	}
	switch {
	case (st.Phase == Pending || st.Phase == Trial) && st.Trial == me:
		st.Phase, st.Boots = Trial, st.Boots+1
		if err := l.writeState(st); err != nil {
			return st, err
		}
		if st.Boots > u.opts.MaxBoots {
			return u.rollback(st, fmt.Sprintf("started %d times without passing its health check", st.Boots-1))
		}
		u.setStatus("installed")
		return st, nil
	case st.Phase == Pending || st.Phase == Trial:
		// The old version runs: the switch never completed (or the trial
		// version was replaced by hand). Current must name what runs.
		u.opts.Log.Warn("update: trial did not start; staying", "version", me, "trial", st.Trial)
		st = State{Phase: Committed, Version: me}
		return st, u.settle(st)
	case st.Phase == RolledBack && st.Failed == me:
		// A crash between writing the verdict and switching back.
		return u.rollback(st, st.Reason)
	case st.Phase == RolledBack && st.Version == me:
		u.mu.Lock()
		u.status, u.failed = "rolledBack", st.Failed
		u.mu.Unlock()
		return st, nil
	default:
		// Committed, or a version switched by hand: what runs is committed.
		st = State{Phase: Committed, Version: me}
		return st, u.settle(st)
	}
}

// Boot settles the state file for the version now running: after Start,
// it runs the health checks of a version on trial and commits it, or rolls
// it back (switching Current and restarting). It returns the state it left.
// Shutdown during the checks is no verdict: the next start checks again.
func (u *Updater) Boot(ctx context.Context) (State, error) {
	st, err := u.Start()
	if err != nil || st.Phase != Trial {
		return st, err
	}
	if err := u.runChecks(ctx); err != nil {
		if ctx.Err() != nil {
			return st, ctx.Err()
		}
		return u.rollback(st, err.Error())
	}
	st = State{Phase: Committed, Version: u.opts.Version}
	u.opts.Log.Info("update: committed", "version", u.opts.Version)
	return st, u.settle(st)
}

// settle records st and, when Current points elsewhere than the version
// that runs, points it back (a release directory must exist for it).
func (u *Updater) settle(st State) error {
	if err := u.layout.writeState(st); err != nil {
		return err
	}
	u.setStatus(string(st.Phase))
	cur, err := u.layout.CurrentVersion()
	if err != nil {
		return err
	}
	if cur != "" && cur != st.Version {
		if _, err := os.Stat(u.layout.Release(st.Version)); err == nil {
			return u.layout.switchTo(st.Version, nil)
		}
	}
	return nil
}

func (u *Updater) rollback(st State, reason string) (State, error) {
	failed := st.Trial
	if st.Phase == RolledBack {
		failed = st.Failed
	}
	st = State{Phase: RolledBack, Version: st.Version, Failed: failed, Reason: reason}
	u.opts.Log.Error("update: rolling back", "failed", failed, "to", st.Version, "reason", reason)
	if err := u.layout.writeState(st); err != nil {
		return st, err
	}
	if err := u.layout.switchTo(st.Version, u.opts.fault); err != nil {
		return st, err
	}
	u.mu.Lock()
	u.status, u.failed = "rolledBack", failed
	u.mu.Unlock()
	return st, u.opts.Restart()
}

// runChecks runs every check until it passes or CheckBound is over.
func (u *Updater) runChecks(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, u.opts.CheckBound)
	defer cancel()
	for _, c := range u.runtime().Checks {
		var last error
		for {
			if last = c.Run(ctx); last == nil {
				break
			}
			t := time.NewTimer(min(time.Second, u.opts.CheckBound/10))
			select {
			case <-ctx.Done():
				t.Stop()
				if errors.Is(ctx.Err(), context.DeadlineExceeded) {
					return fmt.Errorf("health check %s did not pass within %v: %v", c.Name, u.opts.CheckBound, last)
				}
				return ctx.Err()
			case <-t.C:
			}
		}
	}
	return nil
}

// Run settles the state (Boot), then looks at the repository every
// Interval, downloads what it offers while the kiosk is idle, and installs
// it within the release's maintenance window, until ctx ends. Failures are
// logged and retried after Backoff.
func (u *Updater) Run(ctx context.Context) error {
	if _, err := u.Boot(ctx); errors.Is(err, ErrRestart) {
		return err
	} else if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		u.opts.Log.Error("update: boot", "err", err)
	}
	failures := 0
	for ctx.Err() == nil {
		wait, err := u.step(ctx)
		switch {
		case ctx.Err() != nil:
			return nil
		case errors.Is(err, ErrRestart):
			return err
		case err != nil:
			failures++
			wait = u.opts.Backoff(failures)
			u.opts.Log.Warn("update: attempt failed", "err", err, "retryIn", wait)
		case wait < 0:
			<-ctx.Done() // installed; the supervisor restarts the kiosk
			return nil
		default:
			failures = 0
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
	}
	return nil
}

// step is one attempt: look, download, install. It returns how long to wait
// before the next, or -1 once a release is installed.
func (u *Updater) step(ctx context.Context) (time.Duration, error) {
	o, err := u.Look(ctx)
	if err != nil || o == nil {
		if o == nil && err == nil {
			u.layout.dropPartials("")
		}
		return u.opts.Interval, err
	}
	path, err := u.Download(ctx, o)
	if errors.Is(err, ErrBusy) {
		return u.opts.BusyPoll, nil
	}
	if err != nil {
		return 0, err
	}
	var w *Window
	if o.Release.Rollout != nil {
		w = o.Release.Rollout.Window
	}
	if busy := u.runtime().Busy; !w.Open(u.opts.Clock()) || (busy != nil && busy()) {
		return u.opts.BusyPoll, nil
	}
	if err := u.Install(o, path); err != nil {
		return 0, err
	}
	return -1, nil // installed: nothing more until the restart
}

// Root is the layout root the updater works in.
func (u *Updater) Root() string { return u.opts.Root }
