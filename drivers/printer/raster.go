package printer

import "image"

// MaxBandRows is the largest band EncodeRaster emits.
const MaxBandRows = 960

// EncodeRaster packs mono (pixels below 128 print) into ESC/POS raster
// bands: GS v 0, m=0, xL xH (bytes per row), yL yH (rows), then the rows,
// MSB first, 1 = black. bandRows outside 1..960 is clamped. An empty image
// gives no bytes.
func EncodeRaster(mono *image.Gray, bandRows int) []byte {
	b := mono.Bounds()
	w, h := b.Dx(), b.Dy()
	if w <= 0 || h <= 0 {
		return nil
	}
	bandRows = min(max(bandRows, 1), MaxBandRows)
	rowBytes := (w + 7) / 8
	bands := (h + bandRows - 1) / bandRows
	out := make([]byte, 0, bands*8+rowBytes*h)
	for y0 := 0; y0 < h; y0 += bandRows {
		n := min(bandRows, h-y0)
		out = append(out, 0x1d, 'v', '0', 0,
			byte(rowBytes), byte(rowBytes>>8), byte(n), byte(n>>8))
		for y := y0; y < y0+n; y++ {
			row := mono.Pix[mono.PixOffset(b.Min.X, b.Min.Y+y):]
			for bx := 0; bx < rowBytes; bx++ {
				var v byte
				for bit := 0; bit < 8; bit++ {
					x := bx*8 + bit
					if x < w && row[x] < 128 {
						v |= 0x80 >> bit
					}
				}
				out = append(out, v)
			}
		}
	}
	return out
}
