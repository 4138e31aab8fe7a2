package portal_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"govkiosk/backend-client/api"
	"govkiosk/kiosk/outbox"
)

// forger is a man in the middle between the kiosk and the portal: it
// passes everything on, except that it answers finalise itself as mode says.
type forger struct {
	portal http.Handler
	mu     sync.Mutex
	mode   string // "": pass; "capture": pass and keep the answer; "unsigned", "tampered", "replay"
	kept   []byte // the portal's answer to an earlier finalise
}

func (f *forger) setMode(m string) { f.mu.Lock(); f.mode = m; f.mu.Unlock() }

func (f *forger) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	mode, kept := f.mode, f.kept
	f.mu.Unlock()
	if r.Method != http.MethodPost || !strings.HasSuffix(r.URL.Path, "/finalise") || mode == "" {
		f.portal.ServeHTTP(w, r)
		return
	}
	answer := func(body []byte) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		w.Write(body)
	}
	switch mode {
	case "unsigned": // the packet never reaches the portal
		b, _ := json.Marshal(api.SubmitResult{TrackingNumber: "QN-2026-999999", ProvisionalNumber: "P-FORGED",
			AppointmentDate: "2026-03-09", ReceivedAt: time.Now()})
		answer(b)
	case "replay": // a genuine answer, to another packet
		answer(kept)
	case "capture", "tampered":
		rec := httptest.NewRecorder()
		f.portal.ServeHTTP(rec, r)
		body := rec.Body.Bytes()
		if mode == "capture" {
			f.mu.Lock()
			f.kept = bytes.Clone(body)
			f.mu.Unlock()
			for k, v := range rec.Header() {
				w.Header()[k] = v
			}
			w.WriteHeader(rec.Code)
			w.Write(body)
			return
		}
		answer(tamper(body))
	}
}

// tamper changes the tracking number everywhere in a finalise answer,
// inside any signed payload too (leaving its signature as it was).
func tamper(body []byte) []byte {
	var v map[string]any
	if json.Unmarshal(body, &v) != nil {
		return body
	}
	var walk func(m map[string]any)
	walk = func(m map[string]any) {
		for k, x := range m {
			switch x := x.(type) {
			case string:
				if k == "trackingNumber" {
					m[k] = "QN-2026-999999"
				}
				if k == "payload" {
					if b, err := base64.StdEncoding.DecodeString(x); err == nil {
						m[k] = base64.StdEncoding.EncodeToString(tamper(b))
					}
				}
			case map[string]any:
				walk(x)
			}
		}
	}
	walk(v)
	b, _ := json.Marshal(v)
	return b
}

// TestForgedFinaliseAnswerKeepsPacket: a man in the middle answers the
// kiosk's finalise with a made-up "finalised" (the packet never reached
// the portal), with the portal's answer tampered with, or with the portal's
// genuine answer to another packet. The outbox must not believe any of
// them: the packet stays, undelivered, with its files, a loud log line says
// why, and it is delivered for real once the portal's own answer arrives.
// Before the fix the outbox marked the packet delivered and deleted it.
func TestForgedFinaliseAnswerKeepsPacket(t *testing.T) {
	e := newEnv(t, nil)
	mitm := &forger{portal: e.s.Handler(), mode: "capture"}
	ts := httptest.NewServer(mitm)
	t.Cleanup(ts.Close)
	var log lockedLog
	ob, dir := e.kioskOutbox(t, &log)
	run(t, ob, e.client(ts.URL))

	// A first packet goes through, and the man in the middle keeps the answer.
	first := e.confirmedPacket(t, 1)
	enqueue(t, ob, first)
	firstGot := waitEntry(t, ob, first.m.PacketID, "delivered", outbox.Entry.Delivered)
	if !trackingRE.MatchString(firstGot.Result.TrackingNumber) {
		t.Fatalf("honest delivery: %+v", firstGot.Result)
	}

	var forged []packet
	for i, mode := range []string{"unsigned", "tampered", "replay"} {
		mitm.setMode(mode)
		p := e.confirmedPacket(t, 2+i)
		enqueue(t, ob, p)
		got := waitEntry(t, ob, p.m.PacketID, "attempted", func(en outbox.Entry) bool {
			return en.Attempts > 0 || en.Delivered() || en.State == outbox.StateNeedsAttention
		})
		if got.Delivered() || got.State == outbox.StateNeedsAttention {
			t.Fatalf("%s answer: the outbox took it for %s (result %+v)", mode, got.State, got.Result)
		}
		if _, err := os.Stat(filepath.Join(dir, "packets", p.m.PacketID)); err != nil {
			t.Fatalf("%s answer: the packet's files are gone: %v", mode, err)
		}
		if !log.hasError(p.m.PacketID) {
			t.Errorf("%s answer: no error logged for packet %s:\n%s", mode, p.m.PacketID, log.String())
		}
		forged = append(forged, p)
	}

	// The man in the middle goes away; at the next attempt the portal's own
	// answers are believed.
	mitm.setMode("")
	e.clk.Add(2 * time.Hour)
	ob.Kick()
	seen := map[string]bool{firstGot.Result.TrackingNumber: true}
	for _, p := range forged {
		got := waitEntry(t, ob, p.m.PacketID, "delivered", outbox.Entry.Delivered)
		if tr := got.Result.TrackingNumber; tr == "QN-2026-999999" || seen[tr] || !strings.HasPrefix(tr, "QN-2026-") {
			t.Errorf("packet %s delivered with tracking %q", p.m.PacketID, tr)
		}
		seen[got.Result.TrackingNumber] = true
	}
	if apps := e.apps(t); len(apps) != 4 {
		t.Errorf("%d applications at the portal, want 4", len(apps))
	}
}

// lockedLog collects log text from concurrent writers.
type lockedLog struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// hasError reports whether an ERROR record names packet id.
func (l *lockedLog) hasError(id string) bool {
	for _, line := range strings.Split(l.String(), "\n") {
		if strings.Contains(line, "level=ERROR") && strings.Contains(line, id) {
			return true
		}
	}
	return false
}
