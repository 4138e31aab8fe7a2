package qrreader

import (
	"errors"
	"image"
	"image/color"
	"image/draw"
	_ "image/jpeg"
	_ "image/png"
	"testing"
)

// encodeQR renders payload (UTF-8) as a QR symbol of about size×size pixels.
func encodeQR(t testing.TB, payload string, size int) *image.Gray {
	t.Helper()
	return encodeBytes(t, payload, "UTF-8", size)
}

func invert(src *image.Gray) *image.Gray {
	out := image.NewGray(src.Bounds())
	for i, v := range src.Pix {
		out.Pix[i] = 255 - v
	}
	return out
}

// scale resizes by f with bilinear interpolation (a camera never lands on
// the module grid).
func scale(src *image.Gray, f float64) *image.Gray {
	b := src.Bounds()
	w, h := int(float64(b.Dx())*f), int(float64(b.Dy())*f)
	out := image.NewGray(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			sx, sy := float64(x)/f, float64(y)/f
			x0, y0 := min(int(sx), b.Dx()-1), min(int(sy), b.Dy()-1)
			x1, y1 := min(x0+1, b.Dx()-1), min(y0+1, b.Dy()-1)
			fx, fy := sx-float64(x0), sy-float64(y0)
			p := func(x, y int) float64 { return float64(src.GrayAt(x, y).Y) }
			v := (p(x0, y0)*(1-fx)+p(x1, y0)*fx)*(1-fy) + (p(x0, y1)*(1-fx)+p(x1, y1)*fx)*fy
			out.SetGray(x, y, color.Gray{Y: uint8(v + 0.5)})
		}
	}
	return out
}

// blur is a box blur of the given radius.
func blur(src *image.Gray, r int) *image.Gray {
	b := src.Bounds()
	out := image.NewGray(b)
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			sum, n := 0, 0
			for dy := -r; dy <= r; dy++ {
				for dx := -r; dx <= r; dx++ {
					p := image.Pt(x+dx, y+dy)
					if p.In(b) {
						sum += int(src.GrayAt(p.X, p.Y).Y)
						n++
					}
				}
			}
			out.SetGray(x, y, color.Gray{Y: uint8(sum / n)})
		}
	}
	return out
}

// lowContrast maps black to 90 and white to 200, as under a dim kiosk lamp.
func lowContrast(src *image.Gray) *image.Gray {
	out := image.NewGray(src.Bounds())
	for i, v := range src.Pix {
		out.Pix[i] = uint8(90 + int(v)*110/255)
	}
	return out
}

func TestDecodeImageSynthetic(t *testing.T) {
	url := "https://dvc.example.gov.vn/tra-cuu?ma=HS-2025-000123"
	utf8 := "Dịch vụ công trực tuyến — บริการภาครัฐ"
	tests := []struct {
		name    string
		payload string
		img     func(*image.Gray) image.Image
	}{
		{"plain", url, func(g *image.Gray) image.Image { return g }},
		{"UTF-8 text", utf8, func(g *image.Gray) image.Image { return g }},
		{"inverted", url, func(g *image.Gray) image.Image { return invert(g) }},
		{"scaled and blurred", url, func(g *image.Gray) image.Image { return blur(scale(g, 1.37), 2) }},
		{"downscaled and blurred", utf8, func(g *image.Gray) image.Image { return blur(scale(g, 0.8), 1) }},
		{"inverted, scaled, blurred, low contrast", url, func(g *image.Gray) image.Image { return lowContrast(blur(scale(invert(g), 1.5), 2)) }},
		{"tiny: version 1 at 1.6 px per module", "HS-2025-7", func(g *image.Gray) image.Image { return scale(g, 1.6/float64(g.Bounds().Dx()/29)) }},
		{"tiny and blurred", "HS-2025-7", func(g *image.Gray) image.Image { return blur(scale(g, 2.2/float64(g.Bounds().Dx()/29)), 1) }},
		{"heavily blurred", url, func(g *image.Gray) image.Image { return blur(g, 3) }},
		{"inverted and blurred", url, func(g *image.Gray) image.Image { return blur(invert(g), 2) }},
		{"offset bounds RGBA", url, func(g *image.Gray) image.Image {
			r := image.Rect(50, 30, 50+g.Bounds().Dx()+40, 30+g.Bounds().Dy()+40)
			out := image.NewRGBA(r)
			draw.Draw(out, r, image.NewUniform(color.RGBA{230, 240, 250, 255}), image.Point{}, draw.Src)
			draw.Draw(out, g.Bounds().Add(image.Pt(70, 50)), g, image.Point{}, draw.Src)
			return out
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			img := tc.img(encodeQR(t, tc.payload, 240))
			got, err := DecodeImage(img)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tc.payload {
				t.Fatalf("decoded %q, want %q", got, tc.payload)
			}
		})
	}
}

func TestDecodeImageNotFound(t *testing.T) {
	white := image.NewGray(image.Rect(0, 0, 300, 300))
	draw.Draw(white, white.Bounds(), image.White, image.Point{}, draw.Src)
	noise := image.NewGray(image.Rect(0, 0, 200, 200))
	for i := range noise.Pix {
		noise.Pix[i] = uint8((i*7919 + i/200*104729) % 251)
	}
	tests := []struct {
		name string
		img  image.Image
	}{
		{"blank white", white},
		{"blank black", image.NewGray(image.Rect(0, 0, 300, 300))},
		{"pattern", noise},
		{"tiny", image.NewGray(image.Rect(0, 0, 5, 5))},
		{"nil", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := DecodeImage(tc.img)
			if !errors.Is(err, ErrNotFound) {
				t.Fatalf("DecodeImage = %q, %v; want ErrNotFound", got, err)
			}
		})
	}
}
