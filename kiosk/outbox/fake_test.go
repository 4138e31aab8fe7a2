package outbox

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync"
	"testing"
	"time"

	"filippo.io/age"
	"github.com/google/uuid"

	"govkiosk/backend-client/api"
)

// marker is "personal data" that must never be on disk in plaintext.
const marker = "Nguyen-Thi-Marker-7f3a"

func testPacket(n int) Packet { return testPacketSized(n, 0) }

// testPacketSized builds a valid packet whose second document has extra
// bytes of filler.
func testPacketSized(n, extra int) Packet {
	id := uuid.NewSHA1(uuid.NameSpaceOID, []byte(fmt.Sprint("packet", n))).String()
	prov := fmt.Sprintf("K01-%06d", n)
	docs := []Doc{
		{Name: "doc-0.pdf", Data: []byte(fmt.Sprintf("%%PDF-1.7 id card %s %d", marker, n))},
		{Name: "doc-1.pdf", Data: append([]byte(fmt.Sprintf("%%PDF-1.7 site plan %s %d ", marker, n)), bytes.Repeat([]byte{byte(n)}, extra)...)},
	}
	m := api.Manifest{
		PacketID:          id,
		ProvisionalNumber: prov,
		ProcedureID:       "building-permit",
		KioskID:           "kiosk-01",
		CreatedAt:         time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC),
		Language:          "vi",
		Applicant:         api.Applicant{CitizenID: "001234567890", Name: marker},
		Form:              map[string]string{"address": marker},
		ConfirmationToken: "tok",
	}
	for _, d := range docs {
		sum := sha256.Sum256(d.Data)
		m.Documents = append(m.Documents, api.DocumentRef{Type: "x", File: d.Name, Pages: 1,
			SHA256: hex.EncodeToString(sum[:]), Size: int64(len(d.Data))})
	}
	mj, err := json.Marshal(m)
	if err != nil {
		panic(err)
	}
	return Packet{ID: id, ProvisionalNumber: prov, ManifestJSON: mj, Signature: []byte("sig-" + id), Docs: docs}
}

// portalKey is the portal's age identity shared by the tests (generating
// one is cheap, but one is enough).
var portalKey = func() *age.X25519Identity {
	id, err := age.GenerateX25519Identity()
	if err != nil {
		panic(err)
	}
	return id
}()

func decrypt(t testing.TB, id age.Identity, ct []byte) []byte {
	t.Helper()
	r, err := age.Decrypt(bytes.NewReader(ct), id)
	if err != nil {
		t.Fatalf("decrypt: %v", err)
	}
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("decrypt: %v", err)
	}
	return b
}

type permErr struct{ msg string }

func (e permErr) Error() string   { return e.msg }
func (e permErr) Permanent() bool { return true }

// fakeUpload is one tus upload held by fakePortal.
type fakeUpload struct {
	packetID, file string
	size           int64
	data           []byte
}

// fakePortal plays the portal behind the Sender interface: tus-like uploads
// (Upload resumes from the offset the "server" holds) and an idempotent
// finalise. fail, if set, is asked before every operation (op "create",
// "upload", "chunk" after each 1 KiB stored, "finalise") and may return an
// error or block on ctx.
type fakePortal struct {
	mu         sync.Mutex
	uploads    map[string]*fakeUpload
	n          int
	creates    map[string]int // packetID/file → uploads created
	finalCalls map[string]int
	results    map[string]api.SubmitResult
	requests   map[string]api.FinaliseRequest
	received   int64          // bytes Upload stored
	ops        map[string]int // calls by op
	fail       func(ctx context.Context, op, packetID, file string) error
	called     chan string // optional: op+" "+packetID on every call
}

func newPortal() *fakePortal {
	return &fakePortal{uploads: map[string]*fakeUpload{}, creates: map[string]int{},
		finalCalls: map[string]int{}, results: map[string]api.SubmitResult{}, requests: map[string]api.FinaliseRequest{}}
}

