package console

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"govkiosk/backend-client/fleetwire"
	"govkiosk/fleet"
)

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}
func (l *lockedBuffer) String() string { l.mu.Lock(); defer l.mu.Unlock(); return l.b.String() }

// TestGiveServicePIN: staff press "Give a service PIN" on a kiosk's page;
// the answer shows an 8-digit PIN once, the kiosk is sent a service-pin
// command by that staff member whose arguments hold only the PIN's hash
// (it matches the PIN shown), the technician's staff id (a name is
// refused) and a 20-minute expiry; the same form twice
// sends nothing more and shows no PIN; neither the kiosk page nor the log
// holds the PIN or the hash.
func TestGiveServicePIN(t *testing.T) {
	r := newRig(t, "")
	logs := &lockedBuffer{}
	r.c.log = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	ctx := context.Background()
	must(t, r.st.PutKiosk(ctx, fleet.KioskInfo{KioskID: "K1", Province: "TH-10", Office: "TH-10-1001"}))
	r.login()
	_, _, body := r.do("GET", "/kiosk/K1", nil)
	if !strings.Contains(body, `action="/kiosk/K1/service-pin"`) {
		t.Fatal("the kiosk page has no service PIN button")
	}
	cid, csrf := find(t, cidRE, body), find(t, csrfRE, body)
	if code, _, _ := r.do("POST", "/kiosk/K1/service-pin", url.Values{"cid": {cid}, "technician": {"T-0042"}}); code != http.StatusForbidden || len(r.cmd.commands()) != 0 {
		t.Fatalf("without CSRF: %d, sent %v", code, r.cmd.commands())
	}
	for _, bad := range []string{"", "Nguyễn Văn A", "T 42"} {
		if code, _, body := r.do("POST", "/kiosk/K1/service-pin", url.Values{"cid": {cid}, "csrf": {csrf}, "technician": {bad}}); code != http.StatusBadRequest || len(r.cmd.commands()) != 0 || !strings.Contains(body, "staff id") {
			t.Fatalf("technician %q: %d, sent %v", bad, code, r.cmd.commands())
		}
	}
	code, h, page := r.do("POST", "/kiosk/K1/service-pin", url.Values{"cid": {cid}, "csrf": {csrf}, "technician": {"T-0042"}})
	if code != http.StatusOK || h.Get("Cache-Control") != "no-store" {
		t.Fatalf("service PIN: %d, Cache-Control %q\n%s", code, h.Get("Cache-Control"), page)
	}
	pin := find(t, regexp.MustCompile(`data-testid="service-pin">(\d{8})<`), page)
	sent := r.cmd.commands()
	if len(sent) != 1 {
		t.Fatalf("sent %d commands, want 1", len(sent))
	}
	c := sent[0]
	if c.ID != cid || c.KioskID != "K1" || c.Name != fleetwire.CmdServicePIN || c.By != "anan" {
		t.Fatalf("command %+v", c)
	}
	if strings.Contains(c.Args, pin) {
		t.Fatalf("the command's args %q hold the PIN", c.Args)
	}
	sp, err := fleetwire.ParseServicePIN(c.Args)
	if err != nil {
		t.Fatal(err)
	}
	if !sp.Match(pin) || sp.Technician != "T-0042" || !sp.Expires.Equal(r.clk.Now().Add(ServicePINTTL)) {
		t.Fatalf("the PIN sent: match %v, technician %q, expires %v", sp.Match(pin), sp.Technician, sp.Expires)
	}
	if !strings.Contains(page, sp.ID) {
		t.Error("the answer does not name the PIN's id")
	}

	code, _, again := r.do("POST", "/kiosk/K1/service-pin", url.Values{"cid": {cid}, "csrf": {csrf}, "technician": {"T-0042"}})
	if code != http.StatusConflict || len(r.cmd.commands()) != 1 || regexp.MustCompile(`data-testid="service-pin"`).MatchString(again) {
		t.Fatalf("the same form twice: %d, %d commands sent", code, len(r.cmd.commands()))
	}
	_, _, body = r.do("GET", "/kiosk/K1", nil)
	if !strings.Contains(body, "Service PIN") || strings.Contains(body, pin) || strings.Contains(body, "hash=") {
		t.Error("the kiosk page does not list the PIN command, or shows the PIN or its hash")
	}
	if l := logs.String(); strings.Contains(l, pin) || !strings.Contains(l, sp.ID) {
		t.Errorf("the log holds the PIN, or not its id:\n%s", l)
	}
}

// TestServiceVisitsListed: a kiosk's page lists its service-mode events,
// newest first, a PIN lockout marked as a problem, and no other events.
func TestServiceVisitsListed(t *testing.T) {
	r := newRig(t, "")
	ctx := context.Background()
	must(t, r.st.PutKiosk(ctx, fleet.KioskInfo{KioskID: "K1", Province: "TH-10", Office: "TH-10-1001"}))
	now := r.clk.Now()
	for i, e := range []fleet.Event{
		{Kind: "service-enter", Detail: "token pin-0a1b2c3d4e5f"},
		{Kind: "paper-out", Device: "printer"},
		{Kind: "service-exit", Detail: "token pin-0a1b2c3d4e5f: technician left"},
		{Kind: "service-pin-locked", Detail: "5 wrong PINs: PIN entry locked for 5m0s"},
	} {
		e.KioskID, e.Seq, e.At = "K1", uint64(i+1), now.Add(time.Duration(i-10)*time.Minute)
		must(t, r.st.AddEvent(ctx, e))
	}
	r.login()
	_, _, body := r.do("GET", "/kiosk/K1", nil)
	i := strings.Index(body, `data-testid="service-events"`)
	if i < 0 {
		t.Fatalf("the kiosk page lists no service visits:\n%s", body)
	}
	list := body[i:]
	list = list[:strings.Index(list, "</table>")]
	locked, left, entered := strings.Index(list, "PIN entry locked after wrong PINs"), strings.Index(list, "service mode left"), strings.Index(list, "service mode entered")
	if locked < 0 || left < 0 || entered < 0 || !(locked < left && left < entered) {
		t.Errorf("service visits not all listed newest first:\n%s", list)
	}
	if !strings.Contains(list, `<tr class="problem"><td>`) || strings.Count(list, `class="problem"`) != 1 {
		t.Errorf("the lockout is not the one row marked as a problem:\n%s", list)
	}
	if strings.Contains(list, "paper") {
		t.Errorf("a device event among the service visits:\n%s", list)
	}
}
