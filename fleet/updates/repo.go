package updates

import (
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/sigstore/sigstore/pkg/signature"
	"github.com/theupdateframework/go-tuf/v2/metadata"

	"govkiosk/kiosk/atomicfile"
	"govkiosk/kiosk/update"
)

// Keys sign the repository's roles. Root is the offline key: only Create
// and RotateRoot need it, every other operation runs with it absent.
type Keys struct {
	Root      ed25519.PrivateKey
	Targets   ed25519.PrivateKey
	Snapshot  ed25519.PrivateKey
	Timestamp ed25519.PrivateKey
}

// GenerateKeys makes a fresh key for every role.
func GenerateKeys() (Keys, error) {
	var k Keys
	for _, p := range []*ed25519.PrivateKey{&k.Root, &k.Targets, &k.Snapshot, &k.Timestamp} {
		_, priv, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			return Keys{}, err
		}
		*p = priv
	}
	return k, nil
}

// Expiry is how long each role's metadata stays valid after it is signed.
// A kiosk refuses expired metadata, so a repository frozen by an attacker
// stops offering anything after Timestamp.
type Expiry struct {
	Root, Targets, Snapshot, Timestamp time.Duration
}

// DefaultExpiry: the root for a year (re-signed offline), targets for 90
// days, snapshot a week, timestamp a day (re-signed online by a job at
// least daily: RefreshTimestamp).
var DefaultExpiry = Expiry{Root: 365 * 24 * time.Hour, Targets: 90 * 24 * time.Hour, Snapshot: 7 * 24 * time.Hour, Timestamp: 24 * time.Hour}

// Options of a repository.
type Options struct {
	Expiry Expiry           // zero fields take DefaultExpiry's
	Clock  func() time.Time // default time.Now
}

func (o Options) withDefaults() Options {
	d := DefaultExpiry
	for _, p := range []struct{ v, def *time.Duration }{{&o.Expiry.Root, &d.Root}, {&o.Expiry.Targets, &d.Targets}, {&o.Expiry.Snapshot, &d.Snapshot}, {&o.Expiry.Timestamp, &d.Timestamp}} {
		if *p.v <= 0 {
			*p.v = *p.def
		}
	}
	if o.Clock == nil {
		o.Clock = time.Now
	}
	return o
}

// Repo is a TUF repository of release bundles in a directory, laid out as
// a static file server serves it: N.root.json, root.json, N.targets.json,
// N.snapshot.json, timestamp.json and targets/<sha256>.<name> (consistent
// snapshots, so a kiosk reading while a release is published sees one
// whole state). A Repo is not safe for concurrent use; one publisher
// writes a directory.
type Repo struct {
	dir  string
	keys Keys
	opts Options

	root      *metadata.Metadata[metadata.RootType]
	targets   *metadata.Metadata[metadata.TargetsType]
	snapshot  *metadata.Metadata[metadata.SnapshotType]
	timestamp *metadata.Metadata[metadata.TimestampType]
}

// Create makes a new repository in dir (empty or absent) with version 1 of
// every role, signed with keys (all four needed).
func Create(dir string, keys Keys, opts Options) (*Repo, error) {
	if keys.Root == nil || keys.Targets == nil || keys.Snapshot == nil || keys.Timestamp == nil {
		return nil, errors.New("create repository: every role needs a key")
	}
	if ents, err := os.ReadDir(dir); err == nil && len(ents) > 0 {
		return nil, fmt.Errorf("create repository: %s is not empty", dir)
	}
	if err := os.MkdirAll(filepath.Join(dir, "targets"), 0o755); err != nil {
		return nil, fmt.Errorf("create repository: %w", err)
	}
	opts = opts.withDefaults()
	now := opts.Clock()
	r := &Repo{dir: dir, keys: keys, opts: opts}
	r.root = metadata.Root(now.Add(opts.Expiry.Root))
	r.root.Signed.ConsistentSnapshot = true
	for role, k := range map[string]ed25519.PrivateKey{metadata.ROOT: keys.Root, metadata.TARGETS: keys.Targets, metadata.SNAPSHOT: keys.Snapshot, metadata.TIMESTAMP: keys.Timestamp} {
		key, err := metadata.KeyFromPublicKey(k.Public())
		if err != nil {
			return nil, err
		}
		if err := r.root.Signed.AddKey(key, role); err != nil {
			return nil, err
		}
	}
	if err := r.writeRoot(); err != nil {
		return nil, err
	}
	r.targets = metadata.Targets(now.Add(opts.Expiry.Targets))
	r.targets.Signed.Version = 0
	r.snapshot = metadata.Snapshot(now.Add(opts.Expiry.Snapshot))
	r.snapshot.Signed.Version = 0
	r.timestamp = metadata.Timestamp(now.Add(opts.Expiry.Timestamp))
	r.timestamp.Signed.Version = 0
	if err := r.publish(); err != nil {
		return nil, err
	}
	return r, nil
}

