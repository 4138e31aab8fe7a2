package main

import (
	"context"
	"crypto/rand"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	backendclient "govkiosk/backend-client"
	"govkiosk/backend-client/fleetwire"
	"govkiosk/kiosk"
	"govkiosk/portal"
	"govkiosk/provisioning"
)

// TestServiceNetworkAgainstTheRealPortal: the service screen's network test
// uses the kiosk's own mutual-TLS portal client against the reference
// portal serving HTTPS: it answers (status, latency, the portal's
// certificate dates) and the device certificate's notAfter is the one in
// the data directory; with the portal stopped it is "refused", well within
// the probe's deadline.
func TestServiceNetworkAgainstTheRealPortal(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	srv, base, err := portal.Start(ctx, portal.Options{Listen: "127.0.0.1:0", DataDir: t.TempDir(), Log: slog.New(slog.DiscardHandler),
		KioskRedirectURIs: []string{"http://127.0.0.1:8080/auth/callback"}})
	if err != nil {
		t.Fatal(err)
	}
	stopped := false
	defer func() {
		if !stopped {
			cancel()
			<-srv.Done()
		}
	}()
	tok, err := srv.IssueEnrollToken()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	enroll := backendclient.New(base, provisioning.EnrollmentClient(srv.CAFingerprint(), false, 30*time.Second), "", nil)
	if _, err := provisioning.Provision(ctx, enroll, provisioning.ProvisionOptions{
		DataDir: dir, PortalURL: base, Token: tok, CAFingerprint: srv.CAFingerprint(), Listen: freePort(t), OpsListen: freePort(t),
	}); err != nil {
		t.Fatal(err)
	}
	key, err := provisioning.LoadOrCreateKey(dir)
	if err != nil {
		t.Fatal(err)
	}
	dc, err := provisioning.LoadDeviceCert(dir, key)
	if err != nil {
		t.Fatal(err)
	}
	hc, err := provisioning.PortalClientFor(dir, dc, false, 60*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	deviceCert := dc.Leaf()

	ver, err := provisioning.NewTechVerifier(make([]byte, 32), "QN-01", filepath.Join(dir, "tech-used.json"), time.Now)
	if err != nil {
		t.Fatal(err)
	}
	svc, err := kiosk.NewService(kiosk.ServiceDeps{
		Verifier: ver, PortalURL: base,
		Net: kiosk.NetDeps{Portal: hc, DeviceCert: dc.Leaf},
	})
	if err != nil {
		t.Fatal(err)
	}
	// In service mode by a PIN, as a technician without a code.
	pin, sp, err := fleetwire.NewServicePIN(rand.Reader, "T-1", time.Now(), time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.AddServicePIN(sp); err != nil {
		t.Fatal(err)
	}
	svc.SetDoor(true)
	svc.TypePIN(func(string) string { return pin })
	if err := svc.EnterPIN(); err != nil {
		t.Fatal(err)
	}

	if err := svc.TestNetwork(ctx); err != nil {
		t.Fatal(err)
	}
	r := svc.View(ctx).Net
	if !r.PortalOK || r.PortalStatus != 200 || r.PortalLatency <= 0 || r.PortalReason != "" {
		t.Fatalf("the running portal: ok %v status %d latency %v reason %q", r.PortalOK, r.PortalStatus, r.PortalLatency, r.PortalReason)
	}
	if r.ServerUntil.IsZero() || !r.ServerFrom.Before(time.Now()) || !r.ServerUntil.After(time.Now()) {
		t.Errorf("the portal's certificate is shown valid %v – %v", r.ServerFrom, r.ServerUntil)
	}
	if !r.DeviceUntil.Equal(deviceCert.NotAfter) || r.DeviceDaysLeft != int(time.Until(deviceCert.NotAfter)/(24*time.Hour)) {
		t.Errorf("the device certificate is shown until %v (%d days), want %v", r.DeviceUntil, r.DeviceDaysLeft, deviceCert.NotAfter)
	}
	if r.DeviceWarn != (time.Until(deviceCert.NotAfter) < kiosk.CertWarnDays*24*time.Hour) {
		t.Errorf("warning %v for a certificate good until %v", r.DeviceWarn, deviceCert.NotAfter)
	}

	cancel()
	<-srv.Done()
	stopped = true
	start := time.Now()
	if err := svc.TestNetwork(context.Background()); err != nil {
		t.Fatal(err)
	}
	took := time.Since(start)
	r = svc.View(context.Background()).Net
	if r.PortalOK || r.PortalReason != kiosk.NetRefused {
		t.Fatalf("the stopped portal: ok %v reason %q, want %q", r.PortalOK, r.PortalReason, kiosk.NetRefused)
	}
	if took > kiosk.DefaultNetTimeout {
		t.Fatalf("the test of the stopped portal took %v, past the %v deadline", took, kiosk.DefaultNetTimeout)
	}
}
