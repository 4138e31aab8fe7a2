package ui

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"govkiosk/backend-client/fleetwire"
	"govkiosk/kiosk"
	"govkiosk/kiosk/lang"
	"govkiosk/ui/keyboard"
)

func TestServiceNetMessagesInEveryLanguage(t *testing.T) {
	for k := range serviceNetMessages[lang.Fallback] {
		if strings.HasSuffix(k, pluralOne) {
			continue
		}
		for _, l := range lang.Codes() {
			if _, ok := serviceNetMessages[l][k]; !ok {
				t.Errorf("no %s message for %q", l, k)
			}
		}
	}
	for _, r := range []string{kiosk.NetDNS, kiosk.NetRefused, kiosk.NetTimeout, kiosk.NetUnreachable, kiosk.NetTLS, kiosk.NetOther} {
		if !hasMessage("svc.net.reason." + r) {
			t.Errorf("no message for the network failure %q", r)
		}
	}
}

type fixedLink struct {
	up    bool
	since time.Time
}

func (l fixedLink) Link() (bool, time.Time) { return l.up, l.since }

// TestServiceNetworkSection: "Test the network" probes the portal and the
// screen says it answered with its latency, the kiosk certificate's days
// left with a warning under ten, the fleet link and the last heartbeat; a
// portal that is not listening is "cannot connect" with the reason; in
// every language, no message key left on screen.
func TestServiceNetworkSection(t *testing.T) {
	portal := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodHead || r.URL.Path != "/api/v1/catalogue" {
			http.Error(w, "unexpected", http.StatusTeapot)
			return
		}
	}))
	defer portal.Close()
	portalURL := portal.URL
	cert := &x509.Certificate{NotAfter: time.Now().Add(5*24*time.Hour + time.Hour)}
	beat := time.Date(2026, 12, 2, 9, 58, 7, 0, time.Local)
	svc, err := kiosk.NewService(kiosk.ServiceDeps{
		Verifier: &oneTimeVerifier{}, PortalURL: portalURL,
		Net: kiosk.NetDeps{
			Portal: portal.Client(), DeviceCert: func() *x509.Certificate { return cert },
			Fleet: fixedLink{up: true, since: time.Date(2026, 12, 2, 9, 1, 2, 0, time.Local)}, LastHeartbeat: func() time.Time { return beat },
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	r := &serviceRig{svc: svc}
	if r.s, err = New(nil, Options{Service: svc}); err != nil {
		t.Fatal(err)
	}
	svc.SetDoor(true)
	svc.HandleScan([]byte(fleetwire.TechTokenPrefix + "good"))
	if body := r.page(t, "en"); !strings.Contains(body, `data-testid="svc-network"`) || strings.Contains(body, `data-testid="svc-net"`) {
		t.Fatal("before a test the screen lacks the button or shows a result")
	}
	r.post(t, "/service/network", nil)
	leak := regexp.MustCompile(`>[^<]*\bsvc\.[a-z_.]+`)
	for _, l := range lang.Codes() {
		body := r.page(t, l)
		for _, want := range []string{
			`data-portal-ok="true"`, `data-cert-warn="true"`, `data-fleet-up="true"`,
			"(HTTP 200)", "09:01:02", "09:58:07",
		} {
			if !strings.Contains(body, want) {
				t.Errorf("%s: the network section lacks %q", l, want)
			}
		}
		if m := leak.FindString(body); m != "" {
			t.Errorf("%s: untranslated key on screen: %q", l, m)
		}
	}
	en := r.page(t, "en")
	if !regexp.MustCompile(`answered in \d+ms \(HTTP 200\)`).MatchString(en) || !strings.Contains(en, "(5 days left)") {
		t.Errorf("the English screen lacks the latency or the days left:\n%s", section(en))
	}

	portal.Close() // nothing listens there any more
	start := time.Now()
	r.post(t, "/service/network", nil)
	if took := time.Since(start); took > kiosk.DefaultNetTimeout+time.Second {
		t.Errorf("the test of a stopped portal took %v, past its %v deadline", took, kiosk.DefaultNetTimeout)
	}
	en = r.page(t, "en")
	if !strings.Contains(en, `data-portal-ok="false"`) || !strings.Contains(en, "cannot connect: the connection was refused") {
		t.Errorf("a stopped portal is not shown as refused:\n%s", section(en))
	}
}

func section(body string) string {
	if i := strings.Index(body, `data-testid="svc-net"`); i >= 0 {
		return body[i:min(len(body), i+1500)]
	}
	return body
}

// TestServiceNetworkTimeout: a portal that takes the connection and never
// answers is "timeout", within the probe's deadline.
func TestServiceNetworkTimeout(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close() // held open, never answered
		}
	}()
	svc, err := kiosk.NewService(kiosk.ServiceDeps{
		Verifier: &oneTimeVerifier{}, PortalURL: "http://" + ln.Addr().String(),
		Net: kiosk.NetDeps{Portal: &http.Client{}, Timeout: 300 * time.Millisecond},
	})
	if err != nil {
		t.Fatal(err)
	}
	svc.SetDoor(true)
	svc.HandleScan([]byte(fleetwire.TechTokenPrefix + "good"))
	start := time.Now()
	if err := svc.TestNetwork(context.Background()); err != nil {
		t.Fatal(err)
	}
	took := time.Since(start)
	v := svc.View(context.Background()).Net
	if v.PortalOK || v.PortalReason != kiosk.NetTimeout {
		t.Fatalf("a silent portal: ok %v reason %q, want %q", v.PortalOK, v.PortalReason, kiosk.NetTimeout)
	}
	if took > 2*time.Second {
		t.Fatalf("the probe took %v past its 300ms deadline", took)
	}
	if v.Fleet != kiosk.FleetOff {
		t.Errorf("no fleet link configured, shown as %q", v.Fleet)
	}
}

