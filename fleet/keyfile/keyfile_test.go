package keyfile

import (
	"crypto/ed25519"
	"os"
	"path/filepath"
	"testing"
)

func TestRoundTripAndNoOverwrite(t *testing.T) {
	path := filepath.Join(t.TempDir(), "k.key")
	_, k, _ := ed25519.GenerateKey(nil)
	if err := Create(path, k); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode %v (%v), want 0600", fi.Mode().Perm(), err)
	}
	got, err := Read(path)
	if err != nil || !got.Equal(k) {
		t.Fatalf("read back %v, %v", got, err)
	}
	_, other, _ := ed25519.GenerateKey(nil)
	if err := Create(path, other); err == nil {
		t.Fatal("Create overwrote an existing key")
	}
	if err := Write(path, other); err != nil {
		t.Fatal(err)
	}
	if got, _ := Read(path); !got.Equal(other) {
		t.Fatal("Write did not replace the key")
	}
	os.WriteFile(path, []byte("not a key"), 0o600)
	if _, err := Read(path); err == nil {
		t.Fatal("read a file with no PEM block as a key")
	}
}
