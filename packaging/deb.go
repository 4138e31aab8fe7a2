// Package packaging is the govkiosk appliance: the Debian package
// definition (built with nfpm), the systemd units, the udev rules, the
// Chromium managed policy and the touchscreen's PAM session. The files
// themselves live beside this one; packaging/README.md says where each is
// installed and how the release layout works.
package packaging

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/goreleaser/nfpm/v2"
	"github.com/goreleaser/nfpm/v2/deb"
	"github.com/goreleaser/nfpm/v2/files"
)

// Install paths shared with the updater (see README.md).
const (
	// FactoryDir holds the binaries the package ships.
	FactoryDir = "/usr/lib/govkiosk/factory"
	// CurrentLink is the stable path the units start through: a packaged
	// symlink to DataCurrentLink.
	CurrentLink = "/usr/lib/govkiosk/current"
	// DataDir is the kiosk's data directory (0700, user govkiosk).
	DataDir = "/var/lib/govkiosk"
	// DataCurrentLink points at the release to run: FactoryDir after an
	// install of the package, ReleasesDir/VERSION after an update.
	DataCurrentLink = DataDir + "/current"
	// ReleasesDir holds the releases the updater installs.
	ReleasesDir = DataDir + "/releases"
	// PolicyPath is where Chromium reads the managed policy.
	PolicyPath = "/etc/chromium/policies/managed/govkiosk.json"
)

// Depends are the Debian packages the kiosk needs on the appliance.
var Depends = []string{
	"adduser", "systemd", "udev", "acl", "dbus", "libpam-systemd",
	"sane-utils", "libsane1", "chromium", "cage", "fonts-noto-core",
}

// Options say what to package.
type Options struct {
	Version string // a Debian version (DebVersion turns git describe into one)
	Arch    string // Debian architecture: amd64, arm64
	// Kiosk and Kioskctl are the built binaries (the production kiosk,
	// without the demo).
	Kiosk, Kioskctl string
	// Src is this package's directory (units, rules, policy, scripts).
	Src string
	// MTime stamps every file, for reproducible packages.
	MTime time.Time
}

func (o Options) validate() error {
	var errs []error
	if o.Version == "" || !debVersion.MatchString(o.Version) {
		errs = append(errs, fmt.Errorf("version %q is not a Debian version (digits first, then [0-9A-Za-z.+~-])", o.Version))
	}
	if o.Arch == "" {
		errs = append(errs, errors.New("no architecture"))
	}
	for name, p := range map[string]string{"kiosk": o.Kiosk, "kioskctl": o.Kioskctl} {
		if st, err := os.Stat(p); err != nil {
			errs = append(errs, fmt.Errorf("%s binary: %w", name, err))
		} else if st.Mode()&0o111 == 0 {
			errs = append(errs, fmt.Errorf("%s binary %s is not executable", name, p))
		}
	}
	if _, err := os.Stat(filepath.Join(o.Src, "systemd", "govkiosk.service")); err != nil {
		errs = append(errs, fmt.Errorf("packaging sources: %w", err))
	}
	return errors.Join(errs...)
}

var debVersion = regexp.MustCompile(`^[0-9][0-9A-Za-z.+~-]*$`)

// FileName is the package's conventional name: govkiosk_VERSION_ARCH.deb.
func FileName(version, arch string) string {
	return "govkiosk_" + version + "_" + arch + ".deb"
}

// DebVersion turns `git describe --tags --always --dirty` output into a
// Debian version that sorts after the tag it counts from: v1.2.0 → 1.2.0,
// v1.2.0-5-gabc1234 → 1.2.0+git5.gabc1234, a bare hash (no tag yet) →
// 0.0.0+gitN.gHASH with N the commit count, and -dirty → +dirty.
func DebVersion(describe string, commits int) (string, error) {
	d := strings.TrimSpace(describe)
	dirty := strings.HasSuffix(d, "-dirty")
	d = strings.TrimSuffix(d, "-dirty")
	var v string
	switch m := describeRE.FindStringSubmatch(d); {
	case hashRE.MatchString(d): // no tag yet (tags are vMAJOR.MINOR.PATCH)
		v = fmt.Sprintf("0.0.0+git%d.g%s", commits, d)
	case m != nil && m[2] == "":
		v = m[1]
	case m != nil:
		v = m[1] + "+git" + m[2] + ".g" + m[3]
	default:
		return "", fmt.Errorf("cannot make a Debian version of %q (tag releases vMAJOR.MINOR.PATCH)", describe)
	}
	if dirty {
		v += "+dirty"
	}
	return v, nil
}

var (
	describeRE = regexp.MustCompile(`^v?([0-9][0-9A-Za-z.~]*)(?:-([0-9]+)-g([0-9a-f]+))?$`)
	hashRE     = regexp.MustCompile(`^[0-9a-f]{4,40}$`)
)

