package main

import (
	"context"
	"crypto/ed25519"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"govkiosk/fleet/keyfile"
	"govkiosk/fleet/updates"
	"govkiosk/kiosk/update"
)

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprintln(stderr, "usage: publish keygen|init|pack|add|rollout|timestamp|list|serve|rotate [flags]")
		return flag.ErrHelp
	}
	cmd, args := args[0], args[1:]
	fs := flag.NewFlagSet("publish "+cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	keys := fs.String("keys", "", "directory of role keys (root.key, targets.key, snapshot.key, timestamp.key)")
	repoDir := fs.String("repo", "", "repository directory")
	switch cmd {
	case "keygen":
		if err := fs.Parse(args); err != nil {
			return err
		}
		return keygen(*keys, stdout)
	case "init":
		if err := fs.Parse(args); err != nil {
			return err
		}
		k, err := readKeys(*keys, true)
		if err != nil {
			return err
		}
		r, err := updates.Create(*repoDir, k, updates.Options{})
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "repository created in %s; pin %s on every kiosk\n", r.Dir(), filepath.Join(r.Dir(), "root.json"))
		return nil
	case "pack":
		return pack(ctx, fs, args, stdout)
	case "add", "rollout":
		target := fs.String("target", "", "target name (rollout)")
		bundle := fs.String("bundle", "", "bundle file (add)")
		version := fs.String("version", "", "release version (add)")
		arch := fs.String("arch", "", "GOARCH of the release (add)")
		minVersion := fs.String("min-version", "", "oldest version that may update to it (add)")
		percent := fs.Float64("percent", -1, "share of the fleet admitted, 0-100")
		salt := fs.String("salt", "", "rollout salt (default: the version)")
		window := fs.String("window", "", "maintenance window HH:MM-HH:MM, kiosk local time")
		halt := fs.Bool("halt", false, "halt the rollout (rollout)")
		all := fs.Bool("all", false, "release to every kiosk at any time (rollout)")
		if err := fs.Parse(args); err != nil {
			return err
		}
		r, err := openRepo(*keys, *repoDir)
		if err != nil {
			return err
		}
		var ro *update.Rollout
		if *percent >= 0 || *halt || *window != "" {
			ro = &update.Rollout{Percent: max(*percent, 0), Salt: *salt, Halted: *halt}
			if *window != "" {
				s, e, ok := strings.Cut(*window, "-")
				if !ok {
					return fmt.Errorf("-window %q is not HH:MM-HH:MM", *window)
				}
				ro.Window = &update.Window{Start: s, End: e}
			}
		}
		if cmd == "add" {
			if ro != nil && ro.Salt == "" {
				ro.Salt = *version
			}
			name, err := r.AddRelease(*bundle, update.Release{Version: *version, MinVersion: *minVersion, Arch: *arch, Rollout: ro})
			if err != nil {
				return err
			}
			fmt.Fprintln(stdout, "added", name)
			return nil
		}
		rel, ok := r.Releases()[*target]
		if !ok {
			return fmt.Errorf("no target %q", *target)
		}
		switch {
		case *all:
			ro = nil
		case ro == nil:
			return errors.New("rollout: give -percent, -halt or -all")
		case ro.Salt == "" && rel.Rollout != nil:
			ro.Salt = rel.Rollout.Salt
		case ro.Salt == "":
			ro.Salt = rel.Version
		}
		if *halt && *percent < 0 && rel.Rollout != nil {
			ro.Percent = rel.Rollout.Percent
		}
		return r.SetRollout(*target, ro)
	case "timestamp":
		if err := fs.Parse(args); err != nil {
			return err
		}
		r, err := openRepo(*keys, *repoDir)
		if err != nil {
			return err
		}
		return r.RefreshTimestamp()
	case "list":
		if err := fs.Parse(args); err != nil {
			return err
		}
		r, err := updates.Open(*repoDir, updates.Keys{}, updates.Options{})
		if err != nil {
			return err
		}
		rels := r.Releases()
		names := make([]string, 0, len(rels))
		for n := range rels {
			names = append(names, n)
		}
		slices.Sort(names)
		for _, n := range names {
			rel := rels[n]
			stage := "all kiosks"
			if ro := rel.Rollout; ro != nil {
				stage = fmt.Sprintf("%.2f %% (salt %s)", ro.Percent, ro.Salt)
				if ro.Halted {
					stage += " HALTED"
				}
				if ro.Window != nil {
					stage += " window " + ro.Window.Start + "-" + ro.Window.End
				}
			}
			fmt.Fprintf(stdout, "%s\t%s\t%s\tmin %s\t%s\n", n, rel.Version, rel.Arch, rel.MinVersion, stage)
		}
		return nil
	case "serve":
		listen := fs.String("listen", "127.0.0.1:8088", "address to serve the repository on")
		if err := fs.Parse(args); err != nil {
			return err
		}
		return serve(ctx, *repoDir, *listen, stdout)
	case "rotate":
		newKeys := fs.String("new-keys", "", "directory with the new targets, snapshot and timestamp keys")
		if err := fs.Parse(args); err != nil {
			return err
		}
		k, err := readKeys(*keys, true)
		if err != nil {
			return err
		}
		next, err := readKeys(*newKeys, false)
		if err != nil {
			return err
		}
		r, err := updates.Open(*repoDir, k, updates.Options{})
		if err != nil {
			return err
		}
		return r.RotateOnlineKeys(k.Root, next)
	default:
		return fmt.Errorf("unknown command %q", cmd)
	}
}

