package outbox

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"filippo.io/age"
	"github.com/google/uuid"

	"govkiosk/backend-client/api"
)

func open(t *testing.T, dir string, mod func(*Options)) *Outbox {
	t.Helper()
	opts := Options{Dir: dir, Recipient: portalKey.Recipient(), MinBackoff: time.Millisecond, MaxBackoff: 4 * time.Millisecond}
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

// waitPurged waits until the packet's clean-up is complete.
func waitPurged(t *testing.T, o *Outbox, id string) Entry {
	t.Helper()
	return pollEntry(t, o, id, func(e Entry) bool { return e.State == StatePurged })
}

func mustEnqueue(t *testing.T, o *Outbox, p Packet) {
	t.Helper()
	if err := o.Enqueue(context.Background(), p); err != nil {
		t.Fatal(err)
	}
}

// pollEntry polls Get until cond holds (deadline 20 s).
func pollEntry(t *testing.T, o *Outbox, id string, cond func(Entry) bool) Entry {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		ch := o.changes()
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
		select {
		case <-ch:
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// noPlaintext fails if any file under dir holds packet content in clear.
func noPlaintext(t *testing.T, dir string) {
	t.Helper()
	filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if bytes.Contains(b, []byte(marker)) || bytes.Contains(b, []byte("site plan")) || bytes.Contains(b, []byte("001234567890")) {
			t.Errorf("%s holds packet content in plaintext", path)
		}
		return nil
	})
}

func TestDeliverEncryptedAndPurge(t *testing.T) {
	dir := t.TempDir()
	o := open(t, dir, nil)
	p := testPacketSized(1, 5000)
	mustEnqueue(t, o, p)

	pdir := filepath.Join(dir, "packets", p.ID)
	ents, err := os.ReadDir(pdir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
		st, _ := e.Info()
		if st.Mode().Perm() != 0o600 {
			t.Errorf("%s mode %v, want 0600", e.Name(), st.Mode().Perm())
		}
	}
	if got := strings.Join(names, ","); got != "doc-0.pdf.age,doc-1.pdf.age,manifest.age" {
		t.Errorf("packet files %s", got)
	}
	// Only ciphertext on disk (files, database, WAL); the portal's identity
	// decrypts it to the exact plaintext.
	noPlaintext(t, dir)
	ct, _ := os.ReadFile(filepath.Join(pdir, "doc-1.pdf.age"))
	if got := decrypt(t, portalKey, ct); !bytes.Equal(got, p.Docs[1].Data) {
		t.Error("document does not decrypt to the enqueued bytes")
	}
	mct, _ := os.ReadFile(filepath.Join(pdir, "manifest.age"))
	if got := decrypt(t, portalKey, mct); !bytes.Equal(got, p.ManifestJSON) {
		t.Error("manifest does not decrypt to the enqueued bytes")
	}
	if n, _ := o.Backlog(); n != 1 {
		t.Errorf("backlog before Run = %d, want 1", n)
	}

	fp := newPortal()
	run(t, o, fp)
	e := wait(t, o, p.ID)
	if !e.Delivered() || e.Result == nil || e.Result.TrackingNumber != "T-1" {
		t.Fatalf("entry %+v, want delivered with result", e)
	}
	if e.Attempts != 1 || e.LastError != "" || e.ProvisionalNumber != p.ProvisionalNumber {
		t.Errorf("entry %+v", e)
	}
	fp.check(t, p)
	if fp.finalCalls[p.ID] != 1 || fp.creates[p.ID+"/doc-0.pdf"] != 1 || fp.creates[p.ID+"/doc-1.pdf"] != 1 {
		t.Errorf("finalise %d, creates %v", fp.finalCalls[p.ID], fp.creates)
	}
	// The encrypted manifest sent is the one on disk: a replayed finalise is
	// byte-identical.
	if !bytes.Equal(fp.requests[p.ID].Manifest, mct) {
		t.Error("finalise sent a different ciphertext than the stored one")
	}

	e = waitPurged(t, o, p.ID)
	if e.Result == nil || !e.Delivered() {
		t.Errorf("purged entry lost its result: %+v", e)
	}
	if _, err := os.Stat(pdir); !os.IsNotExist(err) {
		t.Errorf("packet dir still there: %v", err)
	}
	if n, _ := o.Backlog(); n != 0 {
		t.Errorf("backlog after delivery = %d", n)
	}
	var digest string
	var sig []byte
	var bytesOnDisk, nfiles int
	if err := o.db.QueryRow(`SELECT digest, signature, bytes FROM packets WHERE id = ?`, p.ID).Scan(&digest, &sig, &bytesOnDisk); err != nil {
		t.Fatal(err)
	}
	o.db.QueryRow(`SELECT count(*) FROM files WHERE packet_id = ?`, p.ID).Scan(&nfiles)
	if digest != "" || sig != nil || bytesOnDisk != 0 || nfiles != 0 {
		t.Errorf("row after purge: digest=%q sig=%q bytes=%d files=%d", digest, sig, bytesOnDisk, nfiles)
	}
	noPlaintext(t, dir)
}

func TestKioskCannotDecrypt(t *testing.T) {
	dir := t.TempDir()
	o := open(t, dir, nil)
	p := testPacket(2)
	mustEnqueue(t, o, p)
	other, err := age.GenerateX25519Identity() // whatever key the kiosk might hold
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"manifest.age", "doc-0.pdf.age"} {
		ct, err := os.ReadFile(filepath.Join(dir, "packets", p.ID, name))
		if err != nil {
			t.Fatal(err)
		}
		var noMatch *age.NoIdentityMatchError
		if _, err := age.Decrypt(bytes.NewReader(ct), other); !errors.As(err, &noMatch) {
			t.Errorf("%s: decrypt without the portal identity: %v, want NoIdentityMatchError", name, err)
		}
	}
	if _, err := Open(Options{Dir: t.TempDir()}); err == nil {
		t.Error("Open without a recipient succeeded")
	}
	if _, err := ParseRecipient("age1notarecipient"); err == nil {
		t.Error("ParseRecipient accepted junk")
	}
	r, err := ParseRecipient(portalKey.Recipient().String())
	if err != nil || r.(*age.X25519Recipient).String() != portalKey.Recipient().String() {
		t.Errorf("ParseRecipient: %v", err)
	}
}

