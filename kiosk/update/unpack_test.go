package update_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"govkiosk/fleet/updates"
	"govkiosk/kiosk/update"
)

// A bundle whose manifest disagrees with the signed release, or that
// names an entry outside its directory, is not installed; both
// compressions and both zstd encoders (the Go one and the reference
// program) give bundles the kiosk unpacks.
func TestUnpackRefusesBadBundles(t *testing.T) {
	dir := t.TempDir()
	kiosk := filepath.Join(dir, "kiosk")
	os.WriteFile(kiosk, []byte("#!/bin/sh\n"), 0o755)
	pack := func(version string, c update.Compression, o updates.PackOptions) string {
		p := filepath.Join(dir, version+c.Ext())
		f, _ := os.Create(p)
		if err := updates.Pack(ctx(t), f, version, "amd64", map[string]string{"kiosk": kiosk}, c, o); err != nil {
			t.Fatal(err)
		}
		f.Close()
		return p
	}
	l := update.Layout{Root: t.TempDir()}
	if err := update.Unpack(l, pack("2.0.0", update.Zstd, updates.PackOptions{}), update.Release{Version: "2.0.1", Arch: "amd64"}); err == nil || !strings.Contains(err.Error(), "signed metadata says 2.0.1") {
		t.Errorf("version mismatch: %v", err)
	}
	if err := update.Unpack(l, pack("2.0.0", update.Zstd, updates.PackOptions{}), update.Release{Version: "2.0.0", Arch: "arm64"}); err == nil {
		t.Error("arch mismatch accepted")
	}
	if vs, _ := l.Installed(); len(vs) != 0 {
		t.Errorf("refused bundles left releases %v", vs)
	}
	if err := updates.Pack(ctx(t), new(strings.Builder), "2.0.0", "amd64", map[string]string{"kiosk": kiosk, "../evil": kiosk}, update.Zstd, updates.PackOptions{}); err == nil {
		t.Error("Pack took an entry named ../evil")
	}
	for i, tc := range []struct {
		c update.Compression
		o updates.PackOptions
	}{{update.Gzip, updates.PackOptions{}}, {update.Zstd, updates.PackOptions{ZstdCommand: "-"}}, {update.Zstd, updates.PackOptions{ZstdCommand: "zstd"}}} {
		v := fmt.Sprintf("3.0.%d", i)
		if err := update.Unpack(l, pack(v, tc.c, tc.o), update.Release{Version: v, Arch: "amd64"}); err != nil {
			t.Errorf("%s bundle (%+v): %v", tc.c.Ext(), tc.o, err)
		}
	}
	if vs, _ := l.Installed(); fmt.Sprint(vs) != "[3.0.0 3.0.1 3.0.2]" {
		t.Errorf("installed %v", vs)
	}
}
