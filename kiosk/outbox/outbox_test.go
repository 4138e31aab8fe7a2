package outbox

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"govkiosk/backend-client/api"
)

// marker is "personal data" that must never outlive an acknowledgement.
const marker = "Nguyen-Thi-Marker-7f3a"

func testPacket(n int) Packet {
	id := uuid.NewSHA1(uuid.NameSpaceOID, []byte(fmt.Sprint("packet", n))).String()
	prov := fmt.Sprintf("K01-%06d", n)
	docs := []Doc{
		{Name: "doc-0.pdf", Data: []byte(fmt.Sprintf("%%PDF-1.7 id card %s %d", marker, n))},
		{Name: "doc-1.pdf", Data: []byte(fmt.Sprintf("%%PDF-1.7 site plan %d", n))},
	}
	m := api.Manifest{
		PacketID:          id,
		ProvisionalNumber: prov,
		ProcedureID:       "building-permit",
		KioskID:           "kiosk-01",
		CreatedAt:         time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC),
		Language:          "vi",
		Applicant:         api.Applicant{CitizenID: "001234567890", Name: marker},
		Form:              map[string]string{"address": marker},
		ConfirmationToken: "tok",
	}
	for _, d := range docs {
		sum := sha256.Sum256(d.Data)
		m.Documents = append(m.Documents, api.DocumentRef{Type: "x", File: d.Name, Pages: 1,
			SHA256: hex.EncodeToString(sum[:]), Size: int64(len(d.Data))})
	}
	mj, err := json.Marshal(m)
	if err != nil {
		panic(err)
	}
	return Packet{ID: id, ProvisionalNumber: prov, ManifestJSON: mj, Signature: []byte("sig-" + id), Docs: docs}
}

type call struct {
	manifest, sig []byte
	docs          []Doc
}

// fakeSender answers from errs in turn (nil or exhausted: success).
type fakeSender struct {
	mu     sync.Mutex
	errs   []error
	calls  []call
	byID   map[string]int
	called chan string  // optional: receives the packet ID on every call
	block  bool         // wait for ctx before answering
	result func() error // optional dynamic error
}

func (f *fakeSender) Submit(ctx context.Context, manifest, sig []byte, docs []Doc) (api.SubmitResult, error) {
	var m api.Manifest
	if err := json.Unmarshal(manifest, &m); err != nil {
		return api.SubmitResult{}, err
	}
	f.mu.Lock()
	f.calls = append(f.calls, call{manifest, sig, docs})
	if f.byID == nil {
		f.byID = map[string]int{}
	}
	f.byID[m.PacketID]++
	var err error
	if len(f.errs) > 0 {
		err, f.errs = f.errs[0], f.errs[1:]
	}
	if f.result != nil {
		err = f.result()
	}
	f.mu.Unlock()
	if f.called != nil {
		f.called <- m.PacketID
	}
	if f.block {
		<-ctx.Done()
		return api.SubmitResult{}, ctx.Err()
	}
	if err != nil {
		return api.SubmitResult{}, err
	}
	return api.SubmitResult{TrackingNumber: "T-" + m.ProvisionalNumber, ProvisionalNumber: m.ProvisionalNumber,
		AppointmentDate: "2026-03-20", ReceivedAt: time.Date(2026, 3, 1, 10, 1, 0, 0, time.UTC)}, nil
}

func (f *fakeSender) count(id string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.byID[id]
}

func (f *fakeSender) total() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.calls)
}

type permErr struct{ msg string }

func (e permErr) Error() string   { return e.msg }
func (e permErr) Permanent() bool { return true }

func open(t *testing.T, dir string, mod func(*Options)) *Outbox {
	t.Helper()
	opts := Options{Dir: dir, MinBackoff: time.Millisecond, MaxBackoff: 4 * time.Millisecond}
	if mod != nil {
		mod(&opts)
	}
	o, err := Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { o.Close() })
	return o
}

// run starts Run and returns a function that stops it and waits.
func run(t *testing.T, o *Outbox, s Sender) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { o.Run(ctx, s); close(done) }()
	stop = func() {
		cancel()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatal("Run did not stop after cancel")
		}
	}
	t.Cleanup(stop)
	return stop
}

