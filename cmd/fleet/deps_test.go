package main

import (
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// The fleet service and its packages never link the reference portal:
// they speak to a portal only through its API (backend-client/api,
// backend-client/portaladmin). Their tests may start it.
func TestFleetLinksNoPortal(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, "go", "list", "-deps", "govkiosk/cmd/fleet", "govkiosk/fleet/...").CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps: %v\n%s", err, out)
	}
	for _, p := range strings.Fields(string(out)) {
		if p == "govkiosk/portal" || strings.HasPrefix(p, "govkiosk/portal/") {
			t.Errorf("cmd/fleet or fleet/... links %s", p)
		}
	}
}
