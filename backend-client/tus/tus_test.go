package tus

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeServer is a small in-memory tus server whose faults the tests script.
type fakeServer struct {
	mu        sync.Mutex
	checksum  bool
	uploads   map[string]*fakeUpload
	patches   []patchLog
	failPatch func(n int) int // status to answer the n-th PATCH (1-based) after storing it; 0: normal
	keepPart  int             // if > 0, store only this many bytes of each PATCH and answer normally
	next      int
}

type fakeUpload struct {
	data   []byte
	length int64
	meta   string
}

type patchLog struct {
	offset   int64
	n        int
	checksum string
}

func newFake(checksum bool) (*fakeServer, *httptest.Server) {
	f := &fakeServer{checksum: checksum, uploads: map[string]*fakeUpload{}}
	ts := httptest.NewServer(f)
	return f, ts
}

func (f *fakeServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	w.Header().Set(HeaderResumable, Version)
	id := strings.TrimPrefix(r.URL.Path, "/files/")
	switch r.Method {
	case http.MethodOptions:
		w.Header().Set(HeaderVersion, Version)
		ext := "creation,termination"
		if f.checksum {
			ext += ",checksum"
			w.Header().Set(HeaderChecksumAlgos, "md5,sha1,sha256")
		}
		w.Header().Set(HeaderExtension, ext)
		w.WriteHeader(http.StatusNoContent)
	case http.MethodPost:
		n, err := strconv.ParseInt(r.Header.Get(HeaderLength), 10, 64)
		if err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		f.next++
		id := fmt.Sprint("u", f.next)
		f.uploads[id] = &fakeUpload{length: n, meta: r.Header.Get(HeaderMetadata)}
		w.Header().Set("Location", "/files/"+id) // relative, as tus allows
		w.WriteHeader(http.StatusCreated)
	case http.MethodHead:
		u := f.uploads[id]
		if u == nil {
			w.WriteHeader(http.StatusNotFound)
			return
		}
		w.Header().Set(HeaderOffset, fmt.Sprint(len(u.data)))
		w.Header().Set(HeaderLength, fmt.Sprint(u.length))
		w.WriteHeader(http.StatusOK)
	case http.MethodPatch:
		u := f.uploads[id]
		if u == nil {
			w.WriteHeader(http.StatusNotFound)
			return
		}
		off, _ := strconv.ParseInt(r.Header.Get(HeaderOffset), 10, 64)
		if off != int64(len(u.data)) || r.Header.Get("Content-Type") != ContentTypeOffset {
			w.WriteHeader(http.StatusConflict)
			return
		}
		b, _ := io.ReadAll(r.Body)
		f.patches = append(f.patches, patchLog{offset: off, n: len(b), checksum: r.Header.Get(HeaderChecksum)})
		if cs := r.Header.Get(HeaderChecksum); cs != "" {
			sum := sha256.Sum256(b)
			if cs != "sha256 "+base64.StdEncoding.EncodeToString(sum[:]) {
				w.WriteHeader(StatusChecksumMismatch)
				return
			}
		}
		if f.keepPart > 0 && len(b) > f.keepPart {
			b = b[:f.keepPart]
		}
		u.data = append(u.data, b...)
		if f.failPatch != nil {
			if st := f.failPatch(len(f.patches)); st != 0 {
				w.WriteHeader(st)
				return
			}
		}
		w.Header().Set(HeaderOffset, fmt.Sprint(len(u.data)))
		w.WriteHeader(http.StatusNoContent)
	case http.MethodDelete:
		delete(f.uploads, id)
		w.WriteHeader(http.StatusNoContent)
	}
}

