// Package logring keeps the kiosk's last log lines in memory for the
// fleet's "logs" command: a slog.Handler that passes every record on and
// keeps a one-line text copy in a bounded ring. The kiosk logs no personal
// data (types that hold it redact themselves with slog.LogValuer), so
// neither does the ring; it never touches the disk.
package logring

import (
	"bytes"
	"context"
	"log/slog"
	"sync"
)

// Ring holds the last lines, oldest first.
type Ring struct {
	mu    sync.Mutex
	lines []string
	next  int
	full  bool
}

// New keeps the last n lines (at least 1).
func New(n int) *Ring { return &Ring{lines: make([]string, max(n, 1))} }

func (r *Ring) add(s string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.lines[r.next] = s
	r.next = (r.next + 1) % len(r.lines)
	if r.next == 0 {
		r.full = true
	}
}

// Last returns up to n of the newest lines, oldest first.
func (r *Ring) Last(n int) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var all []string
	if r.full {
		all = append(append(all, r.lines[r.next:]...), r.lines[:r.next]...)
	} else {
		all = append(all, r.lines[:r.next]...)
	}
	if n >= 0 && n < len(all) {
		all = all[len(all)-n:]
	}
	return all
}

// Handler passes records to next and keeps them in the ring, at level and
// above.
func (r *Ring) Handler(next slog.Handler, level slog.Leveler) slog.Handler {
	h := &handler{next: next, ring: r, level: level, buf: &sync.Mutex{}}
	h.text = slog.NewTextHandler(&h.out, &slog.HandlerOptions{Level: level})
	return h
}

type handler struct {
	next  slog.Handler
	ring  *Ring
	level slog.Leveler
	buf   *sync.Mutex // guards out, shared by the handlers derived from one
	out   bytes.Buffer
	text  slog.Handler // writes into out
	root  *handler     // the handler owning out
}

func (h *handler) owner() *handler {
	if h.root != nil {
		return h.root
	}
	return h
}

func (h *handler) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= h.level.Level() || h.next.Enabled(ctx, l)
}

func (h *handler) Handle(ctx context.Context, rec slog.Record) error {
	if rec.Level >= h.level.Level() {
		o := h.owner()
		h.buf.Lock()
		o.out.Reset()
		if err := h.text.Handle(ctx, rec); err == nil {
			h.ring.add(string(bytes.TrimRight(o.out.Bytes(), "\n")))
		}
		h.buf.Unlock()
	}
	if h.next.Enabled(ctx, rec.Level) {
		return h.next.Handle(ctx, rec)
	}
	return nil
}

func (h *handler) WithAttrs(as []slog.Attr) slog.Handler {
	c := *h
	c.root = h.owner()
	c.out = bytes.Buffer{}
	c.next, c.text = h.next.WithAttrs(as), h.text.WithAttrs(as)
	return &c
}

func (h *handler) WithGroup(name string) slog.Handler {
	c := *h
	c.root = h.owner()
	c.out = bytes.Buffer{}
	c.next, c.text = h.next.WithGroup(name), h.text.WithGroup(name)
	return &c
}
