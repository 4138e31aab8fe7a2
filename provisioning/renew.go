package provisioning

import (
	"context"
	"crypto/ecdsa"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/cenkalti/backoff/v5"

	backendclient "govkiosk/backend-client"
	"govkiosk/backend-client/api"
	"govkiosk/kiosk/atomicfile"
)

// CertRenewer asks the portal for a new device certificate
// (backendclient.Client is the real one).
type CertRenewer interface {
	Renew(ctx context.Context, at time.Time) (api.RenewResponse, error)
}

// Defaults of Renewal.
const (
	DefaultRenewCheck    = 4 * time.Hour   // how often the certificate's age is looked at
	DefaultRenewRetry    = time.Minute     // first wait after a failed renewal
	DefaultRenewRetryMax = 2 * time.Hour   // longest wait between failed renewals
	renewTimeout         = 2 * time.Minute // bound on one renewal
)

// RenewalOptions configure a Renewal.
type RenewalOptions struct {
	DataDir string       // kiosk-cert.pem and portal-ca.pem
	Cert    *DeviceCert  // what the kiosk's TLS presents; swapped on renewal
	Portal  CertRenewer  //
	Log     *slog.Logger //
	// Revoked is called once when the portal refuses the kiosk as revoked
	// or retired (api.CodeKioskRevoked); the loop then stops.
	Revoked func()
	// Renewed is called after each renewal with the new certificate's end.
	Renewed func(notAfter time.Time)

	Check    time.Duration                        // [DefaultRenewCheck]
	Retry    time.Duration                        // [DefaultRenewRetry]
	RetryMax time.Duration                        // [DefaultRenewRetryMax]
	Now      func() time.Time                     // [time.Now]
	After    func(time.Duration) <-chan time.Time // timers [time.After]
}

// Renewal keeps the device certificate fresh: at start and every Check it
// asks api.RenewWhenLeft of the certificate held, and when it is time,
// renews it (RenewOnce). A failed renewal is tried again after a jittered
// wait that doubles from Retry up to RetryMax, so a fleet coming back
// online does not hammer the portal; a revoked kiosk stops the loop.
type Renewal struct{ o RenewalOptions }

// NewRenewal fills o's defaults.
func NewRenewal(o RenewalOptions) *Renewal {
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Check <= 0 {
		o.Check = DefaultRenewCheck
	}
	if o.Retry <= 0 {
		o.Retry = DefaultRenewRetry
	}
	if o.RetryMax <= 0 {
		o.RetryMax = DefaultRenewRetryMax
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.After == nil {
		o.After = time.After
	}
	return &Renewal{o: o}
}

// Run renews until ctx ends (nil) or the kiosk is revoked (nil, after
// Revoked was called).
func (r *Renewal) Run(ctx context.Context) error {
	retry := backoff.ExponentialBackOff{InitialInterval: r.o.Retry, MaxInterval: r.o.RetryMax, Multiplier: 2, RandomizationFactor: 0.3}
	retry.Reset()
	for {
		wait := r.o.Check
		leaf := r.o.Cert.Leaf()
		if api.RenewWhenLeft(leaf.NotBefore, leaf.NotAfter, r.o.Now()) {
			err := r.RenewOnce(ctx)
			switch {
			case ctx.Err() != nil:
				return nil
			case errors.Is(err, backendclient.ErrKioskRevoked):
				r.o.Log.Error("the portal refuses this kiosk as revoked or retired: out of service", "err", err)
				if r.o.Revoked != nil {
					r.o.Revoked()
				}
				return nil
			case err != nil:
				wait = min(retry.NextBackOff(), r.o.Check)
				r.o.Log.Warn("device certificate renewal failed", "err", err, "retry_in", wait, "not_after", leaf.NotAfter)
			default:
				retry.Reset()
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-r.o.After(wait):
		}
	}
}

// RenewOnce asks the portal for a new certificate, checks it (valid now,
// from the pinned portal CA, for the device key), writes kiosk-cert.pem
// atomically and swaps it into the kiosk's TLS.
func (r *Renewal) RenewOnce(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, renewTimeout)
	defer cancel()
	resp, err := r.o.Portal.Renew(ctx, r.o.Now())
	if err != nil {
		return fmt.Errorf("renew: %w", err)
	}
	caPEM, err := os.ReadFile(filepath.Join(r.o.DataDir, PortalCAFile))
	if err != nil {
		return fmt.Errorf("renew: portal CA: %w", err)
	}
	pub, ok := r.o.Cert.key.Public().(*ecdsa.PublicKey)
	if !ok {
		return errors.New("renew: the device key is not ECDSA")
	}
	if err := VerifyCertificate(resp.CertificatePEM, string(caPEM), pub, r.o.Now()); err != nil {
		return fmt.Errorf("renew: the portal's new certificate is refused: %w", err)
	}
	if err := atomicfile.Write(filepath.Join(r.o.DataDir, CertFile), []byte(resp.CertificatePEM), 0o644); err != nil {
		return fmt.Errorf("renew: %w", err)
	}
	if err := r.o.Cert.set([]byte(resp.CertificatePEM)); err != nil {
		return fmt.Errorf("renew: %w", err)
	}
	na := r.o.Cert.Leaf().NotAfter
	r.o.Log.Info("device certificate renewed", "not_after", na)
	if r.o.Renewed != nil {
		r.o.Renewed(na)
	}
	return nil
}