func randomBytes(t *testing.T, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

func fastConfig() Config {
	return Config{MinChunk: 1 << 10, FirstChunk: 4 << 10, MaxChunk: 64 << 10, StallTimeout: 5 * time.Second,
		Backoff: Backoff{Min: time.Millisecond, Max: 5 * time.Millisecond}, MaxFailures: 5}
}

func TestUploadRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		name       string
		offered    bool
		noChecksum bool
		want       bool // checksum headers sent
	}{
		{"server offers sha256", true, false, true},
		{"server offers nothing", false, false, false},
		{"client told not to", true, true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, ts := newFake(tc.offered)
			defer ts.Close()
			cfg := fastConfig()
			cfg.NoChecksum = tc.noChecksum
			c := New(cfg)
			ctx := context.Background()
			data := randomBytes(t, 100<<10+7)
			meta := Metadata{"packetId": "p-1", "file": "doc 1.pdf"}.Encode()
			u, err := c.Create(ctx, ts.URL+"/files/", int64(len(data)), meta, http.Header{"Kiosk-Id": {"K1"}})
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(u, ts.URL+"/files/u") {
				t.Fatalf("upload URL %q not resolved against the endpoint", u)
			}
			if err := c.Upload(ctx, u, bytes.NewReader(data), int64(len(data))); err != nil {
				t.Fatal(err)
			}
			up := f.uploads[strings.TrimPrefix(u, ts.URL+"/files/")]
			if !bytes.Equal(up.data, data) || up.meta != meta {
				t.Fatalf("server holds %d bytes (meta %q), want %d", len(up.data), up.meta, len(data))
			}
			if len(f.patches) < 3 {
				t.Errorf("only %d PATCHes for 100 KiB with 4 KiB first chunks", len(f.patches))
			}
			for _, p := range f.patches {
				if (p.checksum != "") != tc.want {
					t.Errorf("PATCH at %d: checksum %q, want sent=%v", p.offset, p.checksum, tc.want)
				}
			}
			if st := c.Stats(); st.Sent != int64(len(data)) || st.Resent != 0 {
				t.Errorf("stats %+v, want %d sent, 0 resent", st, len(data))
			}
			// Uploading a finished upload again sends nothing.
			if err := c.Upload(ctx, u, bytes.NewReader(data), int64(len(data))); err != nil || c.Stats().Sent != int64(len(data)) {
				t.Errorf("second upload: %v, stats %+v", err, c.Stats())
			}
			if err := c.Terminate(ctx, u); err != nil {
				t.Fatal(err)
			}
			if _, _, err := c.Offset(ctx, u); !IsGone(err) || !IsPermanent(err) {
				t.Errorf("HEAD after termination: %v", err)
			}
			if err := c.Terminate(ctx, u); err != nil {
				t.Errorf("terminating a gone upload: %v", err)
			}
		})
	}
}

// The server keeps only part of each PATCH (as after a cut connection) and
// then answers 500: the client must resume from the offset the server
// reports, and count what it sends twice.
func TestResumesFromServerOffset(t *testing.T) {
	f, ts := newFake(false)
	defer ts.Close()
	f.keepPart = 3000
	f.failPatch = func(n int) int {
		if n%2 == 1 {
			return http.StatusInternalServerError
		}
		return 0
	}
	c := New(fastConfig())
	ctx := context.Background()
	data := randomBytes(t, 40<<10)
	u, err := c.Create(ctx, ts.URL+"/files/", int64(len(data)), "", nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Upload(ctx, u, bytes.NewReader(data), int64(len(data))); err != nil {
		t.Fatal(err)
	}
	if got := f.uploads["u1"].data; !bytes.Equal(got, data) {
		t.Fatalf("server data differs (%d bytes)", len(got))
	}
	var prev int64 = -1
	for _, p := range f.patches {
		if p.offset <= prev {
			t.Errorf("PATCH offsets not increasing: %d after %d", p.offset, prev)
		}
		prev = p.offset
	}
	st := c.Stats()
	if st.Resent == 0 || st.Sent != int64(len(data))+st.Resent {
		t.Errorf("stats %+v: want re-sent bytes and sent = size + re-sent", st)
	}
}

func TestErrorsAndRetries(t *testing.T) {
	for _, tc := range []struct {
		status    int
		permanent bool
	}{
		{400, true}, {403, true}, {404, true}, {410, true}, {413, true}, {415, true},
		{408, false}, {409, false}, {423, false}, {429, false}, {460, false}, {500, false}, {503, false},
	} {
		t.Run(fmt.Sprint(tc.status), func(t *testing.T) {
			var patches int
			ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				switch r.Method {
				case http.MethodOptions:
					w.WriteHeader(http.StatusNoContent)
				case http.MethodHead:
					w.Header().Set(HeaderOffset, "0")
					w.Header().Set(HeaderLength, "10")
				case http.MethodPatch:
					patches++
					w.WriteHeader(tc.status)
				}
			}))
			defer ts.Close()
			c := New(fastConfig())
			err := c.Upload(context.Background(), ts.URL+"/files/x", bytes.NewReader(make([]byte, 10)), 10)
			if err == nil {
				t.Fatal("no error")
			}
			if IsPermanent(err) != tc.permanent {
				t.Errorf("IsPermanent(%v) = %v", err, !tc.permanent)
			}
			want := 5 // MaxFailures attempts for a transient error
			if tc.permanent {
				want = 1
			}
			if patches != want {
				t.Errorf("%d PATCH attempts, want %d", patches, want)
			}
		})
	}
}

