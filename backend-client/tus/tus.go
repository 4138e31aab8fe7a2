// Package tus is a client of the tus 1.0 resumable upload protocol
// (https://tus.io/protocols/resumable-upload): core (HEAD for the offset,
// PATCH from it), creation, checksum (sha256, used when the server offers
// it) and termination.
//
// An upload always resumes from the offset the server reports in a HEAD
// answer, never from a locally saved offset. The PATCH size follows the
// link: it grows when chunks go through faster than Config.ChunkTime and
// shrinks when they are slow or fail, within [MinChunk, MaxChunk]. Each
// operation is one attempt function looped with capped, jittered
// exponential backoff that stops on context cancellation, on a permanent
// answer (a 4xx other than 408, 409, 423, 429 and 460) or after
// Config.MaxFailures attempts in a row that made no progress.
package tus

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cenkalti/backoff/v5"
)

// Protocol constants.
const (
	Version             = "1.0.0"
	ContentTypeOffset   = "application/offset+octet-stream"
	HeaderResumable     = "Tus-Resumable"
	HeaderVersion       = "Tus-Version"
	HeaderExtension     = "Tus-Extension"
	HeaderMaxSize       = "Tus-Max-Size"
	HeaderChecksumAlgos = "Tus-Checksum-Algorithm"
	HeaderOffset        = "Upload-Offset"
	HeaderLength        = "Upload-Length"
	HeaderMetadata      = "Upload-Metadata"
	HeaderChecksum      = "Upload-Checksum"

	// StatusChecksumMismatch is tus's answer to a PATCH whose checksum fails.
	StatusChecksumMismatch = 460
)

// Metadata is the Upload-Metadata of an upload.
type Metadata map[string]string

// Encode gives the Upload-Metadata header value: pairs "key base64(value)"
// sorted by key and joined by commas, so the same metadata always encodes
// to the same bytes (the portal's creation signature covers them).
func (m Metadata) Encode() string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + " " + base64.StdEncoding.EncodeToString([]byte(m[k]))
	}
	return strings.Join(parts, ",")
}

// ParseMetadata decodes an Upload-Metadata header value.
func ParseMetadata(s string) (Metadata, error) {
	m := Metadata{}
	if strings.TrimSpace(s) == "" {
		return m, nil
	}
	for _, pair := range strings.Split(s, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(pair), " ")
		if k == "" || strings.ContainsAny(k, " ,") {
			return nil, fmt.Errorf("tus metadata: bad key %q", k)
		}
		if _, dup := m[k]; dup {
			return nil, fmt.Errorf("tus metadata: repeated key %q", k)
		}
		b, err := base64.StdEncoding.DecodeString(v)
		if err != nil {
			return nil, fmt.Errorf("tus metadata: value of %q: %w", k, err)
		}
		m[k] = string(b)
	}
	return m, nil
}

// Error is a non-success answer of a tus server.
type Error struct {
	Op         string // "create", "head", "patch", "terminate", "options"
	StatusCode int
	Message    string
}

func (e *Error) Error() string {
	return fmt.Sprintf("tus %s: HTTP %d: %s", e.Op, e.StatusCode, e.Message)
}

// Permanent reports whether retrying cannot help: a 4xx other than 408,
// 409 (offset conflict), 423 (locked), 429 and 460 (checksum mismatch, a
// transit corruption).
func (e *Error) Permanent() bool {
	switch e.StatusCode {
	case http.StatusRequestTimeout, http.StatusConflict, http.StatusLocked, http.StatusTooManyRequests, StatusChecksumMismatch:
		return false
	}
	return e.StatusCode >= 400 && e.StatusCode < 500
}

// IsPermanent reports whether err holds a permanent *Error.
func IsPermanent(err error) bool {
	var te *Error
	return errors.As(err, &te) && te.Permanent()
}

// IsGone reports whether err says the upload no longer exists (404 or 410):
// the caller must create a new one.
func IsGone(err error) bool {
	var te *Error
	return errors.As(err, &te) && (te.StatusCode == http.StatusNotFound || te.StatusCode == http.StatusGone)
}

// Capabilities is what a server announced in its OPTIONS answer.
type Capabilities struct {
	Versions           []string
	Extensions         []string
	ChecksumAlgorithms []string
	MaxSize            int64
}

// Has reports whether the server offers the extension.
func (c Capabilities) Has(ext string) bool { return contains(c.Extensions, ext) }

