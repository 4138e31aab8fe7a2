// Command upload benchmarks a resumable submission over a poor link: an
// application of -size MB in -pages scanned pages (random, incompressible
// bytes, as compressed scans are) goes from the backend client to the
// reference portal through toxiproxy (in-process, loopback) limiting the
// bandwidth to -kbps both ways, adding -latency to every answer, and
// cutting every connection every -reset. It prints the completion time,
// the ideal time at that bandwidth, their ratio, and the bytes re-sent as a
// percentage of the packet. Targets: ratio < 1.3, re-sent < 10 %.
//
//	go run ./bench/upload              # 10 MB: about 6 minutes
//	go run ./bench/upload -size 1      # a quick look
package main

import (
	"govkiosk/portal/pdftest"

	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"sync"
	"time"

	"filippo.io/age"
	"github.com/Shopify/toxiproxy/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"govkiosk/backend-client"
	"govkiosk/backend-client/api"
	"govkiosk/backend-client/tus"
	"govkiosk/portal"
)

func main() {
	sizeMB := flag.Float64("size", 10, "application size in MB (10^6 bytes)")
	pages := flag.Int("pages", 20, "scanned pages (2 land-use certificate, the rest design drawings)")
	kbps := flag.Int("kbps", 256, "link bandwidth in kbit/s, each way")
	latency := flag.Duration("latency", 500*time.Millisecond, "latency added to every answer (downstream)")
	reset := flag.Duration("reset", 20*time.Second, "cut every connection this often (0: never)")
	checksum := flag.Bool("checksum", false, "send tus sha256 checksums (the kiosk does not: age's authenticated encryption and the signed hashes already catch corruption, and a checksummed PATCH loses its whole chunk on a cut)")
	chunkTime := flag.Duration("chunk-time", 4*time.Second, "target duration of one PATCH")
	verbose := flag.Bool("v", false, "log the portal")
	flag.Parse()
	if *pages < 4 {
		fmt.Fprintln(os.Stderr, "need at least 4 pages")
		os.Exit(2)
	}
	if err := run(*sizeMB, *pages, *kbps, *latency, *reset, !*checksum, *chunkTime, *verbose); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// identity stands in for the national-ID provider: one citizen, codes kept.
type identity struct {
	mu   sync.Mutex
	last string
}

func (i *identity) Handler() http.Handler { return http.NotFoundHandler() }
func (i *identity) CitizenForAccessToken(t string) (portal.Citizen, bool) {
	return portal.Citizen{ID: "049090001234", Name: "Bench"}, t == "bench-token"
}
func (i *identity) Deliver(_, text string) {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.last = text
}

var codeRE = regexp.MustCompile(`\b(\d{6})\b`)

func run(sizeMB float64, pages, kbps int, latency, reset time.Duration, noChecksum bool, chunkTime time.Duration, verbose bool) error {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	dir, err := os.MkdirTemp("", "bench-upload-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	log := slog.New(slog.DiscardHandler)
	if verbose {
		log = slog.Default()
	}
	id := &identity{}
	srv, portalURL, err := portal.Start(ctx, portal.Options{Listen: "127.0.0.1:0", DataDir: dir, Identity: id, Log: log})
	if err != nil {
		return err
	}
	defer func() { cancel(); <-srv.Done() }()

	// Enroll a kiosk, directly (not measured).
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	der, _ := x509.MarshalPKIXPublicKey(&key.PublicKey)
	tok, err := srv.IssueEnrollToken()
	if err != nil {
		return err
	}
	enr, err := backendclient.New(portalURL, nil, "", nil).Enroll(ctx, api.EnrollRequest{Token: tok,
		PublicKeyPEM: string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))})
	if err != nil {
		return err
	}
	// The application: 2 + (pages-2) pages of scan-like bytes.
	pageBytes := int(sizeMB * 1e6 / float64(pages))
	docs := []struct {
		typ, file string
		pages     int
	}{{"land-use-certificate", "doc-1.pdf", 2}, {"design-drawings", "doc-2.pdf", pages - 2}}
	m := api.Manifest{
		PacketID: newUUID(), ProvisionalNumber: enr.KioskID + "-BENCH-1", ProcedureID: "house-building-permit",
		KioskID: enr.KioskID, OfficeCode: enr.OfficeCode, CreatedAt: time.Now(), Language: "en",
		Applicant: api.Applicant{CitizenID: "049090001234", Name: "Bench"},
		Form:      map[string]string{"site_address": "1 Bench Road", "land_parcel": "12/345", "floor_area": "120", "floors": "2"},
	}
	recipient, err := age.ParseX25519Recipient(enr.PortalAgeRecipient)
	if err != nil {
		return err
	}
	enc := map[string][]byte{}
	var packetBytes int64
	for _, d := range docs {
		pdf := pdftest.Scan(d.pages, pageBytes, rand.Reader)
		sum := sha256.Sum256(pdf)
		m.Documents = append(m.Documents, api.DocumentRef{Type: d.typ, File: d.file, Pages: d.pages, SHA256: hex.EncodeToString(sum[:]), Size: int64(len(pdf))})
		if enc[d.file], err = encrypt(recipient, pdf); err != nil {
			return err
		}
		packetBytes += int64(len(enc[d.file]))
	}
	// The citizen confirms what they reviewed (not measured).
	direct := backendclient.New(portalURL, nil, enr.KioskID, key)
	ch, err := direct.RequestConfirmation(ctx, "bench-token", api.ConfirmationRequest{ProcedureID: "house-building-permit"})
	if err != nil {
		return err
	}
	id.mu.Lock()
	code := codeRE.FindString(id.last)
	id.mu.Unlock()
	conf, err := direct.VerifyConfirmation(ctx, "bench-token", api.ConfirmationVerify{ID: ch.ID, Code: code,
		ReviewDigest: api.ReviewDigest(api.ReviewOf(m))})
	if err != nil || !conf.OK {
		return fmt.Errorf("confirmation: %+v %v", conf, err)
	}
	m.ConfirmationToken = conf.Token
	manifest, _ := json.Marshal(m)
	sig, err := backendclient.Sign(key, manifest)
	if err != nil {
		return err
	}
	encManifest, err := encrypt(recipient, manifest)
	if err != nil {
		return err
	}
	packetBytes += int64(len(encManifest))

	// The poor link.
	proxy, err := startProxy(portalURL, kbps, latency)
	if err != nil {
		return err
	}
	defer proxy.Stop()
	kiosk := backendclient.New("http://"+proxy.Listen, &http.Client{}, enr.KioskID, key)
	kiosk.SetPortalKey(srv.PublicKey())
	kiosk.SetUploadConfig(tus.Config{ChunkTime: chunkTime, NoChecksum: noChecksum, StallTimeout: 20 * time.Second,
		Backoff: tus.Backoff{Min: 200 * time.Millisecond, Max: 5 * time.Second}, MaxFailures: 1000})

	resets := 0
	stopResets := make(chan struct{})
	resetsDone := make(chan struct{})
	go func() {
		defer close(resetsDone)
		if reset <= 0 {
			return
		}
		tk := time.NewTicker(reset)
		defer tk.Stop()
		for {
			select {
			case <-stopResets:
				return
			case <-tk.C:
				proxy.Stop() // closes every connection through the proxy
				if err := proxy.Start(); err != nil {
					fmt.Fprintln(os.Stderr, "bench: restart proxy:", err)
				}
				resets++
			}
		}
	}()

	fmt.Printf("application: %d pages, %.2f MB encrypted (%d bytes); link %d kbit/s, %v latency, reset every %v; checksums %v\n",
		pages, float64(packetBytes)/1e6, packetBytes, kbps, latency, reset, !noChecksum)
	start := time.Now()
	req := api.FinaliseRequest{PacketID: m.PacketID, Manifest: encManifest, Signature: sig, Uploads: map[string]string{}}
	var res api.SubmitResult
	for {
		res, err = func() (api.SubmitResult, error) {
			for _, d := range docs {
				if req.Uploads[d.file] == "" {
					u, err := kiosk.CreateUpload(ctx, m.PacketID, d.file, int64(len(enc[d.file])))
					if err != nil {
						return api.SubmitResult{}, err
					}
					req.Uploads[d.file] = u
				}
				if err := kiosk.Upload(ctx, req.Uploads[d.file], bytes.NewReader(enc[d.file]), int64(len(enc[d.file]))); err != nil {
					return api.SubmitResult{}, err
				}
			}
			return kiosk.Finalise(ctx, req)
		}()
		if err == nil || backendclient.IsPermanent(err) {
			break
		}
		fmt.Fprintln(os.Stderr, "bench: retrying after:", err)
	}
	took := time.Since(start)
	close(stopResets)
	<-resetsDone
	if err != nil {
		return err
	}
	st := kiosk.UploadStats()
	ideal := time.Duration(float64(packetBytes) * 8 / float64(kbps*1000) * float64(time.Second))
	fmt.Printf("\n| size | pages | link | resets | completion | ideal | ratio | re-sent | tracking |\n")
	fmt.Printf("|---|---|---|---|---|---|---|---|---|\n")
	fmt.Printf("| %.2f MB | %d | %d kbit/s, %v, reset /%v | %d | %.1f s | %.1f s | %.3f | %d B (%.2f %%) | %s |\n",
		float64(packetBytes)/1e6, pages, kbps, latency, reset, resets, took.Seconds(), ideal.Seconds(),
		took.Seconds()/ideal.Seconds(), st.Resent, 100*float64(st.Resent)/float64(packetBytes), res.TrackingNumber)
	ok := took.Seconds()/ideal.Seconds() < 1.3 && float64(st.Resent) < 0.1*float64(packetBytes)
	fmt.Printf("targets (ratio < 1.3, re-sent < 10 %%): %v\n", map[bool]string{true: "met", false: "NOT met"}[ok])
	return nil
}

