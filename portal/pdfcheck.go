package portal

import (
	"bytes"
	"compress/zlib"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/pdfcpu/pdfcpu/pkg/filter"
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/model"
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/types"
)

// MaxInflatedBytes bounds what the portal decompresses to count the pages
// of one document: every stream but images, together. A kiosk's scans are
// images; the rest (page contents, object and cross-reference streams,
// metadata) is a few kilobytes, so this is far below MaxDocumentBytes.
const MaxInflatedBytes = 8 << 20

// Limits of the walk over a document's objects.
const (
	maxObjectHead = 16 << 10 // the dictionary of a stream must start within this much of its object header
	maxObjects    = 20000    // a 200-page scan has about 800
)

var (
	errInflateLimit   = fmt.Errorf("pdf: streams inflate to more than %d bytes", MaxInflatedBytes)
	errUncheckablePDF = errors.New("pdf: not a shape the portal can check")
)

// checkInflation is the decompression-bomb check done before pdfcpu sees a
// document. pdfcpu bounds each stream it decodes (at best: the catalogue's
// metadata and cross-reference streams are decoded with its 512 MiB
// default whatever the configuration says), not the document; so every
// stream pdfcpu might decode is inflated here first, through a limit shared
// by the whole document, and a document that goes over is refused.
//
// Streams are found as pdfcpu finds them: at every "N G obj" header the
// same keyword detection and dictionary parser (pdfcpu's own) decide
// whether the object is a stream and what its filters are. Image XObjects
// (Type XObject, Subtype Image, pdfcpu's own test) are skipped: pdfcpu never
// decodes them, and neither does the portal. The filters allowed on other
// streams are those kiosks and ordinary writers use (Flate, ASCIIHex,
// ASCII85); anything else there (LZW, RunLength, Crypt, image codecs, an
// indirect filter list) is refused rather than guessed at.
func checkInflation(pdf []byte) error {
	budget := int64(MaxInflatedBytes)
	objects := 0
	for i := 0; ; {
		j := bytes.Index(pdf[i:], []byte("obj"))
		if j < 0 {
			return nil
		}
		at := i + j
		i = at + 3
		if !objHeaderAt(pdf, at) {
			continue
		}
		if objects++; objects > maxObjects {
			return fmt.Errorf("%w: more than %d objects", errUncheckablePDF, maxObjects)
		}
		d, data, ok, err := streamAt(pdf, at+3)
		if err != nil {
			return err
		}
		if !ok || imageXObject(d) {
			continue
		}
		n, err := inflate(d, data, budget)
		if err != nil {
			return err
		}
		budget -= n
	}
}

func isPDFSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == 0
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// objHeaderAt reports whether the "obj" at pdf[at:] ends an object header
// "N G obj".
func objHeaderAt(pdf []byte, at int) bool {
	if at+3 < len(pdf) && !isPDFSpace(pdf[at+3]) && !strings.ContainsRune("<[(/%", rune(pdf[at+3])) {
		return false // a longer word
	}
	k := at - 1
	for k >= 0 && isPDFSpace(pdf[k]) {
		k--
	}
	digits := func() bool {
		n := 0
		for k >= 0 && isDigit(pdf[k]) {
			k--
			n++
		}
		return n > 0
	}
	if !digits() {
		return false
	}
	if k < 0 || !isPDFSpace(pdf[k]) {
		return false
	}
	for k >= 0 && isPDFSpace(pdf[k]) {
		k--
	}
	return digits()
}

// streamAt looks at the object whose header ends at pdf[from:]: for a
// stream it returns the dictionary and everything from the first byte of
// the stream's data to the end of the file.
func streamAt(pdf []byte, from int) (types.Dict, []byte, bool, error) {
	var line string
	var endInd, streamInd int
	for size := 1 << 10; ; size *= 4 { // most objects end or start their stream within 1 KiB
		line = string(pdf[from:min(len(pdf), from+size)])
		var err error
		endInd, streamInd, err = model.DetectKeywords(line) // fails on a string cut off by the window
		if err == nil && (endInd >= 0 || streamInd >= 0) {
			break
		}
		switch {
		case from+size >= len(pdf) && err == nil:
			return nil, nil, false, nil // the end of the file
		case from+size >= len(pdf) || size >= maxObjectHead:
			return nil, nil, false, fmt.Errorf("%w: an object longer than %d bytes or unterminated (%v)", errUncheckablePDF, maxObjectHead, err)
		}
	}
	if endInd > 0 && (streamInd < 0 || streamInd > endInd) {
		return nil, nil, false, nil // not a stream
	}
	// As pdfcpu: the stream keyword is the one right after the dictionary.
	for streamInd > 0 && !streamRightAfterDict(line, streamInd) {
		next := strings.Index(line[streamInd+len("stream"):], "stream")
		if next < 0 {
			return nil, nil, false, fmt.Errorf("%w: stream keyword not after a dictionary", errUncheckablePDF)
		}
		streamInd += len("stream") + next
		if endInd > 0 && streamInd > endInd {
			return nil, nil, false, nil
		}
	}
	head := line[:streamInd]
	obj, err := model.ParseObject(&head)
	d, ok := obj.(types.Dict)
	if err != nil || !ok {
		return nil, nil, false, fmt.Errorf("%w: stream without a dictionary", errUncheckablePDF)
	}
	off := streamInd + len("stream")
	for off < len(line) && line[off] == ' ' {
		off++
	}
	switch {
	case strings.HasPrefix(line[off:], "\r\n"):
		off += 2
	case strings.HasPrefix(line[off:], "\n"), strings.HasPrefix(line[off:], "\r"):
		off++
	}
	return d, pdf[from+off:], true, nil
}

