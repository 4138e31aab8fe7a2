package packaging

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

const rulesFile = "70-govkiosk.rules"

// needRoot fails (never skips) a test that needs a private mount namespace:
// CI runs as root.
func needRoot(t *testing.T, why string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatalf("this test must run as root (CI does): %s", why)
	}
}

// udevadmTest has udev's own rules parser read files (udevadm 252 has no
// `verify`; `udevadm test` loads every rules file and reports what it
// cannot use). The files are bind-mounted over /etc/udev/rules.d in a
// private mount namespace, so the machine's rules are untouched. It
// returns the lines udevadm printed about the given files.
func udevadmTest(t *testing.T, files map[string]string) []string {
	t.Helper()
	needRoot(t, "udevadm test reads the rules from /etc/udev/rules.d, mounted privately")
	udevadm := need(t, "udevadm", "udev")
	unshare := need(t, "unshare", "util-linux")
	dir := t.TempDir()
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// /sys/class/mem/null exists on every Linux machine: the device only
	// drives udevadm through the rules.
	out, err := exec.Command(unshare, "--mount", "--propagation", "private", "sh", "-c",
		`mount --bind "$1" /etc/udev/rules.d && exec "$2" test --action=add /sys/class/mem/null`,
		"sh", dir, udevadm).CombinedOutput()
	if err != nil {
		t.Fatalf("udevadm test: %v\n%s", err, out)
	}
	read := 0
	var findings []string
	for _, l := range strings.Split(string(out), "\n") {
		for name := range files {
			p := "/etc/udev/rules.d/" + name
			switch {
			case strings.HasPrefix(l, "Reading rules file: "+p):
				read++
			case strings.HasPrefix(l, p+":"):
				findings = append(findings, strings.TrimPrefix(l, "/etc/udev/rules.d/"))
			}
		}
	}
	if read != len(files) {
		t.Fatalf("udevadm read %d of the %d rules files:\n%s", read, len(files), out)
	}
	return findings
}

// TestUdevRulesParse: udev accepts every line of the shipped rules. The
// gpio group is created by the package's preinst, so udev not knowing it
// on a machine without the package is expected.
func TestUdevRulesParse(t *testing.T) {
	t.Parallel()
	rules, err := os.ReadFile(filepath.Join("udev", rulesFile))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range udevadmTest(t, map[string]string{rulesFile: string(rules)}) {
		if strings.Contains(f, "Unknown group 'gpio'") {
			continue
		}
		t.Errorf("udev: %s", f)
	}
}

// TestUdevadmCatchesErrors: the check above would see a broken rule.
func TestUdevadmCatchesErrors(t *testing.T) {
	t.Parallel()
	findings := udevadmTest(t, map[string]string{"71-broken.rules": `SUBSYSTEM=="tty", ATTRS{idVendor}=="0c2e", SYMLNK+="govkiosk-qr"` + "\n"})
	if len(findings) == 0 || !strings.Contains(strings.Join(findings, "\n"), "SYMLNK") {
		t.Errorf("udevadm said nothing of a misspelt key: %q", findings)
	}
}

// TestUdevRulesNames: the rules give the names kiosk.json uses, only to
// documented devices, with group permissions only.
func TestUdevRulesNames(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile(filepath.Join("udev", rulesFile))
	if err != nil {
		t.Fatal(err)
	}
	text := string(b)
	for _, name := range []string{"govkiosk-printer", "govkiosk-qr", "govkiosk-scanner"} {
		if !strings.Contains(text, `SYMLINK+="`+name+`"`) {
			t.Errorf("no rule names /dev/%s", name)
		}
	}
	vendor := regexp.MustCompile(`ATTRS?\{idVendor\}=="([0-9a-f]{4})"`)
	product := regexp.MustCompile(`ATTRS?\{idProduct\}=="([0-9a-f]{4})"`)
	symlink := regexp.MustCompile(`SYMLINK\+="([^"]+)"`)
	mode := regexp.MustCompile(`MODE="([0-7]+)"`)
	for i, l := range strings.Split(text, "\n") {
		if l == "" || l[0] == '#' {
			continue
		}
		if m := symlink.FindStringSubmatch(l); m != nil {
			if !strings.HasPrefix(m[1], "govkiosk-") {
				t.Errorf("line %d names /dev/%s: the kiosk's names start govkiosk-", i+1, m[1])
			}
			v := vendor.FindStringSubmatch(l)
			if v == nil {
				t.Errorf("line %d names a device without matching its USB vendor: %s", i+1, l)
				continue
			}
			id := v[1] + ":*"
			if p := product.FindStringSubmatch(l); p != nil {
				id = v[1] + ":" + p[1]
			}
			if !strings.Contains(text, "#   "+id) {
				t.Errorf("line %d: %s is not documented in a comment (#   %s  model)", i+1, id, id)
			}
		}
		if m := mode.FindStringSubmatch(l); m != nil && m[1] != "0660" {
			t.Errorf("line %d: MODE=%s, want 0660 (owner and group only)", i+1, m[1])
		}
	}
}
