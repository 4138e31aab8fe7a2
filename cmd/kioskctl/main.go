// Command kioskctl is the field technician's tool: provision a kiosk with
// the portal, self-test its devices, and play the citizen's phone against
// the reference portal's simulator.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "kioskctl:", err)
		os.Exit(1)
	}
}

const usageText = `kioskctl — the field technician's tool for govkiosk

Usage:
  kioskctl provision --portal URL --token-file FILE --ca-fingerprint sha256:HEX --data-dir DIR [--listen 127.0.0.1:8080]
                     [--ops-listen 127.0.0.1:9100] [--printer-port P] [--scanner-device D]
                     [--scanner-config-dir DIR] [--qr-port P] [--door-pin GPIO17] [--led-pin GPIO27]
      Create the device key, enroll with the portal's one-time token, store the
      portal's CA, key and this kiosk's certificate, and write DIR/kiosk.json.
      --token - reads the token from stdin; --token VALUE works, with a
      warning: the process list and the shell history show it.

  kioskctl provision --qr-file FILE --data-dir DIR [device flags as above]
  kioskctl provision --code TEXT|- --data-dir DIR [device flags as above]
      The same from an enrollment code (govkiosk-enroll:?...) the fleet
      console shows: a photo or image of its QR (PNG, JPEG, WebP) or a text
      file (--qr-file), or its text (--code; - reads stdin). The code carries
      the portal, the token, the CA fingerprint and the office, so it does
      not mix with --portal, --token or --ca-fingerprint; a portal that
      enrolls the kiosk for another office than the code's is refused.

  kioskctl selftest --config DIR/kiosk.json [--json]
      Check every configured device (printer, scanner, QR reader, sensors) and
      that the portal answers. Stop the kiosk service first: it holds the
      devices. Exit status 1 when any check fails.

  kioskctl decode-qr FILE...
      Run the kiosk's QR pipeline on image files (PNG, JPEG, WebP): one line
      per file, the name, a tab, and the payload as hex, or "none".

  kioskctl phone pending --portal URL
  kioskctl phone approve --portal URL --citizen ID --number N [--link CODE | --latest]
  kioskctl phone inbox   --portal URL --citizen ID
      The reference portal's simulated citizen phone: list pending QR logins,
      approve one (the newest by default) as a citizen, read the citizen's
      messages (e.g. confirmation codes). The portal must run with
      --phone-simulator; its admin token comes from --admin-token-file FILE
      or $GOVKIOSK_ADMIN_TOKEN.

  kioskctl help
`

// run is kioskctl without the process around it; args exclude the program name.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usageText+decommissionUsage+receiptUsage+browserUsage+policyUsage+processScanUsage)
		return errors.New("no subcommand given")
	}
	switch args[0] {
	case "help", "-h", "-help", "--help":
		_, err := fmt.Fprint(stdout, usageText+decommissionUsage+receiptUsage+browserUsage+policyUsage+processScanUsage)
		return err
	case "provision":
		return runProvision(ctx, args[1:], stdout, stderr)
	case "selftest":
		return runSelfTest(ctx, args[1:], stdout, stderr)
	case "decommission":
		return runDecommission(ctx, args[1:], stdout, stderr)
	case "phone":
		return runPhone(ctx, args[1:], stdout, stderr)
	case "decode-qr":
		return runDecodeQR(ctx, args[1:], stdout, stderr)
	case "browser":
		return runBrowser(ctx, args[1:], stdout, stderr)
	case "chromium-policy":
		return runChromiumPolicy(ctx, args[1:], stdout, stderr)
	case "receipt-sample":
		return runReceiptSample(ctx, args[1:], stdout, stderr)
	case "process-scan":
		return runProcessScan(ctx, args[1:], stdout, stderr)
	default:
		return fmt.Errorf("unknown subcommand %q (see kioskctl help)", args[0])
	}
}

// parseFlags parses args into fs, printing errors and help to stderr.
// It reports flag.ErrHelp for -h, which callers treat as success.
func parseFlags(fs *flag.FlagSet, args []string, stderr io.Writer) error {
	fs.SetOutput(stderr)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%s: unexpected arguments %q", fs.Name(), fs.Args())
	}
	return nil
}