func wait(t *testing.T, o *Outbox, id string) Entry {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	e, err := o.Wait(ctx, id)
	if err != nil {
		t.Fatalf("Wait %s: %v (entry %+v)", id, err, e)
	}
	return e
}

func mustEnqueue(t *testing.T, o *Outbox, p Packet) {
	t.Helper()
	if err := o.Enqueue(context.Background(), p); err != nil {
		t.Fatal(err)
	}
}

func TestDeliverAcknowledgesAndPurges(t *testing.T) {
	dir := t.TempDir()
	o := open(t, dir, nil)
	p := testPacket(1)
	mustEnqueue(t, o, p)

	st, err := os.Stat(filepath.Join(dir, "packets", p.ID, "doc-0.pdf"))
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("doc mode %v, want 0600", st.Mode().Perm())
	}
	if n, _ := o.Backlog(); n != 1 {
		t.Errorf("backlog before Run = %d, want 1", n)
	}

	s := &fakeSender{}
	run(t, o, s)
	e := wait(t, o, p.ID)
	if e.State != StateAcknowledged || e.Result == nil || e.Result.TrackingNumber != "T-"+p.ProvisionalNumber {
		t.Fatalf("entry %+v, want acknowledged with result", e)
	}
	if e.Attempts != 1 || e.LastError != "" || e.ProvisionalNumber != p.ProvisionalNumber {
		t.Errorf("entry %+v", e)
	}
	if s.total() != 1 {
		t.Fatalf("sender called %d times, want 1", s.total())
	}
	c := s.calls[0]
	if !bytes.Equal(c.manifest, p.ManifestJSON) || !bytes.Equal(c.sig, p.Signature) || len(c.docs) != 2 ||
		c.docs[0].Name != "doc-0.pdf" || !bytes.Equal(c.docs[1].Data, p.Docs[1].Data) {
		t.Errorf("sender got different bytes")
	}
	if _, err := os.Stat(filepath.Join(dir, "packets", p.ID)); !os.IsNotExist(err) {
		t.Errorf("packet dir still there: %v", err)
	}
	if n, _ := o.Backlog(); n != 0 {
		t.Errorf("backlog after ack = %d", n)
	}
	var digest, docs, tracking string
	if err := o.db.QueryRow(`SELECT digest, docs, tracking FROM packets WHERE id = ?`, p.ID).Scan(&digest, &docs, &tracking); err != nil {
		t.Fatal(err)
	}
	if digest != "" || docs != "" || tracking != "T-"+p.ProvisionalNumber {
		t.Errorf("row after ack: digest=%q docs=%q tracking=%q", digest, docs, tracking)
	}
	// No byte of personal data anywhere under the outbox: db, wal, shm, packets.
	filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if bytes.Contains(b, []byte(marker)) || bytes.Contains(b, []byte("site plan")) {
			t.Errorf("%s still holds packet content", path)
		}
		return nil
	})
}

func TestRetryThenDeliverOnce(t *testing.T) {
	o := open(t, t.TempDir(), nil)
	p := testPacket(2)
	s := &fakeSender{errs: []error{errors.New("dial tcp: connection refused"), errors.New("503"), errors.New("timeout")}}
	mustEnqueue(t, o, p)
	run(t, o, s)
	e := wait(t, o, p.ID)
	if e.State != StateAcknowledged {
		t.Fatalf("state %s", e.State)
	}
	if s.count(p.ID) != 4 || e.Attempts != 4 {
		t.Errorf("calls %d attempts %d, want 4 and 4", s.count(p.ID), e.Attempts)
	}
	if e.LastError != "" {
		t.Errorf("last error kept after ack: %q", e.LastError)
	}
}

type constReader byte

func (c constReader) Read(b []byte) (int, error) {
	for i := range b {
		b[i] = byte(c)
	}
	return len(b), nil
}

