// Command publish keeps the fleet's TUF repository of kiosk releases:
//
//	publish keygen  -keys DIR                       four fresh role keys (move root.key offline)
//	publish init    -keys DIR -repo DIR             a new repository (needs root.key)
//	publish pack    -version V -arch A -o FILE [-gzip] kiosk=PATH kioskctl=PATH …
//	publish add     -keys DIR -repo DIR -bundle FILE -version V -arch A [-min-version V] [-percent P -salt S] [-window 01:00-05:00]
//	publish rollout -keys DIR -repo DIR -target NAME (-percent P [-salt S] [-window W] | -halt | -all)
//	publish timestamp -keys DIR -repo DIR           re-sign the timestamp (run at least daily)
//	publish list    -repo DIR
//	publish serve   -repo DIR -listen ADDR          a static file server for kiosks
//	publish rotate  -keys DIR -repo DIR -new-keys DIR   replace the online keys (needs root.key)
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil && !errors.Is(err, flag.ErrHelp) {
		fmt.Fprintln(os.Stderr, "publish:", err)
		os.Exit(1)
	}
}
