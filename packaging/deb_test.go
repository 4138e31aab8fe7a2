package packaging

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// need is the path of a Debian tool the tests run; CI installs them all
// (make deps), so a missing one fails the test rather than skipping it.
func need(t *testing.T, bin, pkg string) string {
	t.Helper()
	p, err := exec.LookPath(bin)
	if err != nil {
		t.Fatalf("%s not found: install the Debian package %s (make deps does)", bin, pkg)
	}
	return p
}

// buildTestDeb builds the package into a temporary directory. The binaries
// are small executables standing in for the kiosk and kioskctl: what is
// tested is the package around them (`make deb` packages the real ones).
func buildTestDeb(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for _, name := range []string{"kiosk", "kioskctl"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("#!/bin/sh\necho "+name+"\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	path, err := BuildFile(Options{
		Version: "1.2.3+git4.gabcdef0", Arch: "amd64",
		Kiosk: filepath.Join(dir, "kiosk"), Kioskctl: filepath.Join(dir, "kioskctl"),
		Src: ".", MTime: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
	}, dir)
	if err != nil {
		t.Fatalf("build the package: %v", err)
	}
	if filepath.Base(path) != "govkiosk_1.2.3+git4.gabcdef0_amd64.deb" {
		t.Errorf("package file %s, want govkiosk_VERSION_ARCH.deb", filepath.Base(path))
	}
	return path
}

func dpkgDeb(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command(need(t, "dpkg-deb", "dpkg"), args...).CombinedOutput()
	if err != nil {
		t.Fatalf("dpkg-deb %v: %v\n%s", args, err, out)
	}
	return string(out)
}

// entry is one line of `dpkg-deb -c`.
type entry struct{ mode, owner, target string }

