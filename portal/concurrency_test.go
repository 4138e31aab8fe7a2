package portal_test

import (
	"io"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"govkiosk/backend-client/api"
	"govkiosk/portal"
)

// stallingBody tells when the server starts reading it and then gives
// nothing until released: a request in progress.
type stallingBody struct {
	once    sync.Once
	entered chan struct{}
	release chan struct{}
}

func newStallingBody(release chan struct{}) *stallingBody {
	return &stallingBody{entered: make(chan struct{}), release: release}
}

func (b *stallingBody) Read(p []byte) (int, error) {
	b.once.Do(func() { close(b.entered) })
	<-b.release
	return 0, io.EOF
}

// TestConcurrencyLimits is the attack of a client holding many requests
// open at once: past the per-kiosk and the global bound, a request is
// answered 503 with Retry-After before anything of it is read.
func TestConcurrencyLimits(t *testing.T) {
	e := newEnv(t, func(o *portal.Options) { o.MaxConcurrent, o.MaxPerKiosk = 3, 2 })
	_, other := e.enroll(t)
	release := make(chan struct{})
	var wg sync.WaitGroup
	t.Cleanup(func() { close(release); wg.Wait() })

	// start sends a heartbeat from kiosk whose body stalls; it returns the
	// body and a channel with the recorder once the request is answered.
	start := func(kiosk string) (*stallingBody, chan *httptest.ResponseRecorder) {
		body := newStallingBody(release)
		req := httptest.NewRequest("POST", api.PathHeartbeat, body)
		req.Header.Set(api.HeaderKioskID, kiosk)
		done := make(chan *httptest.ResponseRecorder, 1)
		wg.Add(1)
		go func() {
			defer wg.Done()
			rec := httptest.NewRecorder()
			e.s.Handler().ServeHTTP(rec, req)
			done <- rec
		}()
		return body, done
	}
	inFlight := func(kiosk string) {
		t.Helper()
		body, done := start(kiosk)
		select {
		case <-body.entered:
		case rec := <-done:
			t.Fatalf("request of %s answered %d %s instead of being taken", kiosk, rec.Code, rec.Body)
		case <-time.After(10 * time.Second):
			t.Fatal("request was not taken within 10 s")
		}
	}
	refused := func(kiosk, what string) {
		t.Helper()
		body, done := start(kiosk)
		select {
		case <-body.entered:
			t.Errorf("%s: the request was let in", what)
		case rec := <-done:
			if rec.Code != 503 || rec.Header().Get("Retry-After") == "" || !strings.Contains(rec.Body.String(), portal.CodeBusy) {
				t.Errorf("%s: answered %d (Retry-After %q) %s, want 503 %s with Retry-After", what, rec.Code, rec.Header().Get("Retry-After"), rec.Body, portal.CodeBusy)
			}
		case <-time.After(10 * time.Second):
			t.Errorf("%s: no answer within 10 s", what)
		}
	}

	inFlight(e.kid)
	inFlight(e.kid)
	refused(e.kid, "third request of one kiosk (per-kiosk bound 2)")
	inFlight(other)
	refused(other, "fourth request in all (global bound 3)")
}
