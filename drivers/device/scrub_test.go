package device_test

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"govkiosk/drivers/device"
)

// TestRemoveScrubbedOverwrites is someone who kept a scanned page open (or
// reads the disk blocks after the unlink): once the kiosk removes the page
// they find zeros, not the page. A symlink inside is removed, never followed.
func TestRemoveScrubbedOverwrites(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "scan-1")
	if err := os.MkdirAll(filepath.Join(dir, "sub"), 0o700); err != nil {
		t.Fatal(err)
	}
	page := bytes.Repeat([]byte("\x89PNG Nguyễn Thị Hồng Nhung "), 20000) // several write chunks
	paths := []string{filepath.Join(dir, "p0001.png"), filepath.Join(dir, "sub", "p0002.png.part")}
	var held []*os.File
	for _, p := range paths {
		if err := os.WriteFile(p, page, 0o600); err != nil {
			t.Fatal(err)
		}
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		held = append(held, f)
	}
	outside := filepath.Join(t.TempDir(), "not-ours")
	if err := os.WriteFile(outside, []byte("keep me"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}

	if err := device.RemoveScrubbed(dir); err != nil {
		t.Fatal(err)
	}
	for i, f := range held {
		got := make([]byte, len(page))
		if _, err := f.ReadAt(got, 0); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, make([]byte, len(page))) {
			t.Errorf("%s still reads as the page after removal", paths[i])
		}
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("%s not removed: %v", dir, err)
	}
	if b, err := os.ReadFile(outside); err != nil || string(b) != "keep me" {
		t.Errorf("the symlink's target was touched: %q, %v", b, err)
	}
	if err := device.RemoveScrubbed(dir); err != nil {
		t.Errorf("removing what is gone: %v", err)
	}
}