func TestBackoffComputed(t *testing.T) {
	tests := []struct {
		name    string
		rnd     io.Reader
		attempt int
		want    time.Duration
	}{
		{"first low", constReader(0), 1, 500 * time.Millisecond},
		{"second low", constReader(0), 2, time.Second},
		{"third low", constReader(0), 3, 2 * time.Second},
		{"fourth low", constReader(0), 4, 4 * time.Second},
		{"capped low", constReader(0), 5, 4 * time.Second},
		{"capped far", constReader(0), 60, 4 * time.Second},
		{"first mid", bytes.NewReader([]byte{0x80, 0, 0, 0, 0, 0, 0, 0}), 1, 750 * time.Millisecond},
		{"capped mid", bytes.NewReader([]byte{0x80, 0, 0, 0, 0, 0, 0, 0}), 9, 6 * time.Second},
		{"first high", constReader(0xff), 1, time.Second - 1},
		{"capped high", constReader(0xff), 9, 8*time.Second - 1},
		{"rand fails", bytes.NewReader(nil), 2, 1500 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := open(t, t.TempDir(), func(op *Options) {
				op.Rand, op.MinBackoff, op.MaxBackoff = tt.rnd, time.Second, 8*time.Second
			})
			got := o.backoff(tt.attempt)
			// float rounding may cost a nanosecond at the top of the range
			if d := got - tt.want; d < -1 || d > 1 {
				t.Errorf("backoff(%d) = %v, want %v", tt.attempt, got, tt.want)
			}
			if got > 8*time.Second {
				t.Errorf("backoff(%d) = %v exceeds the cap", tt.attempt, got)
			}
		})
	}
}

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) Set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

// TestBackoffScheduleInRun drives Run with a fake clock: each failure must be
// scheduled at the growing, capped delay, and nothing is sent before the
// clock reaches it.
func TestBackoffScheduleInRun(t *testing.T) {
	clk := &fakeClock{t: time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)}
	o := open(t, t.TempDir(), func(op *Options) {
		op.Now, op.Rand, op.MinBackoff, op.MaxBackoff = clk.Now, constReader(0), 2*time.Second, 10*time.Second
	})
	p := testPacket(3)
	fail := errors.New("network down")
	s := &fakeSender{result: func() error { return fail }, called: make(chan string, 16)}
	mustEnqueue(t, o, p)
	run(t, o, s)

	want := []time.Duration{1 * time.Second, 2 * time.Second, 4 * time.Second, 5 * time.Second, 5 * time.Second}
	for i, d := range want {
		select {
		case <-s.called:
		case <-time.After(20 * time.Second):
			t.Fatalf("attempt %d never made", i+1)
		}
		e := pollEntry(t, o, p.ID, func(e Entry) bool { return e.Attempts == i+1 && e.State == StateQueued })
		if got := e.NextAttempt.Sub(clk.Now()); got != d {
			t.Errorf("after failure %d retry in %v, want %v", i+1, got, d)
		}
		if e.LastError != "network down" {
			t.Errorf("last error %q", e.LastError)
		}
		// Waking Run before the retry is due must not send.
		o.Kick()
		clk.Set(e.NextAttempt.Add(-time.Nanosecond))
		o.Kick()
		clk.Set(e.NextAttempt)
		o.Kick()
	}
	if got := s.count(p.ID); got < len(want) || got > len(want)+1 {
		t.Errorf("sent %d times, want %d or %d", got, len(want), len(want)+1)
	}
}

