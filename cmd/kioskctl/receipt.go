package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"govkiosk/drivers/printer"
	"govkiosk/drivers/printer/escposemu"
	"govkiosk/kiosk/lang"
	"govkiosk/kiosk/receipt"
)

var receiptUsage = `  kioskctl receipt-sample --lang ` + strings.Join(lang.Codes(), "|") + ` --out FILE [--png FILE] [--width 576|384]
                         [--native-qr] [--provisional]
      Write the ESC/POS byte stream of an invented sample receipt to FILE (send
      it to a printer, e.g. cat FILE > /dev/usb/lp0); --png writes what the
      printer emulator makes of that same stream.
`

// runReceiptSample writes a sample receipt's ESC/POS stream and, if asked,
// the emulator's rendering of it.
func runReceiptSample(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("receipt-sample", flag.ContinueOnError)
	code := fs.String("lang", "", "receipt language: "+langChoice())
	out := fs.String("out", "", "file for the ESC/POS byte stream")
	pngOut := fs.String("png", "", "file for the emulator's PNG of the stream (optional)")
	width := fs.Int("width", printer.Width80mm, "paper width in dots: 576 (80 mm) or 384 (58 mm)")
	native := fs.Bool("native-qr", false, "let the printer draw the QR code (GS ( k) instead of a raster image")
	provisional := fs.Bool("provisional", false, "an offline receipt with a provisional number")
	if err := parseFlags(fs, args, stderr); err != nil {
		return err
	}
	if !lang.Supported(*code) {
		return fmt.Errorf("receipt-sample: --lang must be %s, not %q", langChoice(), *code)
	}
	if *out == "" {
		return errors.New("receipt-sample: --out FILE is required")
	}
	if *width != printer.Width80mm && *width != printer.Width58mm {
		return fmt.Errorf("receipt-sample: --width must be %d or %d", printer.Width80mm, printer.Width58mm)
	}
	d := receipt.Sample(*code, *provisional)
	parts, err := receipt.Parts(d, *width, *native)
	if err != nil {
		return fmt.Errorf("receipt-sample: %w", err)
	}
	enc, err := printer.Encode(printer.Opts{WidthDots: *width}, parts...)
	if err != nil {
		return fmt.Errorf("receipt-sample: %w", err)
	}
	if err := os.WriteFile(*out, enc.Data, 0o644); err != nil {
		return fmt.Errorf("receipt-sample: %w", err)
	}
	fmt.Fprintf(stdout, "%s: %d bytes of ESC/POS, %.1f mm of paper\n", *out, len(enc.Data), float64(enc.Rows)/printer.DotsPerMM)
	if *pngOut == "" {
		return nil
	}
	r := escposemu.Render(enc.Data, *width)
	if len(r.Pages) != 1 || r.Unknown != 0 {
		return fmt.Errorf("receipt-sample: the emulator made %d receipts and skipped %d bytes of the stream", len(r.Pages), r.Unknown)
	}
	var b bytes.Buffer
	if err := escposemu.EncodePNG(&b, r.Pages[0]); err != nil {
		return fmt.Errorf("receipt-sample: %w", err)
	}
	if err := os.WriteFile(*pngOut, b.Bytes(), 0o644); err != nil {
		return fmt.Errorf("receipt-sample: %w", err)
	}
	fmt.Fprintf(stdout, "%s: %d×%d dots\n", *pngOut, r.Pages[0].Bounds().Dx(), r.Pages[0].Bounds().Dy())
	return nil
}

// langChoice names the supported languages as a choice: "th, vi or en".
func langChoice() string {
	c := lang.Codes()
	return strings.Join(c[:len(c)-1], ", ") + " or " + c[len(c)-1]
}
