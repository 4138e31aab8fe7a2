package provisioning

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"filippo.io/age"

	"govkiosk/backend-client/api"
	"govkiosk/kiosk"
	"govkiosk/kiosk/atomicfile"
	"govkiosk/kiosk/config"
)

// Enroller asks the portal to enroll this kiosk. backendclient.Client is the
// real one.
type Enroller interface {
	Enroll(ctx context.Context, req api.EnrollRequest) (api.EnrollResponse, error)
}

// ProvisionOptions are what the technician gives at provisioning time.
type ProvisionOptions struct {
	DataDir   string // where keys, certificates and kiosk.json go; created 0700
	PortalURL string // base URL of the portal API
	Token     string // one-time enrollment token; never logged or stored
	// CAFingerprint is the fingerprint of the portal's enrollment CA
	// ("sha256:HEX", api.CAFingerprint) the technician got with the token.
	// The answer must carry that CA and be signed by it: the portal key
	// and age recipient every application is encrypted to cannot be
	// swapped on the way. Required unless AllowInsecureLoopback.
	CAFingerprint string
	// Office, when set, is the office the kiosk must be enrolled for (the
	// enrollment code names it): an answer for another office is refused
	// and nothing is written.
	Office string
	// AllowInsecureLoopback (demo and tests only) accepts a portal at a
	// plain-http loopback URL, without a CA fingerprint, and says so in
	// kiosk.json (allowInsecureLoopback); otherwise the portal URL must be
	// https.
	AllowInsecureLoopback bool
	Listen                string        // touch UI address (loopback); empty: Base.Listen or the default
	OpsListen             string        // /healthz and /metrics address; empty: Base.OpsListen or the default
	Base                  config.Config // device settings from the technician (printer, scanner, ...)

	Hostname string           // sent to the portal; empty: os.Hostname()
	Now      func() time.Time // clock for certificate validity; nil: time.Now
}