// SHA256 reports whether the server verifies sha256 checksums.
func (c Capabilities) SHA256() bool {
	return c.Has("checksum") && contains(c.ChecksumAlgorithms, "sha256")
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if strings.EqualFold(x, s) {
			return true
		}
	}
	return false
}

func splitList(h string) []string {
	var out []string
	for _, p := range strings.Split(h, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// Backoff is a capped, jittered exponential backoff: the wait before retry n
// is uniform in [d/2, d] for d = min(Max, Min·2^(n-1)). The policy is a
// backoff.ExponentialBackOff (see policy); Min and Max are its knobs.
type Backoff struct {
	Min, Max time.Duration
	// Jitter returns a number in [0, 1); nil means math/rand/v2.
	Jitter func() float64
}

// policy is b as a backoff.ExponentialBackOff. backoff randomises
// symmetrically around its interval, so [d/2, d] is the interval 3d/4 with
// RandomizationFactor 1/3. Min above Max counts as Max.
func (b Backoff) policy() backoff.ExponentialBackOff {
	lo, hi := min(b.Min, b.Max), b.Max
	return backoff.ExponentialBackOff{
		InitialInterval:     lo - lo/4,
		MaxInterval:         hi - hi/4,
		Multiplier:          2,
		RandomizationFactor: 1.0 / 3,
	}
}

// Delay is the wait before retry n (n >= 1): the n-th NextBackOff of a
// fresh policy, randomised with Jitter.
func (b Backoff) Delay(n int) time.Duration {
	j := rand.Float64
	if b.Jitter != nil {
		j = b.Jitter
	}
	return NthBackOff(b.policy(), n, j())
}

// NthBackOff is the delay before retry n (n >= 1) under p: the interval of
// p's n-th NextBackOff, randomised by p.RandomizationFactor the way backoff
// does it but with r in [0, 1) for its random number (backoff/v5 draws from
// math/rand/v2 and cannot be given another source). The half-width is
// rounded to a whole nanosecond, so that r = 0 gives exactly the low end.
// The outbox paces its retries with it too, from a stored attempt count.
func NthBackOff(p backoff.ExponentialBackOff, n int, r float64) time.Duration {
	rf := p.RandomizationFactor
	p.RandomizationFactor = 0
	p.Reset()
	d := p.NextBackOff()
	for i := 1; i < n && d < p.MaxInterval; i++ {
		d = p.NextBackOff()
	}
	delta := time.Duration(math.Round(rf * float64(d)))
	return d - delta + time.Duration(r*float64(2*delta))
}

// Retry runs attempt until it succeeds, returns an error permanent says
// is permanent, ctx ends, or maxFailures attempts in a row report no
// progress. Between attempts it waits Delay(failures in a row).
func (b Backoff) Retry(ctx context.Context, maxFailures int, permanent func(error) bool,
	attempt func(ctx context.Context) (progress bool, err error)) error {
	failures := 0
	for {
		progress, err := attempt(ctx)
		if err == nil {
			return nil
		}
		if permanent(err) {
			return err
		}
		if ctx.Err() != nil {
			return fmt.Errorf("%w (stopped: %v)", err, context.Cause(ctx))
		}
		if progress {
			failures = 0
		}
		failures++
		if maxFailures > 0 && failures >= maxFailures {
			return fmt.Errorf("giving up after %d attempts without progress: %w", failures, err)
		}
		t := time.NewTimer(b.Delay(failures))
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("%w (stopped: %v)", err, context.Cause(ctx))
		case <-t.C:
		}
	}
}

// Config configures a Client. Zero fields take the defaults in brackets.
type Config struct {
	HTTP       *http.Client // [http.DefaultClient]; must not follow PATCH redirects
	MinChunk   int64        // [16 KiB]
	FirstChunk int64        // size of the first PATCH [64 KiB]
	MaxChunk   int64        // [8 MiB]
	// ChunkTime is how long one PATCH should take on the link [4 s]; chunk
	// sizes move toward measured rate × ChunkTime, at most doubling or
	// halving at a time. Without checksums a cut PATCH keeps what arrived,
	// so such PATCHes aim at twice as long (fewer idle round trips).
	ChunkTime time.Duration
	// StallTimeout aborts a request that moves no bytes for this long, and a
	// request without body that has no answer within it [20 s].
	StallTimeout time.Duration
	Backoff      Backoff // [250 ms .. 30 s]
	// MaxFailures ends an operation after that many attempts in a row made
	// no progress (the error is transient; the caller retries later) [10].
	MaxFailures int
	// NoChecksum never sends Upload-Checksum even when offered.
	NoChecksum bool
	Now        func() time.Time // [time.Now]
	Log        *slog.Logger     // [discard]
}

// Stats counts body bytes handed to the network.
type Stats struct {
	Sent   int64 // all PATCH body bytes sent
	Resent int64 // bytes of an upload sent again (below its high-water mark)
}

// Client is a tus client. It is safe for concurrent use.
type Client struct {
	cfg    Config
	sent   atomic.Int64
	resent atomic.Int64

	mu    sync.Mutex
	chunk int64                    // current PATCH size, shared: it is a property of the link
	rate  float64                  // measured goodput, bytes/s (0: unknown)
	rtt   time.Duration            // round trip of a HEAD (0: unknown)
	caps  map[string]*Capabilities // by upload collection URL
}

// Pacing: a PATCH body is fed to the network at most paceFactor times the
// measured rate (after a burst), so that the socket and middlebox buffers
// stay nearly empty and a cut connection loses little data in flight.
const (
	paceFactor = 1.08
	paceBurst  = 8 << 10
)

// New returns a client.
func New(cfg Config) *Client {
	if cfg.HTTP == nil {
		cfg.HTTP = http.DefaultClient
	}
	if cfg.MinChunk <= 0 {
		cfg.MinChunk = 16 << 10
	}
	if cfg.MaxChunk <= 0 {
		cfg.MaxChunk = 8 << 20
	}
	if cfg.MaxChunk < cfg.MinChunk {
		cfg.MaxChunk = cfg.MinChunk
	}
	if cfg.FirstChunk <= 0 {
		cfg.FirstChunk = 64 << 10
	}
	cfg.FirstChunk = clamp(cfg.FirstChunk, cfg.MinChunk, cfg.MaxChunk)
	if cfg.ChunkTime <= 0 {
		cfg.ChunkTime = 4 * time.Second
	}
	if cfg.StallTimeout <= 0 {
		cfg.StallTimeout = 20 * time.Second
	}
	if cfg.Backoff.Min <= 0 {
		cfg.Backoff.Min = 250 * time.Millisecond
	}
	if cfg.Backoff.Max <= 0 {
		cfg.Backoff.Max = 30 * time.Second
	}
	if cfg.MaxFailures == 0 {
		cfg.MaxFailures = 10
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	return &Client{cfg: cfg, chunk: cfg.FirstChunk, caps: map[string]*Capabilities{}}
}

// Stats returns the byte counters.
func (c *Client) Stats() Stats { return Stats{Sent: c.sent.Load(), Resent: c.resent.Load()} }

// ChunkSize is the current PATCH size.
func (c *Client) ChunkSize() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.chunk
}

func clamp(v, lo, hi int64) int64 { return max(lo, min(v, hi)) }

// request sends one request under the stall watchdog; body may be nil.
func (c *Client) request(ctx context.Context, op, method, target string, hdr http.Header, body io.Reader, n int64) (*http.Response, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	wd := newWatchdog(c.cfg.StallTimeout, cancel)
	var rd io.Reader
	if body != nil {
		rd = &kickReader{r: body, wd: wd, tail: c.cfg.StallTimeout + 2*c.cfg.ChunkTime}
	}
	req, err := http.NewRequestWithContext(ctx, method, target, rd)
	if err != nil {
		wd.stop()
		cancel(nil)
		return nil, fmt.Errorf("tus %s: %w", op, err)
	}
	req.ContentLength = n
	if body != nil && n == 0 {
		req.Body = http.NoBody
	}
	req.GetBody = nil // never let the transport replay a body by itself
	for k, v := range hdr {
		req.Header[k] = v
	}
	req.Header.Set(HeaderResumable, Version)
	resp, err := c.cfg.HTTP.Do(req)
	wd.stop()
	if err != nil {
		cancel(nil)
		if cause := context.Cause(ctx); errors.Is(cause, errStalled) {
			err = fmt.Errorf("%w: %v", cause, err)
		}
		return nil, fmt.Errorf("tus %s: %w", op, err)
	}
	// Reading the (small) answer body must not hang either.
	resp.Body = &cancelOnClose{ReadCloser: resp.Body, cancel: cancel, wd: newWatchdog(c.cfg.StallTimeout, cancel)}
	return resp, nil
}

var errStalled = errors.New("no progress")

// watchdog cancels a request that stops moving.
type watchdog struct {
	t      *time.Timer
	d      time.Duration
	cancel context.CancelCauseFunc
}

func newWatchdog(d time.Duration, cancel context.CancelCauseFunc) *watchdog {
	w := &watchdog{d: d, cancel: cancel}
	w.t = time.AfterFunc(d, func() { cancel(fmt.Errorf("%w for %s", errStalled, d)) })
	return w
}

func (w *watchdog) kick(d time.Duration) { w.t.Reset(d) }
func (w *watchdog) stop()                { w.t.Stop() }

// kickReader resets the watchdog on every read; after the last byte it
// leaves tail for the server to answer.
type kickReader struct {
	r    io.Reader
	wd   *watchdog
	tail time.Duration
	n    int64
}

func (k *kickReader) Read(p []byte) (int, error) {
	n, err := k.r.Read(p)
	k.n += int64(n)
	if err == io.EOF {
		k.wd.kick(k.tail)
	} else {
		k.wd.kick(k.wd.d)
	}
	return n, err
}

type cancelOnClose struct {
	io.ReadCloser
	cancel context.CancelCauseFunc
	wd     *watchdog
}

func (c *cancelOnClose) Close() error {
	err := c.ReadCloser.Close()
	c.wd.stop()
	c.cancel(nil)
	return err
}

// finish reads a bounded answer body and turns a non-expected status into
// an *Error.
func finish(op string, resp *http.Response, ok ...int) error {
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	for _, s := range ok {
		if resp.StatusCode == s {
			return nil
		}
	}
	msg := strings.TrimSpace(string(b))
	if msg == "" {
		msg = http.StatusText(resp.StatusCode)
	}
	if len(msg) > 200 {
		msg = msg[:200]
	}
	return &Error{Op: op, StatusCode: resp.StatusCode, Message: msg}
}

// Options asks the server at target (the creation endpoint or an upload
// URL) what it supports. One attempt.
func (c *Client) Options(ctx context.Context, target string) (Capabilities, error) {
	resp, err := c.request(ctx, "options", http.MethodOptions, target, nil, nil, 0)
	if err != nil {
		return Capabilities{}, err
	}
	h := resp.Header
	if err := finish("options", resp, http.StatusOK, http.StatusNoContent); err != nil {
		return Capabilities{}, err
	}
	caps := Capabilities{
		Versions:           splitList(h.Get(HeaderVersion)),
		Extensions:         splitList(h.Get(HeaderExtension)),
		ChecksumAlgorithms: splitList(h.Get(HeaderChecksumAlgos)),
	}
	caps.MaxSize, _ = strconv.ParseInt(h.Get(HeaderMaxSize), 10, 64)
	return caps, nil
}

// collection is the URL an upload URL belongs to (its parent), the key of
// the capabilities cache.
func collection(uploadURL string) string {
	if i := strings.LastIndex(strings.TrimRight(uploadURL, "/"), "/"); i >= 0 {
		return uploadURL[:i+1]
	}
	return uploadURL
}

// capabilities returns (and caches) what the server of uploadURL supports.
func (c *Client) capabilities(ctx context.Context, uploadURL string) (Capabilities, error) {
	key := collection(uploadURL)
	c.mu.Lock()
	cached := c.caps[key]
	c.mu.Unlock()
	if cached != nil {
		return *cached, nil
	}
	caps, err := c.Options(ctx, uploadURL)
	if err != nil {
		return caps, err
	}
	c.mu.Lock()
	c.caps[key] = &caps
	c.mu.Unlock()
	return caps, nil
}

// Create makes a new upload of length bytes at the creation endpoint and
// returns its absolute URL. metadata is the Upload-Metadata value
// (Metadata.Encode); hdr is added to the request (e.g. authentication).
// Retried on transient errors; a retry after a lost answer may leave an
// orphan upload on the server, which the server expires.
func (c *Client) Create(ctx context.Context, endpoint string, length int64, metadata string, hdr http.Header) (string, error) {
	var loc string
	err := c.cfg.Backoff.Retry(ctx, c.cfg.MaxFailures, IsPermanent, func(ctx context.Context) (bool, error) {
		h := hdr.Clone()
		if h == nil {
			h = http.Header{}
		}
		h.Set(HeaderLength, strconv.FormatInt(length, 10))
		if metadata != "" {
			h.Set(HeaderMetadata, metadata)
		}
		resp, err := c.request(ctx, "create", http.MethodPost, endpoint, h, bytes.NewReader(nil), 0)
		if err != nil {
			return false, err
		}
		l := resp.Header.Get("Location")
		if err := finish("create", resp, http.StatusCreated); err != nil {
			return false, err
		}
		base, err := url.Parse(endpoint)
		if err != nil {
			return false, &Error{Op: "create", StatusCode: resp.StatusCode, Message: "bad endpoint URL"}
		}
		u, err := base.Parse(l)
		if l == "" || err != nil {
			return false, &Error{Op: "create", StatusCode: http.StatusBadRequest, Message: "answer without a usable Location"}
		}
		loc = u.String()
		return true, nil
	})
	return loc, err
}

// Offset asks the server how many bytes of the upload it has (HEAD), and
// the upload's length (-1 when deferred). One attempt.
func (c *Client) Offset(ctx context.Context, uploadURL string) (offset, length int64, err error) {
	began := c.cfg.Now()
	resp, err := c.request(ctx, "head", http.MethodHead, uploadURL, http.Header{"Cache-Control": {"no-store"}}, nil, 0)
	if err != nil {
		return 0, 0, err
	}
	c.noteRTT(c.cfg.Now().Sub(began))
	h := resp.Header
	if err := finish("head", resp, http.StatusOK, http.StatusNoContent); err != nil {
		return 0, 0, err
	}
	offset, err = strconv.ParseInt(h.Get(HeaderOffset), 10, 64)
	if err != nil || offset < 0 {
		return 0, 0, &Error{Op: "head", StatusCode: resp.StatusCode, Message: "answer without a valid Upload-Offset"}
	}
	length = -1
	if l := h.Get(HeaderLength); l != "" {
		if length, err = strconv.ParseInt(l, 10, 64); err != nil {
			return 0, 0, &Error{Op: "head", StatusCode: resp.StatusCode, Message: "bad Upload-Length"}
		}
	}
	return offset, length, nil
}

// Upload sends the rest of the upload from data (size bytes in all),
// resuming from the offset the server reports. It returns when the server
// holds all size bytes.
func (c *Client) Upload(ctx context.Context, uploadURL string, data io.ReaderAt, size int64) error {
	caps, err := c.capabilities(ctx, uploadURL)
	if err != nil && IsPermanent(err) {
		// A server that refuses OPTIONS: plain core protocol.
		caps, err = Capabilities{}, nil
	}
	checksum := err == nil && caps.SHA256() && !c.cfg.NoChecksum
	knowCaps := err == nil
	var high int64 // high-water mark of bytes sent in this call
	return c.cfg.Backoff.Retry(ctx, c.cfg.MaxFailures, IsPermanent, func(ctx context.Context) (bool, error) {
		if !knowCaps { // OPTIONS failed transiently before: try again
			if caps, err := c.capabilities(ctx, uploadURL); err == nil {
				checksum, knowCaps = caps.SHA256() && !c.cfg.NoChecksum, true
			}
		}
		off, length, err := c.Offset(ctx, uploadURL)
		if err != nil {
			return false, err
		}
		if length >= 0 && length != size {
			return false, &Error{Op: "head", StatusCode: http.StatusUnprocessableEntity, Message: fmt.Sprintf("server says the upload is %d bytes, we have %d", length, size)}
		}
		start := off
		for off < size {
			n, err := c.patch(ctx, uploadURL, data, off, size, checksum, &high)
			if err != nil {
				return off > start, err
			}
			off = n
		}
		if off != size {
			return true, &Error{Op: "patch", StatusCode: http.StatusUnprocessableEntity, Message: fmt.Sprintf("server offset %d beyond size %d", off, size)}
		}
		return true, nil
	})
}

// patch sends one chunk from off and returns the server's new offset.
func (c *Client) patch(ctx context.Context, uploadURL string, data io.ReaderAt, off, size int64, checksum bool, high *int64) (int64, error) {
	n := c.ChunkSize()
	if !checksum {
		n *= 2
	}
	n = min(n, size-off)
	h := http.Header{"Content-Type": {ContentTypeOffset}, HeaderOffset: {strconv.FormatInt(off, 10)}}
	if checksum {
		sum := sha256.New()
		if _, err := io.Copy(sum, io.NewSectionReader(data, off, n)); err != nil {
			return off, fmt.Errorf("tus patch: read data: %w", err)
		}
		h.Set(HeaderChecksum, "sha256 "+base64.StdEncoding.EncodeToString(sum.Sum(nil)))
	}
	body := &countReader{r: io.NewSectionReader(data, off, n), pos: off, high: high, c: c,
		ctx: ctx, rate: c.paceRate(), start: c.cfg.Now()}
	began := c.cfg.Now()
	resp, err := c.request(ctx, "patch", http.MethodPatch, uploadURL, h, body, n)
	if err != nil {
		c.shrink()
		return off, err
	}
	newOff := resp.Header.Get(HeaderOffset)
	if err := finish("patch", resp, http.StatusNoContent, http.StatusOK); err != nil {
		c.shrink()
		return off, err
	}
	got, err := strconv.ParseInt(newOff, 10, 64)
	if err != nil || got < off || got > off+n {
		return off, &Error{Op: "patch", StatusCode: http.StatusConflict, Message: "answer with a bad Upload-Offset " + strconv.Quote(newOff)}
	}
	took := c.cfg.Now().Sub(began)
	c.measure(got-off, took)
	if !checksum {
		c.adapt((got-off)/2, took/2) // judged as a chunk of the base size
	} else {
		c.adapt(got-off, took)
	}
	return got, nil
}

// noteRTT keeps a round-trip estimate: the minimum, drifting up slowly.
func (c *Client) noteRTT(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.rtt == 0 || d < c.rtt {
		c.rtt = d
	} else {
		c.rtt += (d - c.rtt) / 8
	}
}

// paceRate is the rate PATCH bodies are fed at (0: unpaced).
func (c *Client) paceRate() float64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.rate * paceFactor
}

