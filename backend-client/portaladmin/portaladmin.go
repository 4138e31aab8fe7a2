// Package portaladmin is a small client of the portal's admin API for the
// device identity lifecycle, as the fleet console uses it: issue an
// enrollment code for an office, revoke or retire a kiosk, read the
// enrollment CA's revocation list. It authenticates with the portal's
// admin token (Authorization: Bearer), read from a file so it never shows
// in a process list. Every error from the portal carries its api.Error
// (code and message) as an *Error.
package portaladmin

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"govkiosk/backend-client/api"
	"govkiosk/backend-client/fleetwire"
)

// Error is the portal's refusal: its HTTP status and api.Error.
type Error struct {
	Status int
	Portal api.Error
}

func (e *Error) Error() string {
	switch {
	case e.Portal.Message == "":
		return fmt.Sprintf("portal: %d %s", e.Status, http.StatusText(e.Status))
	case e.Portal.Code == "":
		return "portal: " + e.Portal.Message
	}
	return fmt.Sprintf("portal: %s (%s)", e.Portal.Message, e.Portal.Code)
}

// PortalMessage is the portal's message, for staff to read.
func (e *Error) PortalMessage() string {
	if e.Portal.Message == "" {
		return fmt.Sprintf("%d %s", e.Status, http.StatusText(e.Status))
	}
	return e.Portal.Message
}

// ErrBadKioskID is returned for a kiosk id that cannot be one.
var ErrBadKioskID = errors.New("portaladmin: not a kiosk id")

// Client talks to one portal.
type Client struct {
	base  *url.URL
	token string
	http  *http.Client
}

// New returns a client of the portal at baseURL (https://portal.example)
// with the admin token. hc nil: a client with a 30 s timeout.
func New(baseURL, token string, hc *http.Client) (*Client, error) {
	u, err := url.Parse(strings.TrimSuffix(baseURL, "/"))
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("portaladmin: portal %q: want https://host[:port]", baseURL)
	}
	if token == "" {
		return nil, errors.New("portaladmin: no admin token")
	}
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Second}
	}
	return &Client{base: u, token: token, http: hc}, nil
}

// ReadToken reads an admin token file: its first line, trimmed.
func ReadToken(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	tok, _, _ := strings.Cut(string(b), "\n")
	tok = strings.TrimSpace(tok)
	if tok == "" {
		return "", fmt.Errorf("%s: no admin token in it", path)
	}
	return tok, nil
}

// URL is the portal's address plus path.
func (c *Client) URL(path string) string { return c.base.String() + path }

// CreateEnrollToken asks for an enrollment code.
func (c *Client) CreateEnrollToken(ctx context.Context, req api.EnrollTokenRequest) (api.EnrollTokenResponse, error) {
	var out api.EnrollTokenResponse
	err := c.do(ctx, http.MethodPost, api.PathAdminEnrollTokens, req, &out)
	return out, err
}

// Revoke revokes a kiosk (stolen, lost).
func (c *Client) Revoke(ctx context.Context, kioskID string, req api.RevokeRequest) error {
	if !fleetwire.ValidKioskID(kioskID) {
		return fmt.Errorf("%w: %q", ErrBadKioskID, kioskID)
	}
	return c.do(ctx, http.MethodPost, api.PathAdminKiosks+url.PathEscape(kioskID)+"/revoke", req, nil)
}

// Retire retires a kiosk (decommissioned from the fleet).
func (c *Client) Retire(ctx context.Context, kioskID string, req api.RevokeRequest) error {
	if !fleetwire.ValidKioskID(kioskID) {
		return fmt.Errorf("%w: %q", ErrBadKioskID, kioskID)
	}
	return c.do(ctx, http.MethodPost, api.PathAdminKiosks+url.PathEscape(kioskID)+"/retire", req, nil)
}

// CRL is the enrollment CA's revocation list (DER), as the portal serves
// it; verify it before use (fleet/crl does).
func (c *Client) CRL(ctx context.Context) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.URL(api.PathCRL), nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/pkix-crl")
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("portal: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, portalError(resp)
	}
	return io.ReadAll(io.LimitReader(resp.Body, 16<<20))
}

func (c *Client) do(ctx context.Context, method, path string, in, out any) error {
	body, err := json.Marshal(in)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, method, c.URL(path), bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Authorization", "Bearer "+c.token)
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("portal: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return portalError(resp)
	}
	if out == nil {
		io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
		return nil
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(out); err != nil {
		return fmt.Errorf("portal: %s %s: answer: %w", method, path, err)
	}
	return nil
}

// portalError reads the portal's api.Error from a refusal.
func portalError(resp *http.Response) error {
	e := &Error{Status: resp.StatusCode}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if json.Unmarshal(b, &e.Portal) != nil || e.Portal.Message == "" {
		e.Portal = api.Error{Message: strings.TrimSpace(string(b))}
		if len(e.Portal.Message) > 200 {
			e.Portal.Message = e.Portal.Message[:200]
		}
	}
	return e
}