// TestRetriesResumeWithoutRedoing fails every step once (create, an upload
// cut in the middle, finalise) and checks that the retries finish the job
// without creating an upload twice or re-sending bytes the server has.
func TestRetriesResumeWithoutRedoing(t *testing.T) {
	o := open(t, t.TempDir(), nil)
	p := testPacketSized(3, 4000)
	fp := newPortal()
	var mu sync.Mutex
	failed := map[string]bool{}
	chunks := 0
	fp.fail = func(ctx context.Context, op, id, file string) error {
		mu.Lock()
		defer mu.Unlock()
		if op == "chunk" {
			chunks++
			if chunks == 2 && !failed["cut"] { // connection reset mid-upload
				failed["cut"] = true
				return errors.New("connection reset by peer")
			}
			return nil
		}
		if !failed[op] {
			failed[op] = true
			return fmt.Errorf("%s: 503 service unavailable", op)
		}
		return nil
	}
	mustEnqueue(t, o, p)
	run(t, o, fp)
	e := wait(t, o, p.ID)
	if !e.Delivered() {
		t.Fatalf("state %s (%s)", e.State, e.LastError)
	}
	if e.Attempts != 5 { // create, upload, cut, finalise failures, then success
		t.Errorf("attempts %d, want 5", e.Attempts)
	}
	fp.check(t, p)
	for _, d := range p.Docs {
		if n := fp.count(fp.creates, p.ID+"/"+d.Name); n != 1 {
			t.Errorf("%s created %d times, want 1", d.Name, n)
		}
	}
	var total int64
	for _, u := range fp.uploads {
		total += u.size
	}
	if fp.received != total {
		t.Errorf("server received %d bytes for %d of uploads: something was re-sent", fp.received, total)
	}
	if fp.finalCalls[p.ID] != 1 {
		t.Errorf("finalise reached the portal %d times", fp.finalCalls[p.ID])
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
	p := testPacket(4)
	fp := newPortal()
	calls := make(chan struct{}, 16)
	fp.fail = func(ctx context.Context, op, id, file string) error {
		if op == "finalise" {
			calls <- struct{}{}
			return errors.New("network down")
		}
		return nil
	}
	mustEnqueue(t, o, p)
	run(t, o, fp)

	want := []time.Duration{1 * time.Second, 2 * time.Second, 4 * time.Second, 5 * time.Second, 5 * time.Second}
	for i, d := range want {
		select {
		case <-calls:
		case <-time.After(20 * time.Second):
			t.Fatalf("attempt %d never made", i+1)
		}
		e := pollEntry(t, o, p.ID, func(e Entry) bool { return e.Attempts == i+1 })
		if e.State != StateUploaded {
			t.Errorf("state after failed finalise %s, want uploaded", e.State)
		}
		if got := e.NextAttempt.Sub(clk.Now()); got != d {
			t.Errorf("after failure %d retry in %v, want %v", i+1, got, d)
		}
		if !strings.Contains(e.LastError, "network down") {
			t.Errorf("last error %q", e.LastError)
		}
		// Waking Run before the retry is due must not send.
		o.Kick()
		clk.Set(e.NextAttempt.Add(-time.Nanosecond))
		o.Kick()
		clk.Set(e.NextAttempt)
		o.Kick()
	}
	if got := len(calls) + len(want); got < len(want) || got > len(want)+1 {
		t.Errorf("finalise tried %d times, want %d or %d", got, len(want), len(want)+1)
	}
	if n := fp.count(fp.creates, p.ID+"/doc-0.pdf"); n != 1 {
		t.Errorf("upload created %d times across retries of finalise", n)
	}
}

// TestBackoffScheduleAcrossRestart: the delay comes from the stored attempt
// count, so after a restart a packet is not sent before the time stored for
// it and its next failure continues the schedule instead of starting over.
func TestBackoffScheduleAcrossRestart(t *testing.T) {
	dir := t.TempDir()
	clk := &fakeClock{t: time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)}
	opts := func(op *Options) {
		op.Now, op.Rand, op.MinBackoff, op.MaxBackoff = clk.Now, constReader(0), 2*time.Second, 10*time.Second
	}
	p := testPacket(7)
	fp := newPortal()
	calls := make(chan struct{}, 16)
	fp.fail = func(ctx context.Context, op, id, file string) error {
		if op == "finalise" {
			calls <- struct{}{}
			return errors.New("network down")
		}
		return nil
	}
	step := func(o *Outbox, attempts int, retryIn time.Duration) Entry {
		t.Helper()
		select {
		case <-calls:
		case <-time.After(20 * time.Second):
			t.Fatalf("attempt %d never made", attempts)
		}
		e := pollEntry(t, o, p.ID, func(e Entry) bool { return e.Attempts == attempts })
		if got := e.NextAttempt.Sub(clk.Now()); got != retryIn {
			t.Errorf("after failure %d retry in %v, want %v", attempts, got, retryIn)
		}
		return e
	}

	o := open(t, dir, opts)
	mustEnqueue(t, o, p)
	stop := run(t, o, fp)
	e := step(o, 1, time.Second)
	clk.Set(e.NextAttempt)
	o.Kick()
	e = step(o, 2, 2*time.Second)
	stop()
	if err := o.Close(); err != nil {
		t.Fatal(err)
	}

	o = open(t, dir, opts)
	if got, _, _ := o.Get(p.ID); got.Attempts != 2 || !got.NextAttempt.Equal(e.NextAttempt) {
		t.Fatalf("after restart attempts %d next %v, want 2 and %v", got.Attempts, got.NextAttempt, e.NextAttempt)
	}
	run(t, o, fp)
	o.Kick() // not due yet: nothing is sent
	clk.Set(e.NextAttempt.Add(-time.Nanosecond))
	o.Kick()
	clk.Set(e.NextAttempt)
	o.Kick()
	step(o, 3, 4*time.Second) // 4 s after exactly the stored time: not early, not reset to 1 s
	if n := len(calls); n != 0 {
		t.Errorf("%d finalise calls more than the schedule allows", n)
	}
}

