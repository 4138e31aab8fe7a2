// Command release measures what a kiosk release costs on the wire: it
// builds the kiosk as the demo, as production, and as production stripped
// (-trimpath -ldflags='-s -w', the Makefile's production flags), packs the
// stripped kiosk and kioskctl into a release bundle (gzip and zstd, the
// formats kiosk/update installs) and prints the sizes side by side with the
// reference compressors (gzip -9, xz -9, zstd -19 --long), then the traffic
// of one release for one kiosk and for -fleet kiosks, and the largest
// packages of the unstripped binary (its ELF symbol table).
//
//	go run ./bench/release            # about two minutes of builds on 2 cores
//	go run ./bench/release -top 25
//	go run ./bench/release -symbols bin/kiosk   # where an unstripped binary's bytes go
package main

import (
	"context"
	"debug/elf"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"govkiosk/fleet/updates"
	"govkiosk/kiosk/update"
)

func main() {
	if err := run(context.Background(), os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "release:", err)
		os.Exit(1)
	}
}

// stripFlags are the production build's flags: no file system paths, no
// symbol table, no DWARF.
var stripFlags = []string{"-trimpath", "-ldflags=-s -w"}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("release", flag.ContinueOnError)
	fleet := fs.Int("fleet", 10000, "kiosks that take each release")
	top := fs.Int("top", 15, "largest packages to list")
	symbols := fs.String("symbols", "", "only list the largest packages of this unstripped binary")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *symbols != "" {
		return topPackages(*symbols, *top, stdout)
	}
	ctx, cancel := context.WithTimeout(ctx, 20*time.Minute)
	defer cancel()
	dir, err := os.MkdirTemp("", "release-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)

	type build struct {
		name, out, pkg string
		flags          []string
	}
	builds := []build{
		{"kiosk -tags demo", "kiosk-demo", "./cmd/kiosk", []string{"-tags", "demo"}},
		{"kiosk production", "kiosk-prod", "./cmd/kiosk", nil},
		{"kiosk production stripped", "kiosk", "./cmd/kiosk", stripFlags},
		{"kioskctl stripped", "kioskctl", "./cmd/kioskctl", stripFlags},
		{"kiosk production, unstripped for nm", "kiosk-nm", "./cmd/kiosk", []string{"-trimpath"}},
	}
	sizes := map[string]int64{}
	for _, b := range builds {
		out := filepath.Join(dir, b.out)
		a := append([]string{"build", "-o", out}, b.flags...)
		a = append(a, b.pkg)
		fmt.Fprintf(stderr, "go %s\n", strings.Join(a, " "))
		cmd := exec.CommandContext(ctx, "go", a...)
		cmd.Stderr = stderr
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("go %s: %w", strings.Join(a, " "), err)
		}
		fi, err := os.Stat(out)
		if err != nil {
			return err
		}
		sizes[b.out] = fi.Size()
	}

	files := map[string]string{"kiosk": filepath.Join(dir, "kiosk"), "kioskctl": filepath.Join(dir, "kioskctl")}
	bundles := map[string]int64{}
	for _, v := range []struct {
		key string
		c   update.Compression
		o   updates.PackOptions
	}{{".tar.gz", update.Gzip, updates.PackOptions{}}, {".tar.zst (Go encoder)", update.Zstd, updates.PackOptions{ZstdCommand: "-"}}, {".tar.zst (zstd -19 --long)", update.Zstd, updates.PackOptions{ZstdCommand: "zstd"}}} {
		var n countWriter
		if err := updates.Pack(ctx, &n, "1.0.0", runtime.GOARCH, files, v.c, v.o); err != nil {
			return fmt.Errorf("bundle %s: %w", v.key, err)
		}
		bundles[v.key] = int64(n)
	}
	// The reference compressors on the kiosk binary alone (what the issue
	// measured: the binary gzipped).
	ref := map[string]int64{}
	for _, c := range [][]string{{"gzip", "-9", "-c"}, {"xz", "-9", "-c"}, {"zstd", "-19", "--long", "-c", "-q"}} {
		for _, bin := range []string{"kiosk-prod", "kiosk"} {
			n, err := compressedSize(ctx, c, filepath.Join(dir, bin))
			if err != nil {
				fmt.Fprintf(stderr, "%s: %v (skipped)\n", c[0], err)
				continue
			}
			ref[c[0]+" "+bin] = n
		}
	}
	ourZstd, err := compressedKiosk(ctx, filepath.Join(dir, "kiosk"), update.Zstd)
	if err != nil {
		return err
	}
	ourGzip, err := compressedKiosk(ctx, filepath.Join(dir, "kiosk"), update.Gzip)
	if err != nil {
		return err
	}

	mb := func(n int64) string { return fmt.Sprintf("%.1f MB", float64(n)/1e6) }
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "kiosk binary\traw\tgzip -9\txz -9\tzstd -19 --long\tGo gzip\tGo zstd\t")
	fmt.Fprintf(tw, "demo (-tags demo)\t%s\t\t\t\t\t\t\n", mb(sizes["kiosk-demo"]))
	fmt.Fprintf(tw, "production\t%s\t%s\t%s\t%s\t\t\t\n", mb(sizes["kiosk-prod"]), mb(ref["gzip kiosk-prod"]), mb(ref["xz kiosk-prod"]), mb(ref["zstd kiosk-prod"]))
	fmt.Fprintf(tw, "production stripped\t%s\t%s\t%s\t%s\t%s\t%s\t\n", mb(sizes["kiosk"]), mb(ref["gzip kiosk"]), mb(ref["xz kiosk"]), mb(ref["zstd kiosk"]), mb(ourGzip), mb(ourZstd))
	tw.Flush()
	fmt.Fprintln(stdout)
	tw = tabwriter.NewWriter(stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "release bundle (stripped kiosk + kioskctl %s)\tper kiosk\t%d kiosks\t\n", mb(sizes["kiosk"]+sizes["kioskctl"]), *fleet)
	for _, ext := range []string{".tar.gz", ".tar.zst (Go encoder)", ".tar.zst (zstd -19 --long)"} {
		n := bundles[ext]
		fmt.Fprintf(tw, "govkiosk-V-%s%s\t%s\t%.1f GB\t\n", runtime.GOARCH, ext, mb(n), float64(n)*float64(*fleet)/1e9)
	}
	fmt.Fprintf(tw, "as measured before: unstripped kiosk, gzip\t%s\t%.1f GB\t\n", mb(ref["gzip kiosk-prod"]), float64(ref["gzip kiosk-prod"])*float64(*fleet)/1e9)
	tw.Flush()

	fmt.Fprintln(stdout)
	return topPackages(filepath.Join(dir, "kiosk-nm"), *top, stdout)
}