// Provision creates (or reuses) the device key, enrolls with the portal,
// checks the returned certificate against the returned CA and our key, the
// CA against o.CAFingerprint and the CA's signature over the answer, and
// stores portal-ca.pem, portal-key.pem, kiosk-cert.pem, portal-age.txt (the
// portal's age recipient, when the portal gives one) and kiosk.json in
// DataDir, each atomically, kiosk.json last. Nothing but the key is written
// unless the whole answer is valid.
func Provision(ctx context.Context, e Enroller, o ProvisionOptions) (config.Config, error) {
	if e == nil {
		return config.Config{}, errors.New("provision: no enroller")
	}
	if o.DataDir == "" || o.PortalURL == "" || o.Token == "" {
		return config.Config{}, errors.New("provision: data dir, portal URL and token are required")
	}
	var c config.Config
	c.AllowInsecureLoopback = o.AllowInsecureLoopback
	if err := c.CheckServerURL(o.PortalURL); err != nil {
		return config.Config{}, fmt.Errorf("provision: portal: %w", err)
	}
	fingerprint, err := caFingerprint(o)
	if err != nil {
		return config.Config{}, fmt.Errorf("provision: %w", err)
	}
	dataDir, err := filepath.Abs(o.DataDir)
	if err != nil {
		return config.Config{}, fmt.Errorf("provision: data dir: %w", err)
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return config.Config{}, fmt.Errorf("provision: create data dir: %w", err)
	}
	now := o.Now
	if now == nil {
		now = time.Now
	}
	host := o.Hostname
	if host == "" {
		host, _ = os.Hostname() // optional: the portal shows it to operators
	}

	key, err := LoadOrCreateKey(dataDir)
	if err != nil {
		return config.Config{}, fmt.Errorf("provision: %w", err)
	}
	pubPEM, err := PublicKeyPEM(&key.PublicKey)
	if err != nil {
		return config.Config{}, fmt.Errorf("provision: %w", err)
	}
	resp, err := e.Enroll(ctx, api.EnrollRequest{Token: o.Token, PublicKeyPEM: pubPEM, Hostname: host})
	if err != nil {
		return config.Config{}, fmt.Errorf("provision: enroll: %w", err)
	}
	if resp.KioskID == "" {
		return config.Config{}, errors.New("provision: portal returned no kiosk ID")
	}
	if o.Office != "" && resp.OfficeCode != o.Office {
		return config.Config{}, fmt.Errorf("provision: the code was for office %s but the portal enrolled this kiosk for %s: %w", o.Office, resp.OfficeCode, ErrWrongOffice)
	}
	if err := VerifyCertificate(resp.CertificatePEM, resp.PortalCAPEM, &key.PublicKey, now()); err != nil {
		return config.Config{}, fmt.Errorf("provision: %w", err)
	}
	if _, err := ParsePublicKeyPEM(resp.PortalKeyPEM); err != nil {
		return config.Config{}, fmt.Errorf("provision: portal key: %w", err)
	}
	ageRecipient := strings.TrimSpace(resp.PortalAgeRecipient)
	if _, err := age.ParseX25519Recipient(ageRecipient); err != nil {
		return config.Config{}, fmt.Errorf("provision: portal age recipient %q: %w", ageRecipient, err)
	}

	cfg := buildConfig(o, dataDir, resp)
	if err := cfg.Validate(); err != nil {
		return config.Config{}, fmt.Errorf("provision: resulting config is invalid: %w", err)
	}
	if err := VerifyEnrollment(resp, fingerprint); err != nil {
		return config.Config{}, fmt.Errorf("provision: %w", err)
	}
	js, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		return config.Config{}, fmt.Errorf("provision: encode config: %w", err)
	}
	type file struct {
		name string
		data []byte
		perm os.FileMode
	}
	files := []file{
		{PortalCAFile, []byte(resp.PortalCAPEM), 0o644},
		{PortalKeyFile, []byte(resp.PortalKeyPEM), 0o644},
		{CertFile, []byte(resp.CertificatePEM), 0o644},
	}
	if ageRecipient != "" {
		files = append(files, file{PortalAgeFile, []byte(ageRecipient + "\n"), 0o644})
	}
	files = append(files, file{ConfigFile, append(js, '\n'), 0o644}) // last: its presence means "provisioned"
	for _, f := range files {
		if err := atomicfile.Write(filepath.Join(dataDir, f.name), f.data, f.perm); err != nil {
			return config.Config{}, fmt.Errorf("provision: %w", err)
		}
	}
	return cfg, nil
}

func buildConfig(o ProvisionOptions, dataDir string, resp api.EnrollResponse) config.Config {
	cfg := o.Base
	cfg.Languages = slices.Clone(o.Base.Languages)
	cfg.KioskID = resp.KioskID
	cfg.OfficeCode = resp.OfficeCode
	cfg.OfficeName = nil
	if len(resp.OfficeName) > 0 {
		cfg.OfficeName = map[string]string(resp.OfficeName)
	}
	cfg.PortalURL = strings.TrimRight(o.PortalURL, "/")
	cfg.AllowInsecureLoopback = o.AllowInsecureLoopback && plainLoopback(cfg.PortalURL)
	cfg.DataDir = dataDir
	if o.Listen != "" {
		cfg.Listen = o.Listen
	}
	if o.OpsListen != "" {
		cfg.OpsListen = o.OpsListen
	}
	cfg.SetDefaults()
	if resp.OIDCIssuer != "" {
		cfg.OIDC.Issuer = resp.OIDCIssuer
	}
	if cfg.OIDC.Issuer == "" {
		cfg.OIDC.Issuer = cfg.PortalURL + api.PathIdP
	}
	if resp.OIDCClientID != "" {
		cfg.OIDC.ClientID = resp.OIDCClientID
	}
	if len(resp.OIDCACRValues) > 0 {
		cfg.OIDC.ACRValues = slices.Clone(resp.OIDCACRValues)
	}
	cfg.OIDC.RedirectURL = "http://" + cfg.Listen + "/auth/callback"
	// The fleet link the technician gave wins; else the one the portal
	// signed into the answer.
	if cfg.Fleet.Broker == "" {
		cfg.Fleet.Broker = resp.FleetBroker
	}
	if cfg.Fleet.TechKey == "" {
		cfg.Fleet.TechKey = resp.FleetTechKey
	}
	return cfg
}