// measure sets the rate estimate from a PATCH of n bytes that took took;
// the answer's round trip is not transfer time.
func (c *Client) measure(n int64, took time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if n < c.chunk/2 || took <= 0 { // a short last chunk says little about the link
		return
	}
	xfer := max(took-c.rtt, took/2)
	c.rate = float64(n) / xfer.Seconds()
}

// adapt moves the chunk size toward what the link carries in ChunkTime.
func (c *Client) adapt(n int64, took time.Duration) {
	if n <= 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if n < c.chunk/2 { // a short last chunk says little about the link
		return
	}
	target := c.chunk * 2
	if took > 0 {
		target = int64(float64(n) * float64(c.cfg.ChunkTime) / float64(took))
	}
	c.chunk = clamp(clamp(target, c.chunk/2, c.chunk*2), c.cfg.MinChunk, c.cfg.MaxChunk)
}

func (c *Client) shrink() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.chunk = clamp(c.chunk/2, c.cfg.MinChunk, c.cfg.MaxChunk)
}

// countReader counts bytes the transport takes, and those below the
// upload's high-water mark as re-sent; it paces them at rate bytes/s.
type countReader struct {
	r     io.Reader
	pos   int64
	high  *int64
	c     *Client
	ctx   context.Context
	rate  float64
	start time.Time
	n     int64
}

