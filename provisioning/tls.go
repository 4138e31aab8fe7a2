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
	tc, err := DeviceTLS(dataDir, key)
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
// key for mutual TLS. Its Leaf is the device certificate.
func DeviceTLS(dataDir string, key crypto.Signer, extraCAs ...string) (*tls.Config, error) {
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
	certPEM, err := os.ReadFile(filepath.Join(dataDir, CertFile))
	if err != nil {
		return nil, fmt.Errorf("device certificate (is the kiosk provisioned?): %w", err)
	}
	leaf, err := parseCertPEM(string(certPEM))
	if err != nil {
		return nil, fmt.Errorf("device certificate %s: %w", filepath.Join(dataDir, CertFile), err)
	}
	if pub, ok := leaf.PublicKey.(interface{ Equal(crypto.PublicKey) bool }); !ok || !pub.Equal(key.Public()) {
		return nil, errors.New("device certificate is not for the device key (provision the kiosk again)")
	}
	return &tls.Config{
		RootCAs:      roots,
		Certificates: []tls.Certificate{{Certificate: [][]byte{leaf.Raw}, PrivateKey: key, Leaf: leaf}},
		MinVersion:   tls.VersionTLS12,
	}, nil
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

func (t tlsOnly) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Scheme != "https" && !(t.allowInsecureLoopback && req.URL.Scheme == "http" && kiosk.IsLoopback(req.URL.Hostname())) {
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, fmt.Errorf("%s %s://%s: %w", req.Method, req.URL.Scheme, req.URL.Host, ErrPlainHTTP)
	}
	return t.next.RoundTrip(req)
}
