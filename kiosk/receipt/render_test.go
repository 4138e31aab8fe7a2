package receipt

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/makiuchi-d/gozxing"
	"github.com/makiuchi-d/gozxing/qrcode"
)

// receiptHTML is a receipt like the kiosk prints: Thai, Vietnamese, a QR
// code drawn one image pixel per dot, and extra lines to make it long.
func receiptHTML(t testing.TB, payload string, extraLines int) []byte {
	t.Helper()
	qr, err := QRCode(payload, 240)
	if err != nil {
		t.Fatal(err)
	}
	var pngBuf bytes.Buffer
	if err := png.Encode(&pngBuf, qr); err != nil {
		t.Fatal(err)
	}
	mm := float64(qr.Bounds().Dx()) / DotsPerMM
	var b strings.Builder
	fmt.Fprintf(&b, `<!DOCTYPE html><html><head><meta charset="utf-8"><style>
body { margin: 0 2mm; font-family: "Kiosk Sans"; font-size: 11pt }
h1 { font-size: 15pt; text-align: center; margin: 0 0 2mm 0 }
.th { font-family: "Kiosk Thai" }
.qr { text-align: center }
.qr img { width: %.3fmm; height: %.3fmm }
</style></head><body>
<h1 class="th">ใบรับคำขอ กรุณาเก็บไว้</h1>
<p>Giấy tiếp nhận hồ sơ — Quảng Nam</p>
<p>Mã hồ sơ: <b>QN-2025-000123</b></p>
<div class="qr"><img src="data:image/png;base64,%s"></div>
`, mm, mm, base64.StdEncoding.EncodeToString(pngBuf.Bytes()))
	for i := 0; i < extraLines; i++ {
		fmt.Fprintf(&b, "<p>Dòng %d — บรรทัดที่ %d</p>\n", i+1, i+1)
	}
	b.WriteString("</body></html>")
	return []byte(b.String())
}

func inked(img *image.Gray, r image.Rectangle) int {
	n := 0
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			if img.GrayAt(x, y).Y < 128 {
				n++
			}
		}
	}
	return n
}

func TestRenderHTMLScripts(t *testing.T) {
	const thai, viet = "ใบรับคำขอ กรุณาเก็บไว้", "Giấy tiếp nhận hồ sơ — Quảng Nam"
	// The detector itself: private-use code points have no glyph anywhere.
	if !tofu(t, "", "\ue000\ue001\ue002 \ue003", 576) {
		t.Fatal("tofu detector misses missing glyphs")
	}
	tests := []struct {
		name, style, text string
	}{
		{"thai in thai font", "font-family: 'Kiosk Thai'", thai},
		{"thai bold in thai font", "font-family: 'Kiosk Thai'; font-weight: bold", thai},
		{"thai through fallback", "font-family: 'Kiosk Sans'", thai},
		{"vietnamese", "font-family: 'Kiosk Sans'", viet},
		{"vietnamese bold", "font-family: 'Kiosk Sans'; font-weight: bold", viet},
		{"vietnamese in thai font", "font-family: 'Kiosk Thai'", viet},
	}
	for _, width := range []int{576, 384} {
		for _, tc := range tests {
			t.Run(fmt.Sprintf("%s/%d", tc.name, width), func(t *testing.T) {
				html := `<html><body style="margin:0"><p style="` + tc.style + `">` + tc.text + `</p></body></html>`
				img, err := RenderHTML([]byte(html), width)
				if err != nil {
					t.Fatal(err)
				}
				if img.Bounds().Dx() != width {
					t.Fatalf("width %d, want %d", img.Bounds().Dx(), width)
				}
				mono := ToMono(img, width)
				ink := inked(mono, mono.Bounds())
				if ink < 500 {
					t.Errorf("only %d black dots", ink)
				}
				if h := mono.Bounds().Dy(); h > 40*DotsPerMM {
					t.Errorf("one line trimmed to %d rows", h)
				}
				if width == 576 && tofu(t, tc.style, tc.text, width) {
					t.Errorf("glyphs render as tofu boxes")
				}
				if testing.Verbose() {
					savePNG(t, mono, strings.ReplaceAll(tc.name, " ", "_")+".png")
				}
			})
		}
	}
}

// tofu reports whether text renders as missing-glyph boxes: every missing
// glyph is the same box, so the text and its runes reversed give the same
// picture, while real glyphs do not.
func tofu(t *testing.T, style, text string, width int) bool {
	t.Helper()
	r := []rune(text)
	for i, j := 0, len(r)-1; i < j; i, j = i+1, j-1 {
		r[i], r[j] = r[j], r[i]
	}
	var pix [2][]byte
	for k, s := range []string{text, string(r)} {
		img, err := RenderHTML([]byte(`<p style="`+style+`">`+s+`</p>`), width)
		if err != nil {
			t.Fatal(err)
		}
		pix[k] = ToMono(img, width).Pix
	}
	return bytes.Equal(pix[0], pix[1])
}

