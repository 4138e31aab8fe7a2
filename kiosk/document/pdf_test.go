package document

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"strconv"
	"testing"

	"github.com/pdfcpu/pdfcpu/pkg/api"
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/types"

	"govkiosk/drivers/device"
)

func pageDims(pdf []byte) ([]types.Dim, error) {
	return api.PageDims(bytes.NewReader(pdf), pdfConf())
}

// grayPage makes a w×h grey page with a black frame and a white inside.
func grayPage(t *testing.T, w, h int) device.Page {
	t.Helper()
	img := image.NewGray(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			v := uint8(255)
			if x < w/10 || y < h/10 {
				v = 0
			}
			img.SetGray(x, y, color.Gray{Y: v})
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return device.Page{PNG: buf.Bytes(), Width: w, Height: h}
}

func TestBuildPDFPhysicalSize(t *testing.T) {
	tests := []struct {
		name   string
		w, h   int
		dpi    int
		wantPt [2]float64
	}{
		{"A4 at 150 dpi", 1240, 1754, 150, [2]float64{595.2, 841.92}},
		{"A5 landscape at 100 dpi", 827, 583, 100, [2]float64{595.44, 419.76}},
		{"letter at 72 dpi", 612, 792, 72, [2]float64{612, 792}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pdf, err := BuildPDF([]device.Page{grayPage(t, tc.w, tc.h), grayPage(t, tc.w, tc.h)}, tc.dpi)
			if err != nil {
				t.Fatal(err)
			}
			dims, err := pageDims(pdf)
			if err != nil {
				t.Fatal(err)
			}
			if len(dims) != 2 {
				t.Fatalf("%d pages, want 2", len(dims))
			}
			for _, d := range dims {
				if abs(d.Width-tc.wantPt[0]) > 0.5 || abs(d.Height-tc.wantPt[1]) > 0.5 {
					t.Errorf("page %.2fx%.2f pt, want %.2fx%.2f", d.Width, d.Height, tc.wantPt[0], tc.wantPt[1])
				}
			}
			thumbs, err := Thumbnails(pdf, 100)
			if err != nil {
				t.Fatal(err)
			}
			for _, th := range thumbs {
				img, err := png.Decode(bytes.NewReader(th))
				if err != nil {
					t.Fatal(err)
				}
				wantH := (100*tc.h + tc.w/2) / tc.w
				if b := img.Bounds(); b.Dx() != 100 || b.Dy() < wantH-1 || b.Dy() > wantH+1 {
					t.Errorf("thumbnail %v, want 100x%d", b, wantH)
				}
				// Top-left is the black frame, bottom-right the white inside:
				// the image fills the page, unscaled and unshifted.
				b := img.Bounds()
				if r, _, _, _ := img.At(2, 2).RGBA(); r>>8 > 64 {
					t.Errorf("thumbnail top-left is %d, want black", r>>8)
				}
				if r, _, _, _ := img.At(b.Dx()-3, b.Dy()-3).RGBA(); r>>8 < 192 {
					t.Errorf("thumbnail bottom-right is %d, want white", r>>8)
				}
			}
		})
	}
}

func abs(f float64) float64 {
	if f < 0 {
		return -f
	}
	return f
}

func TestBuildPDFRejects(t *testing.T) {
	good := grayPage(t, 50, 70)
	tests := []struct {
		name  string
		pages []device.Page
		dpi   int
	}{
		{"no pages", nil, 150},
		{"dpi zero", []device.Page{good}, 0},
		{"dpi absurd", []device.Page{good}, 100000},
		{"garbage image", []device.Page{good, {PNG: []byte("not a png at all")}}, 150},
		{"empty image", []device.Page{{}}, 150},
		{"truncated png", []device.Page{{PNG: good.PNG[:len(good.PNG)/2]}}, 150},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if pdf, err := BuildPDF(tc.pages, tc.dpi); err == nil {
				t.Errorf("BuildPDF gave %d bytes and no error", len(pdf))
			}
		})
	}
}

func TestHostilePDF(t *testing.T) {
	pdf, err := BuildPDF([]device.Page{grayPage(t, 124, 175), grayPage(t, 124, 175)}, 15*10)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		data []byte
	}{
		{"nil", nil},
		{"garbage", []byte("this is not a PDF, just some bytes \x00\x01\x02\xff")},
		{"header only", []byte("%PDF-1.7\n")},
		{"truncated half", pdf[:len(pdf)/2]},
		{"truncated end", pdf[:len(pdf)-40]},
		{"truncated start", pdf[100:]},
		{"zeroed body", append(append([]byte{}, pdf[:20]...), make([]byte, len(pdf)-20)...)},
		{"png not pdf", grayPage(t, 10, 10).PNG},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if n, err := PageCount(tc.data); err == nil {
				t.Errorf("PageCount = %d, no error", n)
			}
			if th, err := Thumbnails(tc.data, 100); err == nil || th != nil {
				t.Errorf("Thumbnails = %d images, %v; want error", len(th), err)
			}
		})
	}
	// The intact PDF works, and thumbnail widths are bounded.
	if n, err := PageCount(pdf); err != nil || n != 2 {
		t.Fatalf("PageCount(intact) = %d, %v", n, err)
	}
	for _, w := range []int{0, -5, 10, maxThumbWidth + 1} {
		if _, err := Thumbnails(pdf, w); err == nil {
			t.Errorf("Thumbnails(width %d) gave no error", w)
		}
	}
}

