// Command mkdeb builds the govkiosk Debian package from built binaries:
//
//	go run ./packaging/mkdeb --version 1.2.0 --arch amd64 --kiosk bin/production/kiosk \
//	    --kioskctl bin/production/kioskctl --out bin
//
// `make deb` runs it with the version from git describe (or a VERSION file).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"govkiosk/packaging"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "mkdeb:", err)
		os.Exit(1)
	}
}

func run(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("mkdeb", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		version  = fs.String("version", "", "Debian version (e.g. 1.2.0); or give --describe")
		describe = fs.String("describe", "", "`git describe --tags --always --dirty` output, made into a Debian version")
		commits  = fs.String("commits", "0", "commit count, for a describe without a tag")
		arch     = fs.String("arch", runtime.GOARCH, "Debian architecture (amd64, arm64)")
		kiosk    = fs.String("kiosk", "bin/production/kiosk", "the production kiosk binary")
		kioskctl = fs.String("kioskctl", "bin/production/kioskctl", "the kioskctl binary")
		src      = fs.String("src", "packaging", "the packaging directory (units, rules, policy, scripts)")
		out      = fs.String("out", "bin", "directory to write govkiosk_VERSION_ARCH.deb into")
		mtime    = fs.String("mtime", "", "timestamp for every file, Unix seconds (default $SOURCE_DATE_EPOCH, else now)")
		printV   = fs.Bool("print-version", false, "print the Debian version and build nothing")
	)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	v := strings.TrimSpace(*version)
	switch {
	case v != "" && *describe != "":
		return errors.New("give --version or --describe, not both")
	case v == "" && *describe == "":
		return errors.New("give --version or --describe")
	case v == "":
		n, err := strconv.Atoi(strings.TrimSpace(*commits))
		if err != nil {
			return fmt.Errorf("--commits: %w", err)
		}
		if v, err = packaging.DebVersion(*describe, n); err != nil {
			return err
		}
	}
	if *printV {
		_, err := fmt.Fprintln(stdout, v)
		return err
	}
	stamp := time.Now()
	if s := *mtime; s != "" || os.Getenv("SOURCE_DATE_EPOCH") != "" {
		if s == "" {
			s = os.Getenv("SOURCE_DATE_EPOCH")
		}
		sec, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return fmt.Errorf("--mtime/SOURCE_DATE_EPOCH %q: %w", s, err)
		}
		stamp = time.Unix(sec, 0)
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return err
	}
	path, err := packaging.BuildFile(packaging.Options{
		Version: v, Arch: *arch, Kiosk: *kiosk, Kioskctl: *kioskctl, Src: *src, MTime: stamp.UTC(),
	}, *out)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, path)
	return nil
}