func savePNG(t *testing.T, img image.Image, name string) {
	t.Helper()
	dir := os.Getenv("PRINTER_TEST_OUT")
	if dir == "" {
		return
	}
	f, err := os.Create(filepath.Join(dir, name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := png.Encode(f, img); err != nil {
		t.Fatal(err)
	}
}

func TestRenderHTMLLong(t *testing.T) {
	short, err := RenderHTML(receiptHTML(t, "https://example.test/t/1", 0), 576)
	if err != nil {
		t.Fatal(err)
	}
	// 150 lines at ~6 mm do not fit a 400 mm page.
	long, err := RenderHTML(receiptHTML(t, "https://example.test/t/1", 150), 576)
	if err != nil {
		t.Fatal(err)
	}
	ms, ml := ToMono(short, 576), ToMono(long, 576)
	if ml.Bounds().Dy() <= pageMM*DotsPerMM {
		t.Fatalf("long receipt %d rows, want more than one %d mm page", ml.Bounds().Dy(), pageMM)
	}
	if ms.Bounds().Dy() >= ml.Bounds().Dy()/3 {
		t.Errorf("short %d rows vs long %d", ms.Bounds().Dy(), ml.Bounds().Dy())
	}
	// No page-break gap: every 20 mm stretch of the long receipt has ink.
	for y := 0; y+160 < ml.Bounds().Dy(); y += 160 {
		if inked(ml, image.Rect(0, y, 576, y+160)) == 0 {
			t.Errorf("blank stretch at row %d", y)
		}
	}
	savePNG(t, ml, "long.png")
}

func TestRenderHTMLBadWidth(t *testing.T) {
	for _, w := range []int{0, -1, 5000} {
		if _, err := RenderHTML([]byte("<p>x</p>"), w); err == nil {
			t.Errorf("width %d accepted", w)
		}
	}
}

func TestToMono(t *testing.T) {
	rgba := image.NewRGBA(image.Rect(10, 10, 110, 60)) // transparent
	for x := 20; x < 30; x++ {
		rgba.Set(x, 12, color.RGBA{40, 40, 40, 255}) // dark: prints
		rgba.Set(x, 14, color.RGBA{200, 200, 200, 255})
		rgba.Set(x, 16, color.RGBA{0, 0, 0, 40}) // light translucent black: paper
	}
	wide := image.NewGray(image.Rect(0, 0, 1152, 400))
	fill(wide.Pix, 255)
	for y := 0; y < 100; y++ {
		for x := 0; x < 576; x++ {
			wide.Pix[y*wide.Stride+x] = 0
		}
	}
	blank := image.NewGray(image.Rect(0, 0, 576, 50))
	fill(blank.Pix, 255)
	tests := []struct {
		name          string
		img           image.Image
		width, height int
		blackAt       []image.Point
		whiteAt       []image.Point
	}{
		{"narrow image centred, trimmed", rgba, 576, 3 + trimMargin,
			[]image.Point{{238 + 10, 2}}, []image.Point{{238 + 10, 4}, {238 + 10, 6}, {10, 2}}},
		{"wide image shrunk", wide, 576, 50 + trimMargin,
			[]image.Point{{0, 0}, {287, 49}}, []image.Point{{289, 0}, {575, 10}}},
		{"blank image trimmed to the margin", blank, 576, trimMargin, nil, []image.Point{{0, 0}}},
		{"empty image", image.NewGray(image.Rect(0, 0, 0, 0)), 384, 1, nil, []image.Point{{0, 0}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := ToMono(tc.img, tc.width)
			if m.Bounds() != image.Rect(0, 0, tc.width, tc.height) {
				t.Fatalf("bounds %v, want %dx%d", m.Bounds(), tc.width, tc.height)
			}
			for _, v := range m.Pix {
				if v != 0 && v != 255 {
					t.Fatalf("pixel value %d", v)
				}
			}
			for _, p := range tc.blackAt {
				if m.GrayAt(p.X, p.Y).Y != 0 {
					t.Errorf("%v white, want black", p)
				}
			}
			for _, p := range tc.whiteAt {
				if m.GrayAt(p.X, p.Y).Y != 255 {
					t.Errorf("%v black, want white", p)
				}
			}
		})
	}
}

func TestQRCode(t *testing.T) {
	payload := "https://dichvucong.example.vn/tra-cuu?ma=QN-2025-000123"
	for _, size := range []int{0, 100, 240} {
		img, err := QRCode(payload, size)
		if err != nil {
			t.Fatal(err)
		}
		b := img.Bounds()
		if b.Dx() != b.Dy() || (size >= 100 && b.Dx() > size) {
			t.Errorf("size %d: bounds %v", size, b)
		}
		g := img.(*image.Gray)
		for _, v := range g.Pix {
			if v != 0 && v != 255 {
				t.Fatalf("grey module pixel %d", v)
			}
		}
		// Quiet zone: the outer 4 modules are white; top-left finder is black
		// just inside it.
		if inked(g, image.Rect(0, 0, b.Dx(), 1)) != 0 {
			t.Errorf("size %d: no quiet zone", size)
		}
		bmp, _ := gozxing.NewBinaryBitmapFromImage(img)
		res, err := qrcode.NewQRCodeReader().Decode(bmp, nil)
		if err != nil {
			t.Fatalf("size %d: decode: %v", size, err)
		}
		if res.GetText() != payload {
			t.Errorf("decoded %q", res.GetText())
		}
	}
	if _, err := QRCode("", 100); err == nil {
		t.Error("empty payload accepted")
	}
}
