package portal_test

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"govkiosk/backend-client"
	"govkiosk/backend-client/tus"
)

// peersDir finds e2e/peers (with node_modules) and node. Without them the
// test is skipped, except in CI (env CI set), where it fails.
func peersDir(t *testing.T) (node, dir string) {
	t.Helper()
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	dir = filepath.Join(filepath.Dir(wd), "e2e", "peers")
	node, err = exec.LookPath("node")
	_, modErr := os.Stat(filepath.Join(dir, "node_modules", "tus-js-client"))
	if err != nil || modErr != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("CI: node (%v) or e2e/peers/node_modules (%v) missing; run make deps", err, modErr)
		}
		t.Skipf("node (%v) or e2e/peers/node_modules (%v) missing; run make deps", err, modErr)
	}
	return node, dir
}

// tus-js-client, the reference tus client, uploads to the portal's tus
// endpoint with the kiosk's creation headers (computed here), is aborted
// midway and resumes; our finalise then accepts the packet.
func TestTusJSClientAgainstPortal(t *testing.T) {
	node, dir := peersDir(t)
	e := newEnv(t, nil)
	ctx := context.Background()
	p := e.newPacket(t, 1, e.confirm(t, "tok-an", "049090001234", "marital-status"), nil)
	enc := ageEncrypt(t, e.s.AgeRecipient(), p.docs[0].Data)
	file := filepath.Join(t.TempDir(), "doc-1.pdf.age")
	if err := os.WriteFile(file, enc, 0o600); err != nil {
		t.Fatal(err)
	}
	meta := tus.Metadata{backendclient.MetaPacketID: p.m.PacketID, backendclient.MetaFile: "doc-1.pdf"}
	hdr, err := backendclient.UploadCreationHeaders(e.kid, e.key, int64(len(enc)), meta.Encode())
	if err != nil {
		t.Fatal(err)
	}
	headers := map[string]string{}
	for k := range hdr {
		headers[k] = hdr.Get(k)
	}
	hj, _ := json.Marshal(headers)
	mj, _ := json.Marshal(meta)   // keys sorted, as Metadata.Encode orders them
	chunk := max(256, len(enc)/5) // several PATCHes even for a small PDF
	cctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(cctx, node, "tus-client.mjs", e.url+"/api/v1/uploads/", file, string(hj), string(mj),
		itoa(chunk), itoa(2*chunk))
	cmd.Dir = dir
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("tus-client.mjs: %v", err)
	}
	var res struct {
		URL     string `json:"url"`
		Resumed bool   `json:"resumed"`
	}
	if err := json.Unmarshal(out, &res); err != nil || res.URL == "" || !res.Resumed {
		t.Fatalf("tus-client.mjs said %q", out)
	}
	req := e.upload(t, fastUploads(e.kiosk), packet{manifest: p.manifest, sig: p.sig, m: p.m}) // manifest only
	req.Uploads = map[string]string{"doc-1.pdf": res.URL}
	got, err := e.kiosk.Finalise(ctx, req)
	if err != nil || got.TrackingNumber == "" || got.Duplicate {
		t.Fatalf("finalise after tus-js-client: %+v %v", got, err)
	}
	stored, err := os.ReadFile(filepath.Join(e.opts.DataDir, "documents", p.m.PacketID, "doc-1.pdf"))
	if err != nil || string(stored) != string(p.docs[0].Data) {
		t.Errorf("stored document differs: %v", err)
	}

	// Without the kiosk's signature tus-js-client cannot create uploads.
	bad, _ := json.Marshal(map[string]string{"Kiosk-Id": e.kid})
	cmd = exec.CommandContext(cctx, node, "tus-client.mjs", e.url+"/api/v1/uploads/", file, string(bad), string(mj), "0", "0")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err == nil {
		t.Errorf("unsigned creation accepted: %s", out)
	}
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }
