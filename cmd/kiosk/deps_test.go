package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"
)

// The rules of the house about who may import whom (DESIGN.md §3), checked
// on the graph the go command reports, like tailscale's
// cmd/tailscaled/deps_test.go. The production kiosk is this command built
// without the demo tag, so its rule lives here with the others.

const module = "govkiosk"

// pkg is a package as `go list -deps -json` reports it: its direct imports
// and everything it links.
type pkg struct {
	ImportPath string
	Imports    []string
	Deps       []string
	Error      *struct{ Err string }
}

// under tells whether p is the package root or one of its subpackages.
func under(p, root string) bool { return p == root || strings.HasPrefix(p, root+"/") }

// concreteDriver tells a package that talks to hardware (or emulates it)
// from drivers/device, the neutral contract everyone may use.
func concreteDriver(p string) bool {
	return under(p, module+"/drivers") && !under(p, module+"/drivers/device")
}

// demoOnly tells the packages the production kiosk must not link: the
// reference portal and its test identity provider, the emulators, and the
// fleet service (the demo embeds it; a kiosk speaks only fleetwire).
func demoOnly(p string) bool {
	return under(p, module+"/portal") || under(p, module+"/fleet") || strings.HasSuffix(p, "/escposemu") || strings.HasSuffix(p, "/imageremu")
}

// checkLayering applies the module-wide rules to every package of the
// graph and returns one line per broken rule.
func checkLayering(pkgs []pkg) []string {
	var bad []string
	for _, p := range pkgs {
		switch {
		case under(p.ImportPath, module+"/ui"):
			// The screens reach devices only through the controller.
			for _, imp := range p.Imports {
				if under(imp, module+"/drivers") {
					bad = append(bad, fmt.Sprintf("%s imports %s: the UI reaches devices only through govkiosk/kiosk", p.ImportPath, imp))
				}
			}
		case under(p.ImportPath, module+"/drivers"):
			// A driver knows nothing of citizens, sessions, receipts or the portal.
			for _, dep := range p.Deps {
				for _, banned := range []string{"kiosk", "backend-client", "ui", "portal"} {
					if under(dep, module+"/"+banned) {
						bad = append(bad, fmt.Sprintf("%s links %s: a driver must not know the kiosk, the UI or the portal", p.ImportPath, dep))
					}
				}
			}
		case under(p.ImportPath, module+"/kiosk") && !under(p.ImportPath, module+"/kiosk/config"):
			// The controller and its parts see devices as drivers/device
			// interfaces; only kiosk/config, which opens the devices from
			// kiosk.json, names a driver.
			for _, imp := range p.Imports {
				if concreteDriver(imp) {
					bad = append(bad, fmt.Sprintf("%s imports %s: the controller may use only govkiosk/drivers/device", p.ImportPath, imp))
				}
			}
		}
		if under(p.ImportPath, module+"/kiosk") {
			for _, dep := range p.Deps {
				if under(dep, module+"/ui") {
					bad = append(bad, fmt.Sprintf("%s links %s: the controller must not know the UI", p.ImportPath, dep))
				}
			}
		}
	}
	return bad
}

// checkProduction returns what the production kiosk (cmd/kiosk without
// the demo tag) links that only the demo may.
func checkProduction(kiosk pkg) []string {
	var bad []string
	for _, dep := range kiosk.Deps {
		if demoOnly(dep) {
			bad = append(bad, fmt.Sprintf("%s links %s without the demo tag: the production kiosk carries no demo code", kiosk.ImportPath, dep))
		}
	}
	return bad
}

// goList runs `go list -deps -json` with the build tags given (none: the
// production build) and returns the packages of this module, within a
// deadline: a go command stuck on a lock or the network fails the test
// instead of hanging it.
func goList(t *testing.T, tags string, patterns ...string) map[string]pkg {
	t.Helper()
	goCmd, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command in PATH")
	}
	const bound = 2 * time.Minute
	ctx, cancel := context.WithTimeout(context.Background(), bound)
	defer cancel()
	args := append([]string{"list", "-deps", "-e", "-tags=" + tags, "-json=ImportPath,Imports,Deps,Error"}, patterns...)
	cmd := exec.CommandContext(ctx, goCmd, args...)
	cmd.WaitDelay = 5 * time.Second
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if ctx.Err() != nil {
		t.Fatalf("go %s did not finish within %v; stderr:\n%s", strings.Join(args, " "), bound, stderr.Bytes())
	}
	if err != nil {
		t.Fatalf("go %s: %v; stderr:\n%s", strings.Join(args, " "), err, stderr.Bytes())
	}
	pkgs := map[string]pkg{}
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p pkg
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("decoding go list output: %v", err)
		}
		if !under(p.ImportPath, module) {
			continue
		}
		if p.Error != nil {
			t.Fatalf("go list: %s: %s", p.ImportPath, p.Error.Err)
		}
		pkgs[p.ImportPath] = p
	}
	return pkgs
}

func TestLayering(t *testing.T) {
	graph := goList(t, "", module+"/...")
	// Guard against a vacuous pass: the graph has the packages the rules name.
	for _, want := range []string{"ui", "kiosk", "drivers/device", "drivers/printer", "cmd/kiosk"} {
		if _, ok := graph[module+"/"+want]; !ok {
			t.Fatalf("go list reported no %s/%s; the rules would check nothing", module, want)
		}
	}
	var pkgs []pkg
	for _, p := range graph {
		pkgs = append(pkgs, p)
	}
	slices.SortFunc(pkgs, func(a, b pkg) int { return strings.Compare(a.ImportPath, b.ImportPath) })
	for _, b := range checkLayering(pkgs) {
		t.Error(b)
	}
}

