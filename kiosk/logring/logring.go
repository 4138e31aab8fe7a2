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
	sk := &sink{}
	return &handler{next: next, ring: r, level: level, sink: sk, text: slog.NewTextHandler(&sk.out, &slog.HandlerOptions{Level: level})}
}

// sink is the buffer the text copies are formatted into, shared by a
// handler and those derived from it.
type sink struct {
	mu  sync.Mutex
	out bytes.Buffer
}

type handler struct {
	next  slog.Handler
	ring  *Ring
	level slog.Leveler
	sink  *sink
	text  slog.Handler // formats into sink.out
}

func (h *handler) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= h.level.Level() || h.next.Enabled(ctx, l)
}

func (h *handler) Handle(ctx context.Context, rec slog.Record) error {
	if rec.Level >= h.level.Level() {
		h.sink.mu.Lock()
		h.sink.out.Reset()
		if err := h.text.Handle(ctx, rec); err == nil {
			h.ring.add(string(bytes.TrimRight(h.sink.out.Bytes(), "\n")))
		}
		h.sink.mu.Unlock()
	}
	if h.next.Enabled(ctx, rec.Level) {
		return h.next.Handle(ctx, rec)
	}
	return nil
}

func (h *handler) WithAttrs(as []slog.Attr) slog.Handler {
	return &handler{next: h.next.WithAttrs(as), ring: h.ring, level: h.level, sink: h.sink, text: h.text.WithAttrs(as)}
}

func (h *handler) WithGroup(name string) slog.Handler {
	return &handler{next: h.next.WithGroup(name), ring: h.ring, level: h.level, sink: h.sink, text: h.text.WithGroup(name)}
}
