package device

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// Scanned pages and the receipt are personal data. Where one must pass
// through a file (scanimage writes pages, MuPDF reads the receipt's HTML),
// the file is overwritten before it is unlinked, so that neither a process
// holding it open nor the disk blocks it used still hold the data. (A
// tmpfs under the kiosk's private directory keeps them off the disk
// altogether; on a journalling or copy-on-write file system the overwrite
// is a best effort.)

// Scrub overwrites the regular file at path with zeros, in place, and
// syncs it. It does not remove the file.
func Scrub(path string) error {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return fmt.Errorf("scrub %s: %w", path, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return fmt.Errorf("scrub %s: %w", path, err)
	}
	zeros := make([]byte, min(st.Size(), 256<<10))
	for off := int64(0); off < st.Size(); {
		n, err := f.WriteAt(zeros[:min(int64(len(zeros)), st.Size()-off)], off)
		if err != nil {
			return fmt.Errorf("scrub %s: %w", path, err)
		}
		off += int64(n)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("scrub %s: %w", path, err)
	}
	return nil
}

// RemoveScrubbed scrubs every regular file under path (symbolic links are
// removed, never followed), then removes path and everything under it. A
// path that does not exist is not an error.
func RemoveScrubbed(path string) error {
	var errs []error
	err := filepath.WalkDir(path, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			if !errors.Is(err, fs.ErrNotExist) {
				errs = append(errs, err)
			}
			return nil
		}
		if e.Type().IsRegular() {
			if err := Scrub(p); err != nil {
				errs = append(errs, err)
			}
		}
		return nil
	})
	errs = append(errs, err, os.RemoveAll(path))
	return errors.Join(errs...)
}
