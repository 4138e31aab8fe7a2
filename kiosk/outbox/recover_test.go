package outbox

import (
	"context"
	"database/sql"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"govkiosk/backend-client/api"
)

// blockAt returns a failure function that blocks (until the delivery is
// cancelled, as a crash would cut it) at the n-th call of op for file, and
// signals reached when it gets there.
func blockAt(op, file string, n int, reached chan<- struct{}) func(ctx context.Context, o, id, f string) error {
	seen := 0
	return func(ctx context.Context, o, id, f string) error {
		if o != op || (file != "" && f != file) {
			return nil
		}
		seen++
		if seen != n {
			return nil
		}
		reached <- struct{}{}
		<-ctx.Done()
		return ctx.Err()
	}
}

// TestResumeAfterCrashInEachState interrupts a delivery at every step
// (cancellation writes nothing, so the database is as a crash leaves it),
// reopens the outbox and checks that the delivery completes from where it
// stopped: no upload created twice, no byte the server holds sent again, no
// upload once the packet is uploaded, and exactly one accepted finalise.
func TestResumeAfterCrashInEachState(t *testing.T) {
	tests := []struct {
		name      string
		op, file  string
		n         int
		wantState State
		wantURLs  int // upload URLs recorded at the crash
		wantDone  int // documents marked uploaded at the crash
	}{
		{"queued: enqueued, nothing sent", "", "", 0, StateQueued, 0, 0},
		{"uploading: before the first upload is created", "create", "doc-0.pdf", 1, StateUploading, 0, 0},
		{"uploading: first upload created, nothing sent", "upload", "doc-0.pdf", 1, StateUploading, 1, 0},
		{"uploading: mid-upload of the second document", "chunk", "doc-1.pdf", 3, StateUploading, 2, 1},
		{"uploaded: before finalise", "finalise", "", 1, StateUploaded, 2, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			o := open(t, dir, nil)
			p := testPacketSized(20, 6000)
			mustEnqueue(t, o, p)
			fp := newPortal()
			if tt.op != "" {
				reached := make(chan struct{}, 1)
				fp.fail = blockAt(tt.op, tt.file, tt.n, reached)
				stop := run(t, o, fp)
				select {
				case <-reached:
				case <-time.After(20 * time.Second):
					t.Fatal("never reached the crash point")
				}
				stop()
			}
			o.Close()

			o = open(t, dir, nil)
			e, _, _ := o.Get(p.ID)
			if e.State != tt.wantState || e.Attempts != 0 {
				t.Errorf("after crash: state %s attempts %d, want %s and 0", e.State, e.Attempts, tt.wantState)
			}
			files, err := o.files(p.ID)
			if err != nil {
				t.Fatal(err)
			}
			urls, done := 0, 0
			for _, f := range files {
				if f.uploadURL != "" {
					urls++
				}
				if f.uploaded {
					done++
				}
			}
			if urls != tt.wantURLs || done != tt.wantDone {
				t.Errorf("after crash: %d upload URLs and %d uploaded, want %d and %d", urls, done, tt.wantURLs, tt.wantDone)
			}

			fp.mu.Lock()
			fp.fail = nil
			uploadsBefore := fp.ops["upload"]
			fp.mu.Unlock()
			run(t, o, fp)
			if e := wait(t, o, p.ID); !e.Delivered() || e.Attempts != 1 {
				t.Fatalf("after resume: %+v", e)
			}
			waitPurged(t, o, p.ID)
			fp.check(t, p)
			for _, d := range p.Docs {
				if c := fp.count(fp.creates, p.ID+"/"+d.Name); c != 1 {
					t.Errorf("%s created %d times", d.Name, c)
				}
			}
			var total int64
			for _, u := range fp.uploads {
				total += u.size
			}
			if fp.received != total {
				t.Errorf("server received %d bytes for %d: bytes it had were sent again", fp.received, total)
			}
			if tt.wantState == StateUploaded && fp.ops["upload"] != uploadsBefore {
				t.Errorf("an uploaded packet was uploaded again")
			}
			if fp.finalCalls[p.ID] != 1 {
				t.Errorf("finalise accepted %d times", fp.finalCalls[p.ID])
			}
		})
	}
}

