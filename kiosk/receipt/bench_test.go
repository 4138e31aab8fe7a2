package receipt

import (
	"fmt"
	"testing"
	"time"

	"govkiosk/drivers/printer"
)

// headSpeedMMs is the physical limit of common 80 mm thermal heads.
const headSpeedMMs = 250

// BenchmarkRenderEncode times what the kiosk does before the first byte
// leaves for the printer: lay out the receipt (MuPDF), reduce it to dots,
// encode ESC/POS. It reports the bytes sent, the paper length, the time
// the printer needs for that length at 250 mm/s, and our time divided by
// it (below 1: the printer, not the kiosk, is the bottleneck).
//
//	go test ./kiosk/receipt -run '^$' -bench RenderEncode -benchtime 20x
func BenchmarkRenderEncode(b *testing.B) {
	for _, tc := range []struct {
		lang   string
		width  int
		native bool
	}{
		{"vi", printer.Width80mm, false},
		{"th", printer.Width80mm, false},
		{"th", printer.Width80mm, true},
		{"th", printer.Width58mm, false},
	} {
		name := fmt.Sprintf("%s/%d", tc.lang, tc.width)
		if tc.native {
			name += "/nativeQR"
		}
		b.Run(name, func(b *testing.B) {
			d := Sample(tc.lang, false)
			cfg := printer.Opts{WidthDots: tc.width}
			var enc printer.Encoded
			start := time.Now()
			for b.Loop() {
				parts, err := Parts(d, tc.width, tc.native)
				if err != nil {
					b.Fatal(err)
				}
				if enc, err = printer.Encode(cfg, parts...); err != nil {
					b.Fatal(err)
				}
			}
			ours := time.Since(start) / time.Duration(b.N)
			mm := float64(enc.Rows) / printer.DotsPerMM
			printMS := mm / headSpeedMMs * 1000
			b.ReportMetric(float64(len(enc.Data)), "bytes")
			b.ReportMetric(mm, "paper-mm")
			b.ReportMetric(printMS, "print-ms@250mm/s")
			b.ReportMetric(ours.Seconds()*1000/printMS, "ours/print")
		})
	}
}
