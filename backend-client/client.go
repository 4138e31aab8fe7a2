// Package backendclient is the kiosk's client of the portal API described by
// govkiosk/backend-client/api and openapi.yaml: catalogue (signature
// verified), enrollment, signed heartbeats, confirmation codes, idempotent
// submission and status look-up. Each call is one attempt; the caller loops
// with backoff and uses IsPermanent to stop.
package backendclient

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"net/url"
	"strconv"
	"strings"
	"time"

	"govkiosk/backend-client/api"
	"govkiosk/backend-client/tus"
)

// maxResponse bounds every response body the client reads.
const maxResponse = 8 << 20

// Client talks to one portal.
type Client struct {
	base    string
	hc      *http.Client
	kioskID string
	signer  crypto.Signer
	// portalKey verifies the portal's signed answers to submissions.
	portalKey *ecdsa.PublicKey

	tus         *tus.Client // resumable uploads
	backoff     tus.Backoff // finalise retries
	maxFailures int
}

// New returns a client for the portal at baseURL. hc nil means
// http.DefaultClient; signer (the kiosk's enrolled ECDSA P-256 key) may be
// nil before enrollment, and then heartbeats go unsigned.
func New(baseURL string, hc *http.Client, kioskID string, signer crypto.Signer) *Client {
	if hc == nil {
		hc = http.DefaultClient
	}
	c := &Client{base: strings.TrimRight(baseURL, "/"), hc: hc, kioskID: kioskID, signer: signer}
	c.SetUploadConfig(tus.Config{})
	return c
}

// SetPortalKey sets the portal's public key (provisioning.LoadPortalKey),
// which verifies its answers to Submit and Finalise. Without it no
// submission is ever reported delivered. Call it before using the client.
func (c *Client) SetPortalKey(key *ecdsa.PublicKey) { c.portalKey = key }

// APIError is a non-2xx answer of the portal. A 429 (too many
// confirmation codes or wrong codes) or 503 carries how long to wait, from
// its body or its Retry-After header, and a 429 why (an api.Reason*).
type APIError struct {
	StatusCode int
	Code       string
	Message    string
	Reason     string
	RetryAfter time.Duration
}

// RateLimited reports whether err is a 429 of the portal and, if so, its
// reason and how long to wait.
func RateLimited(err error) (reason string, wait time.Duration, ok bool) {
	var ae *APIError
	if !errors.As(err, &ae) || ae.StatusCode != http.StatusTooManyRequests {
		return "", 0, false
	}
	return ae.Reason, ae.RetryAfter, true
}

func (e *APIError) Error() string {
	return fmt.Sprintf("portal: HTTP %d %s: %s", e.StatusCode, e.Code, e.Message)
}

// IsPermanent reports whether retrying err cannot help: an APIError with a
// 4xx status except 408, 409, 425 and 429, or a tus answer with a 4xx
// except 408, 409, 423, 429 and 460 (see tus.Error.Permanent). Network
// errors, 5xx and an ended context are not permanent.
func IsPermanent(err error) bool {
	if tus.IsPermanent(err) {
		return true
	}
	var ae *APIError
	if !errors.As(err, &ae) {
		return false
	}
	switch ae.StatusCode {
	case http.StatusRequestTimeout, http.StatusConflict, http.StatusTooEarly, http.StatusTooManyRequests:
		return false
	}
	return ae.StatusCode >= 400 && ae.StatusCode < 500
}

// Sign returns the ASN.1 ECDSA signature over SHA-256 of data, as the portal
// expects for heartbeats and manifests (before base64).
func Sign(signer crypto.Signer, data []byte) ([]byte, error) {
	if signer == nil {
		return nil, errors.New("no signing key")
	}
	sum := sha256.Sum256(data)
	sig, err := signer.Sign(rand.Reader, sum[:], crypto.SHA256)
	if err != nil {
		return nil, fmt.Errorf("sign: %w", err)
	}
	return sig, nil
}

// verifyPortalSignature checks an ECDSA P-256 (ASN.1) signature by the
// portal key over SHA-256 of payload: the scheme of everything the portal
// signs (catalogues, acknowledgements).
func verifyPortalSignature(key *ecdsa.PublicKey, payload, sig []byte) error {
	if key == nil {
		return errors.New("no portal key to verify with")
	}
	sum := sha256.Sum256(payload)
	if !ecdsa.VerifyASN1(key, sum[:], sig) {
		return errors.New("signature does not verify")
	}
	return nil
}

