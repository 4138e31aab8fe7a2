package receipt

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
//
// Thermal heads print dots, not greys, so the conversion depends on the
// content (see photoMask): text, rules and QR codes, whose pixels are paper
// white or ink black with anti-aliased edges, are thresholded (crisp, no
// speckle around glyphs); regions that are mostly mid-grey (photos, logos
// with tints, gradients) are dithered with Atkinson error diffusion, which
// keeps flat areas clean and diffuses only 3/4 of the error, so the dot
// gain of a thermal head does not clog the shadows.
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
	mask, tw := photoMask(grey)
	var errs []int16 // diffusion error of photo pixels, allocated when needed
	last := -1
	for y := 0; y < gh; y++ {
		src := grey.Pix[y*grey.Stride : y*grey.Stride+gw]
		dst := out.Pix[y*out.Stride+left : y*out.Stride+left+gw]
		mrow := mask[(y/photoTile)*tw:]
		for x, v := range src {
			if !mrow[x/photoTile] {
				if v < monoThreshold {
					dst[x] = 0
					last = y
				}
				continue
			}
			if errs == nil {
				errs = make([]int16, gw*gh)
			}
			i := y*gw + x
			want := int(v) + int(errs[i])
			got := 255
			if want < 128 {
				got = 0
				dst[x] = 0
				last = y
			}
			e := int16((want - got) / 8)
			for _, d := range atkinson {
				xx, yy := x+d[0], y+d[1]
				if xx >= 0 && xx < gw && yy < gh && mask[(yy/photoTile)*tw+xx/photoTile] {
					errs[yy*gw+xx] += e
				}
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

// atkinson lists the neighbours that each get 1/8 of a pixel's error.
var atkinson = [6][2]int{{1, 0}, {2, 0}, {-1, 1}, {0, 1}, {1, 1}, {0, 2}}

const (
	photoTile = 16 // tile side for photoMask, in dots (2 mm)
	// A tile is a photo when at least this many of its pixels (per 256)
	// are mid-grey; text at receipt sizes stays far below it (its grey is
	// only the anti-aliased edge of strokes).
	photoShare = 160
	// A tile next to a photo tile joins it with this many (per 256), so a
	// photo's edges are dithered like its middle.
	photoEdgeShare = 64
	midLo, midHi   = 40, 215
)

// photoMask classifies g in photoTile squares: true where the tile is part
// of a photo or tinted graphic. It returns the mask row by row and the
// number of tiles per row.
func photoMask(g *image.Gray) ([]bool, int) {
	w, h := g.Bounds().Dx(), g.Bounds().Dy()
	tw, th := (w+photoTile-1)/photoTile, (h+photoTile-1)/photoTile
	share := make([]int, tw*th) // mid-grey pixels per 256
	for ty := 0; ty < th; ty++ {
		y0, y1 := ty*photoTile, min((ty+1)*photoTile, h)
		for tx := 0; tx < tw; tx++ {
			x0, x1 := tx*photoTile, min((tx+1)*photoTile, w)
			n := 0
			for y := y0; y < y1; y++ {
				for _, v := range g.Pix[y*g.Stride+x0 : y*g.Stride+x1] {
					if v >= midLo && v <= midHi {
						n++
					}
				}
			}
			share[ty*tw+tx] = n * 256 / ((y1 - y0) * (x1 - x0))
		}
	}
	mask := make([]bool, tw*th)
	for i, s := range share {
		mask[i] = s >= photoShare
	}
	grown := append([]bool(nil), mask...)
	for ty := 0; ty < th; ty++ {
		for tx := 0; tx < tw; tx++ {
			i := ty*tw + tx
			if mask[i] || share[i] < photoEdgeShare {
				continue
			}
			for dy := -1; dy <= 1; dy++ {
				for dx := -1; dx <= 1; dx++ {
					x, y := tx+dx, ty+dy
					if x >= 0 && x < tw && y >= 0 && y < th && mask[y*tw+x] {
						grown[i] = true
					}
				}
			}
		}
	}
	return grown, tw
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