// TestPackageContents builds the package and reads it back with dpkg-deb:
// every file where the units, the updater and the README expect it, with
// its permissions, the dependencies, the maintainer scripts.
func TestPackageContents(t *testing.T) {
	t.Parallel()
	deb := buildTestDeb(t)

	entries := map[string]entry{}
	sc := bufio.NewScanner(strings.NewReader(dpkgDeb(t, "-c", deb)))
	line := regexp.MustCompile(`^(\S+) (\S+)\s+\d+ \S+ \S+ \./(\S*?)/?(?: -> (\S+))?$`)
	for sc.Scan() {
		m := line.FindStringSubmatch(sc.Text())
		if m == nil {
			t.Fatalf("cannot read dpkg-deb -c line %q", sc.Text())
		}
		entries["/"+m[3]] = entry{mode: m[1], owner: m[2], target: m[4]}
	}
	want := map[string]entry{
		"/usr/lib/govkiosk/factory/kiosk":              {mode: "-rwxr-xr-x", owner: "root/root"},
		"/usr/lib/govkiosk/factory/kioskctl":           {mode: "-rwxr-xr-x", owner: "root/root"},
		"/usr/lib/govkiosk/current":                    {mode: "lrwxrwxrwx", owner: "root/root", target: "/var/lib/govkiosk/current"},
		"/usr/bin/kioskctl":                            {mode: "lrwxrwxrwx", owner: "root/root", target: "/usr/lib/govkiosk/current/kioskctl"},
		"/lib/systemd/system/govkiosk.service":         {mode: "-rw-r--r--", owner: "root/root"},
		"/lib/systemd/system/govkiosk-browser.service": {mode: "-rw-r--r--", owner: "root/root"},
		"/lib/udev/rules.d/70-govkiosk.rules":          {mode: "-rw-r--r--", owner: "root/root"},
		"/usr/share/govkiosk/chromium/govkiosk.json":   {mode: "-rw-r--r--", owner: "root/root"},
		"/etc/pam.d/govkiosk-browser":                  {mode: "-rw-r--r--", owner: "root/root"},
		"/etc/govkiosk":                                {mode: "drwxr-xr-x", owner: "root/root"},
		"/etc/govkiosk/govkiosk.env":                   {mode: "-rw-r--r--", owner: "root/root"},
		"/var/lib/govkiosk":                            {mode: "drwx------", owner: "root/root"}, // postinst hands it to govkiosk
		"/usr/share/doc/govkiosk/README.md":            {mode: "-rw-r--r--", owner: "root/root"},
	}
	for path, w := range want {
		got, ok := entries[path]
		switch {
		case !ok:
			t.Errorf("the package has no %s", path)
		case got.mode[0] != w.mode[0]:
			t.Errorf("%s is %q, want %q", path, got.mode, w.mode)
		case w.mode[0] != 'l' && got.mode != w.mode:
			t.Errorf("%s has mode %s, want %s", path, got.mode, w.mode)
		case got.owner != w.owner:
			t.Errorf("%s is owned by %s, want %s", path, got.owner, w.owner)
		case got.target != w.target:
			t.Errorf("%s links to %q, want %q", path, got.target, w.target)
		}
	}
	for path, e := range entries {
		if e.mode[0] == '-' && e.mode[2] == 'w' && e.mode[5] == 'w' || e.mode[0] != 'l' && e.mode[8] == 'w' {
			t.Errorf("%s is group- or world-writable: %s", path, e.mode)
		}
	}

	ctl := map[string]string{}
	for _, f := range []string{"Package", "Version", "Architecture", "Depends"} {
		ctl[f] = strings.TrimSpace(dpkgDeb(t, "-f", deb, f))
	}
	if ctl["Package"] != "govkiosk" || ctl["Version"] != "1.2.3+git4.gabcdef0" || ctl["Architecture"] != "amd64" {
		t.Errorf("control: %v", ctl)
	}
	deps := strings.Split(ctl["Depends"], ", ")
	for _, d := range []string{"sane-utils", "chromium", "cage", "fonts-noto-core", "adduser", "libpam-systemd", "udev", "systemd"} {
		if !slices.Contains(deps, d) {
			t.Errorf("Depends %q lacks %s", ctl["Depends"], d)
		}
	}

	info := dpkgDeb(t, "-I", deb)
	for _, s := range []string{"preinst", "postinst", "prerm", "postrm"} {
		if !regexp.MustCompile(`\*\s+` + s + `\s+#!/bin/sh`).MatchString(info) {
			t.Errorf("no executable %s script in the package:\n%s", s, info)
		}
	}
	ctrl := t.TempDir()
	dpkgDeb(t, "-e", deb, ctrl)
	conffiles, err := os.ReadFile(filepath.Join(ctrl, "conffiles"))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []string{"/etc/govkiosk/govkiosk.env", "/etc/pam.d/govkiosk-browser"} {
		if !slices.Contains(strings.Fields(string(conffiles)), c) {
			t.Errorf("%s is not a conffile (an upgrade would overwrite the technician's edits): %q", c, conffiles)
		}
	}
	for _, s := range []string{"preinst", "postinst", "prerm", "postrm"} {
		if out, err := exec.Command("sh", "-n", filepath.Join(ctrl, s)).CombinedOutput(); err != nil {
			t.Errorf("%s does not parse: %v\n%s", s, err, out)
		}
	}
	post, _ := os.ReadFile(filepath.Join(ctrl, "postinst"))
	for _, s := range []string{"-m 0700 /var/lib/govkiosk", "ln -sfn /usr/lib/govkiosk/factory /var/lib/govkiosk/current.new", "/etc/chromium/policies/managed/govkiosk.json"} {
		if !bytes.Contains(post, []byte(s)) {
			t.Errorf("postinst does not %q", s)
		}
	}
	pre, _ := os.ReadFile(filepath.Join(ctrl, "preinst"))
	for _, s := range []string{"adduser --system", "govkiosk-browser", "dialout lp scanner gpio"} {
		if !bytes.Contains(pre, []byte(s)) {
			t.Errorf("preinst does not %q", s)
		}
	}
}