func (f *fakePortal) failure(ctx context.Context, op, packetID, file string) error {
	if f.called != nil {
		select {
		case f.called <- op + " " + packetID:
		default:
		}
	}
	f.mu.Lock()
	if f.ops == nil {
		f.ops = map[string]int{}
	}
	f.ops[op]++
	fail := f.fail
	f.mu.Unlock()
	if fail == nil {
		return nil
	}
	return fail(ctx, op, packetID, file)
}

func (f *fakePortal) setFail(fn func(ctx context.Context, op, packetID, file string) error) {
	f.mu.Lock()
	f.fail = fn
	f.mu.Unlock()
}

func (f *fakePortal) CreateUpload(ctx context.Context, packetID, file string, size int64) (string, error) {
	if err := f.failure(ctx, "create", packetID, file); err != nil {
		return "", err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.n++
	u := fmt.Sprintf("https://portal.test/files/%d", f.n)
	f.uploads[u] = &fakeUpload{packetID: packetID, file: file, size: size}
	f.creates[packetID+"/"+file]++
	return u, nil
}

func (f *fakePortal) Upload(ctx context.Context, url string, data io.ReaderAt, size int64) error {
	f.mu.Lock()
	u := f.uploads[url]
	f.mu.Unlock()
	if u == nil {
		return permErr{"404 upload not found"}
	}
	if err := f.failure(ctx, "upload", u.packetID, u.file); err != nil {
		return err
	}
	if size != u.size {
		return permErr{"size differs from the upload's"}
	}
	for {
		f.mu.Lock()
		off := int64(len(u.data)) // HEAD
		f.mu.Unlock()
		if off == size {
			return nil
		}
		buf := make([]byte, min(1024, size-off))
		if _, err := data.ReadAt(buf, off); err != nil && !errors.Is(err, io.EOF) {
			return err
		}
		f.mu.Lock()
		u.data = append(u.data, buf...)
		f.received += int64(len(buf))
		f.mu.Unlock()
		if err := f.failure(ctx, "chunk", u.packetID, u.file); err != nil {
			return err
		}
	}
}

func (f *fakePortal) Finalise(ctx context.Context, req api.FinaliseRequest) (api.SubmitResult, error) {
	if err := f.failure(ctx, "finalise", req.PacketID, ""); err != nil {
		return api.SubmitResult{}, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.finalCalls[req.PacketID]++
	if r, ok := f.results[req.PacketID]; ok {
		r.Duplicate = true
		return r, nil
	}
	for file, url := range req.Uploads {
		u := f.uploads[url]
		if u == nil || u.packetID != req.PacketID || u.file != file || int64(len(u.data)) != u.size {
			return api.SubmitResult{}, permErr{"422 upload " + file + " missing or incomplete"}
		}
	}
	r := api.SubmitResult{TrackingNumber: fmt.Sprintf("T-%d", len(f.results)+1), ReceivedAt: time.Date(2026, 3, 1, 10, 1, 0, 0, time.UTC),
		AppointmentDate: "2026-03-20"}
	f.results[req.PacketID] = r
	f.requests[req.PacketID] = req
	return r, nil
}

// check verifies that the portal holds packet p exactly as enqueued: the
// finalised manifest and every uploaded document decrypt to p's bytes.
func (f *fakePortal) check(t testing.TB, p Packet) {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	req, ok := f.requests[p.ID]
	if !ok {
		t.Errorf("portal has no packet %s", p.ID)
		return
	}
	if got := decrypt(t, portalKey, req.Manifest); !bytes.Equal(got, p.ManifestJSON) {
		t.Errorf("%s: manifest differs", p.ID)
	}
	if !bytes.Equal(req.Signature, p.Signature) {
		t.Errorf("%s: signature differs", p.ID)
	}
	if len(req.Uploads) != len(p.Docs) {
		t.Errorf("%s: %d uploads, want %d", p.ID, len(req.Uploads), len(p.Docs))
	}
	for _, d := range p.Docs {
		u := f.uploads[req.Uploads[d.Name]]
		if u == nil {
			t.Errorf("%s: no upload for %s", p.ID, d.Name)
			continue
		}
		if got := decrypt(t, portalKey, u.data); !bytes.Equal(got, d.Data) {
			t.Errorf("%s: %s differs", p.ID, d.Name)
		}
	}
}

func (f *fakePortal) count(m map[string]int, key string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return m[key]
}
