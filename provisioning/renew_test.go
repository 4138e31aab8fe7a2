package provisioning

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"log/slog"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	backendclient "govkiosk/backend-client"
	"govkiosk/backend-client/api"
	"govkiosk/portal"
)

// renewRig is a kiosk enrolled with the real reference portal (HTTPS,
// mutual TLS) 21 days ago: the portal's clock is set back for the
// enrollment, so its certificate has 9 of its 30 days left, and then set
// right (TLS handshakes check certificates against the real time).
type renewRig struct {
	srv     *portal.Server
	url     string
	dir     string
	kioskID string
	dc      *DeviceCert
	hc      *http.Client
	pc      *backendclient.Client
	shift   atomic.Int64 // the shared clock's lead over time.Now
}

func (r *renewRig) now() time.Time { return time.Now().Add(time.Duration(r.shift.Load())) }

func newRenewRig(t *testing.T) *renewRig {
	t.Helper()
	r := &renewRig{}
	ctx, cancel := context.WithCancel(context.Background())
	srv, url, err := portal.Start(ctx, portal.Options{Listen: "127.0.0.1:0", DataDir: t.TempDir(), Now: r.now, RenewInterval: -1,
		Log: slog.New(slog.DiscardHandler), KioskRedirectURIs: []string{"http://127.0.0.1:8080/auth/callback"}})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); <-srv.Done() })
	r.srv, r.url, r.dir = srv, url, t.TempDir()
	r.shift.Store(int64(-21 * 24 * time.Hour))
	defer r.shift.Store(0)
	tok, err := srv.IssueEnrollToken()
	if err != nil {
		t.Fatal(err)
	}
	key, err := LoadOrCreateKey(r.dir)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := Provision(ctx, backendclient.New(url, EnrollmentClient(srv.CAFingerprint(), false, 10*time.Second), "", key), ProvisionOptions{
		DataDir: r.dir, PortalURL: url, Token: tok, CAFingerprint: srv.CAFingerprint(), Office: "QN-TK",
		Listen: "127.0.0.1:18080", OpsListen: "127.0.0.1:19100",
	})
	if err != nil {
		t.Fatalf("provision: %v", err)
	}
	r.kioskID = cfg.KioskID
	if r.dc, err = LoadDeviceCert(r.dir, key); err != nil {
		t.Fatal(err)
	}
	if r.hc, err = PortalClientFor(r.dir, r.dc, false, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	r.pc = backendclient.New(url, r.hc, cfg.KioskID, key)
	return r
}

// heartbeat is a request over mutual TLS that the portal takes only from
// a kiosk whose certificate it accepts.
func (r *renewRig) heartbeat(t *testing.T, seq uint64) error {
	t.Helper()
	r.hc.CloseIdleConnections() // a new connection: a new handshake
	return r.pc.Heartbeat(context.Background(), api.Heartbeat{KioskID: r.kioskID, At: r.now(), Seq: seq})
}