func (r *countReader) Read(p []byte) (int, error) {
	if r.rate > 0 {
		if len(p) > 8<<10 {
			p = p[:8<<10]
		}
		allowed := paceBurst + r.rate*r.c.cfg.Now().Sub(r.start).Seconds()
		if wait := time.Duration((float64(r.n+int64(len(p))) - allowed) / r.rate * float64(time.Second)); wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-r.ctx.Done():
				t.Stop()
				return 0, context.Cause(r.ctx)
			case <-t.C:
			}
		}
	}
	n, err := r.r.Read(p)
	r.n += int64(n)
	if n > 0 {
		end := r.pos + int64(n)
		r.c.sent.Add(int64(n))
		if again := min(end, *r.high) - r.pos; again > 0 {
			r.c.resent.Add(again)
		}
		*r.high = max(*r.high, end)
		r.pos = end
	}
	return n, err
}

// Terminate deletes the upload (termination extension). An upload already
// gone counts as terminated.
func (c *Client) Terminate(ctx context.Context, uploadURL string) error {
	return c.cfg.Backoff.Retry(ctx, c.cfg.MaxFailures, IsPermanent, func(ctx context.Context) (bool, error) {
		resp, err := c.request(ctx, "terminate", http.MethodDelete, uploadURL, nil, nil, 0)
		if err != nil {
			return false, err
		}
		return false, finish("terminate", resp, http.StatusNoContent, http.StatusOK, http.StatusNotFound, http.StatusGone)
	})
}

// Retrying returns the backoff and failure limit the client retries with,
// so a caller can retry its own requests the same way.
func (c *Client) Retrying() (Backoff, int) { return c.cfg.Backoff, c.cfg.MaxFailures }
