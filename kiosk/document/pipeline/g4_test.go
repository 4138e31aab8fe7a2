package pipeline

import (
	"bytes"
	"image"
	"math/rand/v2"
	"testing"

	"golang.org/x/image/ccitt"
)

// decodeG4 decodes with golang.org/x/image/ccitt, an independent decoder.
func decodeG4(t *testing.T, data []byte, w, h int) *Bilevel {
	t.Helper()
	g := image.NewGray(image.Rect(0, 0, w, h))
	if err := ccitt.DecodeIntoGray(g, bytes.NewReader(data), ccitt.MSB, ccitt.Group4, nil); err != nil {
		t.Fatalf("x/image/ccitt cannot decode our G4 (%dx%d, %d bytes): %v", w, h, len(data), err)
	}
	out := &Bilevel{Width: w, Height: h, Black: make([]bool, w*h)}
	for i, v := range g.Pix {
		out.Black[i] = v < 128
	}
	return out
}

func assertSame(t *testing.T, name string, want, got *Bilevel) {
	t.Helper()
	for i := range want.Black {
		if want.Black[i] != got.Black[i] {
			t.Fatalf("%s: pixel (%d,%d) is black=%v after the round trip, want %v", name, i%want.Width, i/want.Width, got.Black[i], want.Black[i])
		}
	}
}

// Every pattern the coder has modes for survives a round trip through an
// independent decoder: runs of every length (terminating, make-up and
// extended make-up codes of both colours), vertical offsets, pass modes.
func TestG4RoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	cases := map[string]*Bilevel{}
	mk := func(name string, w, h int, f func(x, y int) bool) {
		b := &Bilevel{Width: w, Height: h, Black: make([]bool, w*h)}
		for y := range h {
			for x := range w {
				b.Black[y*w+x] = f(x, y)
			}
		}
		cases[name] = b
	}
	mk("white", 2480, 8, func(x, y int) bool { return false })
	mk("black", 2480, 8, func(x, y int) bool { return true })
	mk("wide black", 6000, 3, func(x, y int) bool { return x > 3 })
	mk("noise", 333, 200, func(x, y int) bool { return rng.IntN(3) == 0 })
	mk("sparse noise", 1001, 100, func(x, y int) bool { return rng.IntN(40) == 0 })
	mk("diagonals", 640, 480, func(x, y int) bool { return (x+y)%37 < 5 || (x-2*y+4000)%53 < 3 })
	mk("circles", 500, 500, func(x, y int) bool {
		dx, dy := x-250, y-250
		r := dx*dx + dy*dy
		return r/900%2 == 0
	})
	mk("one column", 1, 50, func(x, y int) bool { return y%3 == 0 })
	// Rows of random run lengths up to 3000 of alternating colour.
	w := 7000
	runs := &Bilevel{Width: w, Height: 64, Black: make([]bool, w*64)}
	for y := range 64 {
		x, black := 0, rng.IntN(2) == 0
		for x < w {
			n := rng.IntN(3000)
			if y%2 == 0 {
				n = rng.IntN(70)
			}
			for i := 0; i < n && x < w; i++ {
				runs.Black[y*w+x] = black
				x++
			}
			black = !black
		}
	}
	cases["random runs"] = runs
	for name, b := range cases {
		data := EncodeG4(b)
		assertSame(t, name, b, decodeG4(t, data, b.Width, b.Height))
	}
}

// Every run length 0..2700 of both colours, each alone on a row, so each
// terminating and make-up code is used in horizontal mode at least once.
func TestG4EveryRunLength(t *testing.T) {
	if raceBuild {
		t.Skip("single-goroutine coding: nothing for the race detector to see; make test runs it without -race")
	}
	const w = 2800
	for _, black := range []bool{false, true} {
		b := &Bilevel{Width: w, Height: 2701, Black: make([]bool, w*2701)}
		for n := 0; n <= 2700; n++ {
			row := b.Black[n*w : (n+1)*w]
			// n pixels of one colour from x=10, the rest of the other.
			for x := range row {
				in := x >= 10 && x < 10+n
				row[x] = in == black
			}
		}
		assertSame(t, "run lengths", b, decodeG4(t, EncodeG4(b), b.Width, b.Height))
	}
}