func TestUploadLengthMismatchIsPermanent(t *testing.T) {
	f, ts := newFake(false)
	defer ts.Close()
	c := New(fastConfig())
	u, err := c.Create(context.Background(), ts.URL+"/files/", 10, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	err = c.Upload(context.Background(), u, bytes.NewReader(make([]byte, 20)), 20)
	if !IsPermanent(err) || len(f.patches) != 0 {
		t.Errorf("length mismatch: %v after %d PATCHes", err, len(f.patches))
	}
}

func TestRetryStopsOnCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	attempts := 0
	b := Backoff{Min: time.Hour, Max: time.Hour}
	done := make(chan error, 1)
	go func() {
		done <- b.Retry(ctx, 0, func(error) bool { return false }, func(context.Context) (bool, error) {
			attempts++
			return false, errors.New("link down")
		})
	}()
	cancel()
	err := <-done
	if err == nil || !strings.Contains(err.Error(), "link down") || attempts != 1 {
		t.Errorf("err %v after %d attempts", err, attempts)
	}
}

// A request that moves no bytes is cut by the stall watchdog and retried.
func TestStallTimeout(t *testing.T) {
	release := make(chan struct{})
	var heads int
	var mu sync.Mutex
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodHead {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		mu.Lock()
		heads++
		first := heads == 1
		mu.Unlock()
		if first {
			select { // a black hole until the client gives up
			case <-r.Context().Done():
			case <-release:
			}
			return
		}
		w.Header().Set(HeaderOffset, "4")
		w.Header().Set(HeaderLength, "4")
	}))
	defer ts.Close()
	defer close(release)
	cfg := fastConfig()
	cfg.StallTimeout = 100 * time.Millisecond
	c := New(cfg)
	if err := c.Upload(context.Background(), ts.URL+"/files/x", bytes.NewReader(make([]byte, 4)), 4); err != nil {
		t.Fatal(err)
	}
	if heads != 2 {
		t.Errorf("%d HEADs, want 2 (one stalled)", heads)
	}
}

func TestChunkAdaptation(t *testing.T) {
	now := time.Unix(0, 0)
	c := New(Config{MinChunk: 16 << 10, FirstChunk: 64 << 10, MaxChunk: 1 << 20, ChunkTime: 4 * time.Second, Now: func() time.Time { return now }})
	steps := []struct {
		name string
		n    int64
		took time.Duration
		fail bool
		want int64
	}{
		{"fast chunk doubles at most", 64 << 10, 10 * time.Millisecond, false, 128 << 10},
		{"fast again", 128 << 10, 10 * time.Millisecond, false, 256 << 10},
		{"right on time stays", 256 << 10, 4 * time.Second, false, 256 << 10},
		{"slow halves at most", 256 << 10, 40 * time.Second, false, 128 << 10},
		{"short last chunk ignored", 1 << 10, time.Second, false, 128 << 10},
		{"failure halves", 0, 0, true, 64 << 10},
		{"failure", 0, 0, true, 32 << 10},
		{"failure", 0, 0, true, 16 << 10},
		{"bounded below", 0, 0, true, 16 << 10},
		{"slightly fast grows", 16 << 10, 2 * time.Second, false, 32 << 10},
	}
	for _, s := range steps {
		if s.fail {
			c.shrink()
		} else {
			c.adapt(s.n, s.took)
		}
		if got := c.ChunkSize(); got != s.want {
			t.Fatalf("%s: chunk %d, want %d", s.name, got, s.want)
		}
	}
	for i := 0; i < 20; i++ {
		c.adapt(c.ChunkSize(), time.Millisecond)
	}
	if c.ChunkSize() != 1<<20 {
		t.Errorf("chunk %d not bounded by MaxChunk", c.ChunkSize())
	}
}

