package crl_test

import (
	"crypto/rand"
	"crypto/x509"
	"math/big"
	"testing"
	"time"

	"govkiosk/fleet/crl"
	"govkiosk/fleet/pki"
)

// A list of 10,000 revoked certificates (every kiosk of a large fleet
// replaced once): what taking it in costs every --crl-interval, and what
// a connecting kiosk's check costs.
func benchList(b *testing.B, n int) (*pki.CA, []byte) {
	ca := newCA(b, "kiosk CA")
	tmpl := &x509.RevocationList{Number: big.NewInt(1), ThisUpdate: time.Now(), NextUpdate: time.Now().Add(time.Hour)}
	for i := range n {
		tmpl.RevokedCertificateEntries = append(tmpl.RevokedCertificateEntries,
			x509.RevocationListEntry{SerialNumber: new(big.Int).Lsh(big.NewInt(int64(i+1)), 100), RevocationTime: time.Now()})
	}
	der, err := x509.CreateRevocationList(rand.Reader, tmpl, ca.Cert, ca.Key)
	if err != nil {
		b.Fatal(err)
	}
	return ca, der
}

func BenchmarkAccept10k(b *testing.B) {
	ca, der := benchList(b, 10000)
	b.SetBytes(int64(len(der)))
	b.ReportAllocs()
	for b.Loop() {
		l, err := crl.New(crl.Options{CA: ca.Cert})
		if err != nil {
			b.Fatal(err)
		}
		if err := l.Accept(der); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRevoked10k(b *testing.B) {
	ca, der := benchList(b, 10000)
	l, err := crl.New(crl.Options{CA: ca.Cert})
	if err != nil {
		b.Fatal(err)
	}
	if err := l.Accept(der); err != nil {
		b.Fatal(err)
	}
	c, err := ca.Client("k-1", nil)
	if err != nil {
		b.Fatal(err)
	}
	if l.Len() != 10000 {
		b.Fatalf("list holds %d, want 10000", l.Len())
	}
	b.ReportAllocs()
	for b.Loop() {
		if l.Revoked(c.Leaf) {
			b.Fatal("a healthy certificate counted as revoked")
		}
	}
}

// The list held, fetched again (most fetches).
func BenchmarkAcceptSame10k(b *testing.B) {
	ca, der := benchList(b, 10000)
	l, err := crl.New(crl.Options{CA: ca.Cert})
	if err != nil {
		b.Fatal(err)
	}
	if err := l.Accept(der); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := l.Accept(der); err != nil {
			b.Fatal(err)
		}
	}
}
