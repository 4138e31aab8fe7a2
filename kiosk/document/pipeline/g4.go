package pipeline

// CCITT Group 4 (ITU-T T.6) encoding of bilevel pages, the compression PDF
// readers have decoded since PDF 1.0 (CCITTFaxDecode, K -1). No module the
// project can use encodes it (golang.org/x/image/ccitt only decodes, and is
// what the tests check this encoder against), so it is written here.

// Bilevel is a one-bit page: Black[y*Width+x] is true for a black pixel.
type Bilevel struct {
	Width, Height int
	Black         []bool
}

// code is a variable-length code: n bits, right-aligned in v.
type code struct {
	v uint32
	n uint8
}

// c parses a code written as a string of 0 and 1, as the standard prints it.
func c(s string) code {
	var v uint32
	for _, r := range s {
		v <<= 1
		if r == '1' {
			v |= 1
		}
	}
	return code{v, uint8(len(s))}
}

// T.4 tables 2 and 3: terminating codes for runs 0..63 and make-up codes
// for runs 64..1728 (step 64), then the extended make-up codes 1792..2560
// shared by both colours.
var (
	whiteTerm = [64]code{
		c("00110101"), c("000111"), c("0111"), c("1000"), c("1011"), c("1100"), c("1110"), c("1111"),
		c("10011"), c("10100"), c("00111"), c("01000"), c("001000"), c("000011"), c("110100"), c("110101"),
		c("101010"), c("101011"), c("0100111"), c("0001100"), c("0001000"), c("0010111"), c("0000011"), c("0000100"),
		c("0101000"), c("0101011"), c("0010011"), c("0100100"), c("0011000"), c("00000010"), c("00000011"), c("00011010"),
		c("00011011"), c("00010010"), c("00010011"), c("00010100"), c("00010101"), c("00010110"), c("00010111"), c("00101000"),
		c("00101001"), c("00101010"), c("00101011"), c("00101100"), c("00101101"), c("00000100"), c("00000101"), c("00001010"),
		c("00001011"), c("01010010"), c("01010011"), c("01010100"), c("01010101"), c("00100100"), c("00100101"), c("01011000"),
		c("01011001"), c("01011010"), c("01011011"), c("01001010"), c("01001011"), c("00110010"), c("00110011"), c("00110100"),
	}
	whiteMakeup = [27]code{
		c("11011"), c("10010"), c("010111"), c("0110111"), c("00110110"), c("00110111"), c("01100100"), c("01100101"),
		c("01101000"), c("01100111"), c("011001100"), c("011001101"), c("011010010"), c("011010011"), c("011010100"), c("011010101"),
		c("011010110"), c("011010111"), c("011011000"), c("011011001"), c("011011010"), c("011011011"), c("010011000"), c("010011001"),
		c("010011010"), c("011000"), c("010011011"),
	}
	blackTerm = [64]code{
		c("0000110111"), c("010"), c("11"), c("10"), c("011"), c("0011"), c("0010"), c("00011"),
		c("000101"), c("000100"), c("0000100"), c("0000101"), c("0000111"), c("00000100"), c("00000111"), c("000011000"),
		c("0000010111"), c("0000011000"), c("0000001000"), c("00001100111"), c("00001101000"), c("00001101100"), c("00000110111"), c("00000101000"),
		c("00000010111"), c("00000011000"), c("000011001010"), c("000011001011"), c("000011001100"), c("000011001101"), c("000001101000"), c("000001101001"),
		c("000001101010"), c("000001101011"), c("000011010010"), c("000011010011"), c("000011010100"), c("000011010101"), c("000011010110"), c("000011010111"),
		c("000001101100"), c("000001101101"), c("000011011010"), c("000011011011"), c("000001010100"), c("000001010101"), c("000001010110"), c("000001010111"),
		c("000001100100"), c("000001100101"), c("000001010010"), c("000001010011"), c("000000100100"), c("000000110111"), c("000000111000"), c("000000100111"),
		c("000000101000"), c("000001011000"), c("000001011001"), c("000000101011"), c("000000101100"), c("000001011010"), c("000001100110"), c("000001100111"),
	}
	blackMakeup = [27]code{
		c("0000001111"), c("000011001000"), c("000011001001"), c("000001011011"), c("000000110011"), c("000000110100"), c("000000110101"), c("0000001101100"),
		c("0000001101101"), c("0000001001010"), c("0000001001011"), c("0000001001100"), c("0000001001101"), c("0000001110010"), c("0000001110011"), c("0000001110100"),
		c("0000001110101"), c("0000001110110"), c("0000001110111"), c("0000001010010"), c("0000001010011"), c("0000001010100"), c("0000001010101"), c("0000001011010"),
		c("0000001011011"), c("0000001100100"), c("0000001100101"),
	}
	extMakeup = [13]code{
		c("00000001000"), c("00000001100"), c("00000001101"), c("000000010010"), c("000000010011"), c("000000010100"), c("000000010101"),
		c("000000010110"), c("000000010111"), c("000000011100"), c("000000011101"), c("000000011110"), c("000000011111"),
	}
	// T.4 table 4: the two-dimensional mode codes.
	codePass  = c("0001")
	codeHoriz = c("001")
	codeVert  = [7]code{c("0000010"), c("000010"), c("010"), c("1"), c("011"), c("000011"), c("0000011")} // a1-b1 = -3..3
	codeEOFB  = c("000000000001")
)

