// Package crash proves the outbox's promise with real processes: a kiosk
// process (this test binary re-executed) enqueues applications and delivers
// them with the real portal client (govkiosk/backend-client: tus uploads and
// the idempotent finalise) to a portal; the parent kills it with SIGKILL at
// random points — while a packet is being written, while a document is
// being uploaded, while the portal finalises — more than fifty times,
// restarts it, and finally checks that every application the kiosk reported
// "received" is at the portal exactly once with byte-identical documents.
//
// The portal here is a minimal tus 1.0 + finalise server written in this
// test (it decrypts with the portal's age identity, verifies the kiosk's
// signature and the document hashes); it keeps its state in the parent
// process, so it survives the kiosk's deaths.
package crash

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"filippo.io/age"
	"github.com/google/uuid"

	backendclient "govkiosk/backend-client"
	"govkiosk/backend-client/api"
	"govkiosk/backend-client/tus"
	"govkiosk/kiosk/outbox"
)

// Environment of the kiosk child process.
const (
	envChild     = "CRASH_CHILD"      // "1" in the child
	envDir       = "CRASH_DIR"        // outbox directory
	envPortal    = "CRASH_PORTAL"     // portal base URL
	envRecipient = "CRASH_RECIPIENT"  // portal age recipient
	envKey       = "CRASH_KEY"        // kiosk key, PKCS#8 DER, base64
	envStart     = "CRASH_START"      // first application number to submit
	envEnd       = "CRASH_END"        // last application number to submit
	envExitIdle  = "CRASH_EXIT_IDLE"  // "1": exit once every packet is delivered
	kioskID      = "kiosk-crash-test" // the child's kiosk ID
)

func TestMain(m *testing.M) {
	if os.Getenv(envChild) == "1" {
		os.Exit(child())
	}
	os.Exit(m.Run())
}

// application returns the documents of application n: deterministic, so the
// parent can check the portal's copy byte for byte.
func application(n int) []outbox.Doc {
	r := mrand.New(mrand.NewPCG(uint64(n), 77))
	docs := make([]outbox.Doc, 2)
	for i := range docs {
		size := 40_000 + r.IntN(160_000)
		b := make([]byte, size)
		for j := range b {
			b[j] = byte(r.Uint32())
		}
		copy(b, fmt.Sprintf("%%PDF-1.7 application %d document %d\n", n, i))
		docs[i] = outbox.Doc{Name: fmt.Sprintf("doc-%d.pdf", i+1), Data: b}
	}
	return docs
}

// packet builds application n as a signed packet with a fresh packet ID, as
// the kiosk controller does.
func packet(n int, key *ecdsa.PrivateKey) (outbox.Packet, error) {
	id := uuid.NewString()
	prov := fmt.Sprintf("K-%06d", n)
	docs := application(n)
	m := api.Manifest{
		PacketID: id, ProvisionalNumber: prov, ProcedureID: "birth-certificate", KioskID: kioskID,
		OfficeCode: "QN-TK", CreatedAt: time.Now().UTC(), Language: "vi",
		Applicant:         api.Applicant{CitizenID: "049190012345", Name: "Nguyễn Thị Hồng Nhung"},
		Form:              map[string]string{"application": strconv.Itoa(n)},
		ConfirmationToken: "confirmed",
	}
	for _, d := range docs {
		sum := sha256.Sum256(d.Data)
		m.Documents = append(m.Documents, api.DocumentRef{Type: "scan", File: d.Name, Pages: 1,
			SHA256: hex.EncodeToString(sum[:]), Size: int64(len(d.Data))})
	}
	mj, err := json.Marshal(m)
	if err != nil {
		return outbox.Packet{}, err
	}
	sig, err := backendclient.Sign(key, mj)
	if err != nil {
		return outbox.Packet{}, err
	}
	return outbox.Packet{ID: id, ProvisionalNumber: prov, ManifestJSON: mj, Signature: sig, Docs: docs}, nil
}

