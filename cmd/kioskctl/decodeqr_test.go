package main

import (
	"encoding/hex"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/makiuchi-d/gozxing"
	"github.com/makiuchi-d/gozxing/qrcode"
)

// qrImage renders payload (bytes, via ISO-8859-1 so byte mode carries them
// verbatim) as a QR symbol on white.
func qrImage(t *testing.T, payload []byte) *image.Gray {
	t.Helper()
	runes := make([]rune, len(payload))
	for i, b := range payload {
		runes[i] = rune(b)
	}
	hints := map[gozxing.EncodeHintType]interface{}{
		gozxing.EncodeHintType_CHARACTER_SET: "ISO-8859-1",
		gozxing.EncodeHintType_MARGIN:        4,
	}
	m, err := qrcode.NewQRCodeWriter().Encode(string(runes), gozxing.BarcodeFormat_QR_CODE, 200, 200, hints)
	if err != nil {
		t.Fatal(err)
	}
	img := image.NewGray(image.Rect(0, 0, m.GetWidth(), m.GetHeight()))
	for y := range m.GetHeight() {
		for x := range m.GetWidth() {
			if !m.Get(x, y) {
				img.SetGray(x, y, color.Gray{Y: 255})
			}
		}
	}
	return img
}

func TestDecodeQR(t *testing.T) {
	dir := t.TempDir()
	binary := []byte{0x00, 0xff, 0xc3, 0x28, 0x80, 'k', 'i', 'o', 's', 'k', 0x1b, 0xfe}
	write := func(name string, enc func(f *os.File) error) string {
		p := filepath.Join(dir, name)
		f, err := os.Create(p)
		if err != nil {
			t.Fatal(err)
		}
		if err := enc(f); err != nil {
			t.Fatal(err)
		}
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
		return p
	}
	pngFile := write("binary.png", func(f *os.File) error { return png.Encode(f, qrImage(t, binary)) })
	jpgFile := write("text.jpg", func(f *os.File) error {
		return jpeg.Encode(f, qrImage(t, []byte("HS-2025-000123")), &jpeg.Options{Quality: 80})
	})
	blank := write("blank.png", func(f *os.File) error {
		g := image.NewGray(image.Rect(0, 0, 100, 100))
		for i := range g.Pix {
			g.Pix[i] = 255
		}
		return png.Encode(f, g)
	})
	garbage := write("garbage.png", func(f *os.File) error { _, err := f.WriteString("not an image"); return err })
	webpFile := "../../../shared/testdata/qr-zxing-cpp/qrcode-1/1.webp"
	webpWant, err := os.ReadFile(strings.TrimSuffix(webpFile, ".webp") + ".txt")
	if err != nil {
		t.Fatalf("sample corpus missing (shared/ must sit beside the repository): %v", err)
	}

	tests := []struct {
		name    string
		files   []string
		want    []string // lines of stdout
		wantErr string
	}{
		{"binary PNG, JPEG, WebP", []string{pngFile, jpgFile, webpFile}, []string{
			pngFile + "\t" + hex.EncodeToString(binary),
			jpgFile + "\t" + hex.EncodeToString([]byte("HS-2025-000123")),
			webpFile + "\t" + hex.EncodeToString(webpWant),
		}, ""},
		{"no code", []string{blank}, []string{blank + "\tnone"}, ""},
		{"unreadable file still gets a line", []string{garbage, pngFile}, []string{
			garbage + "\tnone",
			pngFile + "\t" + hex.EncodeToString(binary),
		}, "1 of 2 files could not be read"},
		{"missing file", []string{filepath.Join(dir, "nope.png")}, []string{filepath.Join(dir, "nope.png") + "\tnone"}, "could not be read"},
		{"no arguments", nil, nil, "no image files given"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			stdout, stderr, err := runArgs(t, append([]string{"decode-qr"}, tc.files...)...)
			if tc.wantErr == "" && err != nil {
				t.Fatalf("err = %v; stderr:\n%s", err, stderr)
			}
			if tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Fatalf("err = %v, want %q", err, tc.wantErr)
			}
			var got []string
			if stdout != "" {
				got = strings.Split(strings.TrimSuffix(stdout, "\n"), "\n")
			}
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Fatalf("stdout:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
}