// TestRenewalAgainstThePortal: while more than a third of the
// certificate's life is left the renewal loop asks nothing; once less is
// left, it gets a new certificate from the real portal, writes it to
// kiosk-cert.pem and presents it at the next handshake, and the portal
// takes the kiosk's requests over it.
func TestRenewalAgainstThePortal(t *testing.T) {
	r := newRenewRig(t)
	old := r.dc.Leaf()
	if err := r.heartbeat(t, 1); err != nil {
		t.Fatalf("heartbeat with the enrolled certificate: %v", err)
	}
	calls := 0
	counting := renewerFunc(func(ctx context.Context, at time.Time) (api.RenewResponse, error) {
		calls++
		return r.pc.Renew(ctx, at)
	})
	var renewed time.Time
	waits := make(chan time.Duration, 10)
	after := func(d time.Duration) <-chan time.Time {
		waits <- d
		return make(chan time.Time) // the test ends the loop
	}
	runOnce := func(now func() time.Time) {
		t.Helper()
		ren := NewRenewal(RenewalOptions{DataDir: r.dir, Cert: r.dc, Portal: counting, Now: now,
			Renewed: func(na time.Time) { renewed = na }, After: after})
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- ren.Run(ctx) }()
		select {
		case d := <-waits:
			if d != DefaultRenewCheck {
				t.Errorf("wait after a good check: %v, want %v", d, DefaultRenewCheck)
			}
		case <-time.After(30 * time.Second):
			t.Fatal("the renewal loop did not wait for its next check within 30s")
		}
		cancel()
		<-done
	}

	// On the day of enrollment, the certificate is left alone.
	runOnce(func() time.Time { return time.Now().Add(-21 * 24 * time.Hour) })
	if calls != 0 {
		t.Fatalf("the loop renewed a fresh certificate %d times", calls)
	}
	// 21 of 30 days later: renewed at the loop's first look.
	runOnce(r.now)
	if calls != 1 {
		t.Fatalf("renewals at 21 days: %d, want 1", calls)
	}
	now := r.dc.Leaf()
	if !now.NotAfter.After(old.NotAfter) || now.SerialNumber.Cmp(old.SerialNumber) == 0 {
		t.Fatalf("certificate held after renewal: serial %v until %v; the old one: %v until %v", now.SerialNumber, now.NotAfter, old.SerialNumber, old.NotAfter)
	}
	if !renewed.Equal(now.NotAfter) {
		t.Errorf("Renewed told %v, the certificate ends %v", renewed, now.NotAfter)
	}
	onDisk, err := LoadDeviceCert(r.dir, r.dc.key)
	if err != nil || onDisk.Leaf().SerialNumber.Cmp(now.SerialNumber) != 0 {
		t.Errorf("kiosk-cert.pem after renewal: %v; want the new certificate", err)
	}
	if got := presentedSerial(t, r); got == nil || got.Cmp(now.SerialNumber) != 0 {
		t.Errorf("a new TLS connection presents serial %v, not the renewed %v", got, now.SerialNumber)
	}
	if err := r.heartbeat(t, 2); err != nil {
		t.Errorf("heartbeat over the renewed certificate: %v", err)
	}
}

// presentedSerial is the serial of the client certificate the kiosk's TLS
// configuration presents in a real handshake with a server that asks for
// one.
func presentedSerial(t *testing.T, r *renewRig) *big.Int {
	t.Helper()
	got := make(chan *big.Int, 1)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if len(req.TLS.PeerCertificates) > 0 {
			got <- req.TLS.PeerCertificates[0].SerialNumber
		}
	}))
	srv.TLS = &tls.Config{ClientAuth: tls.RequireAnyClientCert}
	srv.StartTLS()
	defer srv.Close()
	tc, err := DeviceTLSFor(r.dir, r.dc)
	if err != nil {
		t.Fatal(err)
	}
	tc.InsecureSkipVerify = true // the test server's own certificate; what matters is the client's
	resp, err := (&http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: tc}}).Get(srv.URL)
	if err != nil {
		t.Fatalf("handshake with the test server: %v", err)
	}
	resp.Body.Close()
	select {
	case s := <-got:
		return s
	default:
		return nil
	}
}

// TestRenewalOfARevokedKiosk: the portal refuses a revoked kiosk's renewal
// with kiosk-revoked; the loop says so once and stops, the certificate
// held and on disk unchanged.
func TestRenewalOfARevokedKiosk(t *testing.T) {
	r := newRenewRig(t)
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM([]byte(r.srv.CAPEM()))
	admin := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}}
	body, _ := json.Marshal(api.RevokeRequest{Reason: "stolen", IssuedBy: "staff-1"})
	req, _ := http.NewRequest(http.MethodPost, r.url+api.PathAdminKiosks+r.kioskID+"/revoke", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+r.srv.AdminToken())
	req.Header.Set("Content-Type", "application/json")
	resp, err := admin.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("revoke: %s", resp.Status)
	}
	before, _ := os.ReadFile(filepath.Join(r.dir, CertFile))

	revoked := 0
	ren := NewRenewal(RenewalOptions{DataDir: r.dir, Cert: r.dc, Portal: r.pc, Now: r.now, Revoked: func() { revoked++ },
		After: func(time.Duration) <-chan time.Time {
			t.Error("the loop waits to try a revoked kiosk again")
			return nil
		}})
	done := make(chan error, 1)
	go func() { done <- ren.Run(context.Background()) }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the renewal loop of a revoked kiosk did not stop within 30s")
	}
	if revoked != 1 {
		t.Errorf("Revoked called %d times, want 1", revoked)
	}
	if _, err := r.pc.Renew(context.Background(), r.now()); !errors.Is(err, backendclient.ErrKioskRevoked) {
		t.Errorf("renewal of a revoked kiosk: %v; want ErrKioskRevoked", err)
	}
	after, _ := os.ReadFile(filepath.Join(r.dir, CertFile))
	if !bytes.Equal(before, after) {
		t.Error("kiosk-cert.pem changed for a revoked kiosk")
	}
}