// VerifyCatalogue checks the portal's signature over the payload and decodes it.
func VerifyCatalogue(sc api.SignedCatalogue, key *ecdsa.PublicKey) (api.Catalogue, error) {
	if err := verifyPortalSignature(key, sc.Payload, sc.Signature); err != nil {
		return api.Catalogue{}, fmt.Errorf("catalogue: %w", err)
	}
	var c api.Catalogue
	if err := json.Unmarshal(sc.Payload, &c); err != nil {
		return api.Catalogue{}, fmt.Errorf("catalogue: decode: %w", err)
	}
	return c, nil
}

// VerifySubmitResult checks that res carries the portal's signed
// acknowledgement of packetID, answering the request whose manifest bytes
// (as sent: age-encrypted for finalise, plain for a multipart submission)
// were manifest, and returns the result as the acknowledgement states it.
// Any failure wraps api.ErrUnverifiedAnswer: the packet is not delivered.
func VerifySubmitResult(res api.SubmitResult, key *ecdsa.PublicKey, packetID string, manifest []byte) (api.SubmitResult, error) {
	fail := func(format string, args ...any) (api.SubmitResult, error) {
		return api.SubmitResult{}, fmt.Errorf("%w: packet %s: %s", api.ErrUnverifiedAnswer, packetID, fmt.Sprintf(format, args...))
	}
	sa := res.Acknowledgement
	if sa == nil {
		return fail("the answer carries no signed acknowledgement")
	}
	if err := verifyPortalSignature(key, sa.Payload, sa.Signature); err != nil {
		return fail("acknowledgement: %v", err)
	}
	var ack api.Acknowledgement
	if err := json.Unmarshal(sa.Payload, &ack); err != nil {
		return fail("acknowledgement: %v", err)
	}
	sum := sha256.Sum256(manifest)
	switch {
	case ack.Kind != api.AcknowledgementKind:
		return fail("signed payload is not a packet acknowledgement")
	case ack.PacketID != packetID:
		return fail("acknowledgement is for packet %s", ack.PacketID)
	case ack.ManifestSHA256 != hex.EncodeToString(sum[:]):
		return fail("acknowledgement answers another request")
	case ack.TrackingNumber == "":
		return fail("acknowledgement has no tracking number")
	}
	return api.SubmitResult{
		TrackingNumber: ack.TrackingNumber, ProvisionalNumber: ack.ProvisionalNumber,
		AppointmentDate: ack.AppointmentDate, ReceivedAt: ack.ReceivedAt, Duplicate: ack.Duplicate,
		Acknowledgement: sa,
	}, nil
}

