package provisioning

import (
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"govkiosk/backend-client/api"
	"govkiosk/kiosk"
)

// ErrPlainHTTP is a request to a plain-http URL that the kiosk refuses: off
// loopback, or without the demo's and tests' insecure switch.
var ErrPlainHTTP = errors.New("plain http refused: the portal and the ID provider are reached over TLS")

// PortalClient is the kiosk's HTTP client for its portal and the national
// ID provider's back channel: TLS 1.2 or later whose only roots are the
// portal CA stored at enrollment (portal-ca.pem: the CA is pinned, the
// system's roots are not used), presenting the kiosk's device certificate
// (kiosk-cert.pem) with key, the device key, for mutual TLS. Requests to
// plain-http URLs, redirects included, are refused unless
// allowInsecureLoopback is set and the host is loopback (demos and tests).
func PortalClient(dataDir string, key crypto.Signer, allowInsecureLoopback bool, timeout time.Duration) (*http.Client, error) {
	dc, err := LoadDeviceCert(dataDir, key)
	if err != nil {
		return nil, err
	}
	return PortalClientFor(dataDir, dc, allowInsecureLoopback, timeout)
}

// PortalClientFor is PortalClient presenting whatever certificate dc holds
// when a connection is made: a renewed certificate (Renewal) is used by
// every new connection, without a restart.
func PortalClientFor(dataDir string, dc *DeviceCert, allowInsecureLoopback bool, timeout time.Duration) (*http.Client, error) {
	tc, err := DeviceTLSFor(dataDir, dc)
	if err != nil {
		return nil, err
	}
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.TLSClientConfig = tc
	return &http.Client{Timeout: timeout, Transport: tlsOnly{t, allowInsecureLoopback}}, nil
}

// DeviceTLS is the kiosk's TLS client side towards its own services (the
// portal, the fleet's MQTT broker): TLS 1.2 or later whose only roots are
// the portal CA stored at enrollment plus extraCAs (PEM files, e.g. a
// fleet broker's CA), presenting the device certificate with the device
// key for mutual TLS. Certificates[0] is that certificate as loaded (its
// Leaf set); a running kiosk uses DeviceTLSFor, which follows renewals.
func DeviceTLS(dataDir string, key crypto.Signer, extraCAs ...string) (*tls.Config, error) {
	dc, err := LoadDeviceCert(dataDir, key)
	if err != nil {
		return nil, err
	}
	tc, err := DeviceTLSFor(dataDir, dc, extraCAs...)
	if err != nil {
		return nil, err
	}
	c, _ := dc.GetClientCertificate(nil)
	tc.Certificates = []tls.Certificate{*c}
	return tc, nil
}