// Open reads the repository in dir to publish with the online keys.
func Open(dir string, keys Keys, opts Options) (*Repo, error) {
	r := &Repo{dir: dir, keys: keys, opts: opts.withDefaults()}
	var err error
	if r.root, err = metadata.Root().FromFile(filepath.Join(dir, "root.json")); err != nil {
		return nil, fmt.Errorf("open repository: %w", err)
	}
	if r.timestamp, err = metadata.Timestamp().FromFile(filepath.Join(dir, "timestamp.json")); err != nil {
		return nil, fmt.Errorf("open repository: %w", err)
	}
	sv := r.timestamp.Signed.Meta["snapshot.json"].Version
	if r.snapshot, err = metadata.Snapshot().FromFile(filepath.Join(dir, fmt.Sprintf("%d.snapshot.json", sv))); err != nil {
		return nil, fmt.Errorf("open repository: %w", err)
	}
	tv := r.snapshot.Signed.Meta["targets.json"].Version
	if r.targets, err = metadata.Targets().FromFile(filepath.Join(dir, fmt.Sprintf("%d.targets.json", tv))); err != nil {
		return nil, fmt.Errorf("open repository: %w", err)
	}
	return r, nil
}

// Dir is the directory the repository lives in.
func (r *Repo) Dir() string { return r.dir }

// RootJSON is the current root metadata, what a kiosk pins at provisioning.
func (r *Repo) RootJSON() ([]byte, error) { return os.ReadFile(filepath.Join(r.dir, "root.json")) }

// Handler serves the repository as static files (any static file server
// will do; this one supports the Range requests kiosks resume with).
func (r *Repo) Handler() http.Handler { return http.FileServer(http.Dir(r.dir)) }

