package qrreader

import (
	"errors"
	"fmt"
	"image"

	"github.com/makiuchi-d/gozxing"
	"github.com/makiuchi-d/gozxing/qrcode/detector"
)

// ErrNotFound means no QR code could be read from an image.
var ErrNotFound = errors.New("qrreader: no QR code found")

// Result is one decoded QR symbol.
type Result struct {
	// Payload is the exact data the symbol carries: byte-mode segments
	// verbatim (so binary and non-UTF-8 payloads survive), numeric and
	// alphanumeric segments as ASCII, Kanji segments as Shift_JIS. ECI
	// designators select a character set and add no bytes.
	Payload []byte
	// Text is the payload interpreted as text (ECI character set, else a
	// guess as zxing does: UTF-8, ISO-8859-1 or Shift_JIS), as UTF-8.
	Text string
}

// DecodeImage reads one QR code from img with the full pipeline (see
// Decode) and returns its Payload, or an error wrapping ErrNotFound.
func DecodeImage(img image.Image) ([]byte, error) {
	r, err := Decode(img)
	if err != nil {
		return nil, err
	}
	return r.Payload, nil
}

// Decode reads one QR code from img. It runs a cheap pass first (the image
// as is, or a downscaled copy of a large one, with a local binarizer) and
// then progressively more expensive ones (other binarizers, contrast
// stretching, other scales, all finder-pattern combinations), each on the
// binarized image and its inverse (light modules on a dark ground). When
// finder patterns are found but gozxing's sampling does not decode, it
// samples the grid itself (corners traced from the finder patterns'
// edges, piecewise perspective between alignment patterns, the version
// read from its version information or guessed one either side), and
// when finder-pattern triples are ambiguous it also tries the few that
// best form a symbol's L in perspective. When all that fails, it samples
// again with the grid nudged locally onto module centres, for crumpled
// or curved paper. It stops at the first symbol whose Reed–Solomon check
// passes. It returns an
// error wrapping ErrNotFound when no pass reads a symbol.
func Decode(img image.Image) (Result, error) {
	if img == nil {
		return Result{}, fmt.Errorf("decode image: nil image: %w", ErrNotFound)
	}
	b := img.Bounds()
	if b.Dx() < 21 || b.Dy() < 21 { // smaller than a version 1 symbol
		return Result{}, fmt.Errorf("decode image: %dx%d is too small: %w", b.Dx(), b.Dy(), ErrNotFound)
	}
	return decodeGray(toGray(img))
}

// qrHints asks gozxing to look at every row for finder patterns.
var qrHints = map[gozxing.DecodeHintType]interface{}{
	gozxing.DecodeHintType_TRY_HARDER: true,
}

// sampling selects what readOnce tries on the finder-pattern triples it
// finds.
type sampling int

const (
	gozxingOnly sampling = iota // gozxing's detector and sampling
	withRescue                  // and, when that fails, the own sampling
	warpedOnly                  // only the own sampling refined for warped surfaces
)

// readMatrix detects and decodes a QR symbol in a binarized image, trying
// bits as given and inverted. It leaves bits as it found them.
func readMatrix(bits *gozxing.BitMatrix, all bool, own sampling) (Result, bool) {
	if r, ok := readOnce(bits, all, own); ok {
		return r, true
	}
	bits.FlipAll()
	defer bits.FlipAll()
	return readOnce(bits, all, own)
}

// readOnce finds finder-pattern triples in bits with gozxing (the single
// best one, or with all every plausible one), samples and decodes the
// symbol each implies as gozxing does, and with withRescue, when none
// decodes, tries the pipeline's own grid sampling on them (see rescue);
// warpedOnly skips straight to the own sampling refined for a warped
// surface.
// gozxing is a port of Java code and can panic on odd input; a panic
// counts as a failed attempt.
func readOnce(bits *gozxing.BitMatrix, all bool, own sampling) (res Result, ok bool) {
	defer func() {
		if p := recover(); p != nil {
			ok = false
		}
	}()
	infos := finderTriples(bits, all)
	if own == warpedOnly {
		return rescueWith(bits, infos, true)
	}
	for _, info := range infos {
		dr, err := detector.NewDetector(bits).ProcessFinderPatternInfo(info)
		if err != nil {
			continue
		}
		if r, ok := decodeGrid(dr.GetBits()); ok {
			return r, true
		}
	}
	if own == withRescue {
		return rescue(bits, infos)
	}
	return Result{}, false
}
