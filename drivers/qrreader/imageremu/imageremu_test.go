package imageremu

import (
	"bytes"
	"errors"
	"io"
	"os"
	"testing"

	"golang.org/x/sys/unix"
)

func TestEmulatorRawBytes(t *testing.T) {
	tests := []struct {
		name  string
		write func(e *Emulator) error
		want  []byte
	}{
		{"scan appends CR", func(e *Emulator) error { return e.Scan([]byte("HS-0001")) }, []byte("HS-0001\r")},
		{"CR and LF untranslated", func(e *Emulator) error { return e.WriteRaw([]byte("a\r\nb\nc\r")) }, []byte("a\r\nb\nc\r")},
		{"binary 8-bit clean", func(e *Emulator) error { return e.Scan([]byte{0x00, 0xff, 0x03, 0x1c, 0x7f, 0x80}) }, []byte{0x00, 0xff, 0x03, 0x1c, 0x7f, 0x80, '\r'}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e, err := Start(nil)
			if err != nil {
				t.Fatal(err)
			}
			defer e.Close()
			f, err := os.OpenFile(e.PortPath(), os.O_RDWR|unix.O_NOCTTY, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if err := tc.write(e); err != nil {
				t.Fatal(err)
			}
			got := make([]byte, len(tc.want))
			if _, err := io.ReadFull(f, got); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, tc.want) {
				t.Fatalf("read %q, want %q", got, tc.want)
			}
		})
	}
}

func TestEmulatorNoEcho(t *testing.T) {
	e, err := Start(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	f, err := os.OpenFile(e.PortPath(), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	// The host writes; nothing may come back to the host, and the next thing
	// it reads is the imager's scan.
	if _, err := f.Write([]byte("host says hi\r")); err != nil {
		t.Fatal(err)
	}
	if err := e.Scan([]byte("X")); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, 2)
	if _, err := io.ReadFull(f, got); err != nil {
		t.Fatal(err)
	}
	if string(got) != "X\r" {
		t.Fatalf("host read %q, want %q (echo?)", got, "X\r")
	}
}

func TestEmulatorClose(t *testing.T) {
	e, err := Start(nil)
	if err != nil {
		t.Fatal(err)
	}
	path := e.PortPath()
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	if err := e.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if err := e.Scan([]byte("x")); !errors.Is(err, ErrClosed) {
		t.Fatalf("Scan after Close: %v, want ErrClosed", err)
	}
	if _, err := os.Stat(path); err == nil {
		t.Fatalf("%s still exists after Close", path)
	}
}