func TestProductionLinksNoDemo(t *testing.T) {
	prod := goList(t, "", module+"/cmd/kiosk")[module+"/cmd/kiosk"]
	for _, b := range checkProduction(prod) {
		t.Error(b)
	}
	// The same check on the demo build must see the demo: otherwise the tag
	// is not what keeps it out and the check above proves nothing.
	demo := goList(t, "demo", module+"/cmd/kiosk")[module+"/cmd/kiosk"]
	if len(checkProduction(demo)) == 0 {
		t.Errorf("%s built with -tags demo links no demo package; the production check is vacuous", demo.ImportPath)
	}
}

// TestLayeringRulesFire feeds the checkers graphs that break each rule, so
// a rule that can no longer fail is noticed.
func TestLayeringRulesFire(t *testing.T) {
	m := func(s string) string { return module + "/" + s }
	for _, tc := range []struct {
		name string
		pkgs []pkg
		want string // in the one reported line; "" for a graph that keeps the rules
	}{
		{"clean", []pkg{
			{ImportPath: m("ui"), Imports: []string{m("kiosk")}, Deps: []string{m("kiosk"), m("drivers/device")}},
			{ImportPath: m("kiosk"), Imports: []string{m("drivers/device"), m("kiosk/receipt")}, Deps: []string{m("drivers/device"), m("kiosk/receipt")}},
			{ImportPath: m("kiosk/config"), Imports: []string{m("drivers/sensors"), m("kiosk")}, Deps: []string{m("drivers/sensors"), m("drivers/device")}},
			{ImportPath: m("drivers/printer"), Imports: []string{m("drivers/device")}, Deps: []string{m("drivers/device")}},
		}, ""},
		{"ui imports a driver", []pkg{
			{ImportPath: m("ui"), Imports: []string{m("kiosk"), m("drivers/printer")}},
		}, "govkiosk/ui imports govkiosk/drivers/printer"},
		{"ui subpackage imports the device contract", []pkg{
			{ImportPath: m("ui/keyboard"), Imports: []string{m("drivers/device")}},
		}, "govkiosk/ui/keyboard imports govkiosk/drivers/device"},
		{"driver imports the controller", []pkg{
			{ImportPath: m("drivers/scanner"), Imports: []string{m("kiosk/document")}, Deps: []string{m("drivers/device"), m("kiosk/document")}},
		}, "govkiosk/drivers/scanner links govkiosk/kiosk/document"},
		{"emulator links the portal", []pkg{
			{ImportPath: m("drivers/printer/escposemu"), Deps: []string{m("portal/idp")}},
		}, "govkiosk/drivers/printer/escposemu links govkiosk/portal/idp"},
		{"driver links the backend client", []pkg{
			{ImportPath: m("drivers/device"), Deps: []string{m("backend-client/api")}},
		}, "govkiosk/drivers/device links govkiosk/backend-client/api"},
		{"driver links the UI", []pkg{
			{ImportPath: m("drivers/display"), Deps: []string{m("ui")}},
		}, "govkiosk/drivers/display links govkiosk/ui"},
		{"controller imports a concrete driver", []pkg{
			{ImportPath: m("kiosk"), Imports: []string{m("drivers/device"), m("drivers/sensors")}},
		}, "govkiosk/kiosk imports govkiosk/drivers/sensors"},
		{"controller subpackage imports a concrete driver", []pkg{
			{ImportPath: m("kiosk/health"), Imports: []string{m("drivers/sensors")}},
		}, "govkiosk/kiosk/health imports govkiosk/drivers/sensors"},
		{"controller subpackage links the UI", []pkg{
			{ImportPath: m("kiosk/outbox"), Deps: []string{m("ui")}},
		}, "govkiosk/kiosk/outbox links govkiosk/ui"},
		{"kioskish names are not the kiosk", []pkg{
			{ImportPath: m("drivers/printer"), Deps: []string{m("kioskctl"), m("uikit"), m("portals")}},
		}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := checkLayering(tc.pkgs)
			switch {
			case tc.want == "" && len(got) != 0:
				t.Errorf("a graph that keeps the rules was refused: %q", got)
			case tc.want != "" && (len(got) != 1 || !strings.Contains(got[0], tc.want)):
				t.Errorf("got %q, want one line naming %q", got, tc.want)
			}
		})
	}

	for _, tc := range []struct {
		dep  string
		want bool
	}{
		{m("portal"), true},
		{m("portal/idp"), true},
		{m("drivers/printer/escposemu"), true},
		{m("drivers/qrreader/imageremu"), true},
		{m("drivers/printer"), false},
		{m("portalclient"), false},
		{"github.com/chromedp/chromedp", false},
	} {
		got := checkProduction(pkg{ImportPath: m("cmd/kiosk"), Deps: []string{m("kiosk"), tc.dep}})
		if (len(got) == 1) != tc.want {
			t.Errorf("production kiosk linking %s: got %q, want refused=%v", tc.dep, got, tc.want)
		}
	}
}