// retryLog records the retryIn of Run's "find next packet" errors.
type retryLog struct {
	mu    sync.Mutex
	waits []time.Duration
}

func (h *retryLog) Enabled(context.Context, slog.Level) bool { return true }
func (h *retryLog) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h *retryLog) WithGroup(string) slog.Handler            { return h }
func (h *retryLog) Handle(_ context.Context, r slog.Record) error {
	if r.Message != "outbox: find next packet" {
		return nil
	}
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "retryIn" {
			h.mu.Lock()
			h.waits = append(h.waits, a.Value.Duration())
			h.mu.Unlock()
		}
		return true
	})
	return nil
}

func (h *retryLog) get() []time.Duration {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]time.Duration(nil), h.waits...)
}

// TestRunBacksOffWhenStoreFails: when the store cannot be read, Run retries
// with the packets' backoff (growing, capped) instead of a fixed interval.
func TestRunBacksOffWhenStoreFails(t *testing.T) {
	h := &retryLog{}
	o := open(t, t.TempDir(), func(op *Options) {
		op.Log, op.Rand, op.MinBackoff, op.MaxBackoff = slog.New(h), constReader(0), time.Millisecond, 4*time.Millisecond
	})
	if _, err := o.db.Exec(`DROP TABLE packets`); err != nil {
		t.Fatal(err)
	}
	run(t, o, newPortal())
	want := []time.Duration{500 * time.Microsecond, time.Millisecond, 2 * time.Millisecond, 2 * time.Millisecond, 2 * time.Millisecond}
	deadline := time.Now().Add(20 * time.Second)
	for len(h.get()) < len(want) {
		if time.Now().After(deadline) {
			t.Fatalf("only %d retries logged", len(h.get()))
		}
		time.Sleep(time.Millisecond)
	}
	if got := h.get()[:len(want)]; !slices.Equal(got, want) {
		t.Errorf("retry delays %v, want %v", got, want)
	}
}