// DeviceTLSFor is DeviceTLS presenting the certificate dc holds at each
// handshake (GetClientCertificate).
func DeviceTLSFor(dataDir string, dc *DeviceCert, extraCAs ...string) (*tls.Config, error) {
	caPEM, err := os.ReadFile(filepath.Join(dataDir, PortalCAFile))
	if err != nil {
		return nil, fmt.Errorf("portal CA (is the kiosk provisioned?): %w", err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(caPEM) {
		return nil, fmt.Errorf("portal CA %s: no certificate", filepath.Join(dataDir, PortalCAFile))
	}
	for _, f := range extraCAs {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("CA: %w", err)
		}
		if !roots.AppendCertsFromPEM(b) {
			return nil, fmt.Errorf("CA %s: no certificate", f)
		}
	}
	return &tls.Config{
		RootCAs:              roots,
		GetClientCertificate: dc.GetClientCertificate,
		MinVersion:           tls.VersionTLS12,
	}, nil
}

// DeviceCert holds the kiosk's current device certificate with its key:
// what every TLS connection of the kiosk presents. Renewal swaps it.
type DeviceCert struct {
	key crypto.Signer

	mu   sync.RWMutex
	cert *tls.Certificate
}

// LoadDeviceCert reads kiosk-cert.pem of dataDir, which must certify key.
func LoadDeviceCert(dataDir string, key crypto.Signer) (*DeviceCert, error) {
	certPEM, err := os.ReadFile(filepath.Join(dataDir, CertFile))
	if err != nil {
		return nil, fmt.Errorf("device certificate (is the kiosk provisioned?): %w", err)
	}
	dc := &DeviceCert{key: key}
	if err := dc.set(certPEM); err != nil {
		return nil, fmt.Errorf("device certificate %s: %w", filepath.Join(dataDir, CertFile), err)
	}
	return dc, nil
}

// set makes certPEM the certificate presented, if it certifies the key.
func (d *DeviceCert) set(certPEM []byte) error {
	leaf, err := parseCertPEM(string(certPEM))
	if err != nil {
		return err
	}
	if pub, ok := leaf.PublicKey.(interface{ Equal(crypto.PublicKey) bool }); !ok || !pub.Equal(d.key.Public()) {
		return errors.New("device certificate is not for the device key (provision the kiosk again)")
	}
	c := &tls.Certificate{Certificate: [][]byte{leaf.Raw}, PrivateKey: d.key, Leaf: leaf}
	d.mu.Lock()
	d.cert = c
	d.mu.Unlock()
	return nil
}

// Leaf is the certificate presented now.
func (d *DeviceCert) Leaf() *x509.Certificate {
	d.mu.RLock()
	defer d.mu.RUnlock()
	return d.cert.Leaf
}

// GetClientCertificate is tls.Config's hook: the certificate held now.
func (d *DeviceCert) GetClientCertificate(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	return d.cert, nil
}

// EnrollmentClient is kioskctl's HTTP client for enrollment, before the
// kiosk has a CA to pin: the portal's certificate must chain to the CA
// whose fingerprint came with the token (the portal sends it in its chain),
// or else, for a portal with a certificate from a public or national CA,
// to the system's roots; the answer's CA signature is checked afterwards
// either way (VerifyEnrollment). Plain http as for PortalClient.
func EnrollmentClient(fingerprint string, allowInsecureLoopback bool, timeout time.Duration) *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	fp, _ := api.NormalizeFingerprint(fingerprint)
	t.TLSClientConfig = &tls.Config{
		MinVersion: tls.VersionTLS12,
		// Verified in VerifyConnection, against the fingerprint or the system.
		InsecureSkipVerify: true,
		VerifyConnection: func(cs tls.ConnectionState) error {
			return verifyEnrollmentServer(cs, fp)
		},
	}
	return &http.Client{Timeout: timeout, Transport: tlsOnly{t, allowInsecureLoopback}}
}

func verifyEnrollmentServer(cs tls.ConnectionState, fingerprint string) error {
	if len(cs.PeerCertificates) == 0 {
		return errors.New("the portal sent no certificate")
	}
	leaf, rest := cs.PeerCertificates[0], cs.PeerCertificates[1:]
	opts := x509.VerifyOptions{DNSName: cs.ServerName, Intermediates: x509.NewCertPool()}
	for _, c := range rest {
		if fingerprint != "" && api.CAFingerprint(c.Raw) == fingerprint {
			opts.Roots = x509.NewCertPool()
			opts.Roots.AddCert(c)
		} else {
			opts.Intermediates.AddCert(c)
		}
	}
	if _, err := leaf.Verify(opts); err != nil { // nil Roots: the system's
		return fmt.Errorf("the portal's certificate is neither from the CA of fingerprint %s nor publicly trusted: %w (%w)", fingerprint, ErrCAMismatch, err)
	}
	return nil
}

// tlsOnly refuses plain-http requests, except to loopback when allowed.
type tlsOnly struct {
	next                  http.RoundTripper
	allowInsecureLoopback bool
}

// CloseIdleConnections closes the transport's idle connections
// (http.Client.CloseIdleConnections reaches it).
func (t tlsOnly) CloseIdleConnections() {
	if c, ok := t.next.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}

func (t tlsOnly) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Scheme != "https" && !(t.allowInsecureLoopback && req.URL.Scheme == "http" && kiosk.IsLoopback(req.URL.Hostname())) {
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, fmt.Errorf("%s %s://%s: %w", req.Method, req.URL.Scheme, req.URL.Host, ErrPlainHTTP)
	}
	return t.next.RoundTrip(req)
}
