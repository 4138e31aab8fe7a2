//go:build !demo

package main

import (
	"testing"
	"time"
)

func TestProductionBinaryRefusesDemo(t *testing.T) {
	code, stderr, _ := runKiosk(t, 20*time.Second, "--demo", "--data", t.TempDir())
	wantStartFailure(t, code, stderr, "built without the demo", "make demo")
}