var roles = []string{"root", "targets", "snapshot", "timestamp"}

func keygen(dir string, stdout io.Writer) error {
	if dir == "" {
		return errors.New("keygen: -keys DIR is needed")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	k, err := updates.GenerateKeys()
	if err != nil {
		return err
	}
	for i, key := range []ed25519.PrivateKey{k.Root, k.Targets, k.Snapshot, k.Timestamp} {
		p := filepath.Join(dir, roles[i]+".key")
		if _, err := os.Stat(p); err == nil {
			return fmt.Errorf("keygen: %s exists; refusing to overwrite a key", p)
		}
		if err := keyfile.Write(p, key); err != nil {
			return err
		}
	}
	fmt.Fprintf(stdout, "keys written to %s; after init, move root.key offline\n", dir)
	return nil
}

func readKeys(dir string, needRoot bool) (updates.Keys, error) {
	if dir == "" {
		return updates.Keys{}, errors.New("-keys DIR is needed")
	}
	var k updates.Keys
	for i, p := range []*ed25519.PrivateKey{&k.Root, &k.Targets, &k.Snapshot, &k.Timestamp} {
		if i == 0 && !needRoot {
			continue
		}
		key, err := keyfile.Read(filepath.Join(dir, roles[i]+".key"))
		if err != nil {
			return updates.Keys{}, err
		}
		*p = key
	}
	return k, nil
}

func openRepo(keys, dir string) (*updates.Repo, error) {
	k, err := readKeys(keys, false)
	if err != nil {
		return nil, err
	}
	return updates.Open(dir, k, updates.Options{})
}

func pack(ctx context.Context, fs *flag.FlagSet, args []string, stdout io.Writer) error {
	version := fs.String("version", "", "release version")
	arch := fs.String("arch", "", "GOARCH of the binaries")
	out := fs.String("o", "", "bundle file to write")
	gz := fs.Bool("gzip", false, "gzip instead of zstd")
	zstdCmd := fs.String("zstd", "", `the reference zstd program ("": zstd on PATH if any; "-": the Go encoder)`)
	if err := fs.Parse(args); err != nil {
		return err
	}
	files := map[string]string{}
	for _, a := range fs.Args() {
		name, path, ok := strings.Cut(a, "=")
		if !ok {
			return fmt.Errorf("pack: %q is not NAME=PATH", a)
		}
		files[name] = path
	}
	c := update.Zstd
	if *gz {
		c = update.Gzip
	}
	if *out == "" {
		*out = update.BundleName(*version, *arch, c)
	}
	f, err := os.Create(*out)
	if err != nil {
		return err
	}
	if err := updates.Pack(ctx, f, *version, *arch, files, c, updates.PackOptions{ZstdCommand: *zstdCmd}); err != nil {
		f.Close()
		os.Remove(*out)
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	fi, _ := os.Stat(*out)
	fmt.Fprintf(stdout, "%s: %d bytes\n", *out, fi.Size())
	return nil
}

func serve(ctx context.Context, dir, listen string, stdout io.Writer) error {
	if _, err := os.Stat(filepath.Join(dir, "timestamp.json")); err != nil {
		return fmt.Errorf("serve: %s is not a repository: %w", dir, err)
	}
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: http.FileServer(http.Dir(dir)), ReadHeaderTimeout: 10 * time.Second}
	fmt.Fprintf(stdout, "serving %s on http://%s/\n", dir, ln.Addr())
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return srv.Shutdown(sctx)
	}
}