// caFingerprint is the CA fingerprint of o, normalised; "" only when none
// is needed (AllowInsecureLoopback with a plain-http loopback portal).
func caFingerprint(o ProvisionOptions) (string, error) {
	if o.CAFingerprint == "" && o.AllowInsecureLoopback && plainLoopback(o.PortalURL) {
		return "", nil
	}
	if o.CAFingerprint == "" {
		return "", errors.New("the portal CA fingerprint (sha256:…, printed by the portal with the token) is required")
	}
	fp, ok := api.NormalizeFingerprint(o.CAFingerprint)
	if !ok {
		return "", fmt.Errorf("%q is not a CA fingerprint (sha256: and 64 hex digits, printed by the portal with the token)", o.CAFingerprint)
	}
	return fp, nil
}

// VerifyEnrollment checks that an enrollment answer comes from the portal
// whose enrollment CA has fingerprint (api.CAFingerprint; "" checks only
// that the answer is signed by the CA it carries): its CA is that one, and
// the CA signed the answer (api.EnrollResponse.SignedBytes), so neither the
// portal key nor the age recipient nor anything else in it was swapped on
// the way.
func VerifyEnrollment(resp api.EnrollResponse, fingerprint string) error {
	ca, err := parseCertPEM(resp.PortalCAPEM)
	if err != nil {
		return fmt.Errorf("portal CA: %w", err)
	}
	if got := api.CAFingerprint(ca.Raw); fingerprint != "" && got != fingerprint {
		return fmt.Errorf("the portal CA's fingerprint %s is not the %s given with the token: refusing the answer (a man in the middle?): %w", got, fingerprint, ErrCAMismatch)
	}
	pub, ok := ca.PublicKey.(*ecdsa.PublicKey)
	if !ok {
		return errors.New("portal CA: not an ECDSA key, cannot check the answer's signature")
	}
	sig, err := base64.StdEncoding.DecodeString(resp.Signature)
	if err != nil || len(sig) == 0 {
		return errors.New("the answer has no valid signature by the portal CA")
	}
	if !Verify(pub, resp.SignedBytes(), sig) {
		return errors.New("the answer's signature does not verify with the portal CA: it was changed on the way")
	}
	return nil
}

// plainLoopback reports whether u is a plain-http URL on this machine.
func plainLoopback(u string) bool {
	pu, err := url.Parse(u)
	return err == nil && pu.Scheme == "http" && kiosk.IsLoopback(pu.Hostname())
}

// VerifyCertificate checks that certPEM is valid at now, chains to the CA in
// caPEM, and certifies pub.
func VerifyCertificate(certPEM, caPEM string, pub *ecdsa.PublicKey, now time.Time) error {
	ca, err := parseCertPEM(caPEM)
	if err != nil {
		return fmt.Errorf("portal CA: %w", err)
	}
	if !ca.BasicConstraintsValid || !ca.IsCA {
		return errors.New("portal CA: certificate is not a CA")
	}
	cert, err := parseCertPEM(certPEM)
	if err != nil {
		return fmt.Errorf("kiosk certificate: %w", err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca)
	if _, err := cert.Verify(x509.VerifyOptions{
		Roots:       roots,
		CurrentTime: now,
		KeyUsages:   []x509.ExtKeyUsage{x509.ExtKeyUsageAny},
	}); err != nil {
		return fmt.Errorf("kiosk certificate does not chain to the portal CA: %w", err)
	}
	certPub, ok := cert.PublicKey.(*ecdsa.PublicKey)
	if !ok || !certPub.Equal(pub) {
		return errors.New("kiosk certificate is not for this device's key")
	}
	return nil
}

func parseCertPEM(s string) (*x509.Certificate, error) {
	blk, rest := pem.Decode([]byte(s))
	if blk == nil || blk.Type != "CERTIFICATE" {
		return nil, errors.New("no CERTIFICATE PEM block")
	}
	if len(bytes.TrimSpace(rest)) != 0 {
		return nil, errors.New("more than one PEM block")
	}
	c, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		return nil, err
	}
	return c, nil
}