func TestBackoffDelay(t *testing.T) {
	for _, j := range []float64{0, 0.5, 0.999} {
		b := Backoff{Min: 100 * time.Millisecond, Max: 2 * time.Second, Jitter: func() float64 { return j }}
		prevCap := time.Duration(0)
		for n := 1; n <= 10; n++ {
			capd := min(100*time.Millisecond<<(n-1), 2*time.Second)
			d := b.Delay(n)
			if d < capd/2 || d > capd {
				t.Errorf("jitter %v, retry %d: %v outside [%v, %v]", j, n, d, capd/2, capd)
			}
			if capd < prevCap {
				t.Error("cap shrank")
			}
			prevCap = capd
		}
	}
}

// TestBackoffPolicy pins the schedule: with the lowest jitter the waits are
// exactly half the capped doubling, with any jitter they stay within it, and
// the ExponentialBackOff the policy is written as keeps backoff's own
// randomisation within the same bounds.
func TestBackoffPolicy(t *testing.T) {
	b := Backoff{Min: 100 * time.Millisecond, Max: 2 * time.Second, Jitter: func() float64 { return 0 }}
	want := []time.Duration{50, 100, 200, 400, 800, 1000, 1000, 1000}
	for i, w := range want {
		if got := b.Delay(i + 1); got != w*time.Millisecond {
			t.Errorf("lowest jitter, retry %d: %v, want %v", i+1, got, w*time.Millisecond)
		}
	}
	if got := b.Delay(1 << 20); got != time.Second {
		t.Errorf("retry 2^20: %v, want the cap's low end 1s", got)
	}
	b.Jitter = nil // math/rand/v2
	for n := 1; n <= 12; n++ {
		capd := min(100*time.Millisecond<<(n-1), 2*time.Second)
		if d := b.Delay(n); d < capd/2 || d > capd {
			t.Errorf("default jitter, retry %d: %v outside [%v, %v]", n, d, capd/2, capd)
		}
	}
	p := b.policy()
	p.Reset()
	for n := 1; n <= 12; n++ {
		capd := min(100*time.Millisecond<<(n-1), 2*time.Second)
		// backoff's formula may land one nanosecond above its range
		if d := p.NextBackOff(); d < capd/2 || d > capd+1 {
			t.Errorf("backoff's NextBackOff %d: %v outside [%v, %v]", n, d, capd/2, capd)
		}
	}
	if got := (Backoff{Min: time.Minute, Max: time.Second, Jitter: b.Jitter}).Delay(1); got < time.Second/2 || got > time.Second {
		t.Errorf("Min above Max: %v not capped by Max", got)
	}
}

// A cancelled context ends the wait between attempts at once (the wait here
// is at least half an hour) and returns the last attempt's error.
func TestRetryCancelEndsWait(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	tried := make(chan struct{}, 1)
	done := make(chan error, 1)
	go func() {
		done <- Backoff{Min: time.Hour, Max: time.Hour}.Retry(ctx, 0, func(error) bool { return false },
			func(context.Context) (bool, error) {
				tried <- struct{}{}
				return false, errors.New("link down")
			})
	}()
	<-tried
	cancel()
	err := <-done
	if err == nil || !strings.Contains(err.Error(), "link down") || !strings.Contains(err.Error(), "stopped") {
		t.Errorf("err %v", err)
	}
	if len(tried) != 0 {
		t.Error("attempted again after cancel")
	}
}

func TestMetadata(t *testing.T) {
	m := Metadata{"packetId": "0b9c-1", "file": "doc-1.pdf", "name": "Nguyễn, Văn An"}
	enc := m.Encode()
	if enc != (Metadata{"name": "Nguyễn, Văn An", "file": "doc-1.pdf", "packetId": "0b9c-1"}).Encode() {
		t.Error("encoding depends on map order")
	}
	if !strings.HasPrefix(enc, "file ZG9jLTEucGRm,name ") {
		t.Errorf("encoding %q not sorted by key", enc)
	}
	back, err := ParseMetadata(enc)
	if err != nil || len(back) != 3 || back["name"] != m["name"] {
		t.Errorf("round trip: %v %v", back, err)
	}
	for _, bad := range []string{"a !!!", "a YQ==,a Yg==", "a YQ== Yg==", ","} {
		if _, err := ParseMetadata(bad); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
	if m, err := ParseMetadata("flag"); err != nil || m["flag"] != "" {
		t.Errorf("key without value: %v %v", m, err)
	}
}