// AddRelease copies the bundle at path into the repository as a target
// named update.BundleName(rel.Version, rel.Arch, …) with rel as its custom
// metadata, and publishes new targets, snapshot and timestamp metadata. It
// returns the target name.
func (r *Repo) AddRelease(path string, rel update.Release) (string, error) {
	custom, err := rel.Custom()
	if err != nil {
		return "", fmt.Errorf("add release: %w", err)
	}
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("add release: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(f)
	if err != nil {
		return "", fmt.Errorf("add release: %w", err)
	}
	c := update.Zstd
	if len(data) > 1 && data[0] == 0x1f && data[1] == 0x8b {
		c = update.Gzip
	}
	name := update.BundleName(rel.Version, rel.Arch, c)
	tf, err := metadata.TargetFile().FromBytes(name, data, "sha256")
	if err != nil {
		return "", fmt.Errorf("add release: %w", err)
	}
	tf.Custom = custom
	dst := filepath.Join(r.dir, "targets", hex.EncodeToString(tf.Hashes["sha256"])+"."+name)
	if err := atomicfile.Write(dst, data, 0o644); err != nil {
		return "", fmt.Errorf("add release: %w", err)
	}
	r.targets.Signed.Targets[name] = tf
	return name, r.publish()
}

// Releases are the repository's targets by name with their custom metadata.
func (r *Repo) Releases() map[string]update.Release {
	out := map[string]update.Release{}
	for name, tf := range r.targets.Signed.Targets {
		if rel, err := update.ParseCustom(tf.Custom); err == nil {
			out[name] = rel
		}
	}
	return out
}

// SetRollout replaces the rollout stage of target name (nil: everyone) and
// publishes.
func (r *Repo) SetRollout(name string, ro *update.Rollout) error {
	tf, ok := r.targets.Signed.Targets[name]
	if !ok {
		return fmt.Errorf("set rollout: no target %q (have %v)", name, slices.Sorted(maps.Keys(r.targets.Signed.Targets)))
	}
	rel, err := update.ParseCustom(tf.Custom)
	if err != nil {
		return fmt.Errorf("set rollout %s: %w", name, err)
	}
	rel.Rollout = ro
	if tf.Custom, err = rel.Custom(); err != nil {
		return fmt.Errorf("set rollout %s: %w", name, err)
	}
	return r.publish()
}

// RemoveRelease withdraws target name (its file stays for kiosks mid-way
// through an older snapshot) and publishes.
func (r *Repo) RemoveRelease(name string) error {
	if _, ok := r.targets.Signed.Targets[name]; !ok {
		return fmt.Errorf("remove release: no target %q", name)
	}
	delete(r.targets.Signed.Targets, name)
	return r.publish()
}

// RefreshTimestamp re-signs the timestamp with a new expiry: run it more
// often than Expiry.Timestamp, or kiosks stop trusting the repository.
func (r *Repo) RefreshTimestamp() error {
	now := r.opts.Clock()
	r.timestamp.Signed.Version++
	r.timestamp.Signed.Expires = now.Add(r.opts.Expiry.Timestamp)
	if err := sign(r.timestamp, r.keys.Timestamp); err != nil {
		return err
	}
	return write(r.timestamp, filepath.Join(r.dir, "timestamp.json"))
}

// publish signs and writes a new version of targets, then snapshot, then
// timestamp, in the order a kiosk reading concurrently needs them.
func (r *Repo) publish() error {
	now := r.opts.Clock()
	if r.keys.Targets == nil || r.keys.Snapshot == nil || r.keys.Timestamp == nil {
		return errors.New("publish: the targets, snapshot and timestamp keys are needed")
	}
	r.targets.Signed.Version++
	r.targets.Signed.Expires = now.Add(r.opts.Expiry.Targets)
	if err := sign(r.targets, r.keys.Targets); err != nil {
		return err
	}
	if err := write(r.targets, filepath.Join(r.dir, fmt.Sprintf("%d.targets.json", r.targets.Signed.Version))); err != nil {
		return err
	}
	r.snapshot.Signed.Version++
	r.snapshot.Signed.Expires = now.Add(r.opts.Expiry.Snapshot)
	r.snapshot.Signed.Meta["targets.json"] = metadata.MetaFile(r.targets.Signed.Version)
	if err := sign(r.snapshot, r.keys.Snapshot); err != nil {
		return err
	}
	if err := write(r.snapshot, filepath.Join(r.dir, fmt.Sprintf("%d.snapshot.json", r.snapshot.Signed.Version))); err != nil {
		return err
	}
	r.timestamp.Signed.Meta["snapshot.json"] = metadata.MetaFile(r.snapshot.Signed.Version)
	return r.RefreshTimestamp()
}

// writeRoot signs the root with the root key and writes N.root.json and
// root.json.
func (r *Repo) writeRoot() error {
	if err := sign(r.root, r.keys.Root); err != nil {
		return err
	}
	if err := write(r.root, filepath.Join(r.dir, fmt.Sprintf("%d.root.json", r.root.Signed.Version))); err != nil {
		return err
	}
	return write(r.root, filepath.Join(r.dir, "root.json"))
}

// RotateOnlineKeys replaces the targets, snapshot and timestamp keys (after
// a leak, or on schedule): a new root version, signed by the offline root
// key, names the new keys; kiosks follow it through the chain of roots.
// The repository then re-publishes with the new keys.
func (r *Repo) RotateOnlineKeys(root ed25519.PrivateKey, next Keys) error {
	if root == nil || next.Targets == nil || next.Snapshot == nil || next.Timestamp == nil {
		return errors.New("rotate keys: the root key and three new online keys are needed")
	}
	for role, k := range map[string]ed25519.PrivateKey{metadata.TARGETS: next.Targets, metadata.SNAPSHOT: next.Snapshot, metadata.TIMESTAMP: next.Timestamp} {
		for _, id := range slices.Clone(r.root.Signed.Roles[role].KeyIDs) {
			if err := r.root.Signed.RevokeKey(id, role); err != nil {
				return fmt.Errorf("rotate keys: %w", err)
			}
		}
		key, err := metadata.KeyFromPublicKey(k.Public())
		if err != nil {
			return err
		}
		if err := r.root.Signed.AddKey(key, role); err != nil {
			return fmt.Errorf("rotate keys: %w", err)
		}
	}
	r.root.Signed.Version++
	r.root.Signed.Expires = r.opts.Clock().Add(r.opts.Expiry.Root)
	r.keys = Keys{Root: root, Targets: next.Targets, Snapshot: next.Snapshot, Timestamp: next.Timestamp}
	if err := r.writeRoot(); err != nil {
		return err
	}
	return r.publish()
}

func sign[T metadata.Roles](m *metadata.Metadata[T], key ed25519.PrivateKey) error {
	if key == nil {
		return errors.New("sign: no key")
	}
	s, err := signature.LoadSigner(key, crypto.Hash(0))
	if err != nil {
		return err
	}
	m.ClearSignatures()
	_, err = m.Sign(s)
	return err
}

func write[T metadata.Roles](m *metadata.Metadata[T], path string) error {
	b, err := m.ToBytes(true)
	if err != nil {
		return err
	}
	return atomicfile.Write(path, b, 0o644)
}