// child is the kiosk: it submits applications START..END one after the
// other, printing "received N ID" only once Enqueue has returned, while Run
// delivers them with the real portal client.
func child() int {
	fail := func(err error) int { fmt.Fprintln(os.Stderr, "child:", err); return 2 }
	der, err := base64.StdEncoding.DecodeString(os.Getenv(envKey))
	if err != nil {
		return fail(err)
	}
	k, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return fail(err)
	}
	key := k.(*ecdsa.PrivateKey)
	rcpt, err := outbox.ParseRecipient(os.Getenv(envRecipient))
	if err != nil {
		return fail(err)
	}
	start, _ := strconv.Atoi(os.Getenv(envStart))
	end, _ := strconv.Atoi(os.Getenv(envEnd))
	ob, err := outbox.Open(outbox.Options{
		Dir: os.Getenv(envDir), Recipient: rcpt, IsPermanent: backendclient.IsPermanent,
		MinBackoff: 10 * time.Millisecond, MaxBackoff: 100 * time.Millisecond,
		Log: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo})),
	})
	if err != nil {
		return fail(err)
	}
	// A small send buffer: what the kiosk has not handed to the kernel when
	// it dies is really lost, as on a radio link, so kills cut PATCH bodies.
	dialer := &net.Dialer{Control: func(network, address string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) {
			serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_SNDBUF, 8<<10)
		})
		return errors.Join(err, serr)
	}}
	hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DialContext: dialer.DialContext}}
	pc := backendclient.New(os.Getenv(envPortal), hc, kioskID, key)
	pc.SetUploadConfig(tus.Config{MinChunk: 8 << 10, FirstChunk: 16 << 10, MaxChunk: 64 << 10,
		ChunkTime: 50 * time.Millisecond, StallTimeout: 5 * time.Second,
		Backoff: tus.Backoff{Min: 10 * time.Millisecond, Max: 100 * time.Millisecond}, MaxFailures: 5})
	go ob.Run(context.Background(), pc)
	fmt.Println("started")
	for n := start; n <= end; n++ {
		// One citizen after another: the next application starts when the
		// kiosk is nearly caught up, so uploads are under way at any kill.
		for {
			b, err := ob.Backlog()
			if err != nil {
				return fail(err)
			}
			if b <= 2 {
				break
			}
			<-time.After(5 * time.Millisecond)
		}
		p, err := packet(n, key)
		if err != nil {
			return fail(err)
		}
		fmt.Println("enqueue", n, p.ID)
		if err := ob.Enqueue(context.Background(), p); err != nil {
			return fail(err)
		}
		fmt.Println("received", n, p.ID)
	}
	if os.Getenv(envExitIdle) != "1" {
		select {} // deliver until killed
	}
	for {
		<-time.After(20 * time.Millisecond) // poll the outbox; the parent bounds the wait
		ents, err := ob.List()
		if err != nil {
			return fail(err)
		}
		left := 0
		for _, e := range ents {
			if e.State == outbox.StateNeedsAttention {
				return fail(fmt.Errorf("packet %s needs attention: %s", e.ID, e.LastError))
			}
			if e.State != outbox.StatePurged {
				left++
			}
		}
		if left == 0 {
			fmt.Println("drained")
			ob.Close()
			return 0
		}
	}
}

// portal is a minimal tus 1.0 (core, creation) + idempotent finalise server.
type portal struct {
	identity *age.X25519Identity
	kioskKey *ecdsa.PublicKey
	bps      int // PATCH bodies are read at this rate (bytes per second)

	mu       sync.Mutex
	n        int
	uploads  map[string]*upload
	apps     map[string]*app // by packet ID
	creates  int             // uploads created
	resumes  int             // PATCHes that continued an upload from a non-zero offset after a cut
	cuts     int             // PATCH bodies cut short by a kill
	replays  int             // finalise answered from the idempotency record
	patching chan struct{}   // a PATCH has started (non-blocking signal)
	finalise chan struct{}   // a finalise has arrived
}

