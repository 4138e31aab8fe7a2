//go:build !demo

package main

import (
	"context"
	"errors"
	"log/slog"
)

// The production kiosk links neither the reference portal nor the device
// emulators: the demo (demo.go) is built only with -tags demo.
var errNoDemo = errors.New("this kiosk binary was built without the demo; build with `make demo`")

func openDemo(context.Context, demoOptions, *slog.Logger) (demoWorld, error) {
	return demoWorld{}, errNoDemo
}
