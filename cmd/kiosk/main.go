// Command kiosk runs the govkiosk citizen kiosk: the touch UI on loopback,
// the devices, the outbox and the health reporting. Built with -tags demo
// (`make demo`), --demo brings its own simulated devices and an embedded
// reference portal; the production binary links neither.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"

	fleetclient "govkiosk/backend-client/fleet"
	"govkiosk/kiosk/update"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if errors.Is(err, fleetclient.ErrRestart) || errors.Is(err, update.ErrRestart) {
		fmt.Fprintln(os.Stderr, "kiosk: restarting (the fleet asked, or into the release current names)")
		os.Exit(restartExitCode)
	}
	if err != nil && !errors.Is(err, flag.ErrHelp) {
		fmt.Fprintln(os.Stderr, "kiosk:", oneLine(err))
		os.Exit(1)
	}
}

// oneLine is err's message on one line: joined errors (a config with
// several problems) are separated by "; ".
func oneLine(err error) string {
	return strings.Join(strings.FieldsFunc(err.Error(), func(r rune) bool { return r == '\n' }), "; ")
}
