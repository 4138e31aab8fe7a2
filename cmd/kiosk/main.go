// Command kiosk runs the govkiosk citizen kiosk: the touch UI on loopback,
// the devices, the outbox and the health reporting. With --demo it brings
// its own simulated devices and an embedded reference portal.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "kiosk:", err)
		os.Exit(1)
	}
}
