package portal

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"time"

	"govkiosk/backend-client/api"
)

// TLS. Start serves HTTPS: with the certificate of Options.TLSCertFile, or
// else with a server certificate its enrollment CA issues at start for the
// host of PublicURL, the host of Listen and the loopback names, which
// kiosks trust because they pin that CA (portal-ca.pem). Every connection
// may present a client certificate; the kiosk API (heartbeats,
// confirmations, intake, uploads, finalise) requires one that chains to
// the enrollment CA, names an enrolled kiosk, holds that kiosk's enrolled
// key, and is the kiosk the request speaks for. Enrollment, the signed
// catalogue, status look-ups and the browser pages (provider, phone,
// console, track pages) need none. A certificate that expired less than
// renewGrace ago is still taken on one endpoint, PathRenew, so that a
// kiosk that was offline past its certificate's end renews it (see
// requireDeviceWithin); every other endpoint refuses it. With Options.PlainHTTP (a loopback
// Listen only: demos and tests) Start serves plain http and there is no
// certificate to check; Handler, served by a caller, checks certificates
// only on TLS connections.

// serverCertTTL is the lifetime of the server certificate the enrollment CA
// issues at each start.
const serverCertTTL = 90 * 24 * time.Hour

// tlsConfig is the TLS configuration Start serves with.
func (s *Server) tlsConfig() (*tls.Config, error) {
	var cert tls.Certificate
	var err error
	if s.opts.TLSCertFile != "" || s.opts.TLSKeyFile != "" {
		if cert, err = tls.LoadX509KeyPair(s.opts.TLSCertFile, s.opts.TLSKeyFile); err != nil {
			return nil, fmt.Errorf("portal: TLS certificate: %w", err)
		}
	} else if cert, err = s.keys.issueServerCert(s.serverHosts(), s.rand, s.now()); err != nil {
		return nil, fmt.Errorf("portal: server certificate: %w", err)
	}
	return &tls.Config{
		Certificates: []tls.Certificate{cert},
		// The handshake refuses a client certificate that is not the
		// enrollment CA's, or expired more than renewGrace ago;
		// requireDevice then checks it again, strictly, per endpoint.
		ClientAuth: tls.RequestClientCert,
		ClientCAs:  s.keys.caPool(),
		VerifyConnection: func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return nil
			}
			_, err := s.verifyDeviceCert(cs.PeerCertificates, renewGrace)
			return err
		},
		MinVersion: tls.VersionTLS12,
		// TLS 1.2 only with forward secrecy and AEAD (FAPI 2.0 §5.2.1).
		CipherSuites: []uint16{
			tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
			tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
			tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256, tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
		},
	}, nil
}

// serverHosts are the names and addresses the issued server certificate is
// for: the host of PublicURL, the host of Listen when it is one, and the
// loopback names.
func (s *Server) serverHosts() []string {
	hosts := []string{"localhost", "127.0.0.1", "::1"}
	if u, err := url.Parse(s.opts.PublicURL); err == nil && u.Hostname() != "" {
		hosts = append(hosts, u.Hostname())
	}
	if h, _, err := net.SplitHostPort(s.opts.Listen); err == nil && h != "" {
		if ip := net.ParseIP(h); ip == nil || !ip.IsUnspecified() {
			hosts = append(hosts, h)
		}
	}
	return hosts
}

// issueServerCert makes a server certificate for hosts signed by the
// enrollment CA, sent with the CA so that a technician's tool can match
// the CA's fingerprint at enrollment.
func (k *keys) issueServerCert(hosts []string, rnd io.Reader, now time.Time) (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rnd)
	if err != nil {
		return tls.Certificate{}, err
	}
	serial, err := randomSerial(rnd)
	if err != nil {
		return tls.Certificate{}, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: hosts[len(hosts)-1], Organization: []string{"govkiosk"}},
		NotBefore:    now.Add(-5 * time.Minute),
		NotAfter:     now.Add(serverCertTTL),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	seen := map[string]bool{}
	for _, h := range hosts {
		if seen[h] {
			continue
		}
		seen[h] = true
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rnd, tmpl, k.caCert, &key.PublicKey, k.caKey)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der, k.caCert.Raw}, PrivateKey: key}, nil
}

type deviceKioskKey struct{}

// renewGrace is how long after its notAfter a device certificate is still
// taken to renew it (PathRenew only). A kiosk offline for longer is
// enrolled again with a token that replaces it, which keeps its id.
const renewGrace = 90 * 24 * time.Hour

var errCertExpired = errors.New("device certificate expired")

// caPool is the enrollment CA as the only root.
func (k *keys) caPool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(k.caCert)
	return p
}

