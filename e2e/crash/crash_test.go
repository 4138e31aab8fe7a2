// Package crash proves the outbox's promise with real processes against the
// real reference portal: a kiosk process (this test binary re-executed),
// enrolled with the portal by provisioning, asks the portal for each
// citizen's confirmation code, enqueues the application and delivers it
// with the real portal client (govkiosk/backend-client: tus uploads and the
// idempotent finalise) to govkiosk/portal running in the parent; the parent
// kills the kiosk with SIGKILL at random points — while confirming, while a
// packet is being written, while a document is being uploaded, while the
// portal finalises — at least fifty times, restarts it, and finally checks
// through the portal's admin API that every application the kiosk reported
// "received" is there exactly once with the documents the kiosk enqueued
// (SHA-256, size, pages).
//
// The portal keeps its state in the parent process (its own data directory),
// so it survives the kiosk's deaths. Only the national-ID provider is a fake
// (fakeIdentity): it maps access tokens to citizens and keeps the texts sent
// to citizens' phones, which the kiosk reads back as the citizen would.
package crash

import (
	"govkiosk/portal/pdftest"

	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/sha256"
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
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"

	backendclient "govkiosk/backend-client"
	"govkiosk/backend-client/api"
	"govkiosk/backend-client/tus"
	"govkiosk/kiosk/config"
	"govkiosk/kiosk/outbox"
	"govkiosk/portal"
	"govkiosk/provisioning"
)

// Environment of the kiosk child process.
const (
	envChild    = "CRASH_CHILD"     // "1" in the child
	envData     = "CRASH_DATA"      // the kiosk's provisioned data directory
	envStart    = "CRASH_START"     // first application number to submit
	envEnd      = "CRASH_END"       // last application number to submit
	envExitIdle = "CRASH_EXIT_IDLE" // "1": exit once every packet is delivered
)

const (
	procedureID = "house-building-permit" // from portal/catalogue.json: land-use-certificate (1-4 pages) + design-drawings (2-20)
	enrollToken = "ENR-CRASH-TEST-1"
	adminToken  = "crash-admin-token-0123456789abcdefghij" // the phone (inboxPath) and admin API
	// inboxPath is where fakeIdentity shows a citizen's latest confirmation
	// text, under the identity provider's /phone prefix the portal mounts.
	inboxPath = api.PathPhone + "/test-inbox"
)

func TestMain(m *testing.M) {
	if os.Getenv(envChild) == "1" {
		os.Exit(child())
	}
	os.Exit(m.Run())
}

// citizenID is the applicant of application n (12 digits, as the form's
// citizen_id pattern wants); each application is another citizen.
func citizenID(n int) string { return fmt.Sprintf("0491%08d", n) }

// accessToken is the citizen's OIDC access token as fakeIdentity knows it.
func accessToken(citizen string) string { return "at-" + citizen }

// document is one document of an application as the kiosk scanned it.
type document struct {
	Type, File string
	Pages      int
	Data       []byte
}

// application returns the documents of application n: real PDFs whose pages
// carry incompressible scan-like streams, deterministic so the parent knows
// what the kiosk enqueued without being told.
func application(n int) []document {
	r := mrand.New(mrand.NewPCG(uint64(n), 77))
	var docs []document
	for i, d := range []struct {
		typ                string
		minPages, maxPages int
	}{{"land-use-certificate", 1, 2}, {"design-drawings", 2, 3}} {
		pages := d.minPages + r.IntN(d.maxPages-d.minPages+1)
		size := 40_000 + r.IntN(160_000)
		docs = append(docs, document{Type: d.typ, File: fmt.Sprintf("doc-%d-%s.pdf", i+1, d.typ),
			Pages: pages, Data: pdftest.Scan(pages, size/pages, randReader{r})})
	}
	return docs
}

// randReader reads from a seeded generator, so documents are the same on
// every run for the same application number.
type randReader struct{ r *mrand.Rand }

func (rr randReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(rr.r.Uint32())
	}
	return len(p), nil
}

