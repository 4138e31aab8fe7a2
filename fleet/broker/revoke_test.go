package broker_test

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"math/big"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"

	"govkiosk/backend-client/fleetwire"
	"govkiosk/fleet/broker"
	"govkiosk/fleet/crl"
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

type kioskConn struct {
	c            *paho.Client
	disconnected chan *paho.Disconnect
}

// connect opens an MQTT 5 session as the kiosk whose certificate is cert,
// over real TLS, and returns the CONNACK's reason code.
func connect(t *testing.T, b *broker.Broker, ca *pki.CA, cert tls.Certificate) (*kioskConn, byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	d := tls.Dialer{Config: &tls.Config{Certificates: []tls.Certificate{cert}, RootCAs: ca.Pool(), MinVersion: tls.VersionTLS12}}
	conn, err := d.DialContext(ctx, "tcp", b.Addr().String())
	if err != nil {
		t.Fatalf("TLS to the broker: %v", err)
	}
	k := &kioskConn{disconnected: make(chan *paho.Disconnect, 1)}
	k.c = paho.NewClient(paho.ClientConfig{Conn: conn,
		OnServerDisconnect: func(d *paho.Disconnect) { k.disconnected <- d },
		OnClientError:      func(error) {},
	})
	id := cert.Leaf.Subject.CommonName
	ca2, err := k.c.Connect(ctx, &paho.Connect{ClientID: id, KeepAlive: 30, CleanStart: true})
	t.Cleanup(func() { k.c.Disconnect(&paho.Disconnect{}) })
	if ca2 == nil {
		t.Fatalf("%s: no CONNACK from the broker: %v", id, err)
	}
	return k, ca2.ReasonCode
}

func TestRevokedKioskRefusedAndDropped(t *testing.T) {
	t.Parallel()
	ca, err := pki.NewCA("enrollment CA", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	server, err := ca.Server("127.0.0.1")
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
	list, err := crl.New(crl.Options{CA: ca.Cert})
	if err != nil {
		t.Fatal(err)
	}
	if err := list.Accept(revocationList(t, ca, 1, stolen.Leaf.SerialNumber)); err != nil {
		t.Fatal(err)
	}
	b, err := broker.Start(broker.Options{Listen: "127.0.0.1:0", Revoked: list,
		TLS: &tls.Config{Certificates: []tls.Certificate{server}, ClientCAs: ca.Pool()}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	list.OnUpdate(func() { b.DisconnectRevoked() })

	if _, code := connect(t, b, ca, stolen); code != 0x8A {
		t.Errorf("the revoked kiosk's CONNACK: 0x%02X, want 0x8A banned", code)
	}
	kl, code := connect(t, b, ca, later)
	if code != 0 {
		t.Fatalf("k-later, not yet revoked: CONNACK 0x%02X, want 0 success", code)
	}
	kh, code := connect(t, b, ca, healthy)
	if code != 0 {
		t.Fatalf("the healthy kiosk: CONNACK 0x%02X, want 0 success", code)
	}

	// A new list names k-later: it is dropped at once, the healthy kiosk stays.
	if err := list.Accept(revocationList(t, ca, 2, stolen.Leaf.SerialNumber, later.Leaf.SerialNumber)); err != nil {
		t.Fatal(err)
	}
	select {
	case d := <-kl.disconnected:
		if d.ReasonCode != 0x87 {
			t.Errorf("k-later's DISCONNECT: 0x%02X, want 0x87 not authorized", d.ReasonCode)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("waited 10s for the broker to disconnect k-later after the list naming it took effect")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ev, _ := fleetwire.Marshal(fleetwire.Event{Seq: 1, At: time.Now().Unix(), Kind: "door-open"})
	if _, err := kh.c.Publish(ctx, &paho.Publish{Topic: fleetwire.Topic("k-healthy", fleetwire.KindEvent), QoS: 1, Payload: ev}); err != nil {
		t.Errorf("the healthy kiosk after the new list: publish: %v", err)
	}
	select {
	case <-kh.disconnected:
		t.Error("the healthy kiosk was disconnected too")
	default:
	}
	if _, code := connect(t, b, ca, later); code != 0x8A {
		t.Errorf("k-later reconnecting: CONNACK 0x%02X, want 0x8A banned", code)
	}
}
