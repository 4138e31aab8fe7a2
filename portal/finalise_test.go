package portal_test

import (
	"govkiosk/portal/pdftest"

	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"filippo.io/age"

	"govkiosk/backend-client"
	"govkiosk/backend-client/api"
	"govkiosk/backend-client/tus"
	"govkiosk/portal"
)

func ageEncrypt(t *testing.T, recipient string, plain []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := ageEncryptTo(&buf, recipient, plain); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// ageEncryptTo encrypts plain (binary age format) to recipient.
func ageEncryptTo(out io.Writer, recipient string, plain []byte) error {
	r, err := age.ParseX25519Recipient(recipient)
	if err != nil {
		return err
	}
	w, err := age.Encrypt(out, r)
	if err != nil {
		return err
	}
	if _, err := w.Write(plain); err != nil {
		return err
	}
	return w.Close()
}

// upload sends each document of p, encrypted to the portal, with c and
// returns the FinaliseRequest.
func (e *env) upload(t *testing.T, c *backendclient.Client, p packet) api.FinaliseRequest {
	t.Helper()
	ctx := context.Background()
	req := api.FinaliseRequest{PacketID: p.m.PacketID, Manifest: ageEncrypt(t, e.s.AgeRecipient(), p.manifest),
		Signature: p.sig, Uploads: map[string]string{}}
	for _, d := range p.docs {
		enc := ageEncrypt(t, e.s.AgeRecipient(), d.Data)
		u, err := c.CreateUpload(ctx, p.m.PacketID, d.Name, int64(len(enc)))
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Upload(ctx, u, bytes.NewReader(enc), int64(len(enc))); err != nil {
			t.Fatal(err)
		}
		req.Uploads[d.Name] = u
	}
	return req
}

func fastUploads(c *backendclient.Client) *backendclient.Client {
	c.SetUploadConfig(tus.Config{FirstChunk: 8 << 10, MinChunk: 4 << 10, StallTimeout: 10 * time.Second,
		Backoff: tus.Backoff{Min: 5 * time.Millisecond, Max: 50 * time.Millisecond}, MaxFailures: 5})
	return c
}

func (e *env) apps(t *testing.T) []portal.AdminApplication {
	var apps []portal.AdminApplication
	getJSON(t, e.url+"/api/v1/admin/applications", &apps)
	return apps
}

func TestFinalise(t *testing.T) {
	e := newEnv(t, nil)
	c := fastUploads(e.kiosk)
	ctx := context.Background()
	token := e.confirm(t, "tok-an", "049090001234", "marital-status")
	p := e.newPacket(t, 1, token, nil)
	req := e.upload(t, c, p)

	res, err := c.Finalise(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if !trackingRE.MatchString(res.TrackingNumber) || res.Duplicate || res.AppointmentDate != "2026-03-11" || res.ProvisionalNumber != p.m.ProvisionalNumber {
		t.Errorf("result %+v", res)
	}
	// Stored byte-identical, in plaintext, 0600.
	path := filepath.Join(e.opts.DataDir, "documents", p.m.PacketID, "doc-1.pdf")
	got, err := os.ReadFile(path)
	if err != nil || !bytes.Equal(got, p.docs[0].Data) {
		t.Fatalf("stored document differs: %v", err)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Errorf("document mode %v", fi.Mode().Perm())
	}
	// The uploads are gone.
	ents, _ := os.ReadDir(filepath.Join(e.opts.DataDir, "uploads"))
	if len(ents) != 0 {
		t.Errorf("%d upload files left", len(ents))
	}
	if err := c.Upload(ctx, req.Uploads["doc-1.pdf"], bytes.NewReader(nil), 0); !tus.IsGone(err) || !backendclient.IsPermanent(err) {
		t.Errorf("upload after finalise: %v", err)
	}
	// The citizen's copy of the receipt, in the manifest's language.
	e.id.mu.Lock()
	msgs := e.id.delivered["049090001234"]
	e.id.mu.Unlock()
	if last := msgs[len(msgs)-1]; last != portal.ReceiptMessage("vi", res.TrackingNumber, "2026-03-11") {
		t.Errorf("receipt message %q", last)
	}

	// Replayed (lost answer): the original result, marked duplicate, even
	// though the uploads are gone and the manifest was encrypted afresh.
	e.clk.Add(time.Hour)
	req2 := req
	req2.Manifest = ageEncrypt(t, e.s.AgeRecipient(), p.manifest)
	dup, err := c.Finalise(ctx, req2)
	if err != nil {
		t.Fatal(err)
	}
	if !dup.Duplicate || dup.TrackingNumber != res.TrackingNumber || !dup.ReceivedAt.Equal(res.ReceivedAt) {
		t.Errorf("duplicate %+v", dup)
	}
	e.id.mu.Lock()
	if n := len(e.id.delivered["049090001234"]); n != len(msgs) {
		t.Errorf("a duplicate sent the receipt again")
	}
	e.id.mu.Unlock()
	if apps := e.apps(t); len(apps) != 1 {
		t.Errorf("%d applications", len(apps))
	}

	// Same key, another manifest: 422, permanent.
	other := e.newPacket(t, 1, token, func(m *api.Manifest, d []backendclient.Document) []backendclient.Document {
		m.Form["purpose"] = "other"
		return d
	})
	req3 := req
	req3.Manifest, req3.Signature = ageEncrypt(t, e.s.AgeRecipient(), other.manifest), other.sig
	_, err = c.Finalise(ctx, req3)
	if st, code := apiCode(err); st != 422 || code != portal.CodeIdempotencyKeyReused || !backendclient.IsPermanent(err) {
		t.Errorf("reused key: %v", err)
	}
}

func TestReceiptMessage(t *testing.T) {
	for _, tc := range []struct{ lang, want string }{
		{"th", "govkiosk: ได้รับคำขอ QN-2026-000042 แล้ว รับผลได้ตั้งแต่วันที่ 11/03/2569"},
		{"vi", "govkiosk: hồ sơ QN-2026-000042 của Ông/Bà đã được tiếp nhận, có kết quả từ ngày 11/03/2026."},
		{"en", "govkiosk: application QN-2026-000042 received, result from 11 Mar 2026."},
		{"", "govkiosk: application QN-2026-000042 received, result from 11 Mar 2026."},
	} {
		if got := portal.ReceiptMessage(tc.lang, "QN-2026-000042", "2026-03-11"); got != tc.want {
			t.Errorf("%q: %q, want %q", tc.lang, got, tc.want)
		}
	}
}

// rawFinalise posts one finalise attempt and returns the status and code.
func rawFinalise(t *testing.T, url, key string, req api.FinaliseRequest) (int, string) {
	t.Helper()
	b, _ := json.Marshal(req)
	r, _ := http.NewRequest("POST", url+portal.PathPackets+req.PacketID+"/finalise", bytes.NewReader(b))
	if key != "" {
		r.Header.Set(api.HeaderIdempotencyKey, key)
	}
	resp, err := http.DefaultClient.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var ae api.Error
	json.NewDecoder(resp.Body).Decode(&ae)
	return resp.StatusCode, ae.Code
}

func TestFinaliseRejects(t *testing.T) {
	e := newEnv(t, nil)
	c := fastUploads(e.kiosk)
	ctx := context.Background()
	token := e.confirm(t, "tok-an", "049090001234", "marital-status")
	wrongKey, _ := newKey(t)
	foreign, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	for i, tc := range []struct {
		name   string
		edit   func(*api.Manifest, []backendclient.Document) []backendclient.Document
		mut    func(t *testing.T, p packet, req *api.FinaliseRequest)
		status int
		code   string
	}{
		{"bad signature", nil, func(t *testing.T, p packet, req *api.FinaliseRequest) {
			req.Signature, _ = backendclient.Sign(wrongKey, p.manifest)
		}, 401, portal.CodeBadSignature},
		{"manifest for another key", nil, func(t *testing.T, p packet, req *api.FinaliseRequest) {
			req.Manifest = ageEncrypt(t, foreign.Recipient().String(), p.manifest)
		}, 400, portal.CodeBadManifest},
		{"plaintext manifest", nil, func(t *testing.T, p packet, req *api.FinaliseRequest) {
			req.Manifest = p.manifest
		}, 400, portal.CodeBadManifest},
		{"document differs from manifest", nil, func(t *testing.T, p packet, req *api.FinaliseRequest) {
			req.Uploads["doc-1.pdf"] = e.uploadBytes(t, c, p.m.PacketID, "doc-1.pdf", ageEncrypt(t, e.s.AgeRecipient(), pdftest.Scan(1, 0, nil)))
		}, 422, portal.CodeDocumentMismatch},
		{"page count lie", func(m *api.Manifest, d []backendclient.Document) []backendclient.Document {
			m.Documents[0].Pages = 1
			return d
		}, nil, 422, portal.CodePageCountMismatch},
		{"upload not encrypted", nil, func(t *testing.T, p packet, req *api.FinaliseRequest) {
			req.Uploads["doc-1.pdf"] = e.uploadBytes(t, c, p.m.PacketID, "doc-1.pdf", p.docs[0].Data)
		}, 422, portal.CodeBadUpload},
		{"upload of another packet", nil, func(t *testing.T, p packet, req *api.FinaliseRequest) {
			req.Uploads["doc-1.pdf"] = e.uploadBytes(t, c, "another-packet", "doc-1.pdf", ageEncrypt(t, e.s.AgeRecipient(), p.docs[0].Data))
		}, 422, portal.CodeUploadMismatch},
		{"incomplete upload", nil, func(t *testing.T, p packet, req *api.FinaliseRequest) {
			u, err := c.CreateUpload(ctx, p.m.PacketID, "doc-1.pdf", 1000)
			if err != nil {
				t.Fatal(err)
			}
			req.Uploads["doc-1.pdf"] = u
		}, 422, portal.CodeUploadIncomplete},
		{"unknown upload", nil, func(t *testing.T, p packet, req *api.FinaliseRequest) {
			req.Uploads["doc-1.pdf"] = e.url + portal.PathUploads + strings.Repeat("ab", 16)
		}, 422, portal.CodeUploadUnknown},
		{"foreign URL", nil, func(t *testing.T, p packet, req *api.FinaliseRequest) {
			req.Uploads["doc-1.pdf"] = "http://elsewhere.test/files/1"
		}, 400, portal.CodeUploadUnknown},
		{"missing upload", nil, func(t *testing.T, p packet, req *api.FinaliseRequest) {
			delete(req.Uploads, "doc-1.pdf")
		}, 400, portal.CodeMissingDocument},
		{"extra upload", nil, func(t *testing.T, p packet, req *api.FinaliseRequest) {
			req.Uploads["doc-9.pdf"] = req.Uploads["doc-1.pdf"]
		}, 400, portal.CodeUnexpectedDocument},
		{"packet id differs from manifest", nil, func(t *testing.T, p packet, req *api.FinaliseRequest) {
			req.PacketID = "another-packet"
		}, 400, portal.CodeIdempotencyKeyMismatch},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := e.newPacket(t, 100+i, token, tc.edit)
			req := e.upload(t, c, p)
			if tc.mut != nil {
				tc.mut(t, p, &req)
			}
			_, err := c.Finalise(ctx, req)
			if st, code := apiCode(err); st != tc.status || code != tc.code {
				t.Errorf("got %d %q (%v), want %d %q", st, code, err, tc.status, tc.code)
			}
			if !backendclient.IsPermanent(err) {
				t.Errorf("%v is not permanent", err)
			}
		})
	}
	// Idempotency-Key header rules.
	p := e.newPacket(t, 1, token, nil)
	req := e.upload(t, c, p)
	for _, tc := range []struct {
		key  string
		want int
	}{{"", 400}, {`"another"`, 400}} {
		if st, _ := rawFinalise(t, e.url, tc.key, req); st != tc.want {
			t.Errorf("key %q: %d, want %d", tc.key, st, tc.want)
		}
	}
	if apps := e.apps(t); len(apps) != 0 {
		t.Errorf("%d applications stored from rejected packets", len(apps))
	}
	// The good token survived all the rejections.
	if _, err := c.Finalise(ctx, req); err != nil {
		t.Errorf("good packet after rejections: %v", err)
	}
}