// packet builds application n as a signed packet with a fresh packet ID and
// provisional number, as the kiosk controller does: a new attempt after a
// kill is a new packet. Before it is signed, confirm gets the citizen's
// confirmation token for exactly what it holds.
func packet(n int, cfg config.Config, key *ecdsa.PrivateKey, confirm func(review api.Review) (string, error)) (outbox.Packet, error) {
	id := uuid.NewString()
	prov := fmt.Sprintf("P-%06d-%s", n, strings.ToUpper(strings.ReplaceAll(id, "-", "")[:8]))
	citizen := citizenID(n)
	m := api.Manifest{
		PacketID: id, ProvisionalNumber: prov, ProcedureID: procedureID, KioskID: cfg.KioskID,
		OfficeCode: cfg.OfficeCode, CreatedAt: time.Now().UTC(), Language: "vi",
		Applicant: api.Applicant{CitizenID: citizen, Name: "Nguyễn Thị Hồng Nhung"},
		Form:      map[string]string{"site_address": "12 Phan Bội Châu, Tam Kỳ", "land_parcel": "125/18", "floor_area": "120", "floors": "2"},
	}
	var docs []outbox.Doc
	for _, d := range application(n) {
		sum := sha256.Sum256(d.Data)
		m.Documents = append(m.Documents, api.DocumentRef{Type: d.Type, File: d.File, Pages: d.Pages,
			SHA256: hex.EncodeToString(sum[:]), Size: int64(len(d.Data))})
		docs = append(docs, outbox.Doc{Name: d.File, Data: d.Data})
	}
	tok, err := confirm(api.ReviewOf(m))
	if err != nil {
		return outbox.Packet{}, err
	}
	m.ConfirmationToken = tok
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

var codeRE = regexp.MustCompile(`confirmation code for .* is ([0-9]{6})`) // portal.CodeMessage in English: this test's code requests name no language

// confirm gets a confirmation token for the citizen as a kiosk does: it asks
// the portal to send a code, the citizen reads it on their phone (the fake
// provider's inbox) and types it, and the portal answers the token. A code
// sent for a request of a killed predecessor may be read instead of ours:
// then the code is wrong and the kiosk asks again.
func confirm(ctx context.Context, pc *backendclient.Client, hc *http.Client, base, citizen string, review api.Review) (string, error) {
	var last error
	for range 5 {
		ch, err := pc.RequestConfirmation(ctx, accessToken(citizen), api.ConfirmationRequest{ProcedureID: procedureID})
		if err != nil {
			last = err
			continue
		}
		req, err := http.NewRequestWithContext(ctx, "GET", base+inboxPath+"?citizen="+url.QueryEscape(citizen), nil)
		if err != nil {
			return "", err
		}
		req.Header.Set("Authorization", "Bearer "+adminToken)
		resp, err := hc.Do(req)
		if err != nil {
			last = err
			continue
		}
		text, err := io.ReadAll(io.LimitReader(resp.Body, 4096))
		resp.Body.Close()
		if err != nil {
			last = err
			continue
		}
		m := codeRE.FindSubmatch(text)
		if m == nil {
			last = fmt.Errorf("no code on the phone (HTTP %d)", resp.StatusCode)
			continue
		}
		res, err := pc.VerifyConfirmation(ctx, accessToken(citizen), api.ConfirmationVerify{ID: ch.ID, Code: string(m[1]),
			ReviewDigest: api.ReviewDigest(review)})
		if err != nil {
			last = err
			continue
		}
		if res.OK {
			return res.Token, nil
		}
		last = fmt.Errorf("confirmation refused: %s", res.Reason)
	}
	return "", fmt.Errorf("confirm: %w", last)
}

// child is the kiosk: with the identity provisioning gave it, it submits
// applications START..END one after the other, each confirmed by its
// citizen, printing "received N ID" only once Enqueue has returned, while
// Run delivers them with the real portal client.
func child() int {
	fail := func(err error) int { fmt.Fprintln(os.Stderr, "child:", err); return 2 }
	dataDir := os.Getenv(envData)
	cfg, err := config.Load(filepath.Join(dataDir, provisioning.ConfigFile))
	if err != nil {
		return fail(err)
	}
	if _, err := os.Stat(filepath.Join(dataDir, provisioning.KeyFile)); err != nil {
		return fail(fmt.Errorf("not provisioned: %w", err))
	}
	key, err := provisioning.LoadOrCreateKey(dataDir)
	if err != nil {
		return fail(err)
	}
	ageRcpt, err := provisioning.LoadPortalAgeRecipient(dataDir)
	if err != nil {
		return fail(err)
	}
	rcpt, err := outbox.ParseRecipient(ageRcpt)
	if err != nil {
		return fail(err)
	}
	start, _ := strconv.Atoi(os.Getenv(envStart))
	end, _ := strconv.Atoi(os.Getenv(envEnd))
	ob, err := outbox.Open(outbox.Options{
		Dir: filepath.Join(dataDir, "outbox"), Recipient: rcpt, IsPermanent: backendclient.IsPermanent,
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
	pc := backendclient.New(cfg.PortalURL, hc, cfg.KioskID, key)
	portalKey, err := provisioning.LoadPortalKey(dataDir)
	if err != nil {
		return fail(err)
	}
	pc.SetPortalKey(portalKey)
	pc.SetUploadConfig(tus.Config{MinChunk: 8 << 10, FirstChunk: 16 << 10, MaxChunk: 64 << 10,
		ChunkTime: 50 * time.Millisecond, StallTimeout: 5 * time.Second,
		Backoff: tus.Backoff{Min: 10 * time.Millisecond, Max: 100 * time.Millisecond}, MaxFailures: 5})
	ctx := context.Background()
	go ob.Run(ctx, pc)
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
		fmt.Println("confirm", n)
		p, err := packet(n, cfg, key, func(review api.Review) (string, error) {
			return confirm(ctx, pc, hc, cfg.PortalURL, citizenID(n), review)
		})
		if err != nil {
			return fail(err)
		}
		fmt.Println("enqueue", n, p.ID, p.ProvisionalNumber)
		if err := ob.Enqueue(ctx, p); err != nil {
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

// fakeIdentity is the national-ID provider as the portal sees it: access
// token "at-<citizen ID>" is that citizen; texts sent to a citizen's phone
// are kept, and the latest confirmation text is shown at inboxPath.
type fakeIdentity struct {
	mu    sync.Mutex
	texts map[string][]string // by citizen ID
}

var digits12 = regexp.MustCompile(`^[0-9]{12}$`)

func (f *fakeIdentity) CitizenForAccessToken(tok string) (portal.Citizen, bool) {
	id, ok := strings.CutPrefix(tok, "at-")
	// Every applicant of this test has the same name (see packet).
	return portal.Citizen{ID: id, Name: "Nguyễn Thị Hồng Nhung"}, ok && digits12.MatchString(id)
}

func (f *fakeIdentity) Deliver(citizenID, text string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.texts == nil {
		f.texts = map[string][]string{}
	}
	f.texts[citizenID] = append(f.texts[citizenID], text)
}

func (f *fakeIdentity) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+inboxPath, func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		ts := f.texts[r.URL.Query().Get("citizen")]
		for i := len(ts) - 1; i >= 0; i-- {
			if codeRE.MatchString(ts[i]) {
				w.Header().Set("Content-Type", "text/plain; charset=utf-8")
				io.WriteString(w, ts[i])
				return
			}
		}
		http.NotFound(w, r)
	})
	return mux
}

// counts returns the number of confirmation texts and of other texts (the
// citizens' copies of their receipts) sent to phones.
func (f *fakeIdentity) counts() (codes, receipts int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, ts := range f.texts {
		for _, t := range ts {
			if codeRE.MatchString(t) {
				codes++
			} else {
				receipts++
			}
		}
	}
	return codes, receipts
}

// tap sits in front of the real portal's handler: it reads PATCH bodies at
// a link's rate (so a kill finds an upload in flight), tells the parent when
// a PATCH or a finalise starts (to aim kills), and counts what happened.
type tap struct {
	h   http.Handler
	bps int // PATCH bodies are read at this rate (bytes per second)

	patching chan struct{} // a PATCH has started (non-blocking signal)
	finalise chan struct{} // a finalise has arrived

	mu       sync.Mutex
	creates  int             // uploads created (201)
	patches  int             // PATCH requests
	cuts     int             // PATCH bodies cut short (kill, or the portal aborting a dead one)
	resumes  int             // PATCHes of an upload whose previous PATCH was cut
	cut      map[string]bool // upload id → its last PATCH was cut
	finalSt  map[int]int     // finalise answers by status
	confirms int             // confirmation codes requested
}

func newTap(h http.Handler) *tap {
	return &tap{h: h, bps: 4 << 20, patching: make(chan struct{}, 1), finalise: make(chan struct{}, 1),
		cut: map[string]bool{}, finalSt: map[int]int{}}
}

func signal(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

func drain(ch chan struct{}) {
	select {
	case <-ch:
	default:
	}
}

// statusWriter records the status; Unwrap keeps http.ResponseController
// (the portal's read deadlines on PATCH) working.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (s *statusWriter) WriteHeader(c int) {
	if s.status == 0 {
		s.status = c
	}
	s.ResponseWriter.WriteHeader(c)
}

func (s *statusWriter) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

func (s *statusWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// slowBody reads at most 16 KiB at a time at bps bytes per second and
// notes whether the body ended otherwise than with EOF.
type slowBody struct {
	io.ReadCloser
	bps int
	cut bool
}

func (b *slowBody) Read(p []byte) (int, error) {
	if len(p) > 16<<10 {
		p = p[:16<<10]
	}
	n, err := b.ReadCloser.Read(p)
	if err != nil && !errors.Is(err, io.EOF) {
		b.cut = true
	}
	if n > 0 {
		<-time.After(time.Duration(n) * time.Second / time.Duration(b.bps))
	}
	return n, err
}

func (p *tap) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	sw := &statusWriter{ResponseWriter: w}
	switch {
	case r.Method == http.MethodPatch && strings.HasPrefix(r.URL.Path, api.PathUploads):
		id := strings.TrimPrefix(r.URL.Path, api.PathUploads)
		signal(p.patching)
		p.mu.Lock()
		p.patches++
		if p.cut[id] {
			p.resumes++
			delete(p.cut, id)
		}
		p.mu.Unlock()
		body := &slowBody{ReadCloser: r.Body, bps: p.bps}
		r.Body = body
		p.h.ServeHTTP(sw, r)
		if body.cut {
			p.mu.Lock()
			p.cuts++
			p.cut[id] = true
			p.mu.Unlock()
		}
	case r.Method == http.MethodPost && strings.HasPrefix(r.URL.Path, api.PathPackets) && strings.HasSuffix(r.URL.Path, "/finalise"):
		signal(p.finalise)
		p.h.ServeHTTP(sw, r)
		p.mu.Lock()
		p.finalSt[sw.status]++
		p.mu.Unlock()
	case r.Method == http.MethodPost && r.URL.Path == api.PathUploads:
		p.h.ServeHTTP(sw, r)
		if sw.status == http.StatusCreated {
			p.mu.Lock()
			p.creates++
			p.mu.Unlock()
		}
	case r.Method == http.MethodPost && r.URL.Path == api.PathConfirmations:
		p.h.ServeHTTP(sw, r)
		p.mu.Lock()
		p.confirms++
		p.mu.Unlock()
	default:
		p.h.ServeHTTP(w, r)
	}
}

// lockedBuffer collects the portal's warnings, written from handlers.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// Bounds of the test's waits on the kiosk child and the portal: far above
// what they take on a loaded machine, so that hitting one is a hang to
// report, not a slow run.
const (
	exitBound = 10 * time.Second // the child to be reaped after SIGKILL, or to exit after "drained"
	httpBound = 15 * time.Second // one request to the portal
)

// httpClient has a timeout, unlike http.Get's default client.
var httpClient = &http.Client{Timeout: httpBound}

// kioskRun is one run of the child process.
type kioskRun struct {
	cmd    *exec.Cmd
	lines  chan string   // stdout, line by line; closed at EOF
	stderr *lockedBuffer // written by the exec package while the child runs
	done   chan struct{} // closed once stdout is drained and cmd.Wait returned
}

// childBinary returns the program the kiosk runs from: this test binary,
// or, when it runs under the race detector, a copy built without it. Under
// the detector every start of the child costs half a second or more
// (go-runewidth's init tables alone take 0.4 s) and the kill loop spends
// its rounds starting children; the parent, the portal and its uploads
// under fire, stays under the detector, and the outbox's own concurrency
// is raced in kiosk/outbox's tests.
func childBinary(t *testing.T) string {
	t.Helper()
	if !raceBuild {
		return os.Args[0]
	}
	goCmd, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("building the kiosk child without -race: %v", err)
	}
	const bound = 5 * time.Minute
	ctx, cancel := context.WithTimeout(context.Background(), bound)
	defer cancel()
	bin := filepath.Join(t.TempDir(), "crash-child.test")
	cmd := exec.CommandContext(ctx, goCmd, "test", "-c", "-o", bin, ".")
	cmd.WaitDelay = exitBound
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		t.Fatalf("building the kiosk child: not done within %v:\n%s", bound, out)
	}
	if err != nil {
		t.Fatalf("building the kiosk child: %v\n%s", err, out)
	}
	return bin
}