func compressedSize(ctx context.Context, argv []string, path string) (int64, error) {
	if _, err := exec.LookPath(argv[0]); err != nil {
		return 0, err
	}
	cmd := exec.CommandContext(ctx, argv[0], append(argv[1:], path)...)
	var n countWriter
	cmd.Stdout = &n
	if err := cmd.Run(); err != nil {
		return 0, err
	}
	return int64(n), nil
}

// compressedKiosk is the size of a bundle holding the kiosk binary alone.
func compressedKiosk(ctx context.Context, kiosk string, c update.Compression) (int64, error) {
	var n countWriter
	if err := updates.Pack(ctx, &n, "1.0.0", runtime.GOARCH, map[string]string{"kiosk": kiosk}, c, updates.PackOptions{ZstdCommand: "-"}); err != nil {
		return 0, err
	}
	return int64(n), nil
}

type countWriter int64

func (c *countWriter) Write(p []byte) (int, error) { *c += countWriter(len(p)); return len(p), nil }

// topPackages sums symbol sizes by package (the ELF symbol table of the
// unstripped build, as go tool nm -size reads it, counting only symbols
// that take room in the file: zero-filled data is left out) and prints
// the largest: where the binary's bytes go.
func topPackages(bin string, top int, stdout io.Writer) error {
	f, err := elf.Open(bin)
	if err != nil {
		return err
	}
	defer f.Close()
	syms, err := f.Symbols()
	if err != nil {
		return err
	}
	byPkg := map[string]int64{}
	var total int64
	for _, sym := range syms {
		if sym.Section == elf.SHN_UNDEF || int(sym.Section) >= len(f.Sections) || sym.Size == 0 {
			continue
		}
		if f.Sections[sym.Section].Type == elf.SHT_NOBITS {
			continue
		}
		total += int64(sym.Size)
		byPkg[pkgOf(sym.Name)] += int64(sym.Size)
	}
	type kv struct {
		k string
		v int64
	}
	var list []kv
	for k, v := range byPkg {
		list = append(list, kv{k, v})
	}
	slices.SortFunc(list, func(a, b kv) int { return int(b.v - a.v) })
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "largest packages (symbols in the file, %.1f MB in all)\tMB\tshare\n", float64(total)/1e6)
	for i, e := range list {
		if i == top {
			break
		}
		fmt.Fprintf(tw, "%s\t%.2f\t%.1f %%\n", e.k, float64(e.v)/1e6, 100*float64(e.v)/float64(total))
	}
	return tw.Flush()
}

// pkgOf is the module-ish prefix of a symbol: the import path up to the
// package, with generic instantiations and methods cut.
func pkgOf(sym string) string {
	if !strings.ContainsAny(sym, "./") {
		return "C (cgo: MuPDF and its libraries)"
	}
	sym = strings.TrimPrefix(sym, "type:")
	sym = strings.TrimPrefix(sym, "go:")
	if i := strings.IndexAny(sym, "[("); i >= 0 {
		sym = sym[:i]
	}
	slash := strings.LastIndex(sym, "/")
	if dot := strings.Index(sym[slash+1:], "."); dot >= 0 {
		sym = sym[:slash+1+dot]
	}
	// group by module root for the big third-party trees
	for _, root := range []string{"modernc.org/", "github.com/", "golang.org/x/", "google.golang.org/", "periph.io/x/"} {
		if strings.HasPrefix(sym, root) {
			parts := strings.SplitN(sym, "/", 4)
			if len(parts) >= 3 && root != "modernc.org/" {
				return strings.Join(parts[:3], "/")
			}
			return strings.Join(parts[:min(2, len(parts))], "/")
		}
	}
	return sym
}