func TestPermanentErrorNeedsAttention(t *testing.T) {
	dir := t.TempDir()
	o := open(t, dir, nil)
	bad, good := testPacket(5), testPacket(6)
	fp := newPortal()
	var mu sync.Mutex
	reject := true
	fp.fail = func(ctx context.Context, op, id, file string) error {
		mu.Lock()
		defer mu.Unlock()
		if op == "finalise" && id == bad.ID && reject {
			reject = false
			return fmt.Errorf("finalise: %w", permErr{"422 manifest signature invalid"})
		}
		return nil
	}
	mustEnqueue(t, o, bad)
	mustEnqueue(t, o, good)
	run(t, o, fp)
	e := wait(t, o, bad.ID)
	if e.State != StateNeedsAttention || !strings.Contains(e.LastError, "signature invalid") || e.Attempts != 1 {
		t.Fatalf("entry %+v, want needsAttention with the reason", e)
	}
	if g := wait(t, o, good.ID); !g.Delivered() {
		t.Fatalf("good packet %s", g.State)
	}
	// Never dropped: the files stay, it counts in the backlog, List shows why.
	if _, err := os.Stat(filepath.Join(dir, "packets", bad.ID, "manifest.age")); err != nil {
		t.Errorf("rejected packet files gone: %v", err)
	}
	if n, _ := o.Backlog(); n != 1 {
		t.Errorf("backlog %d, want 1", n)
	}
	l, _ := o.List()
	if len(l) != 2 || l[0].ID != bad.ID || l[0].State != StateNeedsAttention || l[0].LastError == "" {
		t.Errorf("List: %+v", l)
	}
	// Not retried, even after a restart.
	o.Close()
	o = open(t, dir, nil)
	run(t, o, fp)
	o.Kick()
	if e, _, _ := o.Get(bad.ID); e.State != StateNeedsAttention {
		t.Errorf("after reopen: %s", e.State)
	}
	// An operator requeues it; it starts over with new uploads and is accepted.
	if err := o.Requeue(bad.ID); err != nil {
		t.Fatal(err)
	}
	if e := wait(t, o, bad.ID); !e.Delivered() || e.Attempts != 2 {
		t.Errorf("after requeue: %+v", e)
	}
	if n := fp.count(fp.creates, bad.ID+"/doc-0.pdf"); n != 2 {
		t.Errorf("requeued packet created %d uploads of doc-0, want 2 (starts over)", n)
	}
	fp.check(t, bad)
	if err := o.Requeue(bad.ID); err == nil {
		t.Error("requeue of a delivered packet succeeded")
	}
	if err := o.Requeue(uuid.NewString()); !errors.Is(err, ErrNotFound) {
		t.Errorf("requeue unknown: %v", err)
	}
}

