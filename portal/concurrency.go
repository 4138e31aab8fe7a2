package portal

import (
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"govkiosk/backend-client/api"
)

// CodeBusy answers a request over the concurrency bounds (503).
const CodeBusy = "busy"

// Default concurrency bounds of the API.
const (
	DefaultMaxConcurrent = 64
	DefaultMaxPerKiosk   = 8
	busyRetryAfter       = 2 * time.Second
)

// concurrency bounds the API requests in progress, in all and per kiosk.
// A kiosk is its Kiosk-Id header, or the client's address for requests
// without one (tus PATCHes, the citizen's confirmation calls). A request
// over a bound is answered 503 with Retry-After at once, before any of its
// body is read; nobody waits in a queue.
type concurrency struct {
	global chan struct{}
	perMax int

	mu  sync.Mutex
	per map[string]int
}

func newConcurrency(global, perKiosk int) *concurrency {
	if global <= 0 {
		global = DefaultMaxConcurrent
	}
	if perKiosk <= 0 {
		perKiosk = DefaultMaxPerKiosk
	}
	return &concurrency{global: make(chan struct{}, global), perMax: perKiosk, per: map[string]int{}}
}

func concurrencyKey(r *http.Request) string {
	if id := r.Header.Get(api.HeaderKioskID); id != "" {
		return "kiosk:" + id
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	return "addr:" + host
}

// acquire takes a place for key; release gives it back.
func (c *concurrency) acquire(key string) (release func(), ok bool) {
	c.mu.Lock()
	if c.per[key] >= c.perMax {
		c.mu.Unlock()
		return nil, false
	}
	select {
	case c.global <- struct{}{}:
	default:
		c.mu.Unlock()
		return nil, false
	}
	c.per[key]++
	c.mu.Unlock()
	return func() {
		c.mu.Lock()
		if c.per[key]--; c.per[key] <= 0 {
			delete(c.per, key)
		}
		c.mu.Unlock()
		<-c.global
	}, true
}

// wrap bounds the requests to the portal API (paths under /api/); the
// provider's pages, whose login page long-polls, have their own bounds.
func (c *concurrency) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.URL.Path, "/api/") {
			next.ServeHTTP(w, r)
			return
		}
		release, ok := c.acquire(concurrencyKey(r))
		if !ok {
			writeRetryLater(w, http.StatusServiceUnavailable, CodeBusy, "", "the portal is busy; retry later", busyRetryAfter)
			return
		}
		defer release()
		next.ServeHTTP(w, r)
	})
}
