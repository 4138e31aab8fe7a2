package backendclient

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

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

// TestSubmitWire checks what Submit puts on the wire and how it reads answers.
func TestSubmitWire(t *testing.T) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	manifest := []byte(`{"packetId":"a1b2","kioskId":"KIOSK-0001"}`)
	sig, err := Sign(key, manifest)
	if err != nil {
		t.Fatal(err)
	}
	status := http.StatusCreated
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != api.PathApplications || r.Header.Get(api.HeaderIdempotencyKey) != `"a1b2"` {
			http.Error(w, "bad path or key", 400)
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
		json.NewEncoder(w).Encode(api.SubmitResult{TrackingNumber: "QN-2026-000001"})
	}))
	defer srv.Close()
	c := New(srv.URL+"/", srv.Client(), "KIOSK-0001", key)
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
