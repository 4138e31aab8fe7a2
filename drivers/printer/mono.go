package printer

import (
	"fmt"
	"image"

	"github.com/makiuchi-d/gozxing"
	"github.com/makiuchi-d/gozxing/qrcode"
	"github.com/makiuchi-d/gozxing/qrcode/decoder"
)

const (
	// monoThreshold: grey levels below it print. 160 keeps anti-aliased
	// strokes of small text whole.
	monoThreshold = 160
	// trimMargin is the white kept below the last inked row (2 mm).
	trimMargin = 2 * DotsPerMM
)

// ToMono turns img into a printable bitmap exactly widthDots wide whose
// pixels are only 0 (black, printed) or 255 (white). A wider image is
// scaled down (box filter, aspect kept); a narrower one is centred, never
// scaled up, so QR modules stay sharp. Transparent pixels count as paper.
// Trailing white rows are trimmed to a 2 mm margin.
func ToMono(img image.Image, widthDots int) *image.Gray {
	if widthDots < 1 {
		widthDots = 1
	}
	b := img.Bounds()
	srcW, srcH := b.Dx(), b.Dy()
	if srcW <= 0 || srcH <= 0 {
		out := image.NewGray(image.Rect(0, 0, widthDots, 1))
		fill(out.Pix, 255)
		return out
	}
	grey := toGrey(img)
	if srcW > widthDots {
		grey = shrink(grey, widthDots)
	}
	gw, gh := grey.Bounds().Dx(), grey.Bounds().Dy()
	out := image.NewGray(image.Rect(0, 0, widthDots, gh))
	fill(out.Pix, 255)
	left := (widthDots - gw) / 2
	last := -1
	for y := 0; y < gh; y++ {
		src := grey.Pix[y*grey.Stride : y*grey.Stride+gw]
		dst := out.Pix[y*out.Stride+left : y*out.Stride+left+gw]
		for x, v := range src {
			if v < monoThreshold {
				dst[x] = 0
				last = y
			}
		}
	}
	h := min(last+1+trimMargin, gh)
	if h < 1 {
		h = 1
	}
	out.Rect.Max.Y = h
	out.Pix = out.Pix[:h*out.Stride]
	return out
}

// toGrey copies img into a zero-origin Gray, composited over white.
func toGrey(img image.Image) *image.Gray {
	b := img.Bounds()
	out := image.NewGray(image.Rect(0, 0, b.Dx(), b.Dy()))
	if g, ok := img.(*image.Gray); ok {
		for y := 0; y < b.Dy(); y++ {
			copy(out.Pix[y*out.Stride:y*out.Stride+b.Dx()], g.Pix[g.PixOffset(b.Min.X, b.Min.Y+y):])
		}
		return out
	}
	if c, ok := img.(*image.RGBA); ok {
		for y := 0; y < b.Dy(); y++ {
			src := c.Pix[c.PixOffset(b.Min.X, b.Min.Y+y):]
			dst := out.Pix[y*out.Stride : y*out.Stride+b.Dx()]
			for x := range dst {
				p := src[4*x : 4*x+4 : 4*x+4]
				w := 255 - uint32(p[3]) // premultiplied: add the white behind
				dst[x] = uint8((19595*(uint32(p[0])+w) + 38470*(uint32(p[1])+w) + 7471*(uint32(p[2])+w) + 1<<15) >> 16)
			}
		}
		return out
	}
	for y := 0; y < b.Dy(); y++ {
		for x := 0; x < b.Dx(); x++ {
			r, g, bl, a := img.At(b.Min.X+x, b.Min.Y+y).RGBA()
			// Composite over white: c + (1-a)·white, all premultiplied.
			w := 0xffff - a
			lum := (19595*(r+w) + 38470*(g+w) + 7471*(bl+w) + 1<<15) >> 24
			out.Pix[y*out.Stride+x] = uint8(lum)
		}
	}
	return out
}

// shrink scales g down to width w with a box filter, keeping the aspect.
func shrink(g *image.Gray, w int) *image.Gray {
	sw, sh := g.Bounds().Dx(), g.Bounds().Dy()
	h := max(sh*w/sw, 1)
	out := image.NewGray(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		y0, y1 := y*sh/h, max((y+1)*sh/h, y*sh/h+1)
		for x := 0; x < w; x++ {
			x0, x1 := x*sw/w, max((x+1)*sw/w, x*sw/w+1)
			sum, n := 0, 0
			for yy := y0; yy < y1; yy++ {
				row := g.Pix[yy*g.Stride:]
				for xx := x0; xx < x1; xx++ {
					sum += int(row[xx])
					n++
				}
			}
			out.Pix[y*out.Stride+x] = uint8(sum / n)
		}
	}
	return out
}

func fill(p []uint8, v uint8) {
	for i := range p {
		p[i] = v
	}
}

// QRCode returns a QR symbol for payload (error correction level M, a
// 4-module quiet zone) as a black-and-white image at most sizeDots square
// (or the smallest whole-module size when sizeDots is smaller), with every
// module a whole number of dots so that it prints sharp. Put it in receipt
// HTML as a PNG data URI with CSS width and height of Dx()/8 mm, so MuPDF
// draws it one image pixel per printer dot.
func QRCode(payload string, sizeDots int) (image.Image, error) {
	hints := map[gozxing.EncodeHintType]any{
		gozxing.EncodeHintType_ERROR_CORRECTION: decoder.ErrorCorrectionLevel_M,
		gozxing.EncodeHintType_MARGIN:           4,
		gozxing.EncodeHintType_CHARACTER_SET:    "UTF-8",
	}
	m, err := qrcode.NewQRCodeWriter().Encode(payload, gozxing.BarcodeFormat_QR_CODE, 0, 0, hints)
	if err != nil {
		return nil, fmt.Errorf("qr code: %w", err)
	}
	n := m.GetWidth() // modules including the quiet zone
	scale := max(sizeDots/n, 1)
	img := image.NewGray(image.Rect(0, 0, n*scale, n*scale))
	fill(img.Pix, 255)
	for y := 0; y < n; y++ {
		for x := 0; x < n; x++ {
			if !m.Get(x, y) {
				continue
			}
			for dy := 0; dy < scale; dy++ {
				row := img.Pix[(y*scale+dy)*img.Stride:]
				for dx := 0; dx < scale; dx++ {
					row[x*scale+dx] = 0
				}
			}
		}
	}
	return img, nil
}
