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
	"sync"
	"testing"
	"time"

	"govkiosk/backend-client/api"
	"govkiosk/backend-client/tus"
)

func TestIsPermanentCoversUploads(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{&tus.Error{Op: "patch", StatusCode: 404}, true},
		{&tus.Error{Op: "create", StatusCode: 401}, true},
		{fmt.Errorf("portal upload: %w", &tus.Error{Op: "patch", StatusCode: 413}), true},
		{&tus.Error{Op: "patch", StatusCode: 409}, false},
		{&tus.Error{Op: "patch", StatusCode: 423}, false},
		{&tus.Error{Op: "patch", StatusCode: 460}, false},
		{&tus.Error{Op: "patch", StatusCode: 503}, false},
		{&APIError{StatusCode: 422}, true},
		{&APIError{StatusCode: 409}, false},
		{errors.New("connection reset"), false},
		{context.Canceled, false},
	} {
		if got := IsPermanent(tc.err); got != tc.want {
			t.Errorf("IsPermanent(%v) = %v", tc.err, got)
		}
	}
}

// The portal answers 409 twice (still processing), then 200 (duplicate):
// Finalise retries inside and reports the duplicate as success.
func TestFinaliseRetries409(t *testing.T) {
	var mu sync.Mutex
	var keys []string
	var bodies []api.FinaliseRequest
	portalKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	manifest := []byte{1, 2}
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		if r.URL.Path != "/api/v1/packets/p-1/finalise" || r.Method != http.MethodPost {
			http.NotFound(w, r)
			return
		}
		keys = append(keys, r.Header.Get(api.HeaderIdempotencyKey))
		var req api.FinaliseRequest
		json.NewDecoder(r.Body).Decode(&req)
		bodies = append(bodies, req)
		w.Header().Set("Content-Type", "application/json")
		if len(keys) <= 2 {
			w.WriteHeader(http.StatusConflict)
			io.WriteString(w, `{"code":"in-progress","message":"busy"}`)
			return
		}
		w.WriteHeader(http.StatusOK)
		json.NewEncoder(w).Encode(acknowledge(t, portalKey, "p-1", manifest, api.SubmitResult{TrackingNumber: "QN-2026-000001",
			ProvisionalNumber: "P-1", AppointmentDate: "2026-03-11", ReceivedAt: time.Date(2026, 3, 6, 2, 30, 0, 0, time.UTC), Duplicate: true}))
	}))
	defer ts.Close()
	c := New(ts.URL, nil, "K1", nil)
	c.SetPortalKey(&portalKey.PublicKey)
	c.SetUploadConfig(tus.Config{Backoff: tus.Backoff{Min: time.Millisecond, Max: 2 * time.Millisecond}, MaxFailures: 5})
	req := api.FinaliseRequest{PacketID: "p-1", Manifest: manifest, Signature: []byte{3}, Uploads: map[string]string{"doc-1.pdf": "http://x/api/v1/uploads/1"}}
	res, err := c.Finalise(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Duplicate || res.TrackingNumber != "QN-2026-000001" {
		t.Errorf("result %+v", res)
	}
	if len(keys) != 3 {
		t.Fatalf("%d attempts, want 3", len(keys))
	}
	for i, k := range keys {
		if k != `"p-1"` || bodies[i].Uploads["doc-1.pdf"] != req.Uploads["doc-1.pdf"] || string(bodies[i].Manifest) != string(req.Manifest) {
			t.Errorf("attempt %d: key %q body %+v", i, k, bodies[i])
		}
	}
	// A permanent answer is not retried.
	keys = nil
	ts.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		keys = append(keys, "x")
		mu.Unlock()
		w.WriteHeader(http.StatusUnprocessableEntity)
		io.WriteString(w, `{"code":"idempotency-key-reused","message":"no"}`)
	})
	if _, err := c.Finalise(context.Background(), req); !IsPermanent(err) || len(keys) != 1 {
		t.Errorf("422: %v after %d attempts", err, len(keys))
	}
}

// CreateUpload signs Upload-Length and Upload-Metadata with the kiosk key.
func TestCreateUploadSigns(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	var got http.Header
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r.Header.Clone()
		w.Header().Set("Location", "/api/v1/uploads/abc")
		w.WriteHeader(http.StatusCreated)
	}))
	defer ts.Close()
	c := New(ts.URL+"/", &http.Client{Timeout: time.Second}, "KIOSK-0007", key)
	u, err := c.CreateUpload(context.Background(), "p-1", "doc-1.pdf", 1234)
	if err != nil {
		t.Fatal(err)
	}
	if u != ts.URL+"/api/v1/uploads/abc" {
		t.Errorf("upload URL %q", u)
	}
	meta := got.Get("Upload-Metadata")
	if m, err := tus.ParseMetadata(meta); err != nil || m[MetaPacketID] != "p-1" || m[MetaFile] != "doc-1.pdf" {
		t.Errorf("metadata %q: %v", meta, err)
	}
	sig, _ := base64.StdEncoding.DecodeString(got.Get(api.HeaderKioskSignature))
	sum := sha256.Sum256([]byte("1234\n" + meta))
	if got.Get(api.HeaderKioskID) != "KIOSK-0007" || got.Get("Upload-Length") != "1234" || !ecdsa.VerifyASN1(&key.PublicKey, sum[:], sig) {
		t.Errorf("creation headers %v", got)
	}
	if c.tus == nil || uploadHTTP(c.hc).Timeout != 0 {
		t.Error("uploads must not inherit the overall request timeout")
	}
}
