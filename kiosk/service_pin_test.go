package kiosk_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"govkiosk/backend-client/fleetwire"
	"govkiosk/kiosk"
	"govkiosk/provisioning"
)

// syncBuffer is a log sink safe for the service's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

type pinRig struct {
	svc    *kiosk.Service
	clock  *svcClock
	events *svcEvents
	logs   *syncBuffer
}

func newPinRig(t *testing.T) *pinRig {
	t.Helper()
	pub, _, _ := ed25519.GenerateKey(rand.Reader)
	r := &pinRig{clock: &svcClock{t: time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)}, events: &svcEvents{}, logs: &syncBuffer{}}
	ver, err := provisioning.NewTechVerifier(pub, "QN-01", filepath.Join(t.TempDir(), "used.json"), r.clock.Now)
	if err != nil {
		t.Fatal(err)
	}
	r.svc, err = kiosk.NewService(kiosk.ServiceDeps{
		Log: slog.New(slog.NewJSONHandler(r.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Now: r.clock.Now, Verifier: ver, Report: r.events.add, Timeout: 5 * time.Minute,
	})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// give makes a PIN as the fleet does and hands the kiosk its command args.
func (r *pinRig) give(t *testing.T, ttl time.Duration) (string, fleetwire.ServicePIN) {
	t.Helper()
	pin, p, err := fleetwire.NewServicePIN(rand.Reader, "T-0042", r.clock.Now(), ttl)
	if err != nil {
		t.Fatal(err)
	}
	got, err := fleetwire.ParseServicePIN(p.Encode())
	if err != nil {
		t.Fatal(err)
	}
	if err := r.svc.AddServicePIN(got); err != nil {
		t.Fatal(err)
	}
	return pin, p
}

// typePIN types pin on the pad, one key at a time, and presses Enter.
func (r *pinRig) typePIN(pin string) error {
	for _, d := range pin {
		r.svc.TypePIN(func(s string) string { return s + string(d) })
	}
	return r.svc.EnterPIN()
}

func notice(err error) string {
	var ue *kiosk.UserError
	if errors.As(err, &ue) {
		return ue.Key
	}
	return ""
}

func otherPIN(pin string) string {
	b := []byte(pin)
	b[0] = '0' + (b[0]-'0'+1)%10
	return string(b)
}

// TestServicePINOpensServiceModeOnce: with the door open a PIN the fleet
// gave enters service mode, is reported by its id, and is not taken a
// second time; closed door or typed past 8 digits, nothing happens.
func TestServicePINOpensServiceModeOnce(t *testing.T) {
	r := newPinRig(t)
	pin, p := r.give(t, 20*time.Minute)

	if err := r.typePIN(pin); err == nil || r.svc.Active() {
		t.Fatalf("a PIN with the door closed: %v, active %v", err, r.svc.Active())
	}
	r.svc.SetDoor(true)
	r.svc.TypePIN(func(s string) string { return s + "x" })
	r.svc.TypePIN(func(s string) string { return "123456789" })
	if n := r.svc.View(context.Background()).PINTyped; n != 0 {
		t.Fatalf("a letter and nine digits typed: %d digits kept, want 0", n)
	}
	for _, d := range pin[:3] {
		r.svc.TypePIN(func(s string) string { return s + string(d) })
	}
	if n := r.svc.View(context.Background()).PINTyped; n != 3 {
		t.Fatalf("three digits typed, the view says %d", n)
	}
	r.svc.TypePIN(func(string) string { return "" })
	if err := r.typePIN(pin); err != nil {
		t.Fatalf("the right PIN: %v", err)
	}
	v := r.svc.View(context.Background())
	if !v.Active || v.TokenID != p.ID {
		t.Fatalf("after the right PIN: active %v by %q, want active by %s", v.Active, v.TokenID, p.ID)
	}
	if !r.events.has("service-enter token " + p.ID) {
		t.Fatalf("no service-enter event for %s: %v", p.ID, r.events.ev)
	}
	r.svc.Leave()
	if err := r.typePIN(pin); notice(err) != kiosk.MsgSvcPINWrong || r.svc.Active() {
		t.Fatalf("the same PIN a second time: %v (active %v), want %s", err, r.svc.Active(), kiosk.MsgSvcPINWrong)
	}
	if strings.Contains(r.logs.String(), pin) {
		t.Fatalf("the PIN %s is in the log:\n%s", pin, r.logs)
	}
}

// TestServicePINExpired: a PIN past its expiry is refused with its own
// message, and the kiosk does not take a PIN already expired or good for
// longer than the fleet may give.
func TestServicePINExpired(t *testing.T) {
	r := newPinRig(t)
	pin, p := r.give(t, 10*time.Minute)
	r.svc.SetDoor(true)
	r.clock.Add(10*time.Minute + time.Second)
	if err := r.typePIN(pin); notice(err) != kiosk.MsgSvcPINExpired || r.svc.Active() {
		t.Fatalf("an expired PIN: %v (active %v), want %s", err, r.svc.Active(), kiosk.MsgSvcPINExpired)
	}
	if v := r.svc.View(context.Background()); v.Notice != kiosk.MsgSvcPINExpired {
		t.Fatalf("the screen says %q, want %q", v.Notice, kiosk.MsgSvcPINExpired)
	}
	if !r.events.has("service-refused token " + p.ID + ": expired") {
		t.Fatalf("no service-refused event for the expired %s: %v", p.ID, r.events.ev)
	}
	if err := r.svc.AddServicePIN(p); !errors.Is(err, kiosk.ErrServicePIN) {
		t.Fatalf("an expired PIN kept: %v", err)
	}
	long := p
	long.Expires = r.clock.Now().Add(2 * time.Hour)
	if err := r.svc.AddServicePIN(long); !errors.Is(err, kiosk.ErrServicePIN) {
		t.Fatalf("a two-hour PIN kept: %v", err)
	}
	if strings.Contains(r.logs.String(), pin) {
		t.Fatalf("the PIN %s is in the log:\n%s", pin, r.logs)
	}
}

// TestServicePINLockout: five wrong PINs lock PIN entry for five minutes,
// even for the right PIN, and tell the fleet; after five minutes the right
// PIN works. Only at most MaxServicePINs are kept, the oldest dropped.
func TestServicePINLockout(t *testing.T) {
	r := newPinRig(t)
	pin, p := r.give(t, 30*time.Minute)
	r.svc.SetDoor(true)
	wrong := otherPIN(pin)
	for i := 1; i < kiosk.MaxPINTries; i++ {
		if err := r.typePIN(wrong); notice(err) != kiosk.MsgSvcPINWrong {
			t.Fatalf("wrong PIN %d: %v, want %s", i, err, kiosk.MsgSvcPINWrong)
		}
	}
	if r.events.has("service-pin-locked") {
		t.Fatal("locked before the fifth wrong PIN")
	}
	if err := r.typePIN(wrong); notice(err) != kiosk.MsgSvcPINLocked {
		t.Fatalf("the fifth wrong PIN: %v, want %s", err, kiosk.MsgSvcPINLocked)
	}
	if !r.events.has("service-pin-locked") {
		t.Fatalf("no service-pin-locked event: %v", r.events.ev)
	}
	if v := r.svc.View(context.Background()); !v.PINLocked.Equal(r.clock.Now().Add(kiosk.PINLockout)) {
		t.Fatalf("the screen says PIN entry is locked until %v, want %v", v.PINLocked, r.clock.Now().Add(kiosk.PINLockout))
	}
	r.clock.Add(kiosk.PINLockout - time.Second)
	if err := r.typePIN(pin); notice(err) != kiosk.MsgSvcPINLocked || r.svc.Active() {
		t.Fatalf("the right PIN while locked: %v (active %v), want %s", err, r.svc.Active(), kiosk.MsgSvcPINLocked)
	}
	r.clock.Add(time.Second)
	if err := r.typePIN(pin); err != nil || !r.svc.Active() {
		t.Fatalf("the right PIN after the lockout: %v (active %v)", err, r.svc.Active())
	}
	if d := r.svc.View(context.Background()).TokenID; d != p.ID {
		t.Fatalf("service mode by %q, want %s", d, p.ID)
	}
	r.svc.Leave()

	var pins []string
	for range kiosk.MaxServicePINs + 1 {
		pn, _ := r.give(t, 30*time.Minute)
		pins = append(pins, pn)
	}
	if err := r.typePIN(pins[0]); notice(err) != kiosk.MsgSvcPINWrong {
		t.Fatalf("the oldest of %d PINs: %v, want it dropped (%s)", len(pins), err, kiosk.MsgSvcPINWrong)
	}
	if err := r.typePIN(pins[len(pins)-1]); err != nil {
		t.Fatalf("the newest PIN: %v", err)
	}
	logs := r.logs.String()
	for _, pn := range append(pins, pin, wrong) {
		if strings.Contains(logs, pn) {
			t.Fatalf("the PIN %s is in the log:\n%s", pn, logs)
		}
	}
}
