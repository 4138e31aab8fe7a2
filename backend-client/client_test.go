package backendclient

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"govkiosk/backend-client/api"
)

func TestIsPermanent(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{&APIError{StatusCode: 400}, true},
		{&APIError{StatusCode: 401}, true},
		{&APIError{StatusCode: 403}, true},
		{&APIError{StatusCode: 404}, true},
		{&APIError{StatusCode: 413}, true},
		{&APIError{StatusCode: 422}, true},
		{&APIError{StatusCode: 408}, false},
		{&APIError{StatusCode: 409}, false},
		{&APIError{StatusCode: 425}, false},
		{&APIError{StatusCode: 429}, false},
		{&APIError{StatusCode: 500}, false},
		{&APIError{StatusCode: 503}, false},
		{fmt.Errorf("submit: %w", &APIError{StatusCode: 422}), true},
		{errors.New("dial tcp: connection refused"), false},
		{context.DeadlineExceeded, false},
		{nil, false},
	} {
		if got := IsPermanent(tc.err); got != tc.want {
			t.Errorf("IsPermanent(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}

func TestVerifyCatalogue(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	payload := []byte(`{"version":"1","procedures":[{"id":"p1"}]}`)
	sum := sha256.Sum256(payload)
	sig, err := ecdsa.SignASN1(rand.Reader, key, sum[:])
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		sc   api.SignedCatalogue
		key  *ecdsa.PublicKey
		ok   bool
	}{
		{"good", api.SignedCatalogue{Payload: payload, Signature: sig}, &key.PublicKey, true},
		{"tampered", api.SignedCatalogue{Payload: []byte(`{"version":"2","procedures":[{"id":"p1"}]}`), Signature: sig}, &key.PublicKey, false},
		{"other key", api.SignedCatalogue{Payload: payload, Signature: sig}, &other.PublicKey, false},
		{"no key", api.SignedCatalogue{Payload: payload, Signature: sig}, nil, false},
		{"no signature", api.SignedCatalogue{Payload: payload}, &key.PublicKey, false},
	} {
		c, err := VerifyCatalogue(tc.sc, tc.key)
		if (err == nil) != tc.ok {
			t.Errorf("%s: err = %v", tc.name, err)
		}
		if tc.ok && (c.Version != "1" || len(c.Procedures) != 1) {
			t.Errorf("%s: catalogue %+v", tc.name, c)
		}
	}
}

// acknowledge is res as the portal answers it: with its signed
// acknowledgement of packetID for the request whose manifest bytes were
// manifest.
func acknowledge(t *testing.T, key *ecdsa.PrivateKey, packetID string, manifest []byte, res api.SubmitResult) api.SubmitResult {
	t.Helper()
	sum := sha256.Sum256(manifest)
	payload, err := json.Marshal(api.Acknowledgement{Kind: api.AcknowledgementKind, PacketID: packetID,
		ManifestSHA256: hex.EncodeToString(sum[:]), TrackingNumber: res.TrackingNumber, ProvisionalNumber: res.ProvisionalNumber,
		AppointmentDate: res.AppointmentDate, ReceivedAt: res.ReceivedAt, Duplicate: res.Duplicate})
	if err != nil {
		t.Fatal(err)
	}
	ps := sha256.Sum256(payload)
	sig, err := ecdsa.SignASN1(rand.Reader, key, ps[:])
	if err != nil {
		t.Fatal(err)
	}
	res.Acknowledgement = &api.SignedAcknowledgement{Payload: payload, Signature: sig, KeyID: "k1"}
	return res
}

// TestVerifySubmitResult: only the portal's signed acknowledgement of this
// packet, for this request, makes an answer a success, and the result is
// what it signed.
func TestVerifySubmitResult(t *testing.T) {
	portal, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	manifest := []byte("age-encrypted manifest")
	good := acknowledge(t, portal, "p-1", manifest, api.SubmitResult{TrackingNumber: "QN-2026-000007", ProvisionalNumber: "P-1",
		AppointmentDate: "2026-03-11", ReceivedAt: time.Date(2026, 3, 6, 2, 30, 0, 0, time.UTC)})
	resign := func(edit func(a *api.Acknowledgement)) api.SubmitResult {
		var a api.Acknowledgement
		json.Unmarshal(good.Acknowledgement.Payload, &a)
		edit(&a)
		b, _ := json.Marshal(a)
		s := sha256.Sum256(b)
		sig, _ := ecdsa.SignASN1(rand.Reader, portal, s[:])
		r := good
		r.Acknowledgement = &api.SignedAcknowledgement{Payload: b, Signature: sig}
		return r
	}
	for _, tc := range []struct {
		name string
		res  api.SubmitResult
		key  *ecdsa.PublicKey
		ok   bool
	}{
		{"good", good, &portal.PublicKey, true},
		{"outer fields forged", func() api.SubmitResult { r := good; r.TrackingNumber = "QN-2026-999999"; return r }(), &portal.PublicKey, true},
		{"unsigned", api.SubmitResult{TrackingNumber: "QN-2026-000007"}, &portal.PublicKey, false},
		{"no key", good, nil, false},
		{"another key", good, &other.PublicKey, false},
		{"payload altered", func() api.SubmitResult {
			r := good
			r.Acknowledgement = &api.SignedAcknowledgement{Payload: bytes.Replace(good.Acknowledgement.Payload, []byte("000007"), []byte("999999"), 1),
				Signature: good.Acknowledgement.Signature}
			return r
		}(), &portal.PublicKey, false},
		{"another packet", resign(func(a *api.Acknowledgement) { a.PacketID = "p-2" }), &portal.PublicKey, false},
		{"another request", resign(func(a *api.Acknowledgement) { a.ManifestSHA256 = strings.Repeat("0", 64) }), &portal.PublicKey, false},
		{"not an acknowledgement", resign(func(a *api.Acknowledgement) { a.Kind = "" }), &portal.PublicKey, false},
		{"no tracking number", resign(func(a *api.Acknowledgement) { a.TrackingNumber = "" }), &portal.PublicKey, false},
	} {
		got, err := VerifySubmitResult(tc.res, tc.key, "p-1", manifest)
		if tc.ok != (err == nil) || (err != nil && !errors.Is(err, api.ErrUnverifiedAnswer)) || IsPermanent(err) {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if tc.ok && (got.TrackingNumber != "QN-2026-000007" || got.ProvisionalNumber != "P-1" || !got.ReceivedAt.Equal(good.ReceivedAt)) {
			t.Errorf("%s: result %+v, want the signed one", tc.name, got)
		}
	}
}

// TestSubmitWire checks what Submit puts on the wire and how it reads answers.
func TestSubmitWire(t *testing.T) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	portalKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	manifest := []byte(`{"packetId":"a1b2","kioskId":"KIOSK-0001"}`)
	sig, err := Sign(key, manifest)
	if err != nil {
		t.Fatal(err)
	}
	status := http.StatusCreated
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != api.PathApplications || r.Header.Get(api.HeaderIdempotencyKey) != `"a1b2"` || r.Header.Get(api.HeaderKioskID) != "KIOSK-0001" {
			http.Error(w, "bad path, key or kiosk", 400)
			return
		}
		if err := r.ParseMultipartForm(1 << 20); err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		m, _, _ := r.FormFile("manifest")
		mb, _ := io.ReadAll(m)
		s, _ := base64.StdEncoding.DecodeString(r.FormValue("signature"))
		sum := sha256.Sum256(mb)
		if string(mb) != string(manifest) || !ecdsa.VerifyASN1(&key.PublicKey, sum[:], s) {
			http.Error(w, "manifest or signature mangled", 400)
			return
		}
		d, hdr, err := r.FormFile("doc-1.pdf")
		if err != nil || hdr.Header.Get("Content-Type") != "application/pdf" {
			http.Error(w, "no doc", 400)
			return
		}
		db, _ := io.ReadAll(d)
		if string(db) != "%PDF-fake" {
			http.Error(w, "doc mangled", 400)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		json.NewEncoder(w).Encode(acknowledge(t, portalKey, "a1b2", manifest,
			api.SubmitResult{TrackingNumber: "QN-2026-000001", Duplicate: status == http.StatusOK}))
	}))
	defer srv.Close()
	c := New(srv.URL+"/", srv.Client(), "KIOSK-0001", key)
	c.SetPortalKey(&portalKey.PublicKey)
	docs := []Document{{Name: "doc-1.pdf", Data: []byte("%PDF-fake")}}
	res, err := c.Submit(context.Background(), manifest, sig, docs)
	if err != nil || res.TrackingNumber != "QN-2026-000001" || res.Duplicate {
		t.Fatalf("created: %+v %v", res, err)
	}
	status = http.StatusOK
	res, err = c.Submit(context.Background(), manifest, sig, docs)
	if err != nil || !res.Duplicate {
		t.Errorf("200 answer not a duplicate: %+v %v", res, err)
	}
	if _, err := c.Submit(context.Background(), []byte(`{}`), sig, docs); err == nil {
		t.Error("manifest without packetId accepted")
	}
}