// uploadBytes uploads enc as the document file of packetID.
func (e *env) uploadBytes(t *testing.T, c *backendclient.Client, packetID, file string, enc []byte) string {
	t.Helper()
	u, err := c.CreateUpload(context.Background(), packetID, file, int64(len(enc)))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Upload(context.Background(), u, bytes.NewReader(enc), int64(len(enc))); err != nil {
		t.Fatal(err)
	}
	return u
}

// blockingIdentity holds Deliver (called inside intake) until released.
type blockingIdentity struct {
	*fakeIdentity
	entered chan struct{}
	release chan struct{}
	once    sync.Once
}

func (b *blockingIdentity) Deliver(citizenID, text string) {
	if strings.Contains(text, "application") || strings.Contains(text, "hồ sơ") {
		b.once.Do(func() {
			close(b.entered)
			<-b.release
		})
	}
	b.fakeIdentity.Deliver(citizenID, text)
}

// A finalise that arrives while the first is being processed gets 409;
// the client retries 409 inside and ends with the original result.
func TestFinaliseConcurrent(t *testing.T) {
	bi := &blockingIdentity{fakeIdentity: newFakeIdentity(), entered: make(chan struct{}), release: make(chan struct{})}
	e := newEnv(t, func(o *portal.Options) { o.Identity = bi })
	e.id = bi.fakeIdentity
	c := fastUploads(e.kiosk)
	ctx := context.Background()
	p := e.newPacket(t, 1, e.confirm(t, "tok-an", "049090001234", "marital-status"), nil)
	req := e.upload(t, c, p)

	first := make(chan api.SubmitResult, 1)
	go func() {
		res, err := c.Finalise(ctx, req)
		if err != nil {
			t.Error(err)
		}
		first <- res
	}()
	<-bi.entered // the first request is inside intake
	if st, code := rawFinalise(t, e.url, `"`+req.PacketID+`"`, req); st != 409 || code != portal.CodeInProgress {
		t.Errorf("concurrent duplicate: %d %s, want 409", st, code)
	}
	second := make(chan api.SubmitResult, 1)
	go func() {
		c2 := fastUploads(backendclient.New(e.url, nil, e.kid, e.key))
		c2.SetPortalKey(e.s.PublicKey())
		c2.SetUploadConfig(tus.Config{Backoff: tus.Backoff{Min: 5 * time.Millisecond, Max: 20 * time.Millisecond}, MaxFailures: 1000})
		res, err := c2.Finalise(ctx, req)
		if err != nil {
			t.Error(err)
		}
		second <- res
	}()
	close(bi.release)
	r1, r2 := <-first, <-second
	if r1.Duplicate || !r2.Duplicate || r1.TrackingNumber != r2.TrackingNumber || r1.TrackingNumber == "" {
		t.Errorf("first %+v, second %+v", r1, r2)
	}
	if apps := e.apps(t); len(apps) != 1 {
		t.Errorf("%d applications", len(apps))
	}
}

