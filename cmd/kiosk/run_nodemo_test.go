//go:build !demo

package main

import (
	"os/exec"
	"strings"
	"testing"
	"time"
)

func TestProductionBinaryRefusesDemo(t *testing.T) {
	code, stderr, _ := runKiosk(t, 20*time.Second, "--demo", "--data", t.TempDir())
	wantStartFailure(t, code, stderr, "built without the demo", "make demo")
}

// The production kiosk links neither the reference portal (nor its test
// identity provider) nor the device emulators.
func TestProductionBinaryLinksNoDemo(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps: %v\n%s", err, out)
	}
	for _, pkg := range strings.Fields(string(out)) {
		if strings.HasPrefix(pkg, "govkiosk/portal") || strings.Contains(pkg, "escposemu") || strings.Contains(pkg, "imageremu") {
			t.Errorf("cmd/kiosk links %s", pkg)
		}
	}
}