type upload struct {
	// busy is held by a PATCH for its whole body and by HEAD: the handler
	// of a dead kiosk's PATCH may still be appending when the restarted
	// kiosk asks for the offset (a tus server must lock, as tusd does).
	busy   sync.Mutex
	length int64
	data   []byte
	cut    bool // the last PATCH was cut short
	meta   string
}

type app struct {
	number   int
	manifest api.Manifest
	docs     map[string][]byte
	created  int // times a finalise created this application (must be 1)
	result   api.SubmitResult
}

func newPortal(id *age.X25519Identity, kioskKey *ecdsa.PublicKey) *portal {
	return &portal{identity: id, kioskKey: kioskKey, bps: 4 << 20, uploads: map[string]*upload{},
		apps: map[string]*app{}, patching: make(chan struct{}, 1), finalise: make(chan struct{}, 1)}
}

func signal(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

func (p *portal) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set(tus.HeaderResumable, "1.0.0")
	switch {
	case r.Method == http.MethodOptions:
		w.Header().Set(tus.HeaderVersion, "1.0.0")
		w.Header().Set(tus.HeaderExtension, "creation")
		w.WriteHeader(http.StatusNoContent)
	case r.Method == http.MethodPost && r.URL.Path == backendclient.PathUploads:
		p.create(w, r)
	case strings.HasPrefix(r.URL.Path, backendclient.PathUploads):
		p.uploadOp(w, r, strings.TrimPrefix(r.URL.Path, backendclient.PathUploads))
	case r.Method == http.MethodPost && strings.HasPrefix(r.URL.Path, backendclient.PathPackets) && strings.HasSuffix(r.URL.Path, "/finalise"):
		p.finish(w, r, strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, backendclient.PathPackets), "/finalise"))
	default:
		http.NotFound(w, r)
	}
}

func (p *portal) create(w http.ResponseWriter, r *http.Request) {
	n, err := strconv.ParseInt(r.Header.Get(tus.HeaderLength), 10, 64)
	if err != nil || n <= 0 {
		http.Error(w, "bad Upload-Length", http.StatusBadRequest)
		return
	}
	p.mu.Lock()
	p.n++
	id := strconv.Itoa(p.n)
	p.uploads[id] = &upload{length: n, meta: r.Header.Get(tus.HeaderMetadata)}
	p.creates++
	p.mu.Unlock()
	w.Header().Set("Location", backendclient.PathUploads+id)
	w.WriteHeader(http.StatusCreated)
}

func (p *portal) uploadOp(w http.ResponseWriter, r *http.Request, id string) {
	p.mu.Lock()
	u := p.uploads[id]
	p.mu.Unlock()
	if u == nil {
		http.NotFound(w, r)
		return
	}
	u.busy.Lock()
	defer u.busy.Unlock()
	p.mu.Lock()
	off := int64(len(u.data))
	p.mu.Unlock()
	switch r.Method {
	case http.MethodHead:
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set(tus.HeaderOffset, strconv.FormatInt(off, 10))
		w.Header().Set(tus.HeaderLength, strconv.FormatInt(u.length, 10))
		w.WriteHeader(http.StatusOK)
	case http.MethodPatch:
		if r.Header.Get("Content-Type") != tus.ContentTypeOffset {
			http.Error(w, "bad content type", http.StatusUnsupportedMediaType)
			return
		}
		if got, err := strconv.ParseInt(r.Header.Get(tus.HeaderOffset), 10, 64); err != nil || got != off {
			http.Error(w, "offset mismatch", http.StatusConflict)
			return
		}
		signal(p.patching)
		// Read at the configured rate, keeping what arrives even when the
		// connection dies (a tus server does the same).
		buf := make([]byte, 16<<10)
		tick := time.NewTicker(time.Duration(float64(time.Second) * float64(len(buf)) / float64(p.bps)))
		defer tick.Stop()
		for {
			n, err := r.Body.Read(buf)
			if n > 0 {
				p.mu.Lock()
				if off > 0 && u.cut {
					p.resumes++
					u.cut = false
				}
				if int64(len(u.data)+n) > u.length {
					p.mu.Unlock()
					http.Error(w, "beyond Upload-Length", http.StatusBadRequest)
					return
				}
				u.data = append(u.data, buf[:n]...)
				off = int64(len(u.data))
				p.mu.Unlock()
			}
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				p.mu.Lock()
				u.cut = true
				p.cuts++
				p.mu.Unlock()
				return
			}
			<-tick.C
		}
		w.Header().Set(tus.HeaderOffset, strconv.FormatInt(off, 10))
		w.WriteHeader(http.StatusNoContent)
	default:
		http.Error(w, "method", http.StatusMethodNotAllowed)
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func reject(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, api.Error{Code: "rejected", Message: msg})
}

