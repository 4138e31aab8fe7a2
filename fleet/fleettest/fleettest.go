// Package fleettest starts the fleet's brokers for tests and benchmarks:
// the embedded one (fleet/broker) and Debian's mosquitto with the shipped
// configuration (fleet/mosquitto), each on a free loopback port with TLS
// certificates of a fresh CA; and a TCP proxy to cut links with.
package fleettest

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"govkiosk/fleet/broker"
	"govkiosk/fleet/mosquitto"
	"govkiosk/fleet/pki"
)

// ServiceName is the fleet service's certificate name in tests.
const ServiceName = "fleet-service"

// Broker is a running broker and the CA of its clients.
type Broker struct {
	Name string
	URL  *url.URL
	CA   *pki.CA
	// CRLFile is mosquitto's crlfile (PEM); Process is mosquitto's.
	CRLFile string
	Process *os.Process
}

// ClientTLS is a client TLS config with a certificate named cn.
func (b *Broker) ClientTLS(t testing.TB, cn string) *tls.Config {
	t.Helper()
	c, err := b.CA.Client(cn, nil)
	if err != nil {
		t.Fatal(err)
	}
	return &tls.Config{Certificates: []tls.Certificate{c}, RootCAs: b.CA.Pool(), MinVersion: tls.VersionTLS12}
}

// Kind names a broker to start.
type Kind string

// Brokers.
const (
	Embedded  Kind = "embedded"
	Mosquitto Kind = "mosquitto"
)

// Kinds are every broker the integration tests run against.
var Kinds = []Kind{Embedded, Mosquitto}

// Opts are what StartWith may be given.
type Opts struct {
	// CA issues the clients' and the broker's certificates; nil: a new one.
	CA *pki.CA
	// CRL is the revocation list (DER, of CA) mosquitto is started with
	// (its crlfile); nil: an empty list. The embedded broker ignores it.
	CRL []byte
}

// Start starts a broker of kind, stopped at the end of the test.
func Start(t testing.TB, kind Kind) *Broker {
	t.Helper()
	return StartWith(t, kind, Opts{})
}

// StartWith starts a broker of kind with o, stopped at the end of the test.
func StartWith(t testing.TB, kind Kind, o Opts) *Broker {
	t.Helper()
	ca := o.CA
	if ca == nil {
		var err error
		if ca, err = pki.NewCA("fleet test CA", 24*time.Hour); err != nil {
			t.Fatal(err)
		}
	}
	server, err := ca.Server("127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	switch kind {
	case Embedded:
		b, err := broker.Start(broker.Options{
			Listen:   "127.0.0.1:0",
			TLS:      &tls.Config{Certificates: []tls.Certificate{server}, ClientCAs: ca.Pool()},
			Services: []string{ServiceName},
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { b.Close() })
		u, _ := url.Parse(b.URL())
		return &Broker{Name: string(kind), URL: u, CA: ca}
	case Mosquitto:
		return startMosquitto(t, ca, server, o.CRL)
	}
	t.Fatalf("unknown broker %q", kind)
	return nil
}

// MosquittoBin is Debian's mosquitto.
const MosquittoBin = "/usr/sbin/mosquitto"

// EmptyCRL is a revocation list of ca that names no certificate.
func EmptyCRL(t testing.TB, ca *pki.CA) []byte {
	t.Helper()
	der, err := x509.CreateRevocationList(rand.Reader, &x509.RevocationList{Number: big.NewInt(1),
		ThisUpdate: time.Now().Add(-time.Hour), NextUpdate: time.Now().Add(24 * time.Hour)}, ca.Cert, ca.Key)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func startMosquitto(t testing.TB, ca *pki.CA, server tls.Certificate, crl []byte) *Broker {
	bin := MosquittoBin
	if _, err := os.Stat(bin); err != nil {
		if bin, err = exec.LookPath("mosquitto"); err != nil {
			t.Fatalf("mosquitto is not installed (Debian package mosquitto, in the Makefile's APT_PACKAGES): %v", err)
		}
	}
	dir := t.TempDir()
	caPath, err := ca.WritePEM(dir, "ca.pem")
	if err != nil {
		t.Fatal(err)
	}
	certPath, keyPath, err := pki.WriteKeyPair(server, dir, "broker")
	if err != nil {
		t.Fatal(err)
	}
	if crl == nil {
		crl = EmptyCRL(t, ca)
	}
	crlPath := filepath.Join(dir, "crl.pem")
	if err := os.WriteFile(crlPath, pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: crl}), 0o600); err != nil {
		t.Fatal(err)
	}
	aclPath := filepath.Join(dir, "acl")
	if err := os.WriteFile(aclPath, []byte(mosquitto.ACL), 0o600); err != nil {
		t.Fatal(err)
	}
	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	conf := MosquittoConf(map[string]string{
		"listener": fmt.Sprintf("%d 127.0.0.1", port), "cafile": caPath, "certfile": certPath, "keyfile": keyPath,
		"acl_file": aclPath, "crlfile": crlPath, "persistence": "false", "persistence_location": dir + "/",
	}) + "log_dest stderr\nlog_type error\nlog_type warning\n"
	if u, err := user.Current(); err == nil {
		conf += "user " + u.Username + "\n" // run as root, mosquitto would drop to a user that cannot read the test's files
	}
	confPath := filepath.Join(dir, "mosquitto.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-c", confPath)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start mosquitto: %v", err)
	}
	var logMu sync.Mutex
	var logBuf strings.Builder
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			logMu.Lock()
			logBuf.WriteString(sc.Text() + "\n")
			logMu.Unlock()
		}
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			logMu.Lock()
			t.Logf("mosquitto log:\n%s", logBuf.String())
			logMu.Unlock()
		}
	})
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			logMu.Lock()
			defer logMu.Unlock()
			t.Fatalf("mosquitto did not listen on %s within 10s: %v\n%s", addr, err, logBuf.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	u, _ := url.Parse("tls://" + addr)
	return &Broker{Name: string(Mosquitto), URL: u, CA: ca, CRLFile: crlPath, Process: cmd.Process}
}

