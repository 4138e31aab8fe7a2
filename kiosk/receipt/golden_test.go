package receipt

import (
	"bytes"
	"flag"
	"fmt"
	"image"
	"image/draw"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"govkiosk/drivers/printer"
	"govkiosk/drivers/printer/escposemu"
)

// go test ./kiosk/receipt -run Golden -update rewrites the goldens.
var update = flag.Bool("update", false, "rewrite the golden receipts in testdata/receipts")

const goldenDir = "../../testdata/receipts"

// Tolerance against the goldens. MuPDF is linked statically into go-fitz
// and the fonts are embedded, so one machine reproduces a golden exactly;
// another CPU or compiler may round anti-aliasing differently at a few
// glyph edges, which the threshold turns into single dots. So up to 0.5 %
// of the dots may differ, and the length by up to 2 mm (16 rows, counted as
// differing dots too). A wrong font, missing glyphs, broken shaping or a
// moved block differs by far more.
const (
	goldenDiffPerMille = 5
	goldenRowSlack     = 16
)

type goldenCase struct {
	lang        string
	provisional bool
	width       int
	file        string
}

var goldenCases = []goldenCase{
	{"th", false, printer.Width80mm, "receipt-th.png"},
	{"vi", false, printer.Width80mm, "receipt-vi.png"},
	{"en", false, printer.Width80mm, "receipt-en.png"},
	{"en", true, printer.Width80mm, "receipt-en-provisional.png"},
	{"th", false, printer.Width58mm, "receipt-th-58mm.png"},
}

// paper prints d through the real path (Parts, printer.Encode) and returns
// what the emulated printer cut.
func paper(t *testing.T, d Data, width int, nativeQR bool) *image.Gray {
	t.Helper()
	parts, err := Parts(d, width, nativeQR)
	if err != nil {
		t.Fatal(err)
	}
	enc, err := printer.Encode(printer.Opts{WidthDots: width}, parts...)
	if err != nil {
		t.Fatal(err)
	}
	r := escposemu.Render(enc.Data, width)
	if len(r.Pages) != 1 || r.Unknown != 0 || r.Uncut != nil {
		t.Fatalf("emulator: %d pages, %d unknown bytes, notes %q", len(r.Pages), r.Unknown, r.Notes)
	}
	return r.Pages[0]
}

func zbarRead(t *testing.T, img *image.Gray) string {
	t.Helper()
	zbar, err := exec.LookPath("zbarimg")
	if err != nil {
		t.Skip("zbarimg is not installed (make deps installs it)")
	}
	p := filepath.Join(t.TempDir(), "receipt.png")
	var b bytes.Buffer
	if err := escposemu.EncodePNG(&b, img); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, b.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(zbar, "--raw", "-q", p).Output()
	if err != nil {
		t.Fatalf("zbarimg found no QR: %v", err)
	}
	return strings.TrimSpace(string(out))
}

func TestGoldenReceipts(t *testing.T) {
	for _, tc := range goldenCases {
		t.Run(tc.file, func(t *testing.T) {
			d := Sample(tc.lang, tc.provisional)
			got := paper(t, d, tc.width, false)
			if got.Bounds().Dx() != tc.width {
				t.Fatalf("width %d", got.Bounds().Dx())
			}
			if qr := zbarRead(t, got); qr != d.TrackURL {
				t.Errorf("QR reads %q, want %q", qr, d.TrackURL)
			}
			path := filepath.Join(goldenDir, tc.file)
			if *update {
				var b bytes.Buffer
				if err := escposemu.EncodePNG(&b, got); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
				t.Logf("wrote %s (%d×%d)", path, got.Bounds().Dx(), got.Bounds().Dy())
				return
			}
			want := loadGrey(t, path)
			diff, total := compare(got, want)
			t.Logf("%s: %d of %d dots differ", tc.file, diff, total)
			if want.Bounds().Dx() != got.Bounds().Dx() ||
				abs(want.Bounds().Dy()-got.Bounds().Dy()) > goldenRowSlack ||
				diff*1000 > total*goldenDiffPerMille {
				out := filepath.Join(t.TempDir(), tc.file)
				var b bytes.Buffer
				escposemu.EncodePNG(&b, got)
				os.WriteFile(out, b.Bytes(), 0o644)
				t.Errorf("%s differs from the golden: %v vs %v, %d of %d dots (budget %d per mille); got %s (rerun with -update if intended)",
					tc.file, got.Bounds(), want.Bounds(), diff, total, goldenDiffPerMille, out)
			}
		})
	}
}

// The native QR variant prints the same receipt with the QR drawn by the
// printer (GS ( k); zbar must read it from the emulator's paper.
func TestNativeQRReceipts(t *testing.T) {
	for _, tc := range goldenCases {
		if tc.provisional {
			continue
		}
		t.Run(fmt.Sprintf("%s-%d", tc.lang, tc.width), func(t *testing.T) {
			d := Sample(tc.lang, false)
			got := paper(t, d, tc.width, true)
			if qr := zbarRead(t, got); qr != d.TrackURL {
				t.Errorf("QR reads %q, want %q", qr, d.TrackURL)
			}
		})
	}
}

func loadGrey(t *testing.T, path string) *image.Gray {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("%v (create the goldens with -update)", err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	g := image.NewGray(image.Rect(0, 0, img.Bounds().Dx(), img.Bounds().Dy()))
	draw.Draw(g, g.Rect, img, img.Bounds().Min, draw.Src)
	return g
}

// compare counts differing dots (black below 128) over the larger of the
// two images; rows only one image has count as differing where inked.
func compare(a, b *image.Gray) (diff, total int) {
	w := max(a.Bounds().Dx(), b.Bounds().Dx())
	h := max(a.Bounds().Dy(), b.Bounds().Dy())
	at := func(g *image.Gray, x, y int) bool {
		if x >= g.Bounds().Dx() || y >= g.Bounds().Dy() {
			return false
		}
		return g.Pix[y*g.Stride+x] < 128
	}
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			if at(a, x, y) != at(b, x, y) {
				diff++
			}
		}
	}
	return diff, w * h
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}

func TestCompare(t *testing.T) {
	a := image.NewGray(image.Rect(0, 0, 4, 2)) // white
	for i := range a.Pix {
		a.Pix[i] = 255
	}
	b := image.NewGray(image.Rect(0, 0, 4, 3)) // black but one dot, one row longer
	b.Pix[0] = 255
	// 7 of the 8 shared dots differ, and the 4 black dots of b's extra row.
	if d, n := compare(a, b); d != 11 || n != 12 {
		t.Errorf("compare = %d of %d, want 11 of 12", d, n)
	}
}
