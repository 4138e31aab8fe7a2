package idqr

import (
	"bytes"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/makiuchi-d/gozxing"
	"github.com/makiuchi-d/gozxing/qrcode"
	"github.com/makiuchi-d/gozxing/qrcode/decoder"
	"github.com/makiuchi-d/gozxing/qrcode/encoder"

	"govkiosk/drivers/qrreader"
)

// An issued payload fits a real QR code in alphanumeric mode and survives a
// render to PNG and the kiosk's own QR decoder byte for byte.
func TestPayloadThroughQRImage(t *testing.T) {
	k := newTestKeys(t)
	trust := k.trust(t)
	for name, payload := range map[string]string{
		"thai":       mustIssue(t, thaiClaims(), "th-1", k.p256a),
		"vietnamese": mustIssue(t, vietClaims(), "vn-1", k.ed),
	} {
		t.Run(name, func(t *testing.T) {
			code, werr := encoder.Encoder_encode(payload, decoder.ErrorCorrectionLevel_M, nil)
			if werr != nil {
				t.Fatal(werr)
			}
			if code.GetMode() != decoder.Mode_ALPHANUMERIC {
				t.Fatalf("QR mode %v, want alphanumeric", code.GetMode())
			}
			t.Logf("%d characters: QR version %d at level M", len(payload), code.GetVersion().GetVersionNumber())

			hints := map[gozxing.EncodeHintType]interface{}{
				gozxing.EncodeHintType_ERROR_CORRECTION: decoder.ErrorCorrectionLevel_M,
				gozxing.EncodeHintType_MARGIN:           4,
			}
			m, err := qrcode.NewQRCodeWriter().Encode(payload, gozxing.BarcodeFormat_QR_CODE, 600, 600, hints)
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(t.TempDir(), "id.png")
			var buf bytes.Buffer
			if err := png.Encode(&buf, m); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
				t.Fatal(err)
			}
			f, err := os.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			img, err := png.Decode(f)
			if err != nil {
				t.Fatal(err)
			}
			got, err := qrreader.DecodeImage(img)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, []byte(payload)) {
				t.Fatalf("QR gave %d bytes, not the %d issued", len(got), len(payload))
			}
			if _, err := Decode(got, trust, testNow, Limits{}); err != nil {
				t.Fatalf("decode scanned payload: %v", err)
			}
			// A second, independent reader agrees (skipped only if absent).
			zbar, err := exec.LookPath("zbarimg")
			if err != nil {
				t.Skip("zbarimg not installed")
			}
			out, err := exec.Command(zbar, "--raw", "-q", path).Output()
			if err != nil {
				t.Fatalf("zbarimg: %v", err)
			}
			if got := strings.TrimSuffix(string(out), "\n"); got != payload {
				t.Fatalf("zbarimg read %d characters, not the %d issued", len(got), len(payload))
			}
		})
	}
}
