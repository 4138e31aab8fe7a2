package backendclient

import (
	"bytes"
	"context"
	"crypto"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"

	"govkiosk/backend-client/api"
	"govkiosk/backend-client/tus"
)

// Paths of the resumable submission. They belong in govkiosk/backend-client/api
// (PathUploads, PathPackets), as in the contract.
const (
	PathUploads = api.PathUploads // tus 1.0 creation endpoint; uploads are PathUploads+{id}
	PathPackets = api.PathPackets // POST PathPackets+{packetId}+"/finalise"
)

// Upload-Metadata keys of a document upload.
const (
	MetaPacketID = "packetId"
	MetaFile     = "file"
)

// UploadCreationMessage is what a kiosk signs to create an upload: the
// decimal Upload-Length, a newline, and the Upload-Metadata header value
// exactly as sent. Kiosk-Signature carries the base64 ASN.1 ECDSA P-256
// signature over SHA-256 of it, Kiosk-Id the kiosk's id.
func UploadCreationMessage(uploadLength int64, uploadMetadata string) []byte {
	return []byte(strconv.FormatInt(uploadLength, 10) + "\n" + uploadMetadata)
}

// UploadCreationHeaders returns the Kiosk-Id and Kiosk-Signature headers that
// authorise creating an upload of length bytes with metadata (the encoded
// Upload-Metadata value). A nil signer gives only Kiosk-Id (accepted from
// unenrolled demo kiosks only).
func UploadCreationHeaders(kioskID string, signer crypto.Signer, length int64, metadata string) (http.Header, error) {
	h := http.Header{}
	h.Set(api.HeaderKioskID, kioskID)
	if signer != nil {
		sig, err := Sign(signer, UploadCreationMessage(length, metadata))
		if err != nil {
			return nil, err
		}
		h.Set(api.HeaderKioskSignature, base64.StdEncoding.EncodeToString(sig))
	}
	return h, nil
}

// uploadHTTP is hc without its overall Timeout: uploads have their own
// stall watchdog, and a whole-request timeout would cut long PATCHes.
func uploadHTTP(hc *http.Client) *http.Client {
	u := *hc
	u.Timeout = 0
	return &u
}

// SetUploadConfig replaces the tus client's configuration (chunking,
// timeouts, backoff). Its HTTP client defaults to the Client's.
func (c *Client) SetUploadConfig(cfg tus.Config) {
	if cfg.HTTP == nil {
		cfg.HTTP = uploadHTTP(c.hc)
	}
	c.tus = tus.New(cfg)
	c.backoff, c.maxFailures = c.tus.Retrying()
}

// UploadStats reports the bytes sent and re-sent by uploads.
func (c *Client) UploadStats() tus.Stats { return c.tus.Stats() }

// CreateUpload starts a resumable upload of one encrypted document and returns its URL.
func (c *Client) CreateUpload(ctx context.Context, packetID, file string, size int64) (uploadURL string, err error) {
	meta := tus.Metadata{MetaPacketID: packetID, MetaFile: file}.Encode()
	h, err := UploadCreationHeaders(c.kioskID, c.signer, size, meta)
	if err != nil {
		return "", fmt.Errorf("portal create upload: %w", err)
	}
	u, err := c.tus.Create(ctx, c.base+PathUploads, size, meta, h)
	if err != nil {
		return "", fmt.Errorf("portal create upload: %w", err)
	}
	return u, nil
}

// Upload sends the rest of the upload from data, resuming from the offset the server reports.
func (c *Client) Upload(ctx context.Context, uploadURL string, data io.ReaderAt, size int64) error {
	if err := c.tus.Upload(ctx, uploadURL, data, size); err != nil {
		return fmt.Errorf("portal upload: %w", err)
	}
	return nil
}

// TerminateUpload deletes an upload the kiosk no longer needs.
func (c *Client) TerminateUpload(ctx context.Context, uploadURL string) error {
	if err := c.tus.Terminate(ctx, uploadURL); err != nil {
		return fmt.Errorf("portal terminate upload: %w", err)
	}
	return nil
}

// Finalise closes the packet; a duplicate answer counts as success; 409 (still processing) is retried inside.
//
// It sends POST PathPackets+{packetId}+"/finalise" with the header
// Idempotency-Key: "<packetId>". A 201 is a new application, a 200 the
// original result of an earlier identical request (Duplicate set).
// Transient failures (network, 5xx, 408, 409, 425, 429) are retried with
// backoff until ctx ends or the tus Config's MaxFailures attempts fail in a
// row; IsPermanent tells a rejection. A success answer counts only with the
// portal's valid signed acknowledgement of this packet and request (see
// VerifySubmitResult); otherwise the error wraps api.ErrUnverifiedAnswer,
// which is not permanent: the packet is not delivered and is sent again.
func (c *Client) Finalise(ctx context.Context, req api.FinaliseRequest) (api.SubmitResult, error) {
	if req.PacketID == "" {
		return api.SubmitResult{}, errors.New("portal finalise: no packetId")
	}
	body, err := json.Marshal(req)
	if err != nil {
		return api.SubmitResult{}, fmt.Errorf("portal finalise: encode: %w", err)
	}
	var out api.SubmitResult
	err = c.backoff.Retry(ctx, c.maxFailures, IsPermanent, func(ctx context.Context) (bool, error) {
		r, err := c.newRequest(ctx, http.MethodPost, PathPackets+url.PathEscape(req.PacketID)+"/finalise", bytes.Clone(body), "application/json")
		if err != nil {
			return false, err
		}
		r.Header.Set(api.HeaderIdempotencyKey, `"`+req.PacketID+`"`)
		out = api.SubmitResult{}
		if _, err := c.do(r, &out); err != nil {
			return false, err
		}
		return true, nil
	})
	if err != nil {
		return api.SubmitResult{}, err
	}
	return VerifySubmitResult(out, c.portalKey, req.PacketID, req.Manifest)
}

// Tus is the client's tus client (for its chunk size and statistics).
func (c *Client) Tus() *tus.Client { return c.tus }
