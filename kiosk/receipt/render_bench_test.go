package receipt

import (
	"testing"

	"govkiosk/drivers/printer"
)

// BenchmarkRenderHTML measures the host side of one typical receipt: MuPDF
// layout and rasterisation, reduction to black and white, and ESC/POS
// raster encoding.
func BenchmarkRenderHTML(b *testing.B) {
	html := receiptHTML(b, "https://dichvucong.example.vn/tra-cuu?ma=QN-2025-000123", 8)
	b.ReportAllocs()
	var rows, size int
	for b.Loop() {
		img, err := RenderHTML(html, 576)
		if err != nil {
			b.Fatal(err)
		}
		mono := ToMono(img, 576)
		data := printer.EncodeRaster(mono, 256)
		rows, size = mono.Bounds().Dy(), len(data)
	}
	b.ReportMetric(float64(rows), "rows")
	b.ReportMetric(float64(size), "bytes")
}