// pollEntry polls Get until cond holds (deadline 20 s).
func pollEntry(t *testing.T, o *Outbox, id string, cond func(Entry) bool) Entry {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		e, ok, err := o.Get(id)
		if err != nil || !ok {
			t.Fatalf("Get %s: %v %v", id, ok, err)
		}
		if cond(e) {
			return e
		}
		if time.Now().After(deadline) {
			t.Fatalf("entry never reached the condition: %+v", e)
		}
		ch := o.changes()
		select {
		case <-ch:
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func TestPermanentErrorNeedsAttention(t *testing.T) {
	dir := t.TempDir()
	o := open(t, dir, nil)
	bad, good := testPacket(4), testPacket(5)
	var mu sync.Mutex
	reject := true
	s := &fakeSender{result: func() error {
		mu.Lock()
		defer mu.Unlock()
		if reject {
			reject = false
			return fmt.Errorf("submit: %w", permErr{"422 manifest signature invalid"})
		}
		return nil
	}}
	mustEnqueue(t, o, bad)
	mustEnqueue(t, o, good)
	run(t, o, s)
	e := wait(t, o, bad.ID)
	if e.State != StateNeedsAttention || !strings.Contains(e.LastError, "signature invalid") || e.Attempts != 1 {
		t.Fatalf("entry %+v, want needsAttention with the reason", e)
	}
	// The later packet is delivered; the rejected one is not retried meanwhile.
	if g := wait(t, o, good.ID); g.State != StateAcknowledged {
		t.Fatalf("good packet %s", g.State)
	}
	o.Kick()
	if n := s.count(bad.ID); n != 1 {
		t.Errorf("rejected packet sent %d times, want 1", n)
	}
	// Never dropped: the files stay and it counts in the backlog.
	if _, err := os.Stat(filepath.Join(dir, "packets", bad.ID, "manifest.json")); err != nil {
		t.Errorf("rejected packet files gone: %v", err)
	}
	if n, _ := o.Backlog(); n != 1 {
		t.Errorf("backlog %d, want 1", n)
	}
	// An operator requeues it; now the portal accepts it.
	if err := o.Requeue(bad.ID); err != nil {
		t.Fatal(err)
	}
	if e := wait(t, o, bad.ID); e.State != StateAcknowledged || e.Attempts != 2 {
		t.Errorf("after requeue: %+v", e)
	}
	if err := o.Requeue(bad.ID); err == nil {
		t.Error("requeue of an acknowledged packet succeeded")
	}
	if err := o.Requeue(uuid.NewString()); !errors.Is(err, ErrNotFound) {
		t.Errorf("requeue unknown: %v", err)
	}
}

func TestReopenKeepsQueuedBytes(t *testing.T) {
	dir := t.TempDir()
	o := open(t, dir, nil)
	p := testPacket(6)
	mustEnqueue(t, o, p)
	if err := o.Close(); err != nil {
		t.Fatal(err)
	}
	o2 := open(t, dir, nil)
	e, ok, err := o2.Get(p.ID)
	if err != nil || !ok || e.State != StateQueued {
		t.Fatalf("after reopen: %+v %v %v", e, ok, err)
	}
	for name, want := range map[string][]byte{"manifest.json": p.ManifestJSON, "signature": p.Signature,
		"doc-0.pdf": p.Docs[0].Data, "doc-1.pdf": p.Docs[1].Data} {
		got, err := os.ReadFile(filepath.Join(dir, "packets", p.ID, name))
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s after reopen differs (%v)", name, err)
		}
	}
	s := &fakeSender{}
	run(t, o2, s)
	wait(t, o2, p.ID)
	if !bytes.Equal(s.calls[0].manifest, p.ManifestJSON) || !bytes.Equal(s.calls[0].docs[0].Data, p.Docs[0].Data) {
		t.Error("sent bytes differ from enqueued ones")
	}
}

func TestSendingRowQueuedOnOpen(t *testing.T) {
	dir := t.TempDir()
	o := open(t, dir, nil)
	p := testPacket(7)
	mustEnqueue(t, o, p)
	if _, err := o.db.Exec(`UPDATE packets SET state = 'sending', attempts = 2 WHERE id = ?`, p.ID); err != nil {
		t.Fatal(err)
	}
	o.Close()
	o2 := open(t, dir, nil)
	e, _, err := o2.Get(p.ID)
	if err != nil || e.State != StateQueued || e.Attempts != 2 {
		t.Fatalf("after reopen: %+v %v", e, err)
	}
}

func TestOpenRemovesStrays(t *testing.T) {
	dir := t.TempDir()
	o := open(t, dir, nil)
	keep, acked := testPacket(8), testPacket(9)
	mustEnqueue(t, o, keep)
	mustEnqueue(t, o, acked)
	if _, err := o.db.Exec(`UPDATE packets SET state = 'acknowledged', digest = '', docs = '' WHERE id = ?`, acked.ID); err != nil {
		t.Fatal(err)
	}
	o.Close()
	stray := filepath.Join(dir, "packets", uuid.NewString())
	if err := os.MkdirAll(stray, 0o700); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(stray, "manifest.json"), []byte(marker), 0o600)
	tmp := filepath.Join(dir, "packets", keep.ID, ".doc-2.pdf.tmp-123")
	os.WriteFile(tmp, []byte("half"), 0o600)

	open(t, dir, nil)
	for _, gone := range []string{stray, tmp, filepath.Join(dir, "packets", acked.ID)} {
		if _, err := os.Stat(gone); !os.IsNotExist(err) {
			t.Errorf("%s survived Open: %v", gone, err)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "packets", keep.ID, "doc-1.pdf")); err != nil {
		t.Errorf("queued packet lost: %v", err)
	}
}

