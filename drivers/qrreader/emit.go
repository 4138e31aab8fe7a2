package qrreader

import (
	"log/slog"
	"sync"
	"time"
)

// emitter hands decoded codes to a Scans channel: it drops repeats of the
// same code within the debounce window and never blocks the reader.
type emitter struct {
	scans chan Scan
	log   *slog.Logger
	now   func() time.Time

	mu       sync.Mutex
	dropped  int
	lastEmit map[string]time.Time
}

func newEmitter(scans chan Scan, log *slog.Logger, now func() time.Time) *emitter {
	return &emitter{scans: scans, log: log, now: now, lastEmit: make(map[string]time.Time)}
}

// emit reports whether the code was handed on.
func (e *emitter) emit(p []byte, source string, debounce time.Duration) bool {
	now := e.now()
	e.mu.Lock()
	if debounce > 0 {
		key := string(p)
		if last, ok := e.lastEmit[key]; ok && now.Sub(last) < debounce {
			e.mu.Unlock()
			e.log.Debug("repeated scan debounced", "len", len(p))
			return false
		}
		if len(e.lastEmit) >= debouncePruneSize {
			for k, t := range e.lastEmit {
				if now.Sub(t) >= debounce {
					delete(e.lastEmit, k)
				}
			}
		}
		e.lastEmit[key] = now
	}
	e.mu.Unlock()

	select {
	case e.scans <- Scan{Data: p, Source: source, At: now}:
		e.log.Debug("scan", "len", len(p), "source", source)
		return true
	default:
		e.mu.Lock()
		e.dropped++
		n := e.dropped
		e.mu.Unlock()
		e.log.Warn("scan dropped: nobody is reading", "dropped_total", n)
		return false
	}
}