// TestUnitsVerify runs systemd-analyze verify on the units as the package
// installs them. verify wants every ExecStart binary to exist, and the
// kiosk's is reached through /var/lib/govkiosk/current, which postinst
// creates: the test extracts the package and points the units' release
// path at the extracted factory release (and checks that the path is the
// one the package and postinst make).
func TestUnitsVerify(t *testing.T) {
	t.Parallel()
	analyze := need(t, "systemd-analyze", "systemd")
	need(t, "cage", "cage") // the browser unit's ExecStart
	deb := buildTestDeb(t)
	root := t.TempDir()
	dpkgDeb(t, "-x", deb, root)

	units := t.TempDir()
	var paths []string
	for _, u := range []string{"govkiosk.service", "govkiosk-browser.service"} {
		b, err := os.ReadFile(filepath.Join(root, "lib/systemd/system", u))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Contains(b, []byte("ExecStart="+CurrentLink+"/")) && !bytes.Contains(b, []byte(" "+CurrentLink+"/")) {
			t.Errorf("%s does not start through %s", u, CurrentLink)
		}
		b = bytes.ReplaceAll(b, []byte(CurrentLink+"/"), []byte(filepath.Join(root, FactoryDir)+"/"))
		p := filepath.Join(units, u)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
	}
	cmd := exec.Command(analyze, append([]string{"verify"}, paths...)...)
	cmd.Env = append(os.Environ(), "SYSTEMD_LOG_LEVEL=notice")
	out, err := cmd.CombinedOutput()
	// verify warns (unknown keys, bad values) with exit status 0: any
	// output is a finding.
	if err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
}

// TestVerifyCatchesErrors: the verify step above would see a broken unit
// (a typo in a key, a missing binary), so its silence means something.
func TestVerifyCatchesErrors(t *testing.T) {
	t.Parallel()
	analyze := need(t, "systemd-analyze", "systemd")
	dir := t.TempDir()
	bad := "[Service]\nType=notify\nWatchdogSecc=30s\nExecStart=/bin/true\n"
	p := filepath.Join(dir, "typo.service")
	if err := os.WriteFile(p, []byte(bad), 0o644); err != nil {
		t.Fatal(err)
	}
	out, _ := exec.Command(analyze, "verify", p).CombinedOutput()
	if !bytes.Contains(out, []byte("WatchdogSecc")) {
		t.Errorf("systemd-analyze verify said nothing of an unknown key: %q", out)
	}
}

// unit is a parsed unit file: section → key → values in order.
type unit map[string]map[string][]string

func readUnit(t *testing.T, path string) unit {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	u := unit{}
	sec := ""
	for _, l := range strings.Split(string(b), "\n") {
		l = strings.TrimSpace(l)
		switch {
		case l == "" || l[0] == '#' || l[0] == ';':
		case l[0] == '[':
			sec = strings.Trim(l, "[]")
			u[sec] = map[string][]string{}
		default:
			k, v, ok := strings.Cut(l, "=")
			if !ok || sec == "" {
				t.Fatalf("%s: cannot read %q", path, l)
			}
			u[sec][k] = append(u[sec][k], v)
		}
	}
	return u
}

func (u unit) get(sec, key string) string {
	v := u[sec][key]
	if len(v) == 0 {
		return ""
	}
	return v[len(v)-1]
}

// TestKioskUnitSupervisionAndHardening pins what the kiosk's unit promises:
// notify and watchdog supervision, restarts with a start limit, a stop
// well inside the stop timeout, and the sandbox.
func TestKioskUnitSupervisionAndHardening(t *testing.T) {
	t.Parallel()
	u := readUnit(t, "systemd/govkiosk.service")
	want := map[string]map[string]string{
		"Unit": {"StartLimitIntervalSec": "300", "StartLimitBurst": "5"},
		"Service": {
			"Type": "notify", "NotifyAccess": "main", "WatchdogSec": "30s", "Restart": "on-failure",
			"User": "govkiosk", "ProtectSystem": "strict", "ProtectHome": "yes", "PrivateTmp": "yes",
			"NoNewPrivileges": "yes", "CapabilityBoundingSet": "", "DevicePolicy": "closed",
			"ReadWritePaths": DataDir, "StateDirectory": "govkiosk", "StateDirectoryMode": "0700",
			"RuntimeDirectory": "govkiosk", "UMask": "0077", "TimeoutStopSec": "45s",
		},
	}
	for sec, kv := range want {
		for k, v := range kv {
			if _, ok := u[sec][k]; !ok {
				t.Errorf("[%s] %s is not set", sec, k)
			} else if got := u.get(sec, k); got != v {
				t.Errorf("[%s] %s=%s, want %s", sec, k, got, v)
			}
		}
	}
	for _, d := range u["Service"]["DeviceAllow"] {
		dev := strings.Fields(d)[0]
		if !strings.HasPrefix(dev, "/dev/govkiosk-") && !slices.Contains([]string{"char-ttyUSB", "char-ttyACM", "char-usb", "char-usb_device", "char-gpiochip"}, dev) {
			t.Errorf("DeviceAllow=%s: not one of the kiosk's devices", d)
		}
	}
	if !strings.HasPrefix(u.get("Service", "ExecStart"), CurrentLink+"/kiosk ") {
		t.Errorf("ExecStart=%s does not start %s/kiosk", u.get("Service", "ExecStart"), CurrentLink)
	}
	// The kiosk's own shutdown: four phases of at most 5 s each
	// (cmd/kiosk shutdownTimeout), well inside TimeoutStopSec.
	stop, err := time.ParseDuration(u.get("Service", "TimeoutStopSec"))
	if err != nil || stop < 2*4*5*time.Second {
		t.Errorf("TimeoutStopSec=%s leaves the 20 s shutdown no margin", u.get("Service", "TimeoutStopSec"))
	}
}

