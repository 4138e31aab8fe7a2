package qrreader

import (
	"errors"
	"fmt"

	"github.com/makiuchi-d/gozxing/qrcode/decoder"
)

// errBitstream means the data codewords do not parse as QR segments.
var errBitstream = errors.New("qrreader: malformed QR bit stream")

// payloadBytes reconstructs the exact data a QR symbol carries from its
// error-corrected data codewords (gozxing's raw bytes) and error correction
// level: gozxing's text has byte segments already converted through a
// guessed character set, which loses binary and non-UTF-8 payloads.
//
// It follows gozxing's segment parsing so that it accepts exactly the
// symbols gozxing accepted: numeric and alphanumeric segments become ASCII
// (with the FNC1 '%' convention), byte segments are copied verbatim, Kanji
// becomes Shift_JIS and Hanzi GB2312 byte pairs; ECI, FNC1 and
// structured-append headers add nothing.
func payloadBytes(codewords []byte, ecLevel string) ([]byte, error) {
	version, err := versionFor(len(codewords), ecLevel)
	if err != nil {
		return nil, err
	}
	bs := &bitReader{data: codewords}
	var out []byte
	fnc1 := false
	for bs.available() >= 4 {
		modeBits, _ := bs.read(4)
		if modeBits == 0 { // terminator
			break
		}
		mode, err := decoder.ModeForBits(modeBits)
		if err != nil {
			return nil, fmt.Errorf("%w: mode %#x", errBitstream, modeBits)
		}
		switch mode {
		case decoder.Mode_FNC1_FIRST_POSITION, decoder.Mode_FNC1_SECOND_POSITION:
			fnc1 = true
		case decoder.Mode_STRUCTURED_APPEND:
			if _, err := bs.read(16); err != nil {
				return nil, err
			}
		case decoder.Mode_ECI:
			if err := bs.skipECI(); err != nil {
				return nil, err
			}
		case decoder.Mode_HANZI:
			subset, err := bs.read(4)
			if err != nil {
				return nil, err
			}
			count, err := bs.read(mode.GetCharacterCountBits(version))
			if err != nil {
				return nil, err
			}
			if subset == 1 { // GB2312; gozxing skips other subsets
				if out, err = bs.doubleBytes(out, count, 0x60, 0x00A00, 0x0A1A1, 0x0A6A1); err != nil {
					return nil, err
				}
			}
		default:
			count, err := bs.read(mode.GetCharacterCountBits(version))
			if err != nil {
				return nil, err
			}
			switch mode {
			case decoder.Mode_NUMERIC:
				out, err = bs.numeric(out, count)
			case decoder.Mode_ALPHANUMERIC:
				out, err = bs.alphanumeric(out, count, fnc1)
			case decoder.Mode_BYTE:
				for range count {
					var v int
					if v, err = bs.read(8); err != nil {
						break
					}
					out = append(out, byte(v))
				}
			case decoder.Mode_KANJI:
				out, err = bs.doubleBytes(out, count, 0xC0, 0x01F00, 0x08140, 0x0C140)
			default:
				err = fmt.Errorf("%w: mode %v", errBitstream, mode)
			}
			if err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

// versionFor finds the symbol version whose data capacity at ecLevel is n
// codewords (capacity grows strictly with the version at a fixed level).
func versionFor(n int, ecLevel string) (*decoder.Version, error) {
	level, err := decoder.ErrorCorrectionLevel_ValueOf(ecLevel)
	if err != nil {
		return nil, fmt.Errorf("%w: EC level %q", errBitstream, ecLevel)
	}
	for v := 1; v <= 40; v++ {
		ver, err := decoder.Version_GetVersionForNumber(v)
		if err != nil {
			return nil, err
		}
		if ver.GetTotalCodewords()-ver.GetECBlocksForLevel(level).GetTotalECCodewords() == n {
			return ver, nil
		}
	}
	return nil, fmt.Errorf("%w: no version holds %d data codewords at level %s", errBitstream, n, ecLevel)
}

// bitReader reads big-endian bit fields from a byte slice.
type bitReader struct {
	data []byte
	pos  int // in bits
}

func (b *bitReader) available() int { return 8*len(b.data) - b.pos }

func (b *bitReader) read(n int) (int, error) {
	if n > b.available() || n > 32 {
		return 0, fmt.Errorf("%w: %d bits wanted, %d left", errBitstream, n, b.available())
	}
	v := 0
	for range n {
		bit := b.data[b.pos/8] >> (7 - b.pos%8) & 1
		v = v<<1 | int(bit)
		b.pos++
	}
	return v, nil
}

func (b *bitReader) skipECI() error {
	first, err := b.read(8)
	if err != nil {
		return err
	}
	switch {
	case first&0x80 == 0:
		return nil
	case first&0xC0 == 0x80:
		_, err = b.read(8)
	case first&0xE0 == 0xC0:
		_, err = b.read(16)
	default:
		err = fmt.Errorf("%w: bad ECI designator %#x", errBitstream, first)
	}
	return err
}

func (b *bitReader) numeric(out []byte, count int) ([]byte, error) {
	digits := func(v, n int) []byte {
		d := make([]byte, n)
		for i := n - 1; i >= 0; i-- {
			d[i] = byte('0' + v%10)
			v /= 10
		}
		return d
	}
	for count > 0 {
		n, bits, limit := 3, 10, 1000
		if count == 2 {
			n, bits, limit = 2, 7, 100
		} else if count == 1 {
			n, bits, limit = 1, 4, 10
		}
		v, err := b.read(bits)
		if err != nil {
			return nil, err
		}
		if v >= limit {
			return nil, fmt.Errorf("%w: numeric group %d", errBitstream, v)
		}
		out = append(out, digits(v, n)...)
		count -= n
	}
	return out, nil
}

const alphanumericChars = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"

func (b *bitReader) alphanumeric(out []byte, count int, fnc1 bool) ([]byte, error) {
	start := len(out)
	for count > 0 {
		if count >= 2 {
			v, err := b.read(11)
			if err != nil {
				return nil, err
			}
			if v/45 >= 45 {
				return nil, fmt.Errorf("%w: alphanumeric pair %d", errBitstream, v)
			}
			out = append(out, alphanumericChars[v/45], alphanumericChars[v%45])
			count -= 2
			continue
		}
		v, err := b.read(6)
		if err != nil {
			return nil, err
		}
		if v >= 45 {
			return nil, fmt.Errorf("%w: alphanumeric char %d", errBitstream, v)
		}
		out = append(out, alphanumericChars[v])
		count--
	}
	if fnc1 { // "%%" is a literal '%', a lone '%' is the GS separator (FNC1)
		seg := out[start:]
		w := 0
		for i := 0; i < len(seg); i++ {
			if seg[i] == '%' {
				if i+1 < len(seg) && seg[i+1] == '%' {
					i++
				} else {
					seg[w] = 0x1D
					w++
					continue
				}
			}
			seg[w] = seg[i]
			w++
		}
		out = out[:start+w]
	}
	return out, nil
}

// doubleBytes decodes 13-bit Kanji (Shift_JIS) or Hanzi (GB2312) values
// into their two-byte codes.
func (b *bitReader) doubleBytes(out []byte, count, div, split, lowAdd, highAdd int) ([]byte, error) {
	for range count {
		v, err := b.read(13)
		if err != nil {
			return nil, err
		}
		code := (v/div)<<8 | v%div
		if code < split {
			code += lowAdd
		} else {
			code += highAdd
		}
		out = append(out, byte(code>>8), byte(code))
	}
	return out, nil
}
