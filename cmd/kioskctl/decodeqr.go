package main

import (
	"context"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"image"
	_ "image/jpeg" // image formats decode-qr reads
	_ "image/png"
	"io"
	"os"

	_ "golang.org/x/image/webp"

	"govkiosk/drivers/qrreader"
)

const decodeQRUsage = `Usage: kioskctl decode-qr FILE...
  Run the kiosk's QR decoding pipeline on image files (PNG, JPEG, WebP) and
  print one line per file: the file name, a tab, and the decoded payload as
  hex (the exact bytes the symbol carries), or "none". Exit status 1 when a
  file cannot be read as an image.
`

// runDecodeQR is `kioskctl decode-qr FILE…`.
func runDecodeQR(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("decode-qr", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, decodeQRUsage) }
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return errors.New("decode-qr: no image files given")
	}
	failed := 0
	for _, name := range fs.Args() {
		if err := ctx.Err(); err != nil {
			return err
		}
		payload, err := decodeQRFile(name)
		switch {
		case errors.Is(err, qrreader.ErrNotFound):
			_, err = fmt.Fprintf(stdout, "%s\tnone\n", name)
		case err != nil:
			fmt.Fprintf(stderr, "kioskctl: decode-qr: %v\n", err)
			failed++
			_, err = fmt.Fprintf(stdout, "%s\tnone\n", name)
		default:
			_, err = fmt.Fprintf(stdout, "%s\t%s\n", name, hex.EncodeToString(payload))
		}
		if err != nil {
			return err
		}
	}
	if failed > 0 {
		return fmt.Errorf("decode-qr: %d of %d files could not be read", failed, fs.NArg())
	}
	return nil
}

// decodeQRFile loads one image file and decodes it.
func decodeQRFile(name string) ([]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	img, _, err := image.Decode(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return qrreader.DecodeImage(img)
}