func (p *portal) decrypt(b []byte) ([]byte, error) {
	r, err := age.Decrypt(bytes.NewReader(b), p.identity)
	if err != nil {
		return nil, err
	}
	return io.ReadAll(r)
}

// finish is the idempotent finalise: the Idempotency-Key is the quoted
// packet ID; a replay answers the original result with 200.
func (p *portal) finish(w http.ResponseWriter, r *http.Request, packetID string) {
	signal(p.finalise)
	if r.Header.Get(api.HeaderIdempotencyKey) != `"`+packetID+`"` {
		reject(w, http.StatusBadRequest, "Idempotency-Key must be the quoted packet ID")
		return
	}
	var req api.FinaliseRequest
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&req); err != nil || req.PacketID != packetID {
		reject(w, http.StatusBadRequest, "bad request body")
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if a, ok := p.apps[packetID]; ok {
		p.replays++
		res := a.result
		res.Duplicate = true
		writeJSON(w, http.StatusOK, res)
		return
	}
	mj, err := p.decrypt(req.Manifest)
	if err != nil {
		reject(w, http.StatusUnprocessableEntity, "manifest does not decrypt")
		return
	}
	sum := sha256.Sum256(mj)
	if !ecdsa.VerifyASN1(p.kioskKey, sum[:], req.Signature) {
		reject(w, http.StatusUnprocessableEntity, "bad signature")
		return
	}
	var m api.Manifest
	if err := json.Unmarshal(mj, &m); err != nil || m.PacketID != packetID {
		reject(w, http.StatusUnprocessableEntity, "bad manifest")
		return
	}
	a := &app{manifest: m, docs: map[string][]byte{}}
	a.number, _ = strconv.Atoi(m.Form["application"])
	for _, d := range m.Documents {
		u := p.uploads[strings.TrimPrefix(mustPath(req.Uploads[d.File]), backendclient.PathUploads)]
		if u == nil || int64(len(u.data)) != u.length {
			reject(w, http.StatusUnprocessableEntity, "upload of "+d.File+" missing or incomplete")
			return
		}
		pdf, err := p.decrypt(u.data)
		if err != nil {
			reject(w, http.StatusUnprocessableEntity, "document does not decrypt")
			return
		}
		s := sha256.Sum256(pdf)
		if hex.EncodeToString(s[:]) != d.SHA256 || int64(len(pdf)) != d.Size {
			reject(w, http.StatusUnprocessableEntity, "document hash differs from manifest")
			return
		}
		a.docs[d.File] = pdf
	}
	a.created++
	a.result = api.SubmitResult{TrackingNumber: fmt.Sprintf("QN-2026-%06d", len(p.apps)+1),
		ProvisionalNumber: m.ProvisionalNumber, AppointmentDate: "2026-12-01", ReceivedAt: time.Now().UTC()}
	p.apps[packetID] = a
	writeJSON(w, http.StatusCreated, a.result)
}

func mustPath(u string) string {
	if i := strings.Index(u, backendclient.PathUploads); i >= 0 {
		return u[i:]
	}
	return u
}

// kiosk is one run of the child process.
type kiosk struct {
	cmd    *exec.Cmd
	lines  chan string
	stderr *bytes.Buffer
	done   chan struct{}
}