// bitWriter packs codes most significant bit first.
type bitWriter struct {
	out  []byte
	acc  uint64
	nacc uint
}

func (w *bitWriter) put(k code) {
	w.acc = w.acc<<k.n | uint64(k.v)
	w.nacc += uint(k.n)
	for w.nacc >= 8 {
		w.nacc -= 8
		w.out = append(w.out, byte(w.acc>>w.nacc))
	}
}

func (w *bitWriter) flush() []byte {
	if w.nacc > 0 {
		w.out = append(w.out, byte(w.acc<<(8-w.nacc)))
		w.nacc = 0
	}
	return w.out
}

// run writes a run of n pixels of one colour: make-up codes, then one
// terminating code.
func (w *bitWriter) run(n int, black bool) {
	term, makeup := &whiteTerm, &whiteMakeup
	if black {
		term, makeup = &blackTerm, &blackMakeup
	}
	for n >= 2560 {
		w.put(extMakeup[12])
		n -= 2560
	}
	if n >= 64 {
		m := n / 64
		if m <= 27 {
			w.put(makeup[m-1])
		} else {
			w.put(extMakeup[m-28])
		}
		n -= m * 64
	}
	w.put(term[n])
}

// changes lists the changing elements of one row: the positions where the
// colour differs from the pixel before (the pixel before the row is white),
// so even entries start black runs. Two copies of width end the list.
func changes(dst []int, row []bool) []int {
	dst = dst[:0]
	prev := false
	for x, b := range row {
		if b != prev {
			dst = append(dst, x)
			prev = b
		}
	}
	return append(dst, len(row), len(row))
}

// EncodeG4 encodes b as CCITT Group 4 with an end-of-block marker, the
// stream a PDF image with /CCITTFaxDecode and /K -1 holds (BlackIs1 false).
func EncodeG4(b *Bilevel) []byte {
	w := &bitWriter{out: make([]byte, 0, b.Width*b.Height/64+64)}
	width := b.Width
	ref := []int{width, width} // the imaginary white row above the first
	var cur []int
	for y := range b.Height {
		cur = changes(cur, b.Black[y*width:(y+1)*width])
		a0, black := -1, false
		ia, j0 := 0, 0 // first entries of cur and ref right of a0 (a0 only moves right)
		for a0 < width {
			for cur[ia] <= a0 {
				ia++
			}
			for ref[j0] <= a0 {
				j0++
			}
			a1 := cur[ia]
			a2 := cur[min(ia+1, len(cur)-1)]
			// b1 is the first change in the reference row right of a0 of
			// the colour opposite to a0's: even entries change to black.
			ib := j0
			if (ib%2 == 1) != black {
				ib++
			}
			b1 := ref[min(ib, len(ref)-1)]
			b2 := ref[min(ib+1, len(ref)-1)]
			switch d := a1 - b1; {
			case b2 < a1:
				w.put(codePass)
				a0 = b2
			case d >= -3 && d <= 3:
				w.put(codeVert[d+3])
				a0 = a1
				black = !black
			default:
				w.put(codeHoriz)
				w.run(a1-max(a0, 0), black)
				w.run(a2-a1, !black)
				a0 = a2
			}
		}
		ref, cur = cur, ref
	}
	w.put(codeEOFB)
	w.put(codeEOFB)
	return w.flush()
}
