package portal_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"govkiosk/backend-client"
	"govkiosk/backend-client/api"
	"govkiosk/portal"
)

// countingReader counts the bytes the server takes from a request body.
type countingReader struct {
	r io.Reader
	n atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }

// hugePacket streams a multipart packet whose one document is size bytes
// of zeros, after the given manifest and signature parts.
func hugePacket(manifest []byte, sig string, size int64) (io.Reader, string) {
	const boundary = "govkiosk-attack-boundary"
	head := "--" + boundary + "\r\nContent-Disposition: form-data; name=\"manifest\"\r\n\r\n" + string(manifest) +
		"\r\n--" + boundary + "\r\nContent-Disposition: form-data; name=\"signature\"\r\n\r\n" + sig +
		"\r\n--" + boundary + "\r\nContent-Disposition: form-data; name=\"doc-1.pdf\"; filename=\"doc-1.pdf\"\r\nContent-Type: application/pdf\r\n\r\n"
	tail := "\r\n--" + boundary + "--\r\n"
	return io.MultiReader(strings.NewReader(head), io.LimitReader(zeros{}, size), strings.NewReader(tail)),
		"multipart/form-data; boundary=" + boundary
}

// maxPreAuthRead is what the portal may read of a packet before it knows
// the sender: the manifest and signature parts and multipart framing.
const maxPreAuthRead = portal.MaxManifestBytes + 64<<10

// TestSubmitReadsLittleBeforeAuthentication is the attack of an
// unenrolled client (or one that names an enrolled kiosk but cannot sign
// for it) sending a 200 MB packet: the portal must refuse it having read at
// most the manifest, not hold the body.
func TestSubmitReadsLittleBeforeAuthentication(t *testing.T) {
	e := newEnv(t, nil)
	manifest := func(kioskID string) []byte {
		b, _ := json.Marshal(api.Manifest{PacketID: "0b9c2f6e-4a51-4d2b-9d1e-000000000666", KioskID: kioskID,
			ProvisionalNumber: "X-1", ProcedureID: "marital-status", ConfirmationToken: "forged",
			Applicant: api.Applicant{CitizenID: "049090001234"}})
		return b
	}
	forged := base64.StdEncoding.EncodeToString([]byte("not a signature"))
	for _, tc := range []struct {
		name, header, kiosk string
		status              int
	}{
		{"unknown kiosk", "KIOSK-9999", "KIOSK-9999", 401},
		{"no kiosk header", "", "KIOSK-9999", 401},
		{"enrolled kiosk, forged signature", e.kid, e.kid, 401},
		{"header names another kiosk", e.kid, "KIOSK-9999", 400},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body, ctype := hugePacket(manifest(tc.kiosk), forged, 200<<20)
			cr := &countingReader{r: body}
			req := httptest.NewRequest("POST", api.PathApplications, cr)
			req.Header.Set("Content-Type", ctype)
			req.Header.Set(api.HeaderIdempotencyKey, `"0b9c2f6e-4a51-4d2b-9d1e-000000000666"`)
			if tc.header != "" {
				req.Header.Set(api.HeaderKioskID, tc.header)
			}
			rec := httptest.NewRecorder()
			e.s.Handler().ServeHTTP(rec, req)
			if rec.Code != tc.status {
				t.Errorf("status %d (%s), want %d", rec.Code, strings.TrimSpace(rec.Body.String()), tc.status)
			}
			if n := cr.n.Load(); n > maxPreAuthRead {
				t.Errorf("the portal read %d bytes (%.1f MB) of an unauthenticated packet; at most %d", n, float64(n)/(1<<20), maxPreAuthRead)
			}
		})
	}
}

// TestSubmitChecksConfirmationBeforeDocuments: a kiosk that may submit
// (here a demo portal that takes unenrolled kiosks) but has no valid
// confirmation gets its packet refused before its documents are read or
// parsed.
func TestSubmitChecksConfirmationBeforeDocuments(t *testing.T) {
	e := newEnv(t, func(o *portal.Options) { o.AllowUnenrolled = true })
	junk := []byte("%PDF-1.4 not really a PDF, and never parsed")
	m := api.Manifest{PacketID: "0b9c2f6e-4a51-4d2b-9d1e-000000000777", KioskID: "DEMO-1", ProvisionalNumber: "DEMO-1-1",
		ProcedureID: "marital-status", ConfirmationToken: "forged", Language: "vi",
		Applicant: api.Applicant{CitizenID: "049090001234"},
		Form:      map[string]string{"full_name": "Nguyễn Văn An", "citizen_id": "049090001234", "purpose": "marriage", "marital_history": "divorced"},
		Documents: []api.DocumentRef{{Type: "divorce-decree", File: "doc-1.pdf", Pages: 1, SHA256: sha(junk), Size: int64(len(junk))}}}
	mb, _ := json.Marshal(m)

	t.Run("multipart", func(t *testing.T) {
		body, ctype := hugePacket(mb, "", 200<<20)
		cr := &countingReader{r: body}
		req := httptest.NewRequest("POST", api.PathApplications, cr)
		req.Header.Set("Content-Type", ctype)
		req.Header.Set(api.HeaderIdempotencyKey, `"`+m.PacketID+`"`)
		req.Header.Set(api.HeaderKioskID, m.KioskID)
		rec := httptest.NewRecorder()
		e.s.Handler().ServeHTTP(rec, req)
		if rec.Code != 403 || !strings.Contains(rec.Body.String(), portal.CodeConfirmationInvalid) {
			t.Errorf("got %d %s, want 403 %s", rec.Code, strings.TrimSpace(rec.Body.String()), portal.CodeConfirmationInvalid)
		}
		if n := cr.n.Load(); n > maxPreAuthRead {
			t.Errorf("the portal read %d bytes (%.1f MB) of a packet without a valid confirmation", n, float64(n)/(1<<20))
		}
	})

	t.Run("finalise", func(t *testing.T) {
		c := fastUploads(backendclient.New(e.url, nil, "DEMO-1", nil))
		p := packet{manifest: mb, docs: []backendclient.Document{{Name: "doc-1.pdf", Data: junk}}, m: m}
		res, err := c.Finalise(context.Background(), e.upload(t, c, p))
		// Before the confirmation was checked first, this was 422 bad-pdf:
		// the document had been decrypted and parsed.
		if st, code := apiCode(err); st != 403 || code != portal.CodeConfirmationInvalid {
			t.Errorf("got %+v %v, want 403 %s", res, err, portal.CodeConfirmationInvalid)
		}
	})
}

// TestHeartbeatUnknownKioskReadsNothing: an unknown kiosk's heartbeat is
// refused before its body is read.
func TestHeartbeatUnknownKioskReadsNothing(t *testing.T) {
	e := newEnv(t, nil)
	cr := &countingReader{r: io.MultiReader(strings.NewReader(`{"kioskId":"KIOSK-9999","pad":"`), io.LimitReader(zeros{}, 900<<10))}
	req := httptest.NewRequest("POST", api.PathHeartbeat, cr)
	req.Header.Set(api.HeaderKioskID, "KIOSK-9999")
	rec := httptest.NewRecorder()
	e.s.Handler().ServeHTTP(rec, req)
	if rec.Code != 401 {
		t.Errorf("status %d, want 401", rec.Code)
	}
	if n := cr.n.Load(); n > 0 {
		t.Errorf("read %d bytes of an unknown kiosk's heartbeat", n)
	}
}
