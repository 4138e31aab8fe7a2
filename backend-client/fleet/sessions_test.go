package fleet

import (
	"crypto/tls"
	"crypto/x509"
	"io"
	"math/big"
	"net"
	"sync"
	"testing"
	"time"

	"govkiosk/fleet/pki"
)

// The link's TLS sessions are resumed while the kiosk presents the same
// certificate, and not once it presents another (a renewal): the server
// then sees the new certificate in a full handshake.
func TestSessionsBelongToTheirCertificate(t *testing.T) {
	ca, err := pki.NewCA("test CA", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	server, err := ca.Server("127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{server},
		ClientCAs: ca.Pool(), ClientAuth: tls.RequireAndVerifyClientCert, MinVersion: tls.VersionTLS12})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	type seen struct {
		serial  *big.Int
		resumed bool
	}
	seenc := make(chan seen, 1)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			tc := c.(*tls.Conn)
			tc.SetDeadline(time.Now().Add(10 * time.Second))
			if err := tc.Handshake(); err != nil {
				c.Close()
				continue
			}
			cs := tc.ConnectionState()
			seenc <- seen{cs.PeerCertificates[0].SerialNumber, cs.DidResume}
			tc.Write([]byte{1}) // after the session tickets
			io.Copy(io.Discard, tc)
			c.Close()
		}
	}()

	a, err := ca.Client("k-1", nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := ca.Client("k-1", nil)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	cur := &a
	tc := &tls.Config{RootCAs: ca.Pool(), MinVersion: tls.VersionTLS12, ServerName: "127.0.0.1",
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			mu.Lock()
			defer mu.Unlock()
			return cur, nil
		}}
	tc.ClientSessionCache = certSessions{next: tls.NewLRUClientSessionCache(4), tc: tc}
	dial := func(what string, want *x509.Certificate, wantResumed bool) {
		t.Helper()
		c, err := tls.DialWithDialer(&net.Dialer{Timeout: 10 * time.Second}, "tcp", ln.Addr().String(), tc)
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		c.SetDeadline(time.Now().Add(10 * time.Second))
		if _, err := io.ReadFull(c, make([]byte, 1)); err != nil { // reads the tickets
			t.Fatalf("%s: %v", what, err)
		}
		c.Close()
		s := <-seenc
		if s.serial.Cmp(want.SerialNumber) != 0 || s.resumed != wantResumed {
			t.Errorf("%s: the server saw serial %s (resumed %v), want %s (resumed %v)", what, s.serial, s.resumed, want.SerialNumber, wantResumed)
		}
	}
	dial("first connection", a.Leaf, false)
	dial("reconnection, same certificate", a.Leaf, true)
	mu.Lock()
	cur = &b
	mu.Unlock()
	dial("reconnection after the renewal", b.Leaf, false)
	dial("reconnection, renewed certificate", b.Leaf, true)
}
