// Command gen writes the scan test set: one PNG per page and expected.json
// with every page's spec and answers.
//
//	go run ./testdata/scans/gen [-dpi 300] [-seed 1] [-out DIR]
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"

	"govkiosk/kiosk/document/pipeline/scangen"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("gen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dpi := fs.Int("dpi", 300, "scan resolution")
	seed := fs.Uint64("seed", 1, "seed of the artefacts")
	out := fs.String("out", "testdata/scans/out", "directory to write the set into")
	if err := fs.Parse(args); err != nil {
		return err
	}
	g := &scangen.Generator{DPI: *dpi, Seed: *seed}
	samples, err := g.Generate(ctx, scangen.Set())
	if err != nil {
		return err
	}
	if err := scangen.Write(*out, samples); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%d pages in %s\n", len(samples), *out)
	return nil
}