// do sends req and decodes a 2xx JSON answer into out (nil: body ignored).
func (c *Client) do(req *http.Request, out any) (int, error) {
	req.Header.Set("Accept", "application/json")
	resp, err := c.hc.Do(req)
	if err != nil {
		return 0, fmt.Errorf("portal %s %s: %w", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	if err != nil {
		return resp.StatusCode, fmt.Errorf("portal %s %s: read answer: %w", req.Method, req.URL.Path, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		ae := &APIError{StatusCode: resp.StatusCode}
		var e api.Error
		if json.Unmarshal(body, &e) == nil && e.Code != "" {
			ae.Code, ae.Message, ae.Reason = e.Code, e.Message, e.Reason
			ae.RetryAfter = time.Duration(e.RetryAfter) * time.Second
		} else {
			ae.Message = http.StatusText(resp.StatusCode)
		}
		if secs, err := strconv.Atoi(resp.Header.Get("Retry-After")); ae.RetryAfter <= 0 && err == nil && secs > 0 {
			ae.RetryAfter = time.Duration(secs) * time.Second // delta-seconds; the portal never sends a date
		}
		if ae.Code == api.CodeKioskRevoked {
			return resp.StatusCode, fmt.Errorf("%w: %w", ErrKioskRevoked, ae)
		}
		return resp.StatusCode, ae
	}
	if out != nil {
		if err := json.Unmarshal(body, out); err != nil {
			return resp.StatusCode, fmt.Errorf("portal %s %s: decode answer: %w", req.Method, req.URL.Path, err)
		}
	}
	return resp.StatusCode, nil
}

func (c *Client) newRequest(ctx context.Context, method, path string, body []byte, contentType string) (*http.Request, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return nil, fmt.Errorf("portal: build request: %w", err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if c.kioskID != "" {
		// Which kiosk asks: the portal bounds requests in progress per kiosk
		// (by address without it, which kiosks behind one NAT share).
		req.Header.Set(api.HeaderKioskID, c.kioskID)
	}
	return req, nil
}

func (c *Client) postJSON(ctx context.Context, path, accessToken string, in, out any) error {
	b, err := json.Marshal(in)
	if err != nil {
		return fmt.Errorf("portal: encode request: %w", err)
	}
	req, err := c.newRequest(ctx, http.MethodPost, path, b, "application/json")
	if err != nil {
		return err
	}
	if accessToken != "" {
		req.Header.Set("Authorization", "Bearer "+accessToken)
	}
	_, err = c.do(req, out)
	return err
}

// SignedCatalogue fetches the catalogue as signed, unverified, so the kiosk
// can verify it and cache exactly what was signed.
func (c *Client) SignedCatalogue(ctx context.Context) (api.SignedCatalogue, error) {
	req, err := c.newRequest(ctx, http.MethodGet, api.PathCatalogue, nil, "")
	if err != nil {
		return api.SignedCatalogue{}, err
	}
	var sc api.SignedCatalogue
	_, err = c.do(req, &sc)
	return sc, err
}

// Catalogue fetches the catalogue and verifies it with the portal's key. It
// returns the signed payload too.
func (c *Client) Catalogue(ctx context.Context, portalKey *ecdsa.PublicKey) (api.Catalogue, []byte, error) {
	sc, err := c.SignedCatalogue(ctx)
	if err != nil {
		return api.Catalogue{}, nil, err
	}
	cat, err := VerifyCatalogue(sc, portalKey)
	if err != nil {
		return api.Catalogue{}, nil, err
	}
	return cat, sc.Payload, nil
}

// Enroll exchanges a one-time token and the kiosk's public key for its identity.
func (c *Client) Enroll(ctx context.Context, req api.EnrollRequest) (api.EnrollResponse, error) {
	var out api.EnrollResponse
	err := c.postJSON(ctx, api.PathEnroll, "", req, &out)
	return out, err
}

// Heartbeats the portal refused as not fresh (see api.Heartbeat); the
// errors wrap the portal's *APIError too.
var (
	// ErrHeartbeatReplayed: the heartbeat's Seq is not above the last one
	// the portal took from this kiosk (409).
	ErrHeartbeatReplayed = errors.New("portal: heartbeat refused as a replay")
	// ErrHeartbeatStale: the heartbeat's At is too far from the portal's
	// clock; the kiosk's clock is likely wrong.
	ErrHeartbeatStale = errors.New("portal: heartbeat refused as stale")
)

// Heartbeat sends the kiosk's health, signed with its key. An empty
// hb.KioskID is filled with the client's kiosk id.
func (c *Client) Heartbeat(ctx context.Context, hb api.Heartbeat) error {
	if hb.KioskID == "" {
		hb.KioskID = c.kioskID
	}
	body, err := json.Marshal(hb)
	if err != nil {
		return fmt.Errorf("portal: encode heartbeat: %w", err)
	}
	req, err := c.newRequest(ctx, http.MethodPost, api.PathHeartbeat, body, "application/json")
	if err != nil {
		return err
	}
	req.Header.Set(api.HeaderKioskID, hb.KioskID)
	if c.signer != nil {
		sig, err := Sign(c.signer, body)
		if err != nil {
			return fmt.Errorf("portal heartbeat: %w", err)
		}
		req.Header.Set(api.HeaderKioskSignature, base64.StdEncoding.EncodeToString(sig))
	}
	_, err = c.do(req, nil)
	var ae *APIError
	switch {
	case errors.As(err, &ae) && ae.StatusCode == http.StatusConflict:
		return fmt.Errorf("%w: %w", ErrHeartbeatReplayed, err)
	case errors.As(err, &ae) && ae.Code == "heartbeat-stale":
		return fmt.Errorf("%w: %w", ErrHeartbeatStale, err)
	}
	return err
}

// RequestConfirmation asks the portal to send a code to the citizen's phone.
func (c *Client) RequestConfirmation(ctx context.Context, accessToken string, req api.ConfirmationRequest) (api.ConfirmationChallenge, error) {
	if req.KioskID == "" {
		req.KioskID = c.kioskID
	}
	var out api.ConfirmationChallenge
	err := c.postJSON(ctx, api.PathConfirmations, accessToken, req, &out)
	return out, err
}

// VerifyConfirmation checks the code the citizen typed. A wrong, expired or
// exhausted code is a result with OK false, not an error.
func (c *Client) VerifyConfirmation(ctx context.Context, accessToken string, v api.ConfirmationVerify) (api.ConfirmationResult, error) {
	var out api.ConfirmationResult
	err := c.postJSON(ctx, api.PathVerify, accessToken, v, &out)
	return out, err
}

// Document is one file of a packet: Name is the manifest's DocumentRef.File.
type Document struct {
	Name string
	Data []byte
}

// Submit uploads one packet: the manifest bytes exactly as signed, the raw
// ASN.1 signature over SHA-256 of them (the client base64-encodes it), and
// the documents. The Idempotency-Key is the manifest's packetId, so resending
// the same packet is safe; a duplicate answer has Duplicate set.
func (c *Client) Submit(ctx context.Context, manifestJSON, signature []byte, docs []Document) (api.SubmitResult, error) {
	var m struct {
		PacketID string `json:"packetId"`
		KioskID  string `json:"kioskId"`
	}
	if err := json.Unmarshal(manifestJSON, &m); err != nil || m.PacketID == "" {
		return api.SubmitResult{}, fmt.Errorf("portal submit: manifest without packetId: %v", err)
	}
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	part := func(name, filename, ctype string, data []byte) error {
		h := textproto.MIMEHeader{}
		cd := fmt.Sprintf(`form-data; name=%q`, name)
		if filename != "" {
			cd += fmt.Sprintf(`; filename=%q`, filename)
		}
		h.Set("Content-Disposition", cd)
		h.Set("Content-Type", ctype)
		w, err := mw.CreatePart(h)
		if err != nil {
			return err
		}
		_, err = w.Write(data)
		return err
	}
	if err := part("manifest", "manifest.json", "application/json", manifestJSON); err != nil {
		return api.SubmitResult{}, fmt.Errorf("portal submit: %w", err)
	}
	if err := part("signature", "", "text/plain", []byte(base64.StdEncoding.EncodeToString(signature))); err != nil {
		return api.SubmitResult{}, fmt.Errorf("portal submit: %w", err)
	}
	for _, d := range docs {
		if err := part(d.Name, d.Name, "application/pdf", d.Data); err != nil {
			return api.SubmitResult{}, fmt.Errorf("portal submit: %w", err)
		}
	}
	if err := mw.Close(); err != nil {
		return api.SubmitResult{}, fmt.Errorf("portal submit: %w", err)
	}
	req, err := c.newRequest(ctx, http.MethodPost, api.PathApplications, buf.Bytes(), mw.FormDataContentType())
	if err != nil {
		return api.SubmitResult{}, err
	}
	req.Header.Set(api.HeaderIdempotencyKey, `"`+m.PacketID+`"`)
	req.Header.Set(api.HeaderKioskID, m.KioskID) // lets the portal refuse an unknown kiosk before reading the body
	var out api.SubmitResult
	if _, err := c.do(req, &out); err != nil {
		return api.SubmitResult{}, err
	}
	return VerifySubmitResult(out, c.portalKey, m.PacketID, manifestJSON)
}

// Status looks up an application by tracking or provisional number.
func (c *Client) Status(ctx context.Context, ref string) (api.ApplicationStatus, error) {
	req, err := c.newRequest(ctx, http.MethodGet, api.PathStatus+url.PathEscape(ref), nil, "")
	if err != nil {
		return api.ApplicationStatus{}, err
	}
	var out api.ApplicationStatus
	_, err = c.do(req, &out)
	return out, err
}

// ErrKioskRevoked is the portal's refusal of a revoked or retired kiosk
// (403 api.CodeKioskRevoked), whatever the request; the error wraps the
// *APIError too.
var ErrKioskRevoked = errors.New("portal: this kiosk was revoked or retired")

// signedPost posts in as JSON signed with the device key, the way
// heartbeats are (api.HeaderKioskID, api.HeaderKioskSignature over the
// body), and decodes the answer into out (nil: none expected).
func (c *Client) signedPost(ctx context.Context, path, kioskID string, in, out any) error {
	body, err := json.Marshal(in)
	if err != nil {
		return fmt.Errorf("portal %s: encode: %w", path, err)
	}
	req, err := c.newRequest(ctx, http.MethodPost, path, body, "application/json")
	if err != nil {
		return err
	}
	req.Header.Set(api.HeaderKioskID, kioskID)
	if c.signer == nil {
		return fmt.Errorf("portal %s: no device key to sign with", path)
	}
	sig, err := Sign(c.signer, body)
	if err != nil {
		return fmt.Errorf("portal %s: %w", path, err)
	}
	req.Header.Set(api.HeaderKioskSignature, base64.StdEncoding.EncodeToString(sig))
	_, err = c.do(req, out)
	return err
}

// Renew asks the portal for a new device certificate for the enrolled key
// (api.PathRenew). The caller checks the certificate before using it.
func (c *Client) Renew(ctx context.Context, at time.Time) (api.RenewResponse, error) {
	var out api.RenewResponse
	err := c.signedPost(ctx, api.PathRenew, c.kioskID, api.RenewRequest{KioskID: c.kioskID, At: at.UTC()}, &out)
	return out, err
}

// Decommission retires this kiosk at the portal (api.PathDecommission):
// its certificates are revoked at once. technicianCode is the id of the
// code that opened service mode, for the audit log ("" from kioskctl).
func (c *Client) Decommission(ctx context.Context, at time.Time, technicianCode string) error {
	return c.signedPost(ctx, api.PathDecommission, c.kioskID,
		api.DecommissionRequest{KioskID: c.kioskID, At: at.UTC(), TechnicianCode: technicianCode}, nil)
}
