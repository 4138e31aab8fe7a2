package idqr

import (
	"bytes"
	"compress/zlib"
	"errors"
	"io"
	"runtime"
	"testing"
)

// countingReader counts the compressed bytes the decompressor pulls. It is
// an io.ByteReader, as bytes.Reader is, so flate reads no further than it
// needs.
type countingReader struct {
	r *bytes.Reader
	n int
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}

func (c *countingReader) ReadByte() (byte, error) {
	b, err := c.r.ReadByte()
	if err == nil {
		c.n++
	}
	return b, err
}

// bomb is a zlib stream of n zero bytes: about 1 KiB per MiB.
func bomb(t testing.TB, n int) []byte {
	t.Helper()
	var z bytes.Buffer
	zw, _ := zlib.NewWriterLevel(&z, zlib.BestCompression)
	chunk := make([]byte, 1<<20)
	for n > 0 {
		k := min(n, len(chunk))
		if _, err := zw.Write(chunk[:k]); err != nil {
			t.Fatal(err)
		}
		n -= k
	}
	zw.Close()
	return z.Bytes()
}

// The decompressor stops at the bound: of a 64 MiB bomb it reads a few
// hundred compressed bytes and produces only limit+1 bytes.
func TestInflateStopsEarly(t *testing.T) {
	z := bomb(t, 64<<20)
	src := &countingReader{r: bytes.NewReader(z)}
	out, err := inflateFrom(src, DefaultMaxDecompressed)
	if !errors.Is(err, ErrTooLarge) || out != nil {
		t.Fatalf("inflate = %d bytes, %v; want ErrTooLarge", len(out), err)
	}
	if src.n > 1024 {
		t.Fatalf("read %d of %d compressed bytes; want it to stop near the start", src.n, len(z))
	}
	t.Logf("read %d of %d compressed bytes (%d MiB inflated)", src.n, len(z), 64)

	// Exactly at the limit is fine; one byte over is not.
	for _, tc := range []struct {
		n   int
		err error
	}{{DefaultMaxDecompressed, nil}, {DefaultMaxDecompressed + 1, ErrTooLarge}} {
		out, err := inflate(bomb(t, tc.n), DefaultMaxDecompressed)
		if !errors.Is(err, tc.err) || (err == nil && len(out) != tc.n) {
			t.Fatalf("%d bytes: got %d, %v; want %v", tc.n, len(out), err, tc.err)
		}
	}
	// A truncated stream is a format error, not a partial result.
	if _, err := inflateFrom(bytes.NewReader(z[:len(z)/2]), 1<<30); !errors.Is(err, ErrFormat) {
		t.Fatalf("truncated stream: %v", err)
	}
	if _, err := inflateFrom(io.LimitReader(bytes.NewReader(z), 0), 10); !errors.Is(err, ErrFormat) {
		t.Fatalf("empty stream: %v", err)
	}
}

// A bomb that fits in a QR (under DefaultMaxPayload) and would inflate to
// megabytes costs Decode only a small, bounded amount of memory.
func TestDecodeZipBombMemory(t *testing.T) {
	k := newTestKeys(t)
	trust := k.trust(t)
	// Grow the bomb to the largest that still fits the payload limit.
	var payload string
	size := 1 << 20
	for {
		p := Prefix + b45(bomb(t, size*2))
		if len(p) > DefaultMaxPayload {
			break
		}
		payload, size = p, size*2
	}
	t.Logf("bomb: %d characters inflating to %d MiB", len(payload), size>>20)
	if size < 2<<20 {
		t.Fatalf("bomb inflates to only %d bytes", size)
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	_, err := Decode([]byte(payload), trust, testNow, Limits{})
	runtime.ReadMemStats(&after)
	wrapsOne(t, err, ErrTooLarge)
	alloc := after.TotalAlloc - before.TotalAlloc
	t.Logf("Decode allocated %d bytes", alloc)
	if alloc > 256<<10 {
		t.Fatalf("Decode allocated %d bytes for a bomb; want under 256 KiB (it inflates to %d)", alloc, size)
	}
}