// TestServicePINPad: on the offer screen the PIN is typed on the number
// pad as plain form posts (the page shows how many digits, never them),
// a wrong PIN says so, and the right one enters service mode.
func TestServicePINPad(t *testing.T) {
	r := newServiceRig(t)
	pin, p, err := fleetwire.NewServicePIN(rand.Reader, "T-0042", time.Now(), 10*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.svc.AddServicePIN(p); err != nil {
		t.Fatal(err)
	}
	r.svc.SetDoor(true)
	body := r.page(t, "th")
	for _, k := range []string{"0", "5", "9", keyboard.Back} {
		if !strings.Contains(body, `data-testid="svc-pin-key-`+k+`"`) {
			t.Fatalf("the PIN pad lacks the key %q", k)
		}
	}
	typeIn := func(s string) {
		for _, d := range s {
			r.post(t, "/service/pin/key", url.Values{"key": {string(d)}})
		}
	}
	wrong := []byte(pin)
	wrong[7] = '0' + (wrong[7]-'0'+1)%10
	typeIn(string(wrong[:5]))
	body = r.page(t, "en")
	if !strings.Contains(body, `data-typed="5"`) || strings.Contains(body, string(wrong[:5])) {
		t.Fatalf("after five digits the page does not say 5 typed, or shows them")
	}
	r.post(t, "/service/pin/key", url.Values{"key": {keyboard.Back}})
	if !strings.Contains(r.page(t, "en"), `data-typed="4"`) {
		t.Fatal("the back key did not erase a digit")
	}
	r.post(t, "/service/pin/key", url.Values{"key": {keyboard.Clear}})
	typeIn(string(wrong))
	r.post(t, "/service/pin", nil)
	if body := r.page(t, "en"); !strings.Contains(body, T("en", kiosk.MsgSvcPINWrong)) || r.svc.Active() {
		t.Fatal("a wrong PIN is not said to be wrong")
	}
	typeIn(pin)
	r.post(t, "/service/pin", nil)
	if body := r.page(t, "en"); !r.svc.Active() || !strings.Contains(body, `data-testid="service-mode"`) || !strings.Contains(body, p.ID) {
		t.Fatal("the right PIN did not enter service mode by its id")
	}
}
