package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"image"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"govkiosk/backend-client/api"
	"govkiosk/drivers/qrreader"
	"govkiosk/kiosk/config"
	"govkiosk/kiosk/update"
	"govkiosk/provisioning"
)

func runProvision(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("provision", flag.ContinueOnError)
	portal := fs.String("portal", "", "base URL of the portal API (required)")
	token := fs.String("token", "", `one-time enrollment token from the portal: "-" reads it from stdin (a value here shows in the process list and shell history; prefer --token-file or -)`)
	tokenFile := fs.String("token-file", "", "file holding the one-time enrollment token")
	fingerprint := fs.String("ca-fingerprint", "", "the portal enrollment CA's fingerprint, sha256:HEX, printed with the token (required)")
	qrFile := fs.String("qr-file", "", "the enrollment code: a photo or image of its QR (PNG, JPEG, WebP) or a text file holding it; instead of --portal, --token and --ca-fingerprint")
	codeText := fs.String("code", "", `the enrollment code as text (govkiosk-enroll:?...): "-" reads it from stdin`)
	dataDir := fs.String("data-dir", "", "kiosk data directory for keys, certificates and kiosk.json (required)")
	listen := fs.String("listen", "127.0.0.1:8080", "touch UI address (loopback)")
	opsListen := fs.String("ops-listen", "127.0.0.1:9100", "/healthz and /metrics address (loopback)")
	var base config.Config
	fs.StringVar(&base.Printer.Port, "printer-port", "", "receipt printer device, e.g. /dev/govkiosk-printer (the appliance's udev name) or /dev/ttyUSB0 (empty: none)")
	fs.IntVar(&base.Printer.WidthDots, "printer-width", 576, "printer width in dots: 576 (80 mm) or 384 (58 mm)")
	fs.StringVar(&base.Scanner.Device, "scanner-device", "", "SANE device name, e.g. test:0 (empty: none)")
	fs.StringVar(&base.Scanner.ConfigDir, "scanner-config-dir", "", "SANE_CONFIG_DIR for the scanner (empty: the system's)")
	fs.StringVar(&base.QRReader.Port, "qr-port", "", "QR reader serial device, e.g. /dev/govkiosk-qr (the appliance's udev name) or /dev/ttyACM0 (empty: none)")
	fs.StringVar(&base.Sensors.DoorPin, "door-pin", "", "door switch GPIO name (empty: none)")
	fs.StringVar(&base.Sensors.LEDPin, "led-pin", "", "status LED GPIO name (empty: none)")
	fs.StringVar(&base.Update.URL, "update-url", "", "the fleet's TUF repository of releases (empty: no updates); needs --tuf-root")
	tufRoot := fs.String("tuf-root", "", "the repository's root.json, pinned as the kiosk's trust in releases")
	timeout := fs.Duration("timeout", 30*time.Second, "time allowed for enrollment")
	insecure := fs.Bool("allow-insecure-loopback", false, "demos and tests only: accept a portal at a plain-http loopback URL")
	if err := parseFlags(fs, args, stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	var code *api.EnrollCode
	switch {
	case *qrFile != "" || *codeText != "":
		if *portal != "" || *token != "" || *tokenFile != "" || *fingerprint != "" {
			return errors.New("provision: give the enrollment code (--qr-file or --code) or --portal, --token and --ca-fingerprint, not both: the code carries all three")
		}
		c, err := readEnrollCode(*qrFile, *codeText)
		if err != nil {
			return err
		}
		code = &c
		*portal, *fingerprint = c.PortalURL, c.CAFingerprint
	case *portal == "" || (*token == "" && *tokenFile == ""):
		return errors.New("provision: --qr-file (or --code), or --portal, --token-file (or --token -) and --ca-fingerprint are required")
	}
	if *dataDir == "" {
		return errors.New("provision: --data-dir is required")
	}
	if (base.Update.URL == "") != (*tufRoot == "") {
		return errors.New("provision: --update-url and --tuf-root go together")
	}
	if *tufRoot != "" {
		// Pinned first: kiosk.json, written last, names the repository only
		// once the kiosk can check what it serves.
		b, err := os.ReadFile(*tufRoot)
		if err != nil {
			return fmt.Errorf("provision: %w", err)
		}
		if err := update.Pin(*dataDir, b); err != nil {
			return fmt.Errorf("provision: %w", err)
		}
	}
	var tok string
	if code != nil {
		tok = code.Token
	} else {
		t, err := enrollToken(*token, *tokenFile, stderr)
		if err != nil {
			return err
		}
		tok = t
	}

	key, err := provisioning.LoadOrCreateKey(*dataDir)
	if err != nil {
		return err
	}
	hc := provisioning.EnrollmentClient(*fingerprint, *insecure, *timeout)
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	opts := provisioning.ProvisionOptions{
		DataDir: *dataDir, PortalURL: *portal, Token: tok, CAFingerprint: *fingerprint, AllowInsecureLoopback: *insecure,
		Listen: *listen, OpsListen: *opsListen, Base: base,
	}
	if code != nil {
		opts = opts.WithCode(*code)
	}
	cfg, err := provisioning.Provision(ctx, newEnroller(*portal, hc, key), opts)
	if err != nil {
		return err
	}
	if _, err = fmt.Fprintf(stdout, "kiosk ID: %s\nconfig:   %s\n", cfg.KioskID, filepath.Join(cfg.DataDir, provisioning.ConfigFile)); err != nil {
		return err
	}
	if code != nil {
		_, err = fmt.Fprintf(stdout, "office:   %s\n", cfg.OfficeCode)
	}
	return err
}

// readEnrollCode reads the enrollment code from an image of its QR or a
// text file (qrFile), or from text ("-": stdin).
func readEnrollCode(qrFile, text string) (api.EnrollCode, error) {
	var raw []byte
	switch {
	case qrFile != "" && text != "":
		return api.EnrollCode{}, errors.New("provision: give --qr-file or --code, not both")
	case qrFile != "":
		b, err := os.ReadFile(qrFile)
		if err != nil {
			return api.EnrollCode{}, fmt.Errorf("provision: enrollment code: %w", err)
		}
		raw = b
		if _, _, err := image.DecodeConfig(bytes.NewReader(b)); err == nil {
			img, _, err := image.Decode(bytes.NewReader(b))
			if err != nil {
				return api.EnrollCode{}, fmt.Errorf("provision: enrollment code image %s: %w", qrFile, err)
			}
			if raw, err = qrreader.DecodeImage(img); err != nil {
				return api.EnrollCode{}, fmt.Errorf("provision: no QR code found in %s (hold the camera straight and close, with the whole code in the picture): %w", qrFile, err)
			}
		}
	case text == "-":
		b, err := io.ReadAll(io.LimitReader(stdin, 4096))
		if err != nil {
			return api.EnrollCode{}, fmt.Errorf("provision: enrollment code from stdin: %w", err)
		}
		raw = b
	default:
		raw = []byte(text)
	}
	c, err := api.ParseEnrollCode(string(raw))
	if errors.Is(err, api.ErrNotEnrollCode) {
		return api.EnrollCode{}, errors.New("provision: this is not an enrollment code (it starts with govkiosk-enroll:); ask the fleet console for one")
	}
	if err != nil {
		return api.EnrollCode{}, fmt.Errorf("provision: %w", err)
	}
	return c, nil
}

// stdin is where --token - reads the token (tests replace it).
var stdin io.Reader = os.Stdin

// enrollToken reads the enrollment token from file, from stdin (flag
// "-"), or, with a warning, takes flag's value: a token on the command
// line is seen in the process list and kept in the shell's history. It is
// kept working for the demo and for tests.
func enrollToken(flag, file string, stderr io.Writer) (string, error) {
	var raw []byte
	switch {
	case flag != "" && file != "":
		return "", errors.New("provision: give --token or --token-file, not both")
	case file != "":
		b, err := os.ReadFile(file)
		if err != nil {
			return "", fmt.Errorf("provision: enrollment token: %w", err)
		}
		raw = b
	case flag == "-":
		b, err := io.ReadAll(io.LimitReader(stdin, 4096))
		if err != nil {
			return "", fmt.Errorf("provision: enrollment token from stdin: %w", err)
		}
		raw = b
	default:
		fmt.Fprintln(stderr, "kioskctl: warning: --token VALUE shows the enrollment token in the process list and the shell history; use --token-file FILE or --token - (stdin)")
		return flag, nil
	}
	t, _, _ := strings.Cut(strings.TrimSpace(string(raw)), "\n")
	if t = strings.TrimSpace(t); t == "" {
		return "", errors.New("provision: enrollment token: empty")
	}
	return t, nil
}
