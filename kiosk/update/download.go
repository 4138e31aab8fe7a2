package update

import (
	"context"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/theupdateframework/go-tuf/v2/metadata"
	"golang.org/x/time/rate"
)

// ErrBusy is returned by a download that stopped because a citizen started
// a session; it resumes where it stopped.
var ErrBusy = errors.New("update: kiosk is busy")

// ErrVerify wraps a downloaded bundle that does not match its signed
// length or hashes; the partial file is dropped and the next attempt starts
// from zero.
var ErrVerify = errors.New("update: bundle does not match its signed metadata")

// chunk is the read size and the token bucket's burst.
const chunk = 32 << 10

// downloader fetches one target into a partial file and resumes it with
// HTTP Range requests.
type downloader struct {
	client  *http.Client
	limiter *rate.Limiter // nil: no cap
	busy    func() bool
	stall   time.Duration // no byte for this long ends the attempt
}

// partialPath is where the bytes of a target collect; named by its signed
// SHA-256 so a different bundle never continues another's bytes.
func (l Layout) partialPath(tf *metadata.TargetFiles) (string, error) {
	sum, ok := tf.Hashes["sha256"]
	if !ok {
		return "", fmt.Errorf("target %s has no sha256 hash", tf.Path)
	}
	return filepath.Join(l.downloadDir(), hex.EncodeToString(sum)+".partial"), nil
}

// fetch brings the partial file at path up to tf.Length bytes from url,
// then verifies length and every signed hash. It returns nil only for a
// verified file. An interrupted attempt keeps what it got.
func (d *downloader) fetch(ctx context.Context, url, path string, tf *metadata.TargetFiles) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	defer f.Close()
	have, err := f.Seek(0, io.SeekEnd)
	if err != nil {
		return err
	}
	if have > tf.Length {
		if err := f.Truncate(0); err != nil {
			return err
		}
		have, _ = f.Seek(0, io.SeekStart)
	}
	if have < tf.Length {
		if err := d.get(ctx, url, f, have, tf.Length); err != nil {
			return err
		}
	}
	if err := verifyFile(f, tf); err != nil {
		f.Close()
		os.Remove(path)
		return err
	}
	return nil
}

// get appends bytes have..length-1 of url to f.
func (d *downloader) get(ctx context.Context, url string, f *os.File, have, length int64) error {
	if d.busy != nil && d.busy() {
		return ErrBusy
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	stall := time.AfterFunc(d.stall, func() { cancel(fmt.Errorf("no data for %v", d.stall)) })
	defer stall.Stop()

	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	if have > 0 {
		req.Header.Set("Range", "bytes="+strconv.FormatInt(have, 10)+"-")
	}
	resp, err := d.client.Do(req)
	if err != nil {
		if c := context.Cause(ctx); c != nil && ctx.Err() != nil {
			return fmt.Errorf("download: %w", c)
		}
		return fmt.Errorf("download: %w", err)
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusPartialContent && have > 0:
		// the server continues where we stopped; Content-Range must agree
		if cr := resp.Header.Get("Content-Range"); cr != "" {
			var start, end int64
			if _, err := fmt.Sscanf(cr, "bytes %d-%d/", &start, &end); err != nil || start != have {
				return fmt.Errorf("download: server answered range %q for bytes=%d-", cr, have)
			}
		}
	case resp.StatusCode == http.StatusOK:
		// no range support (or a fresh start): begin again
		if err := f.Truncate(0); err != nil {
			return err
		}
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			return err
		}
		have = 0
	default:
		return fmt.Errorf("download %s: HTTP %s", url, resp.Status)
	}

	buf := make([]byte, chunk)
	body := io.LimitReader(resp.Body, length-have)
	for have < length {
		if d.busy != nil && d.busy() {
			return ErrBusy
		}
		want := int(min(int64(len(buf)), length-have))
		if d.limiter != nil {
			if err := d.limiter.WaitN(ctx, want); err != nil {
				return fmt.Errorf("download: %w", context.Cause(ctx))
			}
		}
		n, rerr := io.ReadFull(body, buf[:want])
		if n > 0 {
			stall.Reset(d.stall)
			if _, err := f.Write(buf[:n]); err != nil {
				return err
			}
			have += int64(n)
		}
		if rerr != nil {
			if have >= length {
				break
			}
			if c := context.Cause(ctx); c != nil && ctx.Err() != nil {
				return fmt.Errorf("download: %w", c)
			}
			return fmt.Errorf("download: after %d of %d bytes: %w", have, length, rerr)
		}
	}
	return f.Sync()
}

// verifyFile checks f's length and every hash tf signs, reading it once.
func verifyFile(f *os.File, tf *metadata.TargetFiles) error {
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	hs := map[string]hash.Hash{}
	var ws []io.Writer
	for alg := range tf.Hashes {
		var h hash.Hash
		switch alg {
		case "sha256":
			h = sha256.New()
		case "sha512":
			h = sha512.New()
		default:
			continue // go-tuf's own check supports these two as well
		}
		hs[alg] = h
		ws = append(ws, h)
	}
	if len(hs) == 0 {
		return fmt.Errorf("%w: no supported hash", ErrVerify)
	}
	n, err := io.Copy(io.MultiWriter(ws...), f)
	if err != nil {
		return err
	}
	if n != tf.Length {
		return fmt.Errorf("%w: %d bytes, signed length %d", ErrVerify, n, tf.Length)
	}
	for alg, h := range hs {
		if hex.EncodeToString(h.Sum(nil)) != hex.EncodeToString(tf.Hashes[alg]) {
			return fmt.Errorf("%w: %s differs", ErrVerify, alg)
		}
	}
	return nil
}

// dropPartials removes partial downloads other than keep.
func (l Layout) dropPartials(keep string) {
	ents, err := os.ReadDir(l.downloadDir())
	if errors.Is(err, fs.ErrNotExist) {
		return
	}
	for _, e := range ents {
		p := filepath.Join(l.downloadDir(), e.Name())
		if p != keep {
			os.Remove(p)
		}
	}
}