func TestAPIErrorDecoding(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case api.PathStatus + "X":
			w.WriteHeader(404)
			json.NewEncoder(w).Encode(api.Error{Code: "not-found", Message: "nope"})
		default:
			http.Error(w, "<html>bad gateway</html>", http.StatusBadGateway)
		}
	}))
	defer srv.Close()
	c := New(srv.URL, nil, "", nil)
	_, err := c.Status(context.Background(), "X")
	var ae *APIError
	if !errors.As(err, &ae) || ae.StatusCode != 404 || ae.Code != "not-found" || ae.Message != "nope" || !IsPermanent(err) {
		t.Errorf("404: %#v", err)
	}
	_, err = c.Status(context.Background(), "Y")
	if !errors.As(err, &ae) || ae.StatusCode != 502 || ae.Code != "" || IsPermanent(err) {
		t.Errorf("502: %#v", err)
	}
	srv.Close()
	if _, err := c.Status(context.Background(), "X"); err == nil || IsPermanent(err) {
		t.Errorf("network error: %v", err)
	}
}

func TestRateLimitedDecoding(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case api.PathConfirmations:
			w.Header().Set("Retry-After", "95")
			w.WriteHeader(429)
			json.NewEncoder(w).Encode(api.Error{Code: "rate-limited", Message: "wait", Reason: api.ReasonCodeGap, RetryAfter: 95})
		default: // a proxy's 429: header only
			w.Header().Set("Retry-After", "30")
			http.Error(w, "slow down", http.StatusTooManyRequests)
		}
	}))
	defer srv.Close()
	c := New(srv.URL, nil, "KIOSK-0001", nil)
	_, err := c.RequestConfirmation(context.Background(), "at", api.ConfirmationRequest{ProcedureID: "p"})
	if reason, wait, ok := RateLimited(err); !ok || reason != api.ReasonCodeGap || wait != 95*time.Second || IsPermanent(err) {
		t.Errorf("portal 429: %q %v %v (%v)", reason, wait, ok, err)
	}
	_, err = c.Status(context.Background(), "X")
	if reason, wait, ok := RateLimited(err); !ok || reason != "" || wait != 30*time.Second {
		t.Errorf("proxy 429: %q %v %v (%v)", reason, wait, ok, err)
	}
	if _, _, ok := RateLimited(errors.New("other")); ok {
		t.Error("a plain error is rate-limited")
	}
}