func startKiosk(t *testing.T, bin string, env []string) *kioskRun {
	t.Helper()
	cmd := exec.Command(bin, "-test.run=^$")
	cmd.Env = append(os.Environ(), env...)
	cmd.WaitDelay = exitBound
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	k := &kioskRun{cmd: cmd, lines: make(chan string, 1024), stderr: &lockedBuffer{}, done: make(chan struct{})}
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
	t.Cleanup(func() {
		select {
		case <-k.done:
		default:
			k.cmd.Process.Kill()
			k.reap(t, nil)
		}
	})
	return k
}

// kill kills the child and waits for it, handing every line it printed to
// line (nil: dropped).
func (k *kioskRun) kill(t *testing.T, line func(string)) {
	t.Helper()
	k.cmd.Process.Signal(syscall.SIGKILL)
	k.reap(t, line)
}

// reap waits at most exitBound for the child to be gone, reading its
// stdout meanwhile: the reader goroutine must not block on a full lines
// channel, or done would never close.
func (k *kioskRun) reap(t *testing.T, line func(string)) {
	t.Helper()
	timer := time.NewTimer(exitBound)
	defer timer.Stop()
	lines := k.lines
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				lines = nil
			} else if line != nil {
				line(l)
			}
		case <-k.done:
			// The reader closed lines before cmd.Wait: what is left is
			// buffered, and ranging over it ends (unless it was already
			// drained: ranging over nil would block for ever).
			if lines != nil {
				for l := range lines {
					if line != nil {
						line(l)
					}
				}
			}
			return
		case <-timer.C:
			t.Fatalf("kiosk child (pid %d) not reaped within %v of being killed or exiting; stderr:\n%s", k.cmd.Process.Pid, exitBound, k.stderr)
		}
	}
}