// TestOpenFinishesDeliveredPackets: a crash after the portal's answer was
// stored (finalised) or after the row was cleaned (acknowledged) is finished
// by Open alone, without the network; a purged packet whose files survived
// loses them.
func TestOpenFinishesDeliveredPackets(t *testing.T) {
	res, _ := json.Marshal(api.SubmitResult{TrackingNumber: "T-9"})
	tests := []struct {
		name  string
		crash func(db *sql.DB, id string) error
	}{
		{"finalised", func(db *sql.DB, id string) error {
			_, err := db.Exec(`UPDATE packets SET state = 'finalised', result = ?, tracking = 'T-9' WHERE id = ?`, string(res), id)
			return err
		}},
		{"acknowledged", func(db *sql.DB, id string) error {
			if _, err := db.Exec(`UPDATE packets SET state = 'acknowledged', result = ?, tracking = 'T-9',
				digest = '', signature = NULL WHERE id = ?`, string(res), id); err != nil {
				return err
			}
			_, err := db.Exec(`DELETE FROM files WHERE packet_id = ?`, id)
			return err
		}},
		{"purged, files still there", func(db *sql.DB, id string) error {
			if _, err := db.Exec(`UPDATE packets SET state = 'purged', result = ?, tracking = 'T-9',
				digest = '', signature = NULL, bytes = 0 WHERE id = ?`, string(res), id); err != nil {
				return err
			}
			_, err := db.Exec(`DELETE FROM files WHERE packet_id = ?`, id)
			return err
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			o := open(t, dir, nil)
			p := testPacket(21)
			mustEnqueue(t, o, p)
			if err := tt.crash(o.db, p.ID); err != nil {
				t.Fatal(err)
			}
			o.Close()

			o = open(t, dir, nil)
			e, _, _ := o.Get(p.ID)
			if e.State != StatePurged || e.Result == nil || e.Result.TrackingNumber != "T-9" {
				t.Errorf("after reopen: %+v", e)
			}
			if _, err := os.Stat(filepath.Join(dir, "packets", p.ID)); !os.IsNotExist(err) {
				t.Errorf("files survived: %v", err)
			}
			var digest string
			var sig []byte
			var n, nfiles int64
			o.db.QueryRow(`SELECT digest, signature, bytes FROM packets WHERE id = ?`, p.ID).Scan(&digest, &sig, &n)
			o.db.QueryRow(`SELECT count(*) FROM files WHERE packet_id = ?`, p.ID).Scan(&nfiles)
			if digest != "" || sig != nil || n != 0 || nfiles != 0 {
				t.Errorf("row keeps content fields: digest=%q sig=%q bytes=%d files=%d", digest, sig, n, nfiles)
			}
			// Enqueueing it again (a retry of the controller) is a no-op.
			mustEnqueue(t, o, p)
			if e, _, _ := o.Get(p.ID); e.State != StatePurged {
				t.Errorf("re-enqueue changed state to %s", e.State)
			}
			if b, _ := o.Backlog(); b != 0 {
				t.Errorf("backlog %d", b)
			}
		})
	}
}

// TestVersion1Outbox: an empty plaintext outbox of the previous layout is
// replaced; one with undelivered packets is refused, not silently dropped.
func TestVersion1Outbox(t *testing.T) {
	for _, pending := range []bool{false, true} {
		dir := t.TempDir()
		db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "outbox.db"))
		if err != nil {
			t.Fatal(err)
		}
		state := "acknowledged"
		if pending {
			state = "queued"
		}
		for _, q := range []string{
			`CREATE TABLE packets (seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, provisional TEXT NOT NULL,
				state TEXT NOT NULL, created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL)`,
			`INSERT INTO packets (id, provisional, state, created_at, updated_at) VALUES ('x', 'p', '` + state + `', 0, 0)`,
			`PRAGMA user_version = 1`,
		} {
			if _, err := db.Exec(q); err != nil {
				t.Fatal(err)
			}
		}
		db.Close()
		o, err := Open(Options{Dir: dir, Recipient: portalKey.Recipient()})
		if pending {
			if err == nil {
				o.Close()
				t.Error("a version 1 outbox with pending packets was opened")
			}
			continue
		}
		if err != nil {
			t.Fatalf("empty version 1 outbox: %v", err)
		}
		mustEnqueue(t, o, testPacket(22))
		o.Close()
	}
}
