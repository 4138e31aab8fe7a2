package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"govkiosk/backend-client/qrpng"
	"govkiosk/fleet/techauth"
)

// runTechToken is `fleet tech-token`: issue one technician token, printed
// as its QR payload (and drawn as a PNG with --png), or print the public
// key kiosks pin (--public-key).
func runTechToken(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("fleet tech-token", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		keyFile    = fs.String("key", "tech.key", "the fleet's technician-token signing key (created on first use, mode 0600)")
		office     = fs.String("office", "", "the office whose kiosks the token opens")
		technician = fs.String("technician", "", "the technician's staff id (not their name)")
		life       = fs.Duration("life", techauth.DefaultLife, "how long the token works (at most 15m)")
		pngFile    = fs.String("png", "", "also write the token as a QR code PNG to this file")
		publicKey  = fs.Bool("public-key", false, "print the public key for kiosk.json's fleet.techKey and exit")
	)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	iss, err := techauth.Open(*keyFile, time.Now, nil)
	if err != nil {
		return err
	}
	if *publicKey {
		_, err := fmt.Fprintln(stdout, iss.PublicKeyText())
		return err
	}
	if *office == "" || *technician == "" {
		return errors.New("tech-token needs --office and --technician")
	}
	payload, c, err := iss.Issue(*office, *technician, *life)
	if err != nil {
		return err
	}
	if *pngFile != "" {
		b, err := qrpng.Encode(payload, 0)
		if err != nil {
			return fmt.Errorf("--png: %w", err)
		}
		if err := os.WriteFile(*pngFile, b, 0o600); err != nil {
			return fmt.Errorf("--png: %w", err)
		}
	}
	fmt.Fprintf(stderr, "technician token %s for %s at office %s, valid until %s\n", c.ID, c.Technician, c.Office, time.Unix(c.Expires, 0).UTC().Format(time.RFC3339))
	_, err = fmt.Fprintln(stdout, payload)
	return err
}