// TestForgottenUploadIsRecreated: an upload URL from an earlier attempt that
// the server refuses (expired) is replaced by a new upload; a fresh upload
// refused permanently parks the packet.
func TestForgottenUploadIsRecreated(t *testing.T) {
	o := open(t, t.TempDir(), nil)
	p := testPacketSized(7, 3000)
	fp := newPortal()
	fp.fail = func(ctx context.Context, op, id, file string) error {
		if op == "chunk" && file == "doc-1.pdf" {
			return errors.New("connection reset")
		}
		return nil
	}
	mustEnqueue(t, o, p)
	stop := run(t, o, fp)
	pollEntry(t, o, p.ID, func(e Entry) bool { return e.Attempts >= 1 })
	stop()
	// The server forgets the unfinished upload (expired).
	fp.mu.Lock()
	for u, up := range fp.uploads {
		if up.file == "doc-1.pdf" {
			delete(fp.uploads, u)
		}
	}
	fp.fail = nil
	fp.mu.Unlock()
	run(t, o, fp)
	e := wait(t, o, p.ID)
	if !e.Delivered() {
		t.Fatalf("%+v", e)
	}
	fp.check(t, p)
	if n := fp.count(fp.creates, p.ID+"/doc-1.pdf"); n != 2 {
		t.Errorf("doc-1 created %d times, want 2", n)
	}

	// A fresh upload refused permanently: needsAttention, not a loop.
	q := testPacket(8)
	fp.setFail(func(ctx context.Context, op, id, file string) error {
		if op == "upload" {
			return permErr{"413 too large"}
		}
		return nil
	})
	mustEnqueue(t, o, q)
	if e := wait(t, o, q.ID); e.State != StateNeedsAttention || !strings.Contains(e.LastError, "413") {
		t.Errorf("%+v", e)
	}
}

func TestOpenRemovesStrays(t *testing.T) {
	dir := t.TempDir()
	o := open(t, dir, nil)
	keep, purged := testPacket(9), testPacket(10)
	mustEnqueue(t, o, keep)
	mustEnqueue(t, o, purged)
	if _, err := o.db.Exec(`UPDATE packets SET state = 'purged', bytes = 0 WHERE id = ?`, purged.ID); err != nil {
		t.Fatal(err)
	}
	o.Close()
	stray := filepath.Join(dir, "packets", uuid.NewString())
	if err := os.MkdirAll(stray, 0o700); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(stray, "manifest.age"), []byte("x"), 0o600)
	tmp := filepath.Join(dir, "packets", keep.ID, ".doc-2.pdf.age.tmp-123")
	os.WriteFile(tmp, []byte("half"), 0o600)

	open(t, dir, nil)
	for _, gone := range []string{stray, tmp, filepath.Join(dir, "packets", purged.ID)} {
		if _, err := os.Stat(gone); !os.IsNotExist(err) {
			t.Errorf("%s survived Open: %v", gone, err)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "packets", keep.ID, "doc-1.pdf.age")); err != nil {
		t.Errorf("queued packet lost: %v", err)
	}
}