// streamRightAfterDict reports whether only white space separates the
// stream keyword at streamInd from the last ">>" before it.
func streamRightAfterDict(line string, streamInd int) bool {
	b := line[:streamInd]
	eod := strings.LastIndex(b, ">>")
	return eod >= 0 && strings.TrimSpace(b[eod:]) == ">>"
}

// imageXObject is pdfcpu's StreamDict.Image.
func imageXObject(d types.Dict) bool {
	t, st := d.Type(), d.Subtype()
	return t != nil && *t == "XObject" && st != nil && *st == "Image"
}

// filterNames returns a stream's filters, in the order they are applied
// to decode it, with pdfcpu's relaxed aliases spelled out.
func filterNames(d types.Dict) ([]string, error) {
	o, found := d.Find("Filter")
	if !found || o == nil {
		return nil, nil
	}
	var names []string
	switch f := o.(type) {
	case types.Name:
		names = []string{f.Value()}
	case types.Array:
		for _, e := range f {
			n, ok := e.(types.Name)
			if !ok {
				return nil, fmt.Errorf("%w: a filter list that is not names", errUncheckablePDF)
			}
			names = append(names, n.Value())
		}
	default:
		return nil, fmt.Errorf("%w: an indirect filter list", errUncheckablePDF)
	}
	for i, n := range names {
		switch n {
		case "Fl":
			names[i] = filter.Flate
		case "AHx":
			names[i] = filter.ASCIIHex
		case "A85":
			names[i] = filter.ASCII85
		}
	}
	return names, nil
}

// inflate decodes one stream's data through its filters, refusing once the
// document's output passes budget, and returns the bytes produced.
func inflate(d types.Dict, data []byte, budget int64) (int64, error) {
	names, err := filterNames(d)
	if err != nil || len(names) == 0 {
		return 0, err
	}
	var produced int64
	in := data
	for i, name := range names {
		if produced >= budget {
			return produced, errInflateLimit
		}
		var out []byte
		switch name {
		case filter.Flate:
			if i == len(names)-1 {
				// The last stage is only counted.
				var n int64
				n, err = inflateZlib(io.Discard, in, budget-produced)
				produced += n
				if err != nil {
					return produced, err
				}
				continue
			}
			var buf bytes.Buffer
			_, err = inflateZlib(&buf, in, budget-produced)
			out = buf.Bytes()
		case filter.ASCIIHex, filter.ASCII85:
			if i == 0 {
				in = in[:rawStreamLength(d, in)]
			}
			var f filter.Filter
			if f, err = filter.NewFilter(name, nil, budget-produced); err == nil {
				var r io.Reader
				if r, err = f.Decode(bytes.NewReader(in)); err == nil {
					out, err = io.ReadAll(r)
				}
			}
			if errors.Is(err, filter.ErrDecodeLimitExceeded) {
				err = errInflateLimit
			} else if err != nil {
				err = nil // malformed: pdfcpu fails on it too, having produced nothing more
				out = nil
			}
		default:
			return produced, fmt.Errorf("%w: filter %s on a stream that is not an image", errUncheckablePDF, name)
		}
		produced += int64(len(out))
		if err != nil {
			return produced, err
		}
		in = out
	}
	return produced, nil
}

// inflateZlib inflates the zlib stream at the start of in into w, counting
// what comes out against limit. Corrupt data ends the stream: a decoder
// gets no further than the corruption either.
func inflateZlib(w io.Writer, in []byte, limit int64) (int64, error) {
	zr, err := zlib.NewReader(bytes.NewReader(in))
	if err != nil {
		return 0, nil
	}
	defer zr.Close()
	n, _ := io.Copy(w, io.LimitReader(zr, limit+1))
	if n > limit {
		return n, errInflateLimit
	}
	return n, nil
}

// rawStreamLength is the length of a stream's data: its direct Length, or
// up to the endstream keyword.
func rawStreamLength(d types.Dict, data []byte) int {
	if l := d.IntEntry("Length"); l != nil && *l >= 0 && *l <= len(data) {
		return *l
	}
	if i := bytes.Index(data, []byte("endstream")); i >= 0 {
		return i
	}
	return len(data)
}
