package update_test

import (
	"fmt"
	"os"
	"testing"
	"time"

	"govkiosk/fleet/updates"
	"govkiosk/kiosk/update"
)

// BenchmarkCappedDownload downloads a 1 MiB bundle over loopback without
// and with the bandwidth cap and reports the rate reached beside the cap:
//
//	go test ./kiosk/update -run '^$' -bench CappedDownload -benchtime 3x
func BenchmarkCappedDownload(b *testing.B) {
	for _, capBps := range []int{0, 256 << 10, 1 << 20} {
		b.Run(fmt.Sprintf("cap=%dKiB/s", capBps>>10), func(b *testing.B) {
			s := newServer(b, updates.Options{})
			s.release(b, "2.0.0", 1<<20, nil)
			var size int64
			var elapsed time.Duration
			for b.Loop() {
				root := kioskRoot(b, s, "1.0.0")
				u, err := update.New(update.Options{Root: root, Version: "1.0.0", Arch: "amd64", KioskID: kioskID,
					RepositoryURL: s.srv.URL, Client: s.srv.Client(), BytesPerSecond: capBps})
				if err != nil {
					b.Fatal(err)
				}
				o, err := u.Look(ctx(b))
				if err != nil || o == nil {
					b.Fatalf("look: %+v, %v", o, err)
				}
				start := time.Now()
				path, err := u.Download(ctx(b), o)
				if err != nil {
					b.Fatal(err)
				}
				elapsed += time.Since(start)
				fi, err := os.Stat(path)
				if err != nil {
					b.Fatal(err)
				}
				size += fi.Size()
			}
			b.ReportMetric(float64(size)/elapsed.Seconds()/1024, "KiB/s")
			b.ReportMetric(float64(capBps)/1024, "cap-KiB/s")
		})
	}
}