func TestEnqueueIdempotentAndValidated(t *testing.T) {
	o := open(t, t.TempDir(), nil)
	p := testPacket(10)
	mustEnqueue(t, o, p)
	mustEnqueue(t, o, p) // same again: no-op
	if l, _ := o.List(); len(l) != 1 {
		t.Fatalf("%d entries after double enqueue", len(l))
	}
	other := p
	other.Signature = []byte("another signature")
	if err := o.Enqueue(context.Background(), other); !errors.Is(err, ErrConflict) {
		t.Errorf("different content, same ID: %v, want ErrConflict", err)
	}

	mutate := map[string]func(*Packet){
		"bad id":            func(p *Packet) { p.ID = "../../etc" },
		"upper id":          func(p *Packet) { p.ID = strings.ToUpper(p.ID) },
		"no provisional":    func(p *Packet) { p.ProvisionalNumber = "" },
		"no signature":      func(p *Packet) { p.Signature = nil },
		"manifest not json": func(p *Packet) { p.ManifestJSON = []byte("{") },
		"doc path":          func(p *Packet) { p.Docs[0].Name = "../doc-0.pdf" },
		"doc reserved":      func(p *Packet) { p.Docs[0].Name = "manifest.json" },
		"doc altered":       func(p *Packet) { p.Docs[1].Data = []byte("other") },
		"doc missing":       func(p *Packet) { p.Docs = p.Docs[:1] },
		"doc duplicated":    func(p *Packet) { p.Docs = append(p.Docs, p.Docs[0]) },
		"id mismatch":       func(p *Packet) { p.ID = uuid.NewString() },
	}
	for name, f := range mutate {
		t.Run(name, func(t *testing.T) {
			q := testPacket(11)
			q.Docs = append([]Doc(nil), q.Docs...)
			f(&q)
			if err := o.Enqueue(context.Background(), q); err == nil {
				t.Error("Enqueue accepted it")
			}
		})
	}
	if l, _ := o.List(); len(l) != 1 {
		t.Errorf("%d entries after invalid enqueues, want 1", len(l))
	}
}

func TestWaitContextAndCancelStopsRun(t *testing.T) {
	o := open(t, t.TempDir(), nil)
	p := testPacket(12)
	mustEnqueue(t, o, p)
	s := &fakeSender{block: true, called: make(chan string, 1)}
	stop := run(t, o, s)
	<-s.called
	e := pollEntry(t, o, p.ID, func(e Entry) bool { return e.State == StateSending })

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if got, err := o.Wait(ctx, p.ID); !errors.Is(err, context.Canceled) || got.State != StateSending {
		t.Errorf("Wait on cancelled ctx: %+v %v", got, err)
	}

	stop() // fails the test if Run does not return
	e, _, _ = o.Get(p.ID)
	if e.State != StateQueued || e.Attempts != 0 {
		t.Errorf("after cancel mid-submit: %+v, want queued with 0 attempts", e)
	}
	if _, err := o.Wait(context.Background(), uuid.NewString()); !errors.Is(err, ErrNotFound) {
		t.Errorf("Wait unknown: %v", err)
	}
}

