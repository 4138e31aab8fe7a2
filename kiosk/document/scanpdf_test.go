package document

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/jpeg"
	"image/png"
	"math"
	"testing"

	"github.com/gen2brain/go-fitz"
	"golang.org/x/image/ccitt"
	"golang.org/x/image/tiff"

	"govkiosk/drivers/device"
	"govkiosk/kiosk/document/pipeline"
	"govkiosk/kiosk/document/pipeline/scangen"
)

// skipUnderRace skips a test of single-goroutine image work: the race
// detector has nothing to watch and makes it 10-20 times slower. make test
// runs it again without -race (NORACE_TESTS in the Makefile).
func skipUnderRace(t *testing.T) {
	t.Helper()
	if raceBuild {
		t.Skip("single-goroutine image work: nothing for the race detector to see; make test runs it without -race")
	}
}

// The PDF holds exactly what the pipeline made: MuPDF renders each kept
// page to the pixels of the stored image (G4 decoded by x/image/ccitt,
// JPEG by image/jpeg), the blank back is left out, and a text page stays
// under 80 KB.
func TestScanPDFRendersAsProcessed(t *testing.T) {
	skipUnderRace(t)
	g := &scangen.Generator{DPI: 300, Seed: 7}
	samples, err := g.Generate(context.Background(), []scangen.Spec{
		{Name: "letter", Doc: "letter", Signature: true, SkewDeg: 1.2, Noise: 5},
		{Name: "back", SkewDeg: 1.2, Noise: 5, Specks: 30, PunchHoles: true},
		{Name: "form", Doc: "form-vi", Stamp: true, Signature: true, SkewDeg: -2, Noise: 5},
	})
	if err != nil {
		t.Fatal(err)
	}
	var pages []device.Page
	for _, s := range samples {
		var buf bytes.Buffer
		if err := png.Encode(&buf, s.Image); err != nil {
			t.Fatal(err)
		}
		pages = append(pages, device.Page{PNG: buf.Bytes(), Width: s.Image.Rect.Dx(), Height: s.Image.Rect.Dy(), DPI: 300})
	}
	sp, err := ProcessPages(context.Background(), pages, 300, pipeline.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if Kept(sp) != 2 || sp[1].Keep || !sp[1].Blank {
		t.Fatalf("kept %d pages (back blank=%v), want the two fronts", Kept(sp), sp[1].Blank)
	}
	if sp[0].Kind != pipeline.KindBilevel || sp[2].Kind != pipeline.KindMixed {
		t.Fatalf("kinds %s, %s; want bilevel (letter), mixed (stamped form)", sp[0].Kind, sp[2].Kind)
	}
	for _, i := range []int{0, 2} {
		if n := sp[i].StoredBytes(); n > 80<<10 {
			t.Errorf("page %d takes %d bytes, want at most 80 KB", i+1, n)
		}
	}
	pdf, err := ScanPDF(sp)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := fitz.NewFromMemory(pdf)
	if err != nil {
		t.Fatal(err)
	}
	defer doc.Close()
	if doc.NumPage() != 2 {
		t.Fatalf("MuPDF sees %d pages, want 2", doc.NumPage())
	}
	for i, p := range []*pipeline.Page{sp[0].Page, sp[2].Page} {
		want := storedImage(t, p)
		got, err := doc.ImageDPI(i, float64(p.DPI))
		if err != nil {
			t.Fatal(err)
		}
		// MuPDF scales a mixed page's background up smoothly, the
		// reference by nearest pixel: a little more difference there.
		tol := 3.0
		if p.Kind == pipeline.KindMixed {
			tol = 6
		}
		if d := meanDiff(want, got); d > tol {
			t.Errorf("page %d (%s): MuPDF's rendering differs from the stored image by %.2f grey levels on average", i+1, p.Kind, d)
		}
	}
}

// storedImage decodes a page's stored stream with an independent decoder.
func storedImage(t *testing.T, p *pipeline.Page) *image.Gray {
	t.Helper()
	if p.Kind == pipeline.KindBilevel {
		g := image.NewGray(image.Rect(0, 0, p.Width, p.Height))
		if err := ccitt.DecodeIntoGray(g, bytes.NewReader(p.Data), ccitt.MSB, ccitt.Group4, nil); err != nil {
			t.Fatalf("decoding G4: %v", err)
		}
		return g
	}
	if p.Kind == pipeline.KindMixed {
		mask := image.NewGray(image.Rect(0, 0, p.Width, p.Height))
		if err := ccitt.DecodeIntoGray(mask, bytes.NewReader(p.Data), ccitt.MSB, ccitt.Group4, nil); err != nil {
			t.Fatalf("decoding the G4 stencil: %v", err)
		}
		img, err := jpeg.Decode(bytes.NewReader(p.Background))
		if err != nil {
			t.Fatalf("decoding the background JPEG: %v", err)
		}
		bg := toGray(img)
		out := image.NewGray(mask.Rect)
		for y := range p.Height {
			for x := range p.Width {
				v := bg.Pix[(y*bg.Rect.Dy()/p.Height)*bg.Stride+x*bg.Rect.Dx()/p.Width]
				if mask.Pix[y*mask.Stride+x] < 128 {
					v = 0
				}
				out.Pix[y*out.Stride+x] = v
			}
		}
		return out
	}
	img, err := jpeg.Decode(bytes.NewReader(p.Data))
	if err != nil {
		t.Fatalf("decoding JPEG: %v", err)
	}
	return toGray(img)
}

func meanDiff(a *image.Gray, b image.Image) float64 {
	bb := b.Bounds()
	w, h := min(a.Rect.Dx(), bb.Dx()), min(a.Rect.Dy(), bb.Dy())
	if math.Abs(float64(a.Rect.Dx()-bb.Dx())) > 2 || math.Abs(float64(a.Rect.Dy()-bb.Dy())) > 2 {
		return 255
	}
	var s float64
	for y := range h {
		for x := range w {
			s += math.Abs(float64(a.Pix[y*a.Stride+x]) - float64(grayAt(b, bb.Min.X+x, bb.Min.Y+y)))
		}
	}
	return s / float64(w*h)
}

// Every input format process-scan accepts decodes to the same grey page;
// bad and oversized input is refused with ErrBadImage before decoding.
func TestDecodeGray(t *testing.T) {
	src := image.NewGray(image.Rect(0, 0, 40, 30))
	for i := range src.Pix {
		src.Pix[i] = uint8(i * 7)
	}
	var pngB, tifB, jpgB bytes.Buffer
	if err := png.Encode(&pngB, src); err != nil {
		t.Fatal(err)
	}
	if err := tiff.Encode(&tifB, src, nil); err != nil {
		t.Fatal(err)
	}
	if err := jpeg.Encode(&jpgB, src, &jpeg.Options{Quality: 100}); err != nil {
		t.Fatal(err)
	}
	pgm := append([]byte("P5\n# a comment\n40 30\n255\n"), src.Pix...)
	for name, data := range map[string][]byte{"png": pngB.Bytes(), "tiff": tifB.Bytes(), "pgm": pgm, "jpeg": jpgB.Bytes()} {
		g, err := DecodeGray(data)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		tol := 0.0
		if name == "jpeg" {
			tol = 6
		}
		if d := meanDiff(src, g); d > tol {
			t.Errorf("%s: decoded page differs by %.2f", name, d)
		}
	}
	huge := []byte(fmt.Sprintf("P5 %d %d 255\n", 10000, 10000))
	for name, data := range map[string][]byte{
		"garbage":       []byte("not an image"),
		"short pgm":     append([]byte("P5 40 30 255\n"), src.Pix[:100]...),
		"huge pgm":      huge,
		"16-bit pgm":    []byte("P5 2 2 65535\n12345678"),
		"truncated png": pngB.Bytes()[:50],
	} {
		if _, err := DecodeGray(data); !errors.Is(err, ErrBadImage) {
			t.Errorf("%s: err %v, want ErrBadImage", name, err)
		}
	}
}
