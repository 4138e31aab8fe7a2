package mosquitto_test

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"

	"govkiosk/fleet/fleettest"
	"govkiosk/fleet/mosquitto"
	"govkiosk/fleet/pki"
)

func revocationList(t *testing.T, ca *pki.CA, n int64, serials ...*big.Int) []byte {
	t.Helper()
	tmpl := &x509.RevocationList{Number: big.NewInt(n), ThisUpdate: time.Now().Add(-time.Minute), NextUpdate: time.Now().Add(time.Hour)}
	for _, s := range serials {
		tmpl.RevokedCertificateEntries = append(tmpl.RevokedCertificateEntries, x509.RevocationListEntry{SerialNumber: s, RevocationTime: time.Now()})
	}
	der, err := x509.CreateRevocationList(rand.Reader, tmpl, ca.Cert, ca.Key)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// connect tries an MQTT 5 session as the kiosk whose certificate is cert:
// nil once the broker answered CONNACK success.
func connect(b *fleettest.Broker, cert tls.Certificate) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	d := tls.Dialer{Config: &tls.Config{Certificates: []tls.Certificate{cert}, RootCAs: b.CA.Pool(), MinVersion: tls.VersionTLS12}}
	conn, err := d.DialContext(ctx, "tcp", b.URL.Host)
	if err != nil {
		return fmt.Errorf("TLS: %w", err)
	}
	c := paho.NewClient(paho.ClientConfig{Conn: conn, OnClientError: func(error) {}})
	defer c.Disconnect(&paho.Disconnect{})
	ack, err := c.Connect(ctx, &paho.Connect{ClientID: cert.Leaf.Subject.CommonName, KeepAlive: 30, CleanStart: true})
	if err != nil {
		return err
	}
	if ack.ReasonCode != 0 {
		return fmt.Errorf("CONNACK 0x%02X", ack.ReasonCode)
	}
	return nil
}

// Debian's mosquitto with the shipped configuration refuses a kiosk whose
// certificate its crlfile names, lets a healthy one in, and takes a new
// list for new connections on SIGHUP.
func TestMosquittoRefusesRevokedKiosk(t *testing.T) {
	t.Parallel()
	ca, err := pki.NewCA("enrollment CA", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	cert := func(cn string) tls.Certificate {
		c, err := ca.Client(cn, nil)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	stolen, later, healthy := cert("k-stolen"), cert("k-later"), cert("k-healthy")
	b := fleettest.StartWith(t, fleettest.Mosquitto, fleettest.Opts{CA: ca, CRL: revocationList(t, ca, 1, stolen.Leaf.SerialNumber)})
	if err := connect(b, healthy); err != nil {
		t.Fatalf("the healthy kiosk: %v, want connected", err)
	}
	if err := connect(b, stolen); err == nil {
		t.Fatal("the revoked kiosk connected to mosquitto")
	}
	if err := connect(b, later); err != nil {
		t.Fatalf("k-later, not yet revoked: %v, want connected", err)
	}
	// The fleet service writes a new list; the path unit's reload.
	if err := os.WriteFile(b.CRLFile, pem.EncodeToMemory(&pem.Block{Type: "X509 CRL",
		Bytes: revocationList(t, ca, 2, stolen.Leaf.SerialNumber, later.Leaf.SerialNumber)}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := b.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	fleettest.WaitFor(t, 10*time.Second, "mosquitto to refuse k-later after the list naming it and a SIGHUP", func() bool {
		return connect(b, later) != nil
	})
	if err := connect(b, healthy); err != nil {
		t.Errorf("the healthy kiosk after the new list: %v, want connected", err)
	}
}

// The shipped configuration points mosquitto at the file the fleet service
// writes by default.
func TestConfNamesFleetCRLFile(t *testing.T) {
	if !strings.Contains(mosquitto.Conf, "\ncrlfile /var/lib/govkiosk-fleet/crl.pem\n") {
		t.Error("mosquitto.conf has no crlfile at the fleet service's default --crl-file")
	}
}