// startProxy puts toxiproxy between the kiosk and the portal.
func startProxy(portalURL string, kbps int, latency time.Duration) (*toxiproxy.Proxy, error) {
	u, err := url.Parse(portalURL)
	if err != nil {
		return nil, err
	}
	srv := toxiproxy.NewServer(toxiproxy.NewMetricsContainer(prometheus.NewRegistry()), zerolog.Nop())
	p := toxiproxy.NewProxy(srv, "portal", "127.0.0.1:0", u.Host)
	if err := p.Start(); err != nil {
		return nil, err
	}
	add := func(name, typ, stream string, attrs map[string]any) error {
		b, _ := json.Marshal(map[string]any{"name": name, "type": typ, "stream": stream, "toxicity": 1, "attributes": attrs})
		_, err := p.Toxics.AddToxicJson(bytes.NewReader(b))
		return err
	}
	for _, s := range []string{"upstream", "downstream"} {
		if err := add("bw-"+s, "bandwidth", s, map[string]any{"rate": kbps / 8}); err != nil { // KB/s of 1000 bytes
			return nil, err
		}
	}
	if latency > 0 {
		if err := add("latency", "latency", "downstream", map[string]any{"latency": latency.Milliseconds()}); err != nil {
			return nil, err
		}
	}
	return p, nil
}

func encrypt(r age.Recipient, plain []byte) ([]byte, error) {
	var buf bytes.Buffer
	w, err := age.Encrypt(&buf, r)
	if err != nil {
		return nil, err
	}
	if _, err := w.Write(plain); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func newUUID() string {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		panic(errors.New("no randomness"))
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b)
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}
