package qrreader

import (
	"bytes"
	"image"
	_ "image/jpeg"
	_ "image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	_ "golang.org/x/image/webp"
)

// corpusDir is the zxing-cpp sample corpus in the project's shared folder,
// beside the repository (see its README.md).
const corpusDir = "../../../shared/testdata/qr-zxing-cpp"

// corpusFloor is the number of the corpus's 137 images with expected text
// that the pipeline decodes exactly at rotation 0, as measured by
// `go run ./bench/qr` (which also covers 90°, 180° and 270°). A change that
// loses any of them fails here.
const corpusFloor = 129

func loadImage(t testing.TB, path string) image.Image {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, _, err := image.Decode(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return img
}

// TestDecodeCorpus is the regression test on real photos: at least
// corpusFloor exact decodes and not a single result on the images without
// a QR code.
func TestDecodeCorpus(t *testing.T) {
	skipUnderRace(t)
	folders, err := filepath.Glob(filepath.Join(corpusDir, "*"))
	if err != nil || len(folders) == 0 {
		t.Fatalf("sample corpus missing (shared/ must sit beside the repository): %v", err)
	}
	exact, positives, negatives := 0, 0, 0
	for _, folder := range folders {
		falsePos := strings.HasPrefix(filepath.Base(folder), "falsepositives")
		files, err := os.ReadDir(folder)
		if err != nil {
			continue // LICENSE, README.md
		}
		for _, f := range files {
			ext := filepath.Ext(f.Name())
			if ext != ".png" && ext != ".jpg" && ext != ".webp" {
				continue
			}
			path := filepath.Join(folder, f.Name())
			var want []byte
			if !falsePos {
				if want, err = os.ReadFile(strings.TrimSuffix(path, ext) + ".txt"); err != nil {
					continue // no expected text: not counted
				}
				positives++
			} else {
				negatives++
			}
			res, err := Decode(loadImage(t, path))
			switch {
			case falsePos && err == nil:
				t.Errorf("false positive on %s", path)
			case !falsePos && err == nil && bytes.Equal([]byte(res.Text), want):
				exact++
			}
		}
	}
	if positives != 137 || negatives != 46 {
		t.Fatalf("corpus has %d images with text and %d false-positive images, want 137 and 46", positives, negatives)
	}
	t.Logf("decoded %d/%d exactly", exact, positives)
	if exact < corpusFloor {
		t.Errorf("decoded %d/%d exactly, want at least %d", exact, positives, corpusFloor)
	}
}

// TestDecodeSamples pins a few corpus images with what they exercise.
func TestDecodeSamples(t *testing.T) {
	tests := []struct {
		file    string
		payload []byte // nil: the .txt (UTF-8 text payload)
	}{
		{"qrcode-2/#1086.png", nil}, // photocopied, warped, no quiet zone
		{"qrcode-2/8.png", nil},     // printed on a T-shirt drawing
		{"qrcode-2/11.png", nil},    // a vCard with CRLF
		// Shift_JIS in byte mode: the text is converted, the payload is not.
		{"qrcode-2/10.png", []byte("Google \x83\x82\x83\x6f\x83\x43\x83\x8b\r\nhttp://google.jp")},
		{"qrcode-2/qr-inv-1.webp", nil}, // light modules on a dark ground
		// Own sampling (sample.go, corners.go):
		{"qrcode-2/#1314.webp", nil},        // tilted, alignment pattern under a logo
		{"qrcode-2/estimate-tilt.jpg", nil}, // tiny and strongly tilted
		{"qrcode-2/low-res-v1-a.webp", nil}, // version 1 in perspective
		// Finder triples by L-shape geometry (multi.go): gozxing orders
		// this strongly tilted triple wrongly.
		{"qrcode-2/fix-finderpattern-order.webp", nil},
		{"qrcode-2/#709.webp", nil}, // the global threshold on the turned image
		// Grid refined for a warped surface (warp.go):
		{"qrcode-4/05.webp", nil}, // crumpled paper
		{"qrcode-4/31.webp", nil}, // crumpled paper
		{"qrcode-4/13.webp", nil}, // crumpled paper, offsets over half a module
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			path := filepath.Join(corpusDir, tc.file)
			want, err := os.ReadFile(strings.TrimSuffix(path, filepath.Ext(path)) + ".txt")
			if err != nil {
				t.Fatalf("sample corpus missing (shared/ must sit beside the repository): %v", err)
			}
			res, err := Decode(loadImage(t, path))
			if err != nil {
				t.Fatal(err)
			}
			if res.Text != string(want) {
				t.Errorf("text %q, want %q", res.Text, want)
			}
			wantPayload := tc.payload
			if wantPayload == nil {
				wantPayload = want
			}
			if !bytes.Equal(res.Payload, wantPayload) {
				t.Errorf("payload %q, want %q", res.Payload, wantPayload)
			}
		})
	}
}
