package update

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/klauspost/compress/zstd"

	"govkiosk/kiosk/atomicfile"
)

// Manifest is manifest.json, the first entry of a release bundle: what the
// bundle holds, each file's SHA-256 checked again after unpacking.
type Manifest struct {
	Version string            `json:"version"`
	Arch    string            `json:"arch"`
	Files   map[string]string `json:"files"` // name → SHA-256 hex; names are flat (no directories)
}

// ZstdWindow is the largest zstd window a kiosk accepts in a bundle (the
// publisher compresses with a window as large as the kiosk binary, like
// zstd --long, to find repeats across the whole file).
const ZstdWindow = 64 << 20

// ManifestName is the manifest's name inside a bundle and a release directory.
const ManifestName = "manifest.json"

// Compression of a bundle.
type Compression int

const (
	Zstd Compression = iota // .tar.zst, the default: smallest, fast to unpack
	Gzip                    // .tar.gz
)

// Ext is the file name extension of a bundle compressed with c.
func (c Compression) Ext() string {
	if c == Gzip {
		return ".tar.gz"
	}
	return ".tar.zst"
}

// BundleName is the target name of a release bundle.
func BundleName(version, arch string, c Compression) string {
	return "govkiosk-" + version + "-" + arch + c.Ext()
}

// CheckName refuses a bundle entry name that is not a plain file name.
func CheckName(name string) error { return checkName(name) }

func checkName(name string) error {
	if name == "" || name == ManifestName || strings.ContainsAny(name, "/\\") || name == "." || name == ".." || strings.HasPrefix(name, ".") {
		return fmt.Errorf("bundle entry name %q is not a plain file name", name)
	}
	return nil
}

// unpack extracts the bundle at path into releases/<version> (via a
// temporary directory renamed into place, so a release directory is always
// complete) and checks its manifest against want. An installed directory of
// the same version is kept as it is when its files match the manifest.
func (l Layout) unpack(path string, want Release) (err error) {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("unpack: %w", err)
	}
	defer f.Close()
	br := bufio.NewReader(f)
	magic, _ := br.Peek(4)
	var r io.Reader
	switch {
	case bytes.HasPrefix(magic, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		zr, err := zstd.NewReader(br, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxWindow(ZstdWindow))
		if err != nil {
			return fmt.Errorf("unpack: %w", err)
		}
		defer zr.Close()
		r = zr
	case bytes.HasPrefix(magic, []byte{0x1f, 0x8b}):
		gr, err := gzip.NewReader(br)
		if err != nil {
			return fmt.Errorf("unpack: %w", err)
		}
		defer gr.Close()
		r = gr
	default:
		return errors.New("unpack: bundle is neither zstd nor gzip")
	}

	if err := os.MkdirAll(l.Releases(), 0o755); err != nil {
		return fmt.Errorf("unpack: %w", err)
	}
	tmp, err := os.MkdirTemp(l.Releases(), "."+want.Version+".partial-")
	if err != nil {
		return fmt.Errorf("unpack: %w", err)
	}
	defer func() {
		if err != nil {
			os.RemoveAll(tmp)
		}
	}()

	tr := tar.NewReader(r)
	var m *Manifest
	got := map[string]string{}
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("unpack: %w", err)
		}
		if h.Typeflag != tar.TypeReg {
			return fmt.Errorf("unpack: entry %q is not a regular file", h.Name)
		}
		if h.Name == ManifestName {
			if m != nil {
				return errors.New("unpack: two manifests")
			}
			b, err := io.ReadAll(io.LimitReader(tr, 1<<20))
			if err != nil {
				return fmt.Errorf("unpack: %w", err)
			}
			m = new(Manifest)
			if err := json.Unmarshal(b, m); err != nil {
				return fmt.Errorf("unpack: manifest: %w", err)
			}
			if err := atomicfile.Write(filepath.Join(tmp, ManifestName), b, 0o644); err != nil {
				return fmt.Errorf("unpack: %w", err)
			}
			continue
		}
		if m == nil {
			return errors.New("unpack: the manifest is not the first entry")
		}
		if err := checkName(h.Name); err != nil {
			return fmt.Errorf("unpack: %w", err)
		}
		if _, dup := got[h.Name]; dup {
			return fmt.Errorf("unpack: entry %q twice", h.Name)
		}
		sum, err := writeEntry(filepath.Join(tmp, h.Name), tr)
		if err != nil {
			return fmt.Errorf("unpack %s: %w", h.Name, err)
		}
		got[h.Name] = sum
	}
	if m == nil {
		return errors.New("unpack: bundle has no manifest")
	}
	if m.Version != want.Version || m.Arch != want.Arch {
		return fmt.Errorf("unpack: bundle holds %s/%s, the signed metadata says %s/%s", m.Version, m.Arch, want.Version, want.Arch)
	}
	if _, ok := got["kiosk"]; !ok {
		return errors.New("unpack: bundle has no kiosk binary")
	}
	if len(got) != len(m.Files) {
		return fmt.Errorf("unpack: bundle has %d files, its manifest lists %d", len(got), len(m.Files))
	}
	for name, sum := range m.Files {
		if got[name] != sum {
			return fmt.Errorf("unpack: %s does not match the manifest", name)
		}
	}
	if err := atomicfile.SyncDir(tmp); err != nil {
		return fmt.Errorf("unpack: %w", err)
	}
	dst := l.Release(want.Version)
	if _, err := os.Stat(dst); err == nil {
		// A directory left by an earlier attempt (or a rolled-back trial):
		// replace it, it may be the one that failed to unpack fully before
		// this layout existed, and the new one is checked.
		old := dst + ".old"
		os.RemoveAll(old)
		if err := os.Rename(dst, old); err != nil {
			return fmt.Errorf("unpack: %w", err)
		}
		defer os.RemoveAll(old)
	}
	if err := os.Rename(tmp, dst); err != nil {
		return fmt.Errorf("unpack: %w", err)
	}
	return atomicfile.SyncDir(l.Releases())
}

func writeEntry(path string, r io.Reader) (string, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o755)
	if err != nil {
		return "", err
	}
	h := sha256.New()
	if _, err := io.Copy(io.MultiWriter(f, h), r); err != nil {
		f.Close()
		return "", err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), f.Close()
}