func startKiosk(t *testing.T, env []string) *kiosk {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	k := &kiosk{cmd: cmd, lines: make(chan string, 1024), stderr: &bytes.Buffer{}, done: make(chan struct{})}
	cmd.Stderr = k.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			k.lines <- sc.Text()
		}
		close(k.lines)
		cmd.Wait()
		close(k.done)
	}()
	return k
}

// TestKillLoop is the proof. Its numbers are printed with -v.
func TestKillLoop(t *testing.T) {
	const kills = 100
	dir := filepath.Join(t.TempDir(), "outbox")
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	pt := newPortal(id, &key.PublicKey)
	// A small receive buffer keeps a PATCH body in flight (not already in
	// the portal's kernel buffer) when the kiosk dies, so kills cut uploads.
	lc := net.ListenConfig{Control: func(network, address string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) {
			serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 16<<10)
		})
		return errors.Join(err, serr)
	}}
	ln, err := lc.Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(pt)
	srv.Listener.Close()
	srv.Listener = ln
	srv.Start()
	defer srv.Close()

	env := func(start, end int, exitIdle bool) []string {
		e := []string{envChild + "=1", envDir + "=" + dir, envPortal + "=" + srv.URL,
			envRecipient + "=" + id.Recipient().String(), envKey + "=" + base64.StdEncoding.EncodeToString(der),
			envStart + "=" + strconv.Itoa(start), envEnd + "=" + strconv.Itoa(end)}
		if exitIdle {
			e = append(e, envExitIdle+"=1")
		}
		return e
	}

	rnd := mrand.New(mrand.NewPCG(uint64(time.Now().UnixNano()), 1))
	received := map[string]int{} // packet ID → application number, as the kiosk reported
	byNumber := map[int][]string{}
	next := 1
	modes := map[string]int{}
	strays := 0 // packet directories of interrupted Enqueues removed at a restart
	timeout := time.NewTimer(0)
	began := time.Now()
	for range kills {
		roundStart := time.Now()
		k := startKiosk(t, env(next, next+1000, false))
		mode := []string{"timer", "mid-write", "mid-upload", "mid-finalise"}[rnd.IntN(4)]
		var trigger <-chan struct{}
		// Drain stale signals of the previous run.
		select {
		case <-pt.patching:
		default:
		}
		select {
		case <-pt.finalise:
		default:
		}
		switch mode {
		case "mid-upload":
			trigger = pt.patching
		case "mid-finalise":
			trigger = pt.finalise
		}
		delay := time.Duration(rnd.IntN(40_000)) * time.Microsecond
		timeout.Reset(5 * time.Second)
		fired := false
		var timerC <-chan time.Time
		if mode == "timer" {
			timerC = time.After(time.Duration(5+rnd.IntN(150)) * time.Millisecond)
		}
	loop:
		for {
			select {
			case l, ok := <-k.lines:
				if !ok {
					t.Fatalf("kiosk exited by itself: %s", k.stderr)
				}
				f := strings.Fields(l)
				if len(f) == 3 && f[0] == "received" {
					n, _ := strconv.Atoi(f[1])
					received[f[2]] = n
					byNumber[n] = append(byNumber[n], f[2])
					next = n + 1
				}
				if mode == "mid-write" && f[0] == "enqueue" && !fired {
					fired = true
					timerC = time.After(time.Duration(rnd.IntN(3000)) * time.Microsecond)
				}
			case <-trigger:
				trigger = nil
				timerC = time.After(delay)
			case <-timerC:
				break loop
			case <-timeout.C:
				mode += " (timed out)"
				break loop
			}
		}
		k.cmd.Process.Signal(syscall.SIGKILL)
		<-k.done
		for l := range k.lines { // lines printed before the kill
			f := strings.Fields(l)
			if len(f) == 3 && f[0] == "received" {
				n, _ := strconv.Atoi(f[1])
				received[f[2]] = n
				byNumber[n] = append(byNumber[n], f[2])
				next = n + 1
			}
		}
		modes[mode]++
		if d := time.Since(roundStart); d > time.Second {
			t.Logf("slow round (%s): %v", mode, d)
		}
		strays += strings.Count(k.stderr.String(), "removed stray packet directory")
	}

	// A last run without kills delivers everything and exits.
	drainStart := time.Now()
	k := startKiosk(t, env(next, next-1, true))
	deadline := time.NewTimer(60 * time.Second)
	drained := false
	for !drained {
		select {
		case l, ok := <-k.lines:
			if !ok {
				t.Fatalf("kiosk exited before draining: %s", k.stderr)
			}
			drained = l == "drained"
		case <-deadline.C:
			k.cmd.Process.Kill()
			t.Fatalf("backlog not drained in 60 s: %s", k.stderr)
		}
	}
	<-k.done
	t.Logf("kill rounds took %v, final drain %v", drainStart.Sub(began), time.Since(drainStart))
	strays += strings.Count(k.stderr.String(), "removed stray packet directory")

	// Check: every application reported received is at the portal exactly
	// once, byte-identical; nothing reported received is missing.
	pt.mu.Lock()
	defer pt.mu.Unlock()
	losses, duplicates, mismatches := 0, 0, 0
	for pid, n := range received {
		a, ok := pt.apps[pid]
		if !ok {
			losses++
			t.Errorf("application %d (packet %s) reported received but not at the portal", n, pid)
			continue
		}
		if a.created != 1 {
			duplicates += a.created - 1
		}
		want := application(n)
		if a.number != n || len(a.docs) != len(want) {
			mismatches++
			t.Errorf("packet %s: portal holds application %d with %d documents, want %d with %d", pid, a.number, len(a.docs), n, len(want))
			continue
		}
		for _, d := range want {
			if !bytes.Equal(a.docs[d.Name], d.Data) {
				mismatches++
				t.Errorf("application %d: %s differs at the portal", n, d.Name)
			}
		}
	}
	for n, ids := range byNumber {
		if len(ids) > 1 {
			duplicates += len(ids) - 1
			t.Errorf("application %d reported received under %d packets", n, len(ids))
		}
	}
	orphans := 0 // at the portal, never reported received: killed between commit and the "received" line
	for pid, a := range pt.apps {
		if _, ok := received[pid]; !ok {
			orphans++
			if a.number < 1 || a.number > next {
				t.Errorf("portal holds unknown application %d", a.number)
			}
		}
	}
	if duplicates > 0 || mismatches > 0 {
		t.Errorf("%d duplicates, %d mismatches", duplicates, mismatches)
	}
	if len(received) < kills/3 {
		t.Errorf("only %d applications received over %d runs: the loop did not exercise much", len(received), kills)
	}

	// The kiosk's outbox is empty: nothing parked, no files left.
	ob, err := outbox.Open(outbox.Options{Dir: dir, Recipient: id.Recipient()})
	if err != nil {
		t.Fatal(err)
	}
	defer ob.Close()
	if n, _ := ob.Backlog(); n != 0 {
		t.Errorf("backlog %d after draining", n)
	}
	left, _ := os.ReadDir(filepath.Join(dir, "packets"))
	if len(left) != 0 {
		t.Errorf("%d packet directories left", len(left))
	}
	t.Logf("kill loop: %d kills %v; %d applications reported received, %d at the portal (%d delivered although the kill came before \"received\"); duplicates %d, losses %d, mismatches %d",
		kills, modes, len(received), len(pt.apps), orphans, duplicates, losses, mismatches)
	t.Logf("%d half-written packets (kill inside Enqueue) found and removed at restart", strays)
	t.Logf("uploads: %d created for %d documents; %d PATCH bodies cut by a kill, %d uploads resumed at the server's offset; %d finalise replays answered from the idempotency record",
		pt.creates, 2*len(pt.apps), pt.cuts, pt.resumes, pt.replays)
}