type renewerFunc func(ctx context.Context, at time.Time) (api.RenewResponse, error)

func (f renewerFunc) Renew(ctx context.Context, at time.Time) (api.RenewResponse, error) {
	return f(ctx, at)
}

// TestRenewalBacksOff: failed renewals are tried again after waits that
// grow from Retry (with jitter) and never exceed the check interval; a
// certificate that does not verify is refused and not stored.
func TestRenewalBacksOff(t *testing.T) {
	r := newRenewRig(t)
	before, _ := os.ReadFile(filepath.Join(r.dir, CertFile))
	attempts := 0
	bogus := renewerFunc(func(context.Context, time.Time) (api.RenewResponse, error) {
		attempts++
		if attempts%2 == 0 {
			return api.RenewResponse{}, errors.New("connection refused")
		}
		return api.RenewResponse{CertificatePEM: r.srv.CAPEM()}, nil // not this kiosk's certificate
	})
	ctx, cancel := context.WithCancel(context.Background())
	var waits []time.Duration
	fire := make(chan time.Time, 1)
	ren := NewRenewal(RenewalOptions{DataDir: r.dir, Cert: r.dc, Portal: bogus, Now: r.now, Retry: time.Minute, RetryMax: 20 * time.Minute, Check: time.Hour,
		After: func(d time.Duration) <-chan time.Time {
			waits = append(waits, d)
			if len(waits) == 8 {
				cancel()
				return nil // blocks: the loop sees the cancellation
			}
			fire <- time.Time{}
			return fire
		}})
	ren.Run(ctx)
	if attempts != 8 {
		t.Fatalf("attempts %d, want 8 (one per wait)", attempts)
	}
	lo, hi := []float64{0.7, 1.4, 2.8, 5.6, 11.2, 14, 14, 14}, []float64{1.3, 2.6, 5.2, 10.4, 20.8, 26, 26, 26}
	for i, d := range waits {
		if m := d.Minutes(); m < lo[i] || m > hi[i] {
			t.Errorf("wait %d after %d failures: %v; want %.1f to %.1f minutes", i, i+1, d, lo[i], hi[i])
		}
	}
	after, _ := os.ReadFile(filepath.Join(r.dir, CertFile))
	if !bytes.Equal(before, after) {
		t.Error("a certificate that does not verify was stored")
	}
}

// DeviceTLS keeps the loaded certificate in Certificates for its callers,
// and presents the holder's through GetClientCertificate.
func TestDeviceTLSCarriesTheCertificate(t *testing.T) {
	r := newRenewRig(t)
	tc, err := DeviceTLS(r.dir, r.dc.key)
	if err != nil {
		t.Fatal(err)
	}
	if len(tc.Certificates) != 1 || tc.Certificates[0].Leaf == nil || tc.Certificates[0].Leaf.SerialNumber.Cmp(r.dc.Leaf().SerialNumber) != 0 {
		t.Fatalf("DeviceTLS Certificates: %+v", tc.Certificates)
	}
	c, err := tc.GetClientCertificate(&tls.CertificateRequestInfo{})
	if err != nil || c.Leaf.SerialNumber.Cmp(r.dc.Leaf().SerialNumber) != 0 {
		t.Errorf("GetClientCertificate: %v %v", c, err)
	}
}
