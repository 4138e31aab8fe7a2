package updates

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"strconv"

	"github.com/klauspost/compress/zstd"

	"govkiosk/kiosk/update"
)

// PackOptions tune Pack.
type PackOptions struct {
	// ZstdCommand is the reference zstd program, run as
	// "zstd -19 --long=26 -q -c" when it is found: about 10 % smaller
	// bundles than the Go encoder. "": look for "zstd" on PATH; "-": use
	// the Go encoder (github.com/klauspost/compress) always.
	ZstdCommand string
}

// Pack writes a bundle of the files (name → path on disk) for version and
// arch to w: a tar whose first entry is the manifest, compressed with c.
// Every release must carry a "kiosk". The kiosk unpacks it with
// update.Layout (via Updater.Install), which checks the manifest again.
func Pack(ctx context.Context, w io.Writer, version, arch string, files map[string]string, c update.Compression, o PackOptions) error {
	if !update.ValidVersion(version) {
		return fmt.Errorf("pack: version %q is not a semantic version like 1.2.3", version)
	}
	if _, ok := files["kiosk"]; !ok {
		return errors.New("pack: a release needs a kiosk binary")
	}
	m := update.Manifest{Version: version, Arch: arch, Files: map[string]string{}}
	names := make([]string, 0, len(files))
	for name, path := range files {
		if err := update.CheckName(name); err != nil {
			return fmt.Errorf("pack: %w", err)
		}
		sum, err := fileSHA256(path)
		if err != nil {
			return fmt.Errorf("pack: %w", err)
		}
		m.Files[name] = sum
		names = append(names, name)
	}
	slices.Sort(names)
	mb, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}

	cw, wait, err := compressor(ctx, w, c, o)
	if err != nil {
		return fmt.Errorf("pack: %w", err)
	}
	werr := writeTar(cw, mb, names, files)
	cerr := cw.Close()
	return errors.Join(werr, cerr, wait())
}

func writeTar(w io.Writer, manifest []byte, names []string, files map[string]string) error {
	tw := tar.NewWriter(w)
	if err := tw.WriteHeader(&tar.Header{Name: update.ManifestName, Mode: 0o644, Size: int64(len(manifest)), Typeflag: tar.TypeReg}); err != nil {
		return err
	}
	if _, err := tw.Write(manifest); err != nil {
		return err
	}
	for _, name := range names {
		if err := addFile(tw, name, files[name]); err != nil {
			return fmt.Errorf("pack %s: %w", name, err)
		}
	}
	return tw.Close()
}

// compressor is a writer compressing into w; wait reports how the
// compression ended, after Close.
func compressor(ctx context.Context, w io.Writer, c update.Compression, o PackOptions) (io.WriteCloser, func() error, error) {
	none := func() error { return nil }
	if c == update.Gzip {
		gw, err := gzip.NewWriterLevel(w, gzip.BestCompression)
		return gw, none, err
	}
	bin := o.ZstdCommand
	if bin == "" {
		bin, _ = exec.LookPath("zstd")
	}
	if bin != "" && bin != "-" {
		cmd := exec.CommandContext(ctx, bin, "-19", "--long="+strconv.Itoa(windowLog()), "-q", "-c")
		cmd.Stdout = w
		cmd.Stderr = os.Stderr
		in, err := cmd.StdinPipe()
		if err != nil {
			return nil, nil, err
		}
		if err := cmd.Start(); err != nil {
			return nil, nil, err
		}
		return in, func() error {
			if err := cmd.Wait(); err != nil {
				return fmt.Errorf("%s: %w", bin, err)
			}
			return nil
		}, nil
	}
	zw, err := zstd.NewWriter(w, zstd.WithEncoderLevel(zstd.SpeedBestCompression), zstd.WithWindowSize(update.ZstdWindow))
	return zw, none, err
}

// windowLog is log2 of update.ZstdWindow, what zstd --long takes.
func windowLog() int {
	n := 0
	for v := update.ZstdWindow; v > 1; v >>= 1 {
		n++
	}
	return n
}

func addFile(tw *tar.Writer, name, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("%s is not a regular file", path)
	}
	if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o755, Size: fi.Size(), Typeflag: tar.TypeReg}); err != nil {
		return err
	}
	_, err = io.Copy(tw, f)
	return err
}

func fileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