func TestBoxResizeGray(t *testing.T) {
	src := image.NewGray(image.Rect(0, 0, 4, 2))
	copy(src.Pix, []uint8{0, 0, 255, 255, 0, 0, 255, 255})
	tests := []struct {
		w, h int
		want []uint8
	}{
		{2, 1, []uint8{0, 255}},
		{1, 1, []uint8{127}},
		{8, 2, []uint8{0, 0, 0, 0, 255, 255, 255, 255, 0, 0, 0, 0, 255, 255, 255, 255}},
	}
	for _, tc := range tests {
		g := boxResizeGray(src, tc.w, tc.h)
		if !bytes.Equal(g.Pix, tc.want) {
			t.Errorf("resize to %dx%d = %v, want %v", tc.w, tc.h, g.Pix, tc.want)
		}
	}
}

// handPDF writes a minimal one-page PDF with the given MediaBox and a black
// square in its content, with a correct xref table.
func handPDF(mediaBox string) []byte {
	content := "0 g 10 10 40 40 re f"
	objs := []string{
		"<< /Type /Catalog /Pages 2 0 R >>",
		"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
		"<< /Type /Page /Parent 2 0 R /MediaBox [" + mediaBox + "] /Contents 4 0 R /Resources << >> >>",
		"<< /Length " + strconv.Itoa(len(content)) + " >>\nstream\n" + content + "\nendstream",
	}
	var b bytes.Buffer
	b.WriteString("%PDF-1.4\n")
	offs := make([]int, len(objs))
	for i, o := range objs {
		offs[i] = b.Len()
		fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", i+1, o)
	}
	xref := b.Len()
	fmt.Fprintf(&b, "xref\n0 %d\n0000000000 65535 f \n", len(objs)+1)
	for _, off := range offs {
		fmt.Fprintf(&b, "%010d 00000 n \n", off)
	}
	fmt.Fprintf(&b, "trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n", len(objs)+1, xref)
	return b.Bytes()
}

func TestThumbnailsOddPageBoxes(t *testing.T) {
	tests := []struct {
		name    string
		box     string
		wantH   int // 0: any height
		wantErr bool
	}{
		{"offset box", "100 100 300 400", 150, false},
		{"negative origin", "-50 -50 50 50", 100, false},
		{"huge page", "0 0 14400 14400", 100, false},
		{"absurdly tall page", "0 0 3 14400", 0, true},
		{"empty box (MuPDF substitutes a default)", "0 0 0 0", 0, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pdf := handPDF(tc.box)
			if n, err := PageCount(pdf); err != nil || n != 1 {
				t.Fatalf("PageCount = %d, %v", n, err)
			}
			th, err := Thumbnails(pdf, 100)
			if tc.wantErr {
				if err == nil {
					t.Fatalf("Thumbnails gave %d images, want error", len(th))
				}
				return
			}
			if err != nil || len(th) != 1 {
				t.Fatalf("Thumbnails = %d, %v", len(th), err)
			}
			c, err := png.DecodeConfig(bytes.NewReader(th[0]))
			if err != nil {
				t.Fatal(err)
			}
			if c.Width != 100 || (tc.wantH != 0 && (c.Height < tc.wantH-1 || c.Height > tc.wantH+1)) {
				t.Errorf("thumbnail %dx%d, want 100x%d", c.Width, c.Height, tc.wantH)
			}
		})
	}
}

// A page's own DPI sets its size; the dpi argument only stands in for
// pages whose scanner did not say.
func TestBuildPDFPageDPI(t *testing.T) {
	said, unsaid := grayPage(t, 1240, 1754), grayPage(t, 1240, 1754)
	said.DPI = 300
	pdf, err := BuildPDF([]device.Page{said, unsaid}, 150)
	if err != nil {
		t.Fatal(err)
	}
	dims, err := pageDims(pdf)
	if err != nil {
		t.Fatal(err)
	}
	want := [][2]float64{{297.6, 420.96}, {595.2, 841.92}} // A5-ish at 300 dpi, A4 at 150
	if len(dims) != 2 {
		t.Fatalf("%d pages", len(dims))
	}
	for i, d := range dims {
		if abs(d.Width-want[i][0]) > 0.5 || abs(d.Height-want[i][1]) > 0.5 {
			t.Errorf("page %d is %.2fx%.2f pt, want %.2fx%.2f", i+1, d.Width, d.Height, want[i][0], want[i][1])
		}
	}
	said.DPI = 5
	if _, err := BuildPDF([]device.Page{said}, 150); err == nil {
		t.Error("a page at 5 dpi was accepted")
	}
}
