package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"govkiosk/fleet/updates"
)

func publish(t *testing.T, args ...string) string {
	t.Helper()
	var out, errb bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := run(ctx, args, &out, &errb); err != nil {
		t.Fatalf("publish %s: %v\n%s", strings.Join(args, " "), err, errb.String())
	}
	return out.String()
}

// The whole life of a release from the command line: keys, repository,
// bundle, staged rollout, halt, timestamp, and what list shows of it.
func TestPublishCommands(t *testing.T) {
	dir := t.TempDir()
	keys, repo := filepath.Join(dir, "keys"), filepath.Join(dir, "repo")
	publish(t, "keygen", "-keys", keys)
	if err := run(context.Background(), []string{"keygen", "-keys", keys}, &bytes.Buffer{}, &bytes.Buffer{}); err == nil {
		t.Error("keygen overwrote existing keys")
	}
	if fi, err := os.Stat(filepath.Join(keys, "root.key")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("root.key: %v, %v; want mode 0600", fi, err)
	}
	publish(t, "init", "-keys", keys, "-repo", repo)

	bin := filepath.Join(dir, "kiosk")
	os.WriteFile(bin, []byte("#!/bin/sh\necho kiosk 2.0.0\n"), 0o755)
	bundle := filepath.Join(dir, "b.tar.zst")
	publish(t, "pack", "-version", "2.0.0", "-arch", "arm64", "-o", bundle, "kiosk="+bin)

	// Without root.key: the online keys suffice from here on.
	online := filepath.Join(dir, "online")
	os.MkdirAll(online, 0o700)
	for _, r := range []string{"targets", "snapshot", "timestamp"} {
		b, _ := os.ReadFile(filepath.Join(keys, r+".key"))
		os.WriteFile(filepath.Join(online, r+".key"), b, 0o600)
	}
	out := publish(t, "add", "-keys", online, "-repo", repo, "-bundle", bundle, "-version", "2.0.0", "-arch", "arm64", "-min-version", "1.0.0", "-percent", "1", "-window", "01:00-05:00")
	name := strings.TrimSpace(strings.TrimPrefix(out, "added "))
	if name != "govkiosk-2.0.0-arm64.tar.zst" {
		t.Fatalf("added %q", out)
	}
	publish(t, "rollout", "-keys", online, "-repo", repo, "-target", name, "-percent", "10")
	publish(t, "rollout", "-keys", online, "-repo", repo, "-target", name, "-halt")
	publish(t, "timestamp", "-keys", online, "-repo", repo)
	list := publish(t, "list", "-repo", repo)
	if !strings.Contains(list, "10.00 % (salt 2.0.0) HALTED") {
		t.Errorf("list: %q; want the halted 10 %% stage with the version as salt", list)
	}

	r, err := updates.Open(repo, updates.Keys{}, updates.Options{})
	if err != nil {
		t.Fatal(err)
	}
	rel := r.Releases()[name]
	if rel.Rollout == nil || rel.Rollout.Percent != 10 || !rel.Rollout.Halted || rel.Rollout.Window != nil {
		// -halt alone keeps the percent; the window was not repeated so it is gone
		t.Errorf("release after rollout commands: %+v", rel.Rollout)
	}
	if err := run(context.Background(), []string{"rollout", "-keys", online, "-repo", repo, "-target", "nope", "-all"}, &bytes.Buffer{}, &bytes.Buffer{}); err == nil {
		t.Error("rollout of an unknown target succeeded")
	}
}