// enqueued is one Enqueue the kiosk started.
type enqueued struct {
	n    int
	prov string
}

// ledger is what the kiosk printed over all its runs.
type ledger struct {
	enqueued map[string]enqueued // by packet ID
	received map[string]int      // packet ID → application number, reported "received"
	byNumber map[int][]string    // application number → packet IDs reported received
	next     int                 // next application number to submit
}

func (l *ledger) line(s string) {
	f := strings.Fields(s)
	switch {
	case len(f) == 4 && f[0] == "enqueue":
		n, _ := strconv.Atoi(f[1])
		l.enqueued[f[2]] = enqueued{n: n, prov: f[3]}
	case len(f) == 3 && f[0] == "received":
		n, _ := strconv.Atoi(f[1])
		l.received[f[2]] = n
		l.byNumber[n] = append(l.byNumber[n], f[2])
		l.next = n + 1
	}
}

// adminApplications reads the portal's admin list of applications.
func adminApplications(base string) ([]portal.AdminApplication, error) {
	req, err := http.NewRequest("GET", base+"/api/v1/admin/applications", nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+adminToken)
	resp, err := httpClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("admin applications: HTTP %d", resp.StatusCode)
	}
	var apps []portal.AdminApplication
	if err := json.NewDecoder(resp.Body).Decode(&apps); err != nil {
		return nil, fmt.Errorf("admin applications: %w", err)
	}
	return apps, nil
}

