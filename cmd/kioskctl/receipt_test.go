package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"govkiosk/kiosk/lang"
	"govkiosk/kiosk/receipt"
)

func TestReceiptSample(t *testing.T) {
	zbar, err := exec.LookPath("zbarimg")
	if err != nil {
		t.Skip("zbarimg not installed")
	}
	dir := t.TempDir()
	extras := map[string][]string{ // options to cover, spread over the languages
		lang.Vietnamese: {"--native-qr"},
		lang.English:    {"--width", "384", "--provisional"},
	}
	for _, code := range lang.Codes() {
		tc := struct {
			lang  string
			extra []string
		}{code, extras[code]}
		t.Run(tc.lang, func(t *testing.T) {
			out, png := filepath.Join(dir, tc.lang+".bin"), filepath.Join(dir, tc.lang+".png")
			args := append([]string{"receipt-sample", "--lang", tc.lang, "--out", out, "--png", png}, tc.extra...)
			stdout, _, err := runArgs(t, args...)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(stdout, "bytes of ESC/POS") {
				t.Errorf("stdout %q", stdout)
			}
			stream, err := os.ReadFile(out)
			if err != nil || !bytes.HasPrefix(stream, []byte{0x1b, '@'}) {
				t.Fatalf("stream: %v", err)
			}
			got, err := exec.Command(zbar, "--raw", "-q", png).Output()
			if err != nil {
				t.Fatalf("zbarimg: %v", err)
			}
			want := receipt.Sample(tc.lang, len(tc.extra) > 1).TrackURL
			if strings.TrimSpace(string(got)) != want {
				t.Errorf("QR %q, want %q", got, want)
			}
		})
	}
	for _, bad := range [][]string{
		{"receipt-sample", "--lang", "fr", "--out", filepath.Join(dir, "x")},
		{"receipt-sample", "--lang", "th"},
		{"receipt-sample", "--lang", "th", "--out", filepath.Join(dir, "x"), "--width", "500"},
	} {
		if _, _, err := runArgs(t, bad...); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