func TestAgeIdentityPersists(t *testing.T) {
	dir := t.TempDir()
	opts := portal.Options{PublicURL: "http://portal.test", DataDir: dir, Identity: newFakeIdentity()}
	s1, err := portal.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	r1 := s1.AgeRecipient()
	s1.Close()
	s2, err := portal.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if !strings.HasPrefix(r1, "age1") || s2.AgeRecipient() != r1 {
		t.Errorf("recipient %q then %q", r1, s2.AgeRecipient())
	}
	fi, err := os.Stat(filepath.Join(dir, "portal-age.key"))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("age key file: %v %v", fi, err)
	}
}

// tusRequest sends one raw tus request.
func tusRequest(t *testing.T, method, url string, hdr map[string]string, body []byte) *http.Response {
	t.Helper()
	r, _ := http.NewRequest(method, url, bytes.NewReader(body))
	r.Header.Set("Tus-Resumable", "1.0.0")
	for k, v := range hdr {
		if v == "" {
			r.Header.Del(k)
		} else {
			r.Header.Set(k, v)
		}
	}
	resp, err := http.DefaultClient.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}

func TestTusServer(t *testing.T) {
	e := newEnv(t, nil)
	endpoint := e.url + portal.PathUploads
	meta := tus.Metadata{"packetId": "p-1", "file": "doc-1.pdf"}.Encode()
	signed := func(key interface{}, length int64, m string) map[string]string {
		h, err := backendclient.UploadCreationHeaders(e.kid, e.key, length, m)
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]string{"Upload-Length": fmt.Sprint(length), "Upload-Metadata": m}
		for k := range h {
			out[k] = h.Get(k)
		}
		return out
	}
	wrongKey, _ := newKey(t)
	otherSig, _ := backendclient.Sign(wrongKey, backendclient.UploadCreationMessage(10, meta))
	for _, tc := range []struct {
		name string
		hdr  map[string]string
		want int
	}{
		{"no Tus-Resumable", map[string]string{"Tus-Resumable": "", "Upload-Length": "10"}, 412},
		{"no kiosk", map[string]string{"Upload-Length": "10", "Upload-Metadata": meta}, 401},
		{"foreign signature", map[string]string{"Upload-Length": "10", "Upload-Metadata": meta, api.HeaderKioskID: e.kid,
			api.HeaderKioskSignature: base64.StdEncoding.EncodeToString(otherSig)}, 401},
		{"signature for another length", func() map[string]string { h := signed(nil, 10, meta); h["Upload-Length"] = "11"; return h }(), 401},
		{"unknown kiosk", map[string]string{"Upload-Length": "10", "Upload-Metadata": meta, api.HeaderKioskID: "KIOSK-9999"}, 401},
		{"too large", signed(nil, portal.MaxUploadBytes+1, meta), 413},
		{"no packet", signed(nil, 10, tus.Metadata{"file": "doc-1.pdf"}.Encode()), 400},
		{"path in file", signed(nil, 10, tus.Metadata{"packetId": "p-1", "file": "../x"}.Encode()), 400},
		{"bad metadata", signed(nil, 10, "file !!!"), 400},
		{"deferred length", map[string]string{"Upload-Defer-Length": "1"}, 400},
		{"good", signed(nil, 10, meta), 201},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp := tusRequest(t, "POST", endpoint, tc.hdr, nil)
			if resp.StatusCode != tc.want || resp.Header.Get("Tus-Resumable") != "1.0.0" {
				t.Errorf("%s, Tus-Resumable %q; want %d", resp.Status, resp.Header.Get("Tus-Resumable"), tc.want)
			}
		})
	}
	resp := tusRequest(t, "OPTIONS", endpoint, nil, nil)
	if resp.StatusCode != 204 || resp.Header.Get("Tus-Extension") != "creation,checksum,termination" || resp.Header.Get("Tus-Checksum-Algorithm") != "sha256" {
		t.Errorf("OPTIONS: %s %v", resp.Status, resp.Header)
	}

	resp = tusRequest(t, "POST", endpoint, signed(nil, 10, meta), nil)
	u := e.url + resp.Header.Get("Location")
	id := u[strings.LastIndex(u, "/")+1:]
	if fi, err := os.Stat(filepath.Join(e.opts.DataDir, "uploads", id)); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("upload file: %v %v", fi, err)
	}
	patch := func(off int, body []byte, extra map[string]string) *http.Response {
		h := map[string]string{"Content-Type": "application/offset+octet-stream", "Upload-Offset": fmt.Sprint(off)}
		for k, v := range extra {
			h[k] = v
		}
		return tusRequest(t, "PATCH", u, h, body)
	}
	sum := func(b []byte) string {
		return "sha256 " + base64.StdEncoding.EncodeToString(func() []byte { s := sha256Sum(b); return s[:] }())
	}
	for _, st := range []struct {
		name   string
		resp   func() *http.Response
		want   int
		offset string // Upload-Offset after
	}{
		{"first bytes, checksum", func() *http.Response {
			return patch(0, []byte("0123"), map[string]string{"Upload-Checksum": sum([]byte("0123"))})
		}, 204, "4"},
		{"wrong offset", func() *http.Response { return patch(2, []byte("xx"), nil) }, 409, "4"},
		{"wrong content type", func() *http.Response { return patch(4, []byte("45"), map[string]string{"Content-Type": "text/plain"}) }, 415, "4"},
		{"checksum mismatch", func() *http.Response {
			return patch(4, []byte("45"), map[string]string{"Upload-Checksum": sum([]byte("xx"))})
		}, 460, "4"},
		{"unsupported algorithm", func() *http.Response { return patch(4, []byte("45"), map[string]string{"Upload-Checksum": "md5 AAAA"}) }, 400, "4"},
		{"past the length", func() *http.Response { return patch(4, []byte("4567890123"), nil) }, 413, "4"},
		{"no checksum", func() *http.Response { return patch(4, []byte("45"), nil) }, 204, "6"},
		{"the rest", func() *http.Response {
			return patch(6, []byte("6789"), map[string]string{"Upload-Checksum": sum([]byte("6789"))})
		}, 204, "10"},
	} {
		if r := st.resp(); r.StatusCode != st.want {
			t.Errorf("%s: %s, want %d", st.name, r.Status, st.want)
		}
		head := tusRequest(t, "HEAD", u, nil, nil)
		if head.Header.Get("Upload-Offset") != st.offset || head.Header.Get("Upload-Length") != "10" || head.Header.Get("Cache-Control") != "no-store" {
			t.Errorf("%s: HEAD offset %q length %q", st.name, head.Header.Get("Upload-Offset"), head.Header.Get("Upload-Length"))
		}
	}
	got, _ := os.ReadFile(filepath.Join(e.opts.DataDir, "uploads", id))
	if string(got) != "0123456789" {
		t.Errorf("upload holds %q", got)
	}
	if r := tusRequest(t, "DELETE", u, nil, nil); r.StatusCode != 204 {
		t.Errorf("DELETE: %s", r.Status)
	}
	for _, m := range []string{"HEAD", "DELETE"} {
		if r := tusRequest(t, m, u, nil, nil); r.StatusCode != 404 {
			t.Errorf("%s after termination: %s", m, r.Status)
		}
	}
	if _, err := os.Stat(filepath.Join(e.opts.DataDir, "uploads", id)); !os.IsNotExist(err) {
		t.Errorf("upload file survives termination: %v", err)
	}
}

func sha256Sum(b []byte) [32]byte { return sha256.Sum256(b) }