func TestCloseStopsRunAndWait(t *testing.T) {
	o, err := Open(Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	p := testPacket(13)
	mustEnqueue(t, o, p)
	s := &fakeSender{block: true, called: make(chan string, 1)}
	runDone := make(chan struct{})
	go func() { o.Run(context.Background(), s); close(runDone) }()
	<-s.called
	waitErr := make(chan error, 1)
	go func() { _, err := o.Wait(context.Background(), p.ID); waitErr <- err }()
	if err := o.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-runDone:
	case <-time.After(10 * time.Second):
		t.Fatal("Run still running after Close")
	}
	select {
	case err := <-waitErr:
		if err == nil {
			t.Error("Wait returned nil after Close")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Wait still waiting after Close")
	}
}

func TestEnqueueWhileDelivering(t *testing.T) {
	o := open(t, t.TempDir(), nil)
	var mu sync.Mutex
	n := 0
	s := &fakeSender{result: func() error { // every third attempt fails transiently
		mu.Lock()
		defer mu.Unlock()
		n++
		if n%3 == 0 {
			return errors.New("flaky")
		}
		return nil
	}}
	run(t, o, s)
	const workers, each = 4, 6
	var wg sync.WaitGroup
	ids := make(chan string, workers*each)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				p := testPacket(100 + w*each + i)
				if err := o.Enqueue(context.Background(), p); err != nil {
					t.Error(err)
					return
				}
				ids <- p.ID
			}
		}()
	}
	wg.Wait()
	close(ids)
	for id := range ids {
		if e := wait(t, o, id); e.State != StateAcknowledged {
			t.Errorf("%s: %s", id, e.State)
		}
		if c, a := s.count(id), pollEntry(t, o, id, func(Entry) bool { return true }).Attempts; c != a {
			t.Errorf("%s sent %d times, %d attempts recorded", id, c, a)
		}
	}
	if b, _ := o.Backlog(); b != 0 {
		t.Errorf("backlog %d", b)
	}
	l, _ := o.List()
	if len(l) != workers*each {
		t.Errorf("%d entries", len(l))
	}
}

// TestCrashDuringSubmit kills (SIGKILL) a process in the middle of a
// submission and checks that the packet comes back queued, byte-identical,
// and is delivered exactly once by the next run.
func TestCrashDuringSubmit(t *testing.T) {
	if dir := os.Getenv("OUTBOX_CRASH_HELPER_DIR"); dir != "" {
		crashHelper(dir)
		return
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashDuringSubmit$")
	cmd.Env = append(os.Environ(), "OUTBOX_CRASH_HELPER_DIR="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(out)
	found := false
	for sc.Scan() {
		if sc.Text() == "SUBMITTING" {
			found = true
			break
		}
	}
	cmd.Process.Kill()
	cmd.Wait()
	if !found {
		t.Fatal("helper never reached Submit")
	}

	o := open(t, dir, nil)
	p := testPacket(14)
	e, ok, err := o.Get(p.ID)
	if err != nil || !ok || e.State != StateQueued {
		t.Fatalf("after crash: %+v %v %v", e, ok, err)
	}
	s := &fakeSender{}
	run(t, o, s)
	if e := wait(t, o, p.ID); e.State != StateAcknowledged {
		t.Fatalf("state %s", e.State)
	}
	if s.count(p.ID) != 1 || !bytes.Equal(s.calls[0].manifest, p.ManifestJSON) || !bytes.Equal(s.calls[0].docs[0].Data, p.Docs[0].Data) {
		t.Errorf("redelivery: %d calls or bytes differ", s.count(p.ID))
	}
}

type announceSender struct{}

func (announceSender) Submit(ctx context.Context, _, _ []byte, _ []Doc) (api.SubmitResult, error) {
	fmt.Println("SUBMITTING")
	<-ctx.Done() // never: the parent kills us here
	return api.SubmitResult{}, ctx.Err()
}

func crashHelper(dir string) {
	o, err := Open(Options{Dir: dir})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	if err := o.Enqueue(context.Background(), testPacket(14)); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	o.Run(context.Background(), announceSender{})
}