// checkDocuments compares the portal's record of documents with
// application n as the kiosk enqueued it.
func checkDocuments(n int, got []portal.AdminDocument) error {
	want := application(n)
	if len(got) != len(want) {
		return fmt.Errorf("%d documents at the portal, want %d", len(got), len(want))
	}
	byFile := map[string]portal.AdminDocument{}
	for _, d := range got {
		byFile[d.File] = d
	}
	for _, w := range want {
		g, ok := byFile[w.File]
		sum := sha256.Sum256(w.Data)
		switch {
		case !ok:
			return fmt.Errorf("%s missing at the portal", w.File)
		case g.SHA256 != hex.EncodeToString(sum[:]) || g.Size != int64(len(w.Data)):
			return fmt.Errorf("%s differs at the portal (sha256 %s size %d, want %x size %d)", w.File, g.SHA256, g.Size, sum, len(w.Data))
		case g.Pages != w.Pages || g.Type != w.Type:
			return fmt.Errorf("%s at the portal is %s with %d pages, want %s with %d", w.File, g.Type, g.Pages, w.Type, w.Pages)
		}
	}
	return nil
}

// TestKillLoop is the proof. Its numbers are printed with -v.
func TestKillLoop(t *testing.T) {
	const kills = 100 // at least; more while too few applications got through (a loaded CI machine)
	// How long the loop may go on past its first kills rounds while fewer
	// than kills/3 applications got through. On two loaded cores the first
	// hundred rounds alone have taken a minute, with many rounds cut by the
	// 5 s round timeout; the extension must have room to reach its target.
	const extendFor = 4 * time.Minute
	ctx := context.Background()
	bin := childBinary(t)

	// The real reference portal, in-process, on a loopback listener with a
	// small receive buffer: a PATCH body stays in flight (not already in
	// the portal's kernel buffer) when the kiosk dies, so kills cut uploads.
	lc := net.ListenConfig{Control: func(network, address string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) {
			serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 16<<10)
		})
		return errors.Join(err, serr)
	}}
	ln, err := lc.Listen(ctx, "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + ln.Addr().String()
	ident := &fakeIdentity{}
	portalLog := &lockedBuffer{}
	ps, err := portal.New(portal.Options{
		DataDir: t.TempDir(), PublicURL: base, Identity: ident, EnrollTokens: []string{enrollToken},
		AdminToken: adminToken, PhoneSimulator: true, // the fake provider's inbox is under /phone
		// Fifty and more applications in a minute, through one kiosk: not what
		// this test is about.
		RateLimits: portal.RateLimits{CodeGap: -1, CodesPerCitizen: -1, CodesPerKiosk: -1, WrongPerCitizen: -1, WrongPerKiosk: -1},
		Log:        slog.New(slog.NewTextHandler(portalLog, &slog.HandlerOptions{Level: slog.LevelWarn})),
	})
	if err != nil {
		ln.Close()
		t.Fatal(err)
	}
	defer ps.Close()
	pt := newTap(ps.Handler())
	srv := httptest.NewUnstartedServer(pt)
	srv.Listener.Close()
	srv.Listener = ln
	srv.Start()
	defer srv.Close()
	defer func() {
		if t.Failed() || testing.Verbose() {
			t.Logf("portal warnings and errors:\n%s", portalLog)
		}
	}()

	// Enroll the kiosk for real: device key, certificate, the portal's age
	// recipient and kiosk.json in its data directory.
	dataDir := filepath.Join(t.TempDir(), "kiosk")
	pctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	cfg, err := provisioning.Provision(pctx, backendclient.New(base, httpClient, "", nil), provisioning.ProvisionOptions{
		DataDir: dataDir, PortalURL: base, Token: enrollToken, Hostname: "crash-test-kiosk", AllowInsecureLoopback: true,
	})
	if err != nil {
		t.Fatal(err)
	}

	env := func(start, end int, exitIdle bool) []string {
		e := []string{envChild + "=1", envData + "=" + dataDir,
			envStart + "=" + strconv.Itoa(start), envEnd + "=" + strconv.Itoa(end)}
		if exitIdle {
			e = append(e, envExitIdle+"=1")
		}
		return e
	}

	rnd := mrand.New(mrand.NewPCG(uint64(time.Now().UnixNano()), 1))
	led := &ledger{enqueued: map[string]enqueued{}, received: map[string]int{}, byNumber: map[int][]string{}, next: 1}
	modes := map[string]int{}
	strays := 0 // packet directories of interrupted Enqueues removed at a restart
	timeout := time.NewTimer(0)
	began := time.Now()
	rounds := 0
	for ; rounds < kills || len(led.received) < kills/3 && rounds < 4*kills && time.Since(began) < extendFor; rounds++ {
		roundStart := time.Now()
		k := startKiosk(t, bin, env(led.next, led.next+1000, false))
		mode := []string{"timer", "mid-confirm", "mid-write", "mid-upload", "mid-finalise"}[rnd.IntN(5)]
		// Drop signals of the previous run.
		drain(pt.patching)
		drain(pt.finalise)
		var trigger <-chan struct{}
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
			timerC = time.After(time.Duration(5+rnd.IntN(200)) * time.Millisecond)
		}
	loop:
		for {
			select {
			case l, ok := <-k.lines:
				if !ok {
					k.reap(t, nil)
					t.Fatalf("kiosk exited by itself: %s", k.stderr)
				}
				led.line(l)
				if !fired && ((mode == "mid-write" && strings.HasPrefix(l, "enqueue ")) ||
					(mode == "mid-confirm" && strings.HasPrefix(l, "confirm "))) {
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
		k.kill(t, led.line) // the lines printed before the kill count too
		modes[mode]++
		if d := time.Since(roundStart); d > time.Second {
			t.Logf("slow round (%s): %v", mode, d)
		}
		strays += strings.Count(k.stderr.String(), "removed stray packet directory")
	}

	// A last run without kills delivers everything and exits.
	drainStart := time.Now()
	k := startKiosk(t, bin, env(led.next, led.next-1, true))
	const drainBound = 60 * time.Second
	deadline := time.NewTimer(drainBound)
	drained := false
	for !drained {
		select {
		case l, ok := <-k.lines:
			if !ok {
				k.reap(t, nil)
				t.Fatalf("kiosk exited before draining: %s", k.stderr)
			}
			drained = l == "drained"
		case <-deadline.C:
			k.kill(t, nil)
			t.Fatalf("waited %v for the last kiosk run to print \"drained\"; stderr:\n%s", drainBound, k.stderr)
		}
	}
	k.reap(t, nil) // it exits by itself after "drained"
	t.Logf("kill rounds took %v, final drain %v", drainStart.Sub(began), time.Since(drainStart))
	strays += strings.Count(k.stderr.String(), "removed stray packet directory")

	// Check through the portal's admin API: every application reported
	// received is there exactly once with the documents the kiosk enqueued;
	// nothing is there twice; everything there was enqueued by the kiosk.
	apps, err := adminApplications(base)
	if err != nil {
		t.Fatal(err)
	}
	byPacket := map[string][]portal.AdminApplication{}
	byProv := map[string]int{}
	for _, a := range apps {
		byPacket[a.PacketID] = append(byPacket[a.PacketID], a)
		byProv[a.ProvisionalNumber]++
	}
	losses, duplicates, mismatches, orphans, resubmitted := 0, 0, 0, 0, 0
	for pid, n := range led.received {
		got := byPacket[pid]
		if len(got) == 0 {
			losses++
			t.Errorf("application %d (packet %s) reported received but not at the portal", n, pid)
		}
	}
	for prov, c := range byProv {
		if c > 1 {
			duplicates += c - 1
			t.Errorf("provisional number %s at the portal %d times", prov, c)
		}
	}
	for pid, as := range byPacket {
		if len(as) > 1 {
			t.Errorf("packet %s at the portal %d times", pid, len(as))
			if byProv[as[0].ProvisionalNumber] < len(as) { // not counted above
				duplicates += len(as) - 1
			}
		}
		e, ok := led.enqueued[pid]
		if !ok {
			mismatches++
			t.Errorf("packet %s at the portal was never enqueued by the kiosk", pid)
			continue
		}
		if _, ok := led.received[pid]; !ok {
			orphans++ // killed between Enqueue's commit and the "received" line
			if len(led.byNumber[e.n]) > 0 {
				resubmitted++ // the citizen, not told "received", applied again
			}
		}
		for _, a := range as {
			if a.ProvisionalNumber != e.prov || a.KioskID != cfg.KioskID || a.ProcedureID != procedureID {
				mismatches++
				t.Errorf("packet %s at the portal as %s/%s/%s, want %s/%s/%s", pid, a.ProvisionalNumber, a.KioskID, a.ProcedureID, e.prov, cfg.KioskID, procedureID)
			}
			if err := checkDocuments(e.n, a.Documents); err != nil {
				mismatches++
				t.Errorf("application %d (packet %s): %v", e.n, pid, err)
			}
		}
	}
	for n, ids := range led.byNumber {
		if len(ids) > 1 {
			duplicates += len(ids) - 1
			t.Errorf("application %d reported received under %d packets", n, len(ids))
		}
	}
	codes, receipts := ident.counts()
	if receipts != len(apps) {
		t.Errorf("%d receipts sent to citizens' phones for %d applications", receipts, len(apps))
	}
	if len(led.received) < kills/4 {
		t.Errorf("only %d applications received over %d runs in %v: the loop did not exercise much", len(led.received), rounds, drainStart.Sub(began))
	}

	// The kiosk's outbox is empty: nothing parked, no files left.
	rcpt, err := outbox.ParseRecipient(ps.AgeRecipient())
	if err != nil {
		t.Fatal(err)
	}
	ob, err := outbox.Open(outbox.Options{Dir: filepath.Join(dataDir, "outbox"), Recipient: rcpt})
	if err != nil {
		t.Fatal(err)
	}
	defer ob.Close()
	if n, _ := ob.Backlog(); n != 0 {
		t.Errorf("backlog %d after draining", n)
	}
	left, _ := os.ReadDir(filepath.Join(dataDir, "outbox", "packets"))
	if len(left) != 0 {
		t.Errorf("%d packet directories left", len(left))
	}

	pt.mu.Lock()
	defer pt.mu.Unlock()
	t.Logf("kill loop against the reference portal (kiosk %s): %d kills by phase %v", cfg.KioskID, rounds, modes)
	t.Logf("applications: %d reported received, %d at the portal (%d of them enqueued but killed before \"received\", %d of those applied for again); duplicates %d, losses %d, mismatches %d",
		len(led.received), len(apps), orphans, resubmitted, duplicates, losses, mismatches)
	t.Logf("confirmations: %d codes requested, %d sent, %d Enqueues started; %d half-written packets (kill inside Enqueue) removed at restart",
		pt.confirms, codes, len(led.enqueued), strays)
	t.Logf("uploads: %d created for %d documents; %d PATCHes, %d cut by a kill, %d resumed after a cut; finalise answers by status %v",
		pt.creates, 2*len(apps), pt.patches, pt.cuts, pt.resumes, pt.finalSt)
}