// Info is the package definition.
func Info(o Options) *nfpm.Info {
	src := func(p ...string) string { return filepath.Join(append([]string{o.Src}, p...)...) }
	mode := func(m os.FileMode) *files.ContentFileInfo {
		return &files.ContentFileInfo{Mode: m, Owner: "root", Group: "root", MTime: o.MTime}
	}
	contents := files.Contents{
		// Binaries: the factory release, started through the current link.
		{Source: o.Kiosk, Destination: FactoryDir + "/kiosk", FileInfo: mode(0o755)},
		{Source: o.Kioskctl, Destination: FactoryDir + "/kioskctl", FileInfo: mode(0o755)},
		{Source: DataCurrentLink, Destination: CurrentLink, Type: files.TypeSymlink},
		{Source: CurrentLink + "/kioskctl", Destination: "/usr/bin/kioskctl", Type: files.TypeSymlink},
		// Supervision and devices.
		{Source: src("systemd", "govkiosk.service"), Destination: "/lib/systemd/system/govkiosk.service", FileInfo: mode(0o644)},
		{Source: src("systemd", "govkiosk-browser.service"), Destination: "/lib/systemd/system/govkiosk-browser.service", FileInfo: mode(0o644)},
		{Source: src("udev", "70-govkiosk.rules"), Destination: "/lib/udev/rules.d/70-govkiosk.rules", FileInfo: mode(0o644)},
		// The screen: the policy (copied to PolicyPath by postinst,
		// completed by `kioskctl chromium-policy`) and the touchscreen's
		// PAM session.
		{Source: src("chromium", "govkiosk.json"), Destination: "/usr/share/govkiosk/chromium/govkiosk.json", FileInfo: mode(0o644)},
		{Source: src("pam", "govkiosk-browser"), Destination: "/etc/pam.d/govkiosk-browser", Type: files.TypeConfig, FileInfo: mode(0o644)},
		// Configuration and data.
		{Source: src("etc", "govkiosk.env"), Destination: "/etc/govkiosk/govkiosk.env", Type: files.TypeConfigNoReplace, FileInfo: mode(0o644)},
		{Destination: "/etc/govkiosk", Type: files.TypeDir, FileInfo: mode(0o755)},
		{Destination: DataDir, Type: files.TypeDir, FileInfo: mode(0o700)},
		{Source: src("README.md"), Destination: "/usr/share/doc/govkiosk/README.md", FileInfo: mode(0o644)},
	}
	info := &nfpm.Info{
		Name:          "govkiosk",
		Arch:          o.Arch,
		Platform:      "linux",
		Version:       o.Version,
		VersionSchema: "none",
		Section:       "misc",
		Priority:      "optional",
		Maintainer:    "govkiosk maintainers <govkiosk@localhost>",
		Description: "Self-service public-service kiosk\n" +
			"Drives the kiosk's touchscreen, document scanner, receipt printer and QR\n" +
			"reader, logs citizens in with the national digital ID and submits their\n" +
			"applications to the national portal. Includes the locked-down Chromium\n" +
			"touchscreen (cage), systemd supervision and udev rules.",
		Vendor:   "govkiosk",
		Homepage: "https://localhost/govkiosk",
		License:  "Proprietary",
		MTime:    o.MTime,
		Overridables: nfpm.Overridables{
			Depends:  Depends,
			Contents: contents,
			Umask:    0o022,
			Scripts: nfpm.Scripts{
				PreInstall:  src("scripts", "preinst"),
				PostInstall: src("scripts", "postinst"),
				PreRemove:   src("scripts", "prerm"),
				PostRemove:  src("scripts", "postrm"),
			},
			Deb: nfpm.Deb{Compression: "xz"},
		},
	}
	return info
}

// Build writes the package to w.
func Build(o Options, w io.Writer) error {
	if err := o.validate(); err != nil {
		return err
	}
	info := nfpm.WithDefaults(Info(o))
	if err := nfpm.PrepareForPackager(info, "deb"); err != nil {
		return fmt.Errorf("package definition: %w", err)
	}
	if err := deb.Default.Package(info, w); err != nil {
		return fmt.Errorf("build the package: %w", err)
	}
	return nil
}

// BuildFile writes the package into dir under FileName and returns its path.
// A failed build leaves no file behind.
func BuildFile(o Options, dir string) (string, error) {
	path := filepath.Join(dir, FileName(o.Version, o.Arch))
	f, err := os.CreateTemp(dir, ".govkiosk-*.deb")
	if err != nil {
		return "", err
	}
	defer os.Remove(f.Name()) // after the rename, a no-op
	if err := Build(o, f); err != nil {
		f.Close()
		return "", err
	}
	if err := f.Close(); err != nil {
		return "", err
	}
	if err := os.Chmod(f.Name(), 0o644); err != nil {
		return "", err
	}
	return path, os.Rename(f.Name(), path)
}
