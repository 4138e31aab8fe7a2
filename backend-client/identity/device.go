package identity

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"
)

// Device authorization grant (RFC 8628) limits.
const (
	deviceDefaultInterval = 5 * time.Second // §3.2: when the provider names none
	deviceSlowDownStep    = 5 * time.Second // §3.5: added on every slow_down
	deviceMaxInterval     = time.Minute     // bound on a provider's interval or our back-off
	deviceMaxExpiresIn    = 30 * time.Minute
	deviceMaxNetFailures  = 3 // consecutive transport failures before giving up
)

const deviceGrant = "urn:ietf:params:oauth:grant-type:device_code"

// DeviceLogin is one citizen's device authorization grant in progress. The
// kiosk draws VerificationURIComplete as a QR (and shows UserCode with
// VerificationURI for a phone that cannot scan), then calls PollDevice.
// It holds the user code: it redacts itself in logs.
type DeviceLogin struct {
	UserCode                string
	VerificationURI         string
	VerificationURIComplete string // VerificationURI when the provider gives none
	Interval                time.Duration
	ExpiresIn               time.Duration
	ExpiresAt               time.Time

	deviceCode, nonce string
	started           time.Time
	used              atomic.Bool
}

// LogValue redacts the device login: the user code and device code are
// credentials of a login in progress.
func (d *DeviceLogin) LogValue() slog.Value {
	if d == nil {
		return slog.StringValue("<nil>")
	}
	return slog.GroupValue(slog.Duration("interval", d.Interval), slog.Time("expiresAt", d.ExpiresAt))
}

// StartDevice begins a device authorization grant (RFC 8628 §3.1) with a
// fresh nonce. It fails with ErrNotSupported when the provider's discovery
// document has no device_authorization_endpoint.
func (c *Client) StartDevice(ctx context.Context, lang string) (*DeviceLogin, error) {
	prov, err := c.discover(ctx)
	if err != nil {
		return nil, err
	}
	if prov.md.DeviceURL == "" {
		return nil, fmt.Errorf("%w: device authorization grant", ErrNotSupported)
	}
	r, err := c.random(1)
	if err != nil {
		return nil, err
	}
	form := url.Values{"scope": {strings.Join(scopes, " ")}, "nonce": {r[0]}}
	if lang != "" {
		form.Set("ui_locales", lang)
	}
	var out struct {
		DeviceCode              string `json:"device_code"`
		UserCode                string `json:"user_code"`
		VerificationURI         string `json:"verification_uri"`
		VerificationURIComplete string `json:"verification_uri_complete"`
		ExpiresIn               int64  `json:"expires_in"`
		Interval                int64  `json:"interval"`
	}
	status, e, err := c.post(ctx, prov, prov.md.DeviceURL, form, &out)
	if err != nil {
		return nil, err
	}
	if status != http.StatusOK {
		return nil, oauthError("device authorization endpoint", status, e)
	}
	if out.DeviceCode == "" || out.UserCode == "" || out.VerificationURI == "" || out.ExpiresIn <= 0 {
		return nil, fmt.Errorf("%w: device authorization response incomplete", ErrProviderDown)
	}
	d := &DeviceLogin{
		UserCode:                out.UserCode,
		VerificationURI:         out.VerificationURI,
		VerificationURIComplete: out.VerificationURIComplete,
		Interval:                deviceDefaultInterval,
		ExpiresIn:               min(time.Duration(out.ExpiresIn)*time.Second, deviceMaxExpiresIn),
		deviceCode:              out.DeviceCode,
		nonce:                   r[0],
		started:                 c.now(),
	}
	if d.VerificationURIComplete == "" {
		d.VerificationURIComplete = d.VerificationURI
	}
	if out.Interval > 0 {
		d.Interval = min(time.Duration(out.Interval)*time.Second, deviceMaxInterval)
	}
	d.ExpiresAt = c.now().Add(d.ExpiresIn)
	c.log.Info("identity device login begun", "device", d, "lang", lang)
	return d, nil
}

// PollDevice polls the token endpoint for d (RFC 8628 §3.4–3.5): waiting
// Interval before every request, 5 s more after every slow_down, backing
// off on transport failures, until the citizen approves (the ID token is
// verified as in Complete), declines (ErrDenied), the code expires
// (ErrExpired, also when ExpiresAt passes here) or ctx ends (ctx.Err()).
// d can be polled once.
func (c *Client) PollDevice(ctx context.Context, d *DeviceLogin) (*Identity, error) {
	if d == nil || !d.used.CompareAndSwap(false, true) {
		return nil, fmt.Errorf("%w: device login already polled or never begun", ErrStateMismatch)
	}
	prov, err := c.discover(ctx)
	if err != nil {
		return nil, err
	}
	interval, failures := d.Interval, 0
	for {
		if !c.now().Add(interval).Before(d.ExpiresAt) {
			// The next poll would come too late: the code is dead by then.
			return nil, fmt.Errorf("%w: device code expired", ErrExpired)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-c.after(interval):
		}
		tr, err := c.token(ctx, prov, url.Values{"grant_type": {deviceGrant}, "device_code": {d.deviceCode}})
		var ge *grantError
		switch {
		case err == nil:
			id, err := c.verify(ctx, prov, tr, tokenCheck{nonce: d.nonce, nonceOptional: true, issuedAfter: d.started, authAfter: d.started})
			if err != nil {
				return nil, err
			}
			c.log.Info("identity device login completed", "identity", id)
			return id, nil
		case ctx.Err() != nil:
			return nil, ctx.Err()
		case errors.Is(err, ErrProviderDown):
			// §3.5: a connection timeout means slow down, exponentially.
			// Deliberately not a backoff.ExponentialBackOff: this is the
			// one polling interval that slow_down also raises by a step,
			// and backoff/v5 cannot go on from an interval it did not
			// compute (its current interval is private, Reset goes back
			// to InitialInterval). No jitter: the provider set the pace.
			failures++
			if failures >= deviceMaxNetFailures {
				return nil, err
			}
			interval = min(2*interval, deviceMaxInterval)
			c.log.Warn("identity device poll failed; backing off", "interval", interval, "err", err)
		case errors.As(err, &ge):
			failures = 0
			switch ge.code {
			case "authorization_pending":
			case "slow_down":
				interval = min(interval+deviceSlowDownStep, deviceMaxInterval)
				c.log.Info("identity device poll slowed down", "interval", interval)
			case "access_denied":
				return nil, fmt.Errorf("%w: declined on the phone", ErrDenied)
			case "expired_token":
				return nil, fmt.Errorf("%w: device code expired", ErrExpired)
			default:
				return nil, err
			}
		default:
			return nil, err
		}
	}
}
