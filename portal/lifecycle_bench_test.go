package portal

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"fmt"
	"net/http"
	"testing"
	"time"
)

// BenchmarkRevocationList signs the CRL of a fleet with n revoked kiosks
// (one certificate each, as after a renewal or two: the list names the
// unexpired ones) and reports its size: what the fleet's broker fetches
// each half hour and after each revocation.
func BenchmarkRevocationList(b *testing.B) {
	for _, n := range []int{10, 1000, 10000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			s, err := New(Options{PublicURL: "http://portal.test", DataDir: b.TempDir(), Identity: nopIdentity{}})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			ctx := context.Background()
			now := time.Now()
			key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
			tx, err := s.store.db.BeginTx(ctx, nil)
			if err != nil {
				b.Fatal(err)
			}
			for i := range n {
				id := fmt.Sprintf("KIOSK-%05d", i+1)
				c, err := s.keys.issueKioskCert(id, "QN-TK", &key.PublicKey, rand.Reader, now, s.opts.DeviceCertTTL)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := tx.Exec(`INSERT INTO kiosks(seq, id, public_key_pem, cert_pem, hostname, enrolled_at, office, state, state_at)
					VALUES(?, ?, '', ?, '', ?, 'QN-TK', 'revoked', ?)`, i+1, id, c.PEM, fmtTime(now), fmtTime(now)); err != nil {
					b.Fatal(err)
				}
				if err := insertCert(ctx, tx, id, c, now); err != nil {
					b.Fatal(err)
				}
			}
			if err := tx.Commit(); err != nil {
				b.Fatal(err)
			}
			var size int
			b.ResetTimer()
			for b.Loop() {
				s.crlChanged() // sign afresh each time
				der, err := s.revocationList(ctx)
				if err != nil {
					b.Fatal(err)
				}
				size = len(der)
			}
			b.StopTimer()
			crl, err := x509.ParseRevocationList(s.crl.der)
			if err != nil || len(crl.RevokedCertificateEntries) != n {
				b.Fatalf("CRL of %d entries: %v", n, err)
			}
			b.ReportMetric(float64(size), "bytes")
			b.ReportMetric(float64(size)/float64(n), "bytes/cert")
		})
	}
}

// nopIdentity is a national-ID provider that knows nobody.
type nopIdentity struct{}

func (nopIdentity) Handler() http.Handler                        { return http.NotFoundHandler() }
func (nopIdentity) CitizenForAccessToken(string) (Citizen, bool) { return Citizen{}, false }
func (nopIdentity) Deliver(string, string)                       {}