// verifyDeviceCert checks that certs (leaf first) chain to the enrollment
// CA for client authentication on the portal's clock. A leaf that expired
// at most grace ago is checked as of its last valid instant; one expired
// longer ago gives errCertExpired.
func (s *Server) verifyDeviceCert(certs []*x509.Certificate, grace time.Duration) (*x509.Certificate, error) {
	if len(certs) == 0 {
		return nil, errors.New("no device certificate")
	}
	leaf := certs[0]
	at := s.now()
	if at.After(leaf.NotAfter) {
		if at.Sub(leaf.NotAfter) > grace {
			return nil, fmt.Errorf("%w on %s", errCertExpired, leaf.NotAfter.UTC().Format(time.RFC3339))
		}
		at = leaf.NotAfter
	}
	inter := x509.NewCertPool()
	for _, c := range certs[1:] {
		inter.AddCert(c)
	}
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: s.keys.caPool(), Intermediates: inter, CurrentTime: at,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		return nil, err
	}
	return leaf, nil
}

// requireDevice guards a kiosk API endpoint: over TLS the request must come
// with the device certificate of an enrolled kiosk (issued by the
// enrollment CA, unexpired, still for that kiosk's enrolled key, the kiosk
// neither revoked nor retired: else 403 api.CodeKioskRevoked), and a
// Kiosk-Id header must name that kiosk. The kiosk is kept in the request's
// context for checkDevice.
func (s *Server) requireDevice(next http.HandlerFunc) http.HandlerFunc {
	return s.requireDeviceWithin(0, next)
}

// requireDeviceWithin is requireDevice taking a certificate that expired
// at most grace ago.
func (s *Server) requireDeviceWithin(grace time.Duration, next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.TLS == nil { // plain http: Start serves it only on loopback, for demos and tests
			next(w, r)
			return
		}
		if len(r.TLS.PeerCertificates) == 0 {
			writeError(w, http.StatusUnauthorized, CodeDeviceCertRequired, "the kiosk API needs the kiosk's device certificate (mutual TLS)")
			return
		}
		cert, err := s.verifyDeviceCert(r.TLS.PeerCertificates, grace)
		if errors.Is(err, errCertExpired) {
			s.log.Warn("expired device certificate", "kiosk", r.TLS.PeerCertificates[0].Subject.CommonName, "path", r.URL.Path)
			writeError(w, http.StatusUnauthorized, CodeDeviceCertRequired, "the device certificate has expired: the kiosk renews it at "+api.PathRenew+
				fmt.Sprintf(" within %d days of its end, else a technician enrolls it again with a token that replaces it", int(renewGrace.Hours()/24)))
			return
		}
		if err != nil {
			s.log.Warn("device certificate refused", "path", r.URL.Path, "err", err)
			writeError(w, http.StatusUnauthorized, CodeDeviceCertRequired, "the device certificate is not one the enrollment CA issued")
			return
		}
		kioskID := cert.Subject.CommonName
		k, err := s.store.kiosk(r.Context(), kioskID)
		if err != nil {
			s.internal(w, r, err)
			return
		}
		pub, perr := parsePublicKeyPEM(k.KeyPEM)
		if k.KeyPEM == "" || perr != nil || !pub.Equal(cert.PublicKey) {
			s.log.Warn("device certificate of no enrolled key", "kiosk", kioskID, "path", r.URL.Path)
			writeError(w, http.StatusUnauthorized, CodeDeviceCertRequired, "the device certificate is not for an enrolled kiosk's key")
			return
		}
		if k.State != kioskActive {
			s.refuseRevoked(w, r, kioskID)
			return
		}
		r = r.WithContext(context.WithValue(r.Context(), deviceKioskKey{}, kioskID))
		if h := r.Header.Get(api.HeaderKioskID); h != "" && !s.checkDevice(w, r, h) {
			return
		}
		next(w, r)
	}
}

// checkDevice refuses (answering itself) a request about kioskID that came
// with another kiosk's device certificate: a kiosk speaks only for itself.
func (s *Server) checkDevice(w http.ResponseWriter, r *http.Request, kioskID string) bool {
	dev, ok := r.Context().Value(deviceKioskKey{}).(string)
	if !ok || dev == kioskID {
		return true
	}
	s.log.Warn("kiosk speaks for another", "certificate", dev, "kiosk", kioskID, "path", r.URL.Path)
	writeError(w, http.StatusForbidden, CodeKioskMismatch, "the device certificate is another kiosk's")
	return false
}

// errPlainHTTP refuses plain http off loopback.
var errPlainHTTP = errors.New("portal: PlainHTTP serves only a loopback Listen address (demos and tests)")

// checkPlainHTTP refuses PlainHTTP with a Listen address other kiosks could reach.
func checkPlainHTTP(listen string) error {
	host, _, err := net.SplitHostPort(listen)
	if err != nil {
		return fmt.Errorf("portal: listen %q: %w", listen, err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return errPlainHTTP
	}
	return nil
}