// TestBrowserUnit pins the touchscreen's unit: cage as an unprivileged
// user, restarted whenever it dies, profiles on its runtime tmpfs.
func TestBrowserUnit(t *testing.T) {
	t.Parallel()
	u := readUnit(t, "systemd/govkiosk-browser.service")
	exec := u.get("Service", "ExecStart")
	for _, s := range []string{"/usr/bin/cage ", CurrentLink + "/kioskctl browser", "--profiles ${RUNTIME_DIRECTORY}"} {
		if !strings.Contains(exec, s) {
			t.Errorf("ExecStart=%s lacks %q", exec, s)
		}
	}
	for k, v := range map[string]string{
		"User": "govkiosk-browser", "Restart": "always", "RuntimeDirectory": "govkiosk-browser",
		"RuntimeDirectoryMode": "0700", "PAMName": "govkiosk-browser", "NoNewPrivileges": "yes", "PrivateTmp": "yes",
	} {
		if got := u.get("Service", k); got != v {
			t.Errorf("[Service] %s=%q, want %q", k, got, v)
		}
	}
}

func TestDebVersion(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		describe string
		commits  int
		want     string
	}{
		{"v1.2.0", 0, "1.2.0"},
		{"v1.2.0-5-gabc1234", 0, "1.2.0+git5.gabc1234"},
		{"v1.2.0-5-gabc1234-dirty", 0, "1.2.0+git5.gabc1234+dirty"},
		{"1.3.0~rc1", 0, "1.3.0~rc1"},
		{"05d19e4", 154, "0.0.0+git154.g05d19e4"},
		{"05d19e4-dirty\n", 154, "0.0.0+git154.g05d19e4+dirty"},
	} {
		got, err := DebVersion(c.describe, c.commits)
		if err != nil || got != c.want {
			t.Errorf("DebVersion(%q, %d) = %q, %v; want %q", c.describe, c.commits, got, err, c.want)
		}
	}
	for _, bad := range []string{"", "release-one", "v1.2 beta"} {
		if got, err := DebVersion(bad, 1); err == nil {
			t.Errorf("DebVersion(%q) = %q, want an error", bad, got)
		}
	}
	// Debian's own ordering: a build after the tag sorts after it.
	if out, err := exec.Command(need(t, "dpkg", "dpkg"), "--compare-versions", "1.2.0+git5.gabc1234", "gt", "1.2.0").CombinedOutput(); err != nil {
		t.Errorf("1.2.0+git5 does not sort after 1.2.0: %v %s", err, out)
	}
}

func TestBuildRefusesBadInput(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	_, err := BuildFile(Options{Version: "one", Arch: "", Kiosk: filepath.Join(dir, "none"), Kioskctl: filepath.Join(dir, "none"), Src: "."}, dir)
	if err == nil {
		t.Fatal("built a package without binaries")
	}
	for _, s := range []string{`version "one"`, "no architecture", "kiosk binary", "kioskctl binary"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q does not say %q", err, s)
		}
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Errorf("a failed build left %v behind", ents)
	}
}
