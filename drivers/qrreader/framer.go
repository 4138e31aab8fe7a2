package qrreader

// DefaultMaxLen is the longest payload kept when a config gives none. A QR
// code holds at most 2953 bytes, so anything longer is line noise.
const DefaultMaxLen = 4096

// Framer splits the byte stream of a serial imager into payloads. A payload
// ends at CR, LF or CRLF; a CR followed by LF counts as one terminator even
// when the two arrive in different reads. Empty lines are skipped. A line
// longer than the maximum is dropped whole, up to its terminator, and
// counted. Payload bytes are kept exactly as received (binary, not UTF-8).
// The result of feeding a stream does not depend on how it is chunked.
//
// A Framer is not safe for concurrent use.
type Framer struct {
	maxLen     int
	buf        []byte
	afterCR    bool // the previous byte was a CR: a following LF is not a new line
	discarding bool // the current line went over maxLen
	discarded  int
}

// NewFramer returns a framer that keeps payloads of at most maxLen bytes;
// maxLen <= 0 means DefaultMaxLen.
func NewFramer(maxLen int) *Framer {
	if maxLen <= 0 {
		maxLen = DefaultMaxLen
	}
	return &Framer{maxLen: maxLen}
}

// Feed consumes b and returns the payloads it completed, each a fresh slice
// the caller owns. Bytes after the last terminator wait for the next Feed.
func (f *Framer) Feed(b []byte) [][]byte {
	var out [][]byte
	for _, c := range b {
		if c == '\n' && f.afterCR {
			f.afterCR = false
			continue
		}
		f.afterCR = c == '\r'
		if c == '\r' || c == '\n' {
			if !f.discarding && len(f.buf) > 0 {
				out = append(out, append([]byte(nil), f.buf...))
			}
			f.buf = f.buf[:0]
			f.discarding = false
			continue
		}
		if f.discarding {
			continue
		}
		if len(f.buf) == f.maxLen {
			f.discarding = true
			f.discarded++
			f.buf = f.buf[:0]
			continue
		}
		f.buf = append(f.buf, c)
	}
	return out
}

// Discarded reports how many over-long lines have been dropped so far.
func (f *Framer) Discarded() int { return f.discarded }
