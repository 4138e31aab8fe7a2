package printer

import (
	"bytes"
	"image"
	"testing"
)

// grey builds a Gray image from rows of '#' (black) and '.' (white).
func grey(rows ...string) *image.Gray {
	img := image.NewGray(image.Rect(0, 0, len(rows[0]), len(rows)))
	for y, r := range rows {
		for x, c := range r {
			v := uint8(255)
			if c == '#' {
				v = 0
			}
			img.SetGray(x, y, struct{ Y uint8 }{v})
		}
	}
	return img
}

func TestEncodeRaster(t *testing.T) {
	tests := []struct {
		name string
		img  *image.Gray
		band int
		want []byte
	}{
		{
			name: "one byte MSB first",
			img:  grey("#......#"),
			band: 24,
			want: []byte{0x1d, 'v', '0', 0, 1, 0, 1, 0, 0x81},
		},
		{
			name: "width padded to whole bytes",
			img:  grey("#########", "........#"),
			band: 24,
			want: []byte{0x1d, 'v', '0', 0, 2, 0, 2, 0, 0xff, 0x80, 0x00, 0x80},
		},
		{
			name: "bands split with a short last band",
			img:  grey("#.......", ".#......", "..#....."),
			band: 2,
			want: []byte{
				0x1d, 'v', '0', 0, 1, 0, 2, 0, 0x80, 0x40,
				0x1d, 'v', '0', 0, 1, 0, 1, 0, 0x20,
			},
		},
		{
			name: "band rows clamped to at least 1",
			img:  grey("#", "#"),
			band: 0,
			want: []byte{
				0x1d, 'v', '0', 0, 1, 0, 1, 0, 0x80,
				0x1d, 'v', '0', 0, 1, 0, 1, 0, 0x80,
			},
		},
		{
			name: "grey below 128 prints",
			img:  func() *image.Gray { g := grey("........"); g.Pix[0], g.Pix[1] = 127, 128; return g }(),
			band: 8,
			want: []byte{0x1d, 'v', '0', 0, 1, 0, 1, 0, 0x80},
		},
		{
			name: "empty image",
			img:  image.NewGray(image.Rect(0, 0, 0, 0)),
			band: 8,
			want: nil,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := EncodeRaster(tc.img, tc.band)
			if !bytes.Equal(got, tc.want) {
				t.Errorf("EncodeRaster = % x, want % x", got, tc.want)
			}
		})
	}
}

func TestEncodeRasterLarge(t *testing.T) {
	img := image.NewGray(image.Rect(0, 0, 576, 2000))
	got := EncodeRaster(img, 960)
	// 960 + 960 + 80 rows, 72 bytes each, 8-byte headers.
	if want := 3*8 + 72*2000; len(got) != want {
		t.Fatalf("len = %d, want %d", len(got), want)
	}
	second := got[8+72*960:]
	if !bytes.Equal(second[:8], []byte{0x1d, 'v', '0', 0, 72, 0, 0xc0, 0x03}) {
		t.Errorf("second header % x", second[:8])
	}
	third := second[8+72*960:]
	if !bytes.Equal(third[:8], []byte{0x1d, 'v', '0', 0, 72, 0, 80, 0}) {
		t.Errorf("third header % x", third[:8])
	}
	// A sub-image with a non-zero origin packs from its own origin.
	big := grey("........", "....#...", "........")
	sub := big.SubImage(image.Rect(4, 1, 12, 2)).(*image.Gray)
	if got := EncodeRaster(sub, 1); got[len(got)-1] != 0x80 {
		t.Errorf("sub-image row % x", got)
	}
}