// MosquittoConf is the shipped mosquitto.conf with the given settings
// replaced (each by its keyword).
func MosquittoConf(set map[string]string) string {
	var b strings.Builder
	for _, line := range strings.Split(mosquitto.Conf, "\n") {
		key, _, _ := strings.Cut(strings.TrimSpace(line), " ")
		if v, ok := set[key]; ok && !strings.HasPrefix(line, "#") {
			line = key + " " + v
		}
		b.WriteString(line + "\n")
	}
	return b.String()
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// Proxy is a TCP proxy to a broker whose links can be cut.
type Proxy struct {
	ln     net.Listener
	target string

	mu    sync.Mutex
	cut   bool
	conns map[net.Conn]bool
}

// NewProxy proxies a free loopback port to target, until the test ends.
func NewProxy(t testing.TB, target string) *Proxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &Proxy{ln: ln, target: target, conns: map[net.Conn]bool{}}
	go p.serve()
	t.Cleanup(func() { ln.Close(); p.Cut() })
	return p
}

// URL is the broker URL through the proxy.
func (p *Proxy) URL() *url.URL {
	u, _ := url.Parse("tls://" + p.ln.Addr().String())
	return u
}

func (p *Proxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		if p.cut {
			p.mu.Unlock()
			c.Close()
			continue
		}
		p.mu.Unlock()
		go p.pipe(c)
	}
}

func (p *Proxy) pipe(c net.Conn) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	up, err := (&net.Dialer{}).DialContext(ctx, "tcp", p.target)
	cancel()
	if err != nil {
		c.Close()
		return
	}
	p.mu.Lock()
	if p.cut {
		p.mu.Unlock()
		c.Close()
		up.Close()
		return
	}
	p.conns[c], p.conns[up] = true, true
	p.mu.Unlock()
	done := make(chan struct{}, 2)
	go func() { io.Copy(up, c); done <- struct{}{} }()
	go func() { io.Copy(c, up); done <- struct{}{} }()
	<-done
	c.Close()
	up.Close()
	p.mu.Lock()
	delete(p.conns, c)
	delete(p.conns, up)
	p.mu.Unlock()
}

// Cut closes every proxied connection at once (both ends see the TCP
// connection die) and refuses new ones until Restore.
func (p *Proxy) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = true
	for c := range p.conns {
		if tc, ok := c.(*net.TCPConn); ok {
			tc.SetLinger(0) // a reset, as when a link dies
		}
		c.Close()
	}
}

// Drop closes every proxied connection at once, as Cut does, but goes on
// accepting new ones: the client's first reconnection gets through (and
// may resume its TLS session, which a failed attempt would have dropped).
func (p *Proxy) Drop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for c := range p.conns {
		if tc, ok := c.(*net.TCPConn); ok {
			tc.SetLinger(0)
		}
		c.Close()
	}
}

// Restore accepts connections again.
func (p *Proxy) Restore() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = false
}

// WaitFor polls cond every 20 ms until it holds or within passes; then the
// test fails naming what it waited for.
func WaitFor(t testing.TB, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited %v for %s", within, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
