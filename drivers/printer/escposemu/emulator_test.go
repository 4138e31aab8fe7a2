package escposemu

import (
	"bytes"
	"context"
	"image/png"
	"os"
	"path/filepath"
	"testing"
	"time"

	"go.bug.st/serial"
)

func TestEmulatorOverPTY(t *testing.T) {
	dir := t.TempDir()
	e, err := Start(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	port, err := serial.Open(e.PortPath(), &serial.Mode{BaudRate: 115200})
	if err != nil {
		t.Fatal(err)
	}
	defer port.Close()

	// Raster bytes that a cooked tty would mangle: CR, LF, XON/XOFF,
	// ^C, ^Z, DEL, EOF (^D), and 0xff.
	special := []byte{0x0d, 0x0a, 0x11, 0x13, 0x03, 0x1a, 0x7f, 0x04, 0xff, 0x00}
	var rows [][]byte
	for i := 0; i < 40; i++ {
		rows = append(rows, special)
	}
	job := append([]byte{0x1b, '@'}, raster(len(special), rows...)...)
	job = append(job, 0x1d, 'V', 0, 0x10, 0x04, 1)
	if _, err := port.Write(job); err != nil {
		t.Fatal(err)
	}
	reply := readN(t, port, 1)
	if reply[0] != 0x12 {
		t.Errorf("status % x", reply)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	jobs, err := e.WaitJobs(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(dir, "job-0001.png"); jobs[0] != want {
		t.Errorf("job %q, want %q", jobs[0], want)
	}
	f, err := os.Open(jobs[0])
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	if b := img.Bounds(); b.Dx() != PaperDots || b.Dy() != 40 {
		t.Fatalf("bounds %v", b)
	}
	// Read the bits back: every row must equal special.
	for y := 0; y < 40; y++ {
		got := make([]byte, len(special))
		for x := 0; x < len(special)*8; x++ {
			r, _, _, _ := img.At(x, y).RGBA()
			if r == 0 {
				got[x/8] |= 0x80 >> (x % 8)
			}
		}
		if !bytes.Equal(got, special) {
			t.Fatalf("row %d = % x, want % x", y, got, special)
		}
	}

	// State changes are answered at once.
	e.SetState(State{CoverOpen: true})
	port.Write([]byte{0x10, 0x04, 2})
	if r := readN(t, port, 1); r[0] != 0x16 {
		t.Errorf("cover open status % x", r)
	}

	// Closing with paper printed but not cut writes it out.
	e.SetState(State{})
	port.Write(append(raster(1, []byte{0xf0}), 0x10, 0x04, 1))
	readN(t, port, 1)
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	if n := len(e.Jobs()); n != 2 {
		t.Errorf("%d jobs after close, want 2", n)
	}
	if _, err := e.WaitJobs(ctx, 3); err == nil {
		t.Error("WaitJobs on a closed emulator did not fail")
	}
}

func readN(t *testing.T, port serial.Port, n int) []byte {
	t.Helper()
	if err := port.SetReadTimeout(5 * time.Second); err != nil {
		t.Fatal(err)
	}
	var out []byte
	buf := make([]byte, 16)
	for len(out) < n {
		k, err := port.Read(buf)
		if err != nil {
			t.Fatal(err)
		}
		if k == 0 {
			t.Fatalf("read timed out after % x", out)
		}
		out = append(out, buf[:k]...)
	}
	return out
}
