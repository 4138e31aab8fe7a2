package main

import (
	"bytes"
	"context"
	"image"
	_ "image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/makiuchi-d/gozxing"
	"github.com/makiuchi-d/gozxing/qrcode"

	"govkiosk/backend-client/fleetwire"
	"govkiosk/fleet/techauth"
)

func TestTechTokenCommand(t *testing.T) {
	dir := t.TempDir()
	key := filepath.Join(dir, "tech.key")
	pngPath := filepath.Join(dir, "tech.png")
	var out, errb bytes.Buffer
	if err := run(context.Background(), []string{"tech-token", "--key", key, "--office", "QN-01", "--technician", "T-7", "--png", pngPath}, &out, &errb); err != nil {
		t.Fatalf("tech-token: %v (%s)", err, errb.String())
	}
	payload := strings.TrimSpace(out.String())
	var pk bytes.Buffer
	if err := run(context.Background(), []string{"tech-token", "--key", key, "--public-key"}, &pk, &errb); err != nil {
		t.Fatal(err)
	}
	pub, err := techauth.ParsePublicKey(pk.String())
	if err != nil {
		t.Fatal(err)
	}
	c, err := fleetwire.ParseTechToken(pub, []byte(payload))
	if err != nil || c.Office != "QN-01" || c.Technician != "T-7" {
		t.Fatalf("printed token: %+v, %v", c, err)
	}
	f, err := os.Open(pngPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, _, err := image.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	bmp, err := gozxing.NewBinaryBitmapFromImage(img)
	if err != nil {
		t.Fatal(err)
	}
	res, err := qrcode.NewQRCodeReader().Decode(bmp, nil)
	if err != nil {
		t.Fatalf("the PNG holds no readable QR code: %v", err)
	}
	if res.GetText() != payload {
		t.Fatalf("the PNG's QR says %q, the printed token is %q", res.GetText(), payload)
	}
	if err := run(context.Background(), []string{"tech-token", "--key", key, "--office", "QN-01"}, &out, &errb); err == nil {
		t.Error("a token without a technician id was issued")
	}
}