func TestEnqueueIdempotentAndValidated(t *testing.T) {
	o := open(t, t.TempDir(), nil)
	p := testPacket(11)
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
		"doc reserved":      func(p *Packet) { p.Docs[0].Name = "manifest" },
		"doc altered":       func(p *Packet) { p.Docs[1].Data = []byte("other") },
		"doc missing":       func(p *Packet) { p.Docs = p.Docs[:1] },
		"doc duplicated":    func(p *Packet) { p.Docs = append(p.Docs, p.Docs[0]) },
		"id mismatch":       func(p *Packet) { p.ID = uuid.NewString() },
	}
	for name, f := range mutate {
		t.Run(name, func(t *testing.T) {
			q := testPacket(12)
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
	p := testPacket(13)
	mustEnqueue(t, o, p)
	fp := newPortal()
	entered := make(chan struct{}, 1)
	fp.fail = func(ctx context.Context, op, id, file string) error {
		if op == "finalise" {
			entered <- struct{}{}
			<-ctx.Done()
			return ctx.Err()
		}
		return nil
	}
	stop := run(t, o, fp)
	<-entered

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if got, err := o.Wait(ctx, p.ID); !errors.Is(err, context.Canceled) || got.State != StateUploaded {
		t.Errorf("Wait on cancelled ctx: %+v %v", got, err)
	}
	stop() // fails the test if Run does not return
	e, _, _ := o.Get(p.ID)
	if e.State != StateUploaded || e.Attempts != 0 {
		t.Errorf("after cancel mid-finalise: %+v, want uploaded with 0 attempts", e)
	}
	if _, err := o.Wait(context.Background(), uuid.NewString()); !errors.Is(err, ErrNotFound) {
		t.Errorf("Wait unknown: %v", err)
	}
}

func TestCloseStopsRunAndWait(t *testing.T) {
	o, err := Open(Options{Dir: t.TempDir(), Recipient: portalKey.Recipient()})
	if err != nil {
		t.Fatal(err)
	}
	p := testPacket(14)
	mustEnqueue(t, o, p)
	fp := newPortal()
	entered := make(chan struct{}, 1)
	fp.fail = func(ctx context.Context, op, id, file string) error {
		entered <- struct{}{}
		<-ctx.Done()
		return ctx.Err()
	}
	runDone := make(chan struct{})
	go func() { o.Run(context.Background(), fp); close(runDone) }()
	<-entered
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
	if err := o.Enqueue(context.Background(), testPacket(15)); !errors.Is(err, ErrClosed) {
		t.Errorf("Enqueue after Close: %v", err)
	}
}

func TestEnqueueWhileDelivering(t *testing.T) {
	o := open(t, t.TempDir(), nil)
	fp := newPortal()
	var mu sync.Mutex
	n := 0
	fp.fail = func(ctx context.Context, op, id, file string) error { // every fifth call fails
		mu.Lock()
		defer mu.Unlock()
		n++
		if n%5 == 0 {
			return errors.New("flaky")
		}
		return nil
	}
	// Two Runs compete for the same queue.
	run(t, o, fp)
	run(t, o, fp)
	const workers, each = 4, 5
	var wg sync.WaitGroup
	var pkts sync.Map
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
				pkts.Store(p.ID, p)
			}
		}()
	}
	wg.Wait()
	count := 0
	pkts.Range(func(k, v any) bool {
		count++
		p := v.(Packet)
		if e := wait(t, o, p.ID); !e.Delivered() {
			t.Errorf("%s: %s", p.ID, e.State)
		}
		fp.check(t, p)
		for _, d := range p.Docs {
			if c := fp.count(fp.creates, p.ID+"/"+d.Name); c != 1 {
				t.Errorf("%s/%s created %d times", p.ID, d.Name, c)
			}
		}
		return true
	})
	if count != workers*each {
		t.Errorf("%d packets", count)
	}
	if b, _ := o.Backlog(); b != 0 {
		t.Errorf("backlog %d", b)
	}
}

// Ensure the fake implements the interface the outbox needs.
var _ Sender = (*fakePortal)(nil)

var _ = api.SubmitResult{}

// TestUnverifiedAnswerKeepsPacket: an answer that claims success but does
// not verify as the portal's (api.ErrUnverifiedAnswer) is no delivery and no
// refusal, whatever IsPermanent says: the packet keeps its files, an error
// is logged, and it is sent again.
func TestUnverifiedAnswerKeepsPacket(t *testing.T) {
	dir := t.TempDir()
	var log syncBuffer
	o := open(t, dir, func(opts *Options) {
		opts.IsPermanent = func(error) bool { return true }
		opts.Log = slog.New(slog.NewTextHandler(&log, nil))
	})
	p := testPacket(9)
	fp := newPortal()
	var mu sync.Mutex
	forged := 2
	fp.fail = func(ctx context.Context, op, id, file string) error {
		mu.Lock()
		defer mu.Unlock()
		if op == "finalise" && forged > 0 {
			forged--
			return fmt.Errorf("%w: the answer carries no signed acknowledgement", api.ErrUnverifiedAnswer)
		}
		return nil
	}
	mustEnqueue(t, o, p)
	run(t, o, fp)
	e := pollEntry(t, o, p.ID, func(e Entry) bool { return e.Attempts >= 1 })
	if e.Delivered() || e.State == StateNeedsAttention || !strings.Contains(e.LastError, "not verified") {
		t.Fatalf("after an unverified answer: %+v", e)
	}
	if _, err := os.Stat(filepath.Join(dir, "packets", p.ID, "manifest.age")); err != nil {
		t.Fatalf("packet files gone after an unverified answer: %v", err)
	}
	if e := wait(t, o, p.ID); !e.Delivered() || e.Attempts != 3 {
		t.Fatalf("after the portal's own answer: %+v", e)
	}
	if n := strings.Count(log.String(), `level=ERROR msg="outbox: the portal's answer did not verify`); n != 2 {
		t.Errorf("%d error records for 2 unverified answers:\n%s", n, log.String())
	}
}

// syncBuffer is a bytes.Buffer safe for concurrent writers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
