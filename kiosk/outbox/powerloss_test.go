package outbox

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// powerSim takes a "power cut" image of an outbox directory before every
// fsync and commit the outbox makes (Outbox.hook). An image keeps only what
// a power cut cannot take back:
//   - a directory entry (a created or renamed file, a new packet directory)
//     survives only if its directory was fsynced since it appeared; others
//     are dropped, with their content;
//   - the file about to be fsynced is cut to a random length (its
//     un-synced data lost), if its name survived at all;
//   - the SQLite database is copied as it is: with synchronous=FULL every
//     committed transaction is on disk, and no transaction is open at a
//     hook point.
//
// Not modelled: a removal whose directory was not yet fsynced coming back
// (Open's stray removal handles that; TestOpenRemovesStrays covers it).
type powerSim struct {
	t        *testing.T
	src      string
	root     string
	rnd      *rand.Rand
	synced   map[string]map[string]bool // dir (relative) → names at its last fsync
	returned []string                   // packets whose Enqueue had returned
	images   []image
}

type image struct {
	dir, event, path string
	mustHave         []string
}

func newPowerSim(t *testing.T, src string) *powerSim {
	return &powerSim{t: t, src: src, root: t.TempDir(), rnd: rand.New(rand.NewPCG(6, 42)),
		synced: map[string]map[string]bool{"packets": {}}}
}

func (s *powerSim) listing(rel string) map[string]bool {
	ents, _ := os.ReadDir(filepath.Join(s.src, rel))
	m := map[string]bool{}
	for _, e := range ents {
		m[e.Name()] = true
	}
	return m
}

func (s *powerSim) hook(event, path string) {
	dst := filepath.Join(s.root, fmt.Sprintf("img-%03d", len(s.images)))
	err := filepath.WalkDir(s.src, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(s.src, p)
		if d.IsDir() {
			if parent := filepath.Dir(rel); rel != "." && parent != "." && !s.synced[parent][d.Name()] {
				return filepath.SkipDir
			}
			return os.MkdirAll(filepath.Join(dst, rel), 0o700)
		}
		if strings.HasSuffix(rel, "-shm") {
			return nil
		}
		if parent := filepath.Dir(rel); parent != "." && !s.synced[parent][d.Name()] {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if event == "fsync-file" && p == path {
			b = b[:s.rnd.IntN(len(b)+1)]
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o600)
	})
	if err != nil {
		s.t.Errorf("power image: %v", err)
		return
	}
	s.images = append(s.images, image{dst, event, path, slices.Clone(s.returned)})
	if event == "fsync-dir" {
		rel, _ := filepath.Rel(s.src, path)
		s.synced[rel] = s.listing(rel)
	}
}

// TestPowerLoss enqueues packets and delivers them (with a connection cut
// mid-upload) while imaging the outbox before every fsync and commit, then
// opens every image: each packet is either absent (and then its Enqueue had
// not returned) or complete — every file present, matching its recorded
// hash and decrypting to the exact plaintext — and every image's outbox
// delivers what it holds to the portal exactly once.
func TestPowerLoss(t *testing.T) {
	dir := t.TempDir()
	o := open(t, dir, nil)
	sim := newPowerSim(t, dir)
	o.hook = sim.hook

	pkts := map[string]Packet{}
	for i, extra := range []int{0, 150_000, 3000} { // 150 kB: several age chunks
		p := testPacketSized(500+i, extra)
		pkts[p.ID] = p
		mustEnqueue(t, o, p)
		sim.returned = append(sim.returned, p.ID)
	}
	fp := newPortal()
	var once sync.Once
	fp.fail = func(ctx context.Context, op, id, file string) error {
		var err error
		if op == "chunk" {
			once.Do(func() { err = fmt.Errorf("connection reset") })
		}
		return err
	}
	run(t, o, fp)
	for id := range pkts {
		waitPurged(t, o, id)
	}
	o.Close()
	o.hook = nil
	if len(sim.images) < 40 {
		t.Fatalf("only %d power-cut images", len(sim.images))
	}

	states := map[State]int{}
	for i, img := range sim.images {
		ob, err := Open(Options{Dir: img.dir, Recipient: portalKey.Recipient(), MinBackoff: time.Millisecond, MaxBackoff: 2 * time.Millisecond})
		if err != nil {
			t.Errorf("image %d (%s %s): Open: %v", i, img.event, img.path, err)
			continue
		}
		ents, err := ob.List()
		if err != nil {
			t.Fatal(err)
		}
		have := map[string]bool{}
		for _, e := range ents {
			have[e.ID] = true
			states[e.State]++
			p, ok := pkts[e.ID]
			if !ok {
				t.Errorf("image %d: unknown packet %s", i, e.ID)
				continue
			}
			switch {
			case e.State == StatePurged:
				if _, err := os.Stat(filepath.Join(img.dir, "packets", e.ID)); !os.IsNotExist(err) {
					t.Errorf("image %d: purged packet %s still has files", i, e.ID)
				}
			case e.State.sending():
				checkComplete(t, ob, p, fmt.Sprintf("image %d (%s)", i, img.event))
			default:
				t.Errorf("image %d: packet %s in state %s after Open", i, e.ID, e.State)
			}
		}
		for _, id := range img.mustHave {
			if !have[id] {
				t.Errorf("image %d (%s %s): packet %s lost although Enqueue had returned", i, img.event, img.path, id)
			}
		}
		// Nothing but live packets in packets/, and no temporaries.
		dirs, _ := os.ReadDir(filepath.Join(img.dir, "packets"))
		for _, d := range dirs {
			if e, _, _ := ob.Get(d.Name()); e.State == "" || e.State == StatePurged {
				t.Errorf("image %d: stray %s after Open", i, d.Name())
			}
			files, _ := os.ReadDir(filepath.Join(img.dir, "packets", d.Name()))
			for _, f := range files {
				if strings.HasPrefix(f.Name(), ".") {
					t.Errorf("image %d: temporary %s after Open", i, f.Name())
				}
			}
		}
		// The image's outbox finishes the job against the same portal.
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { ob.Run(ctx, fp); close(done) }()
		for id := range have {
			wctx, wcancel := context.WithTimeout(ctx, 20*time.Second)
			e, err := ob.Wait(wctx, id)
			wcancel()
			if err != nil || !e.Delivered() {
				t.Errorf("image %d: %s not delivered: %+v %v", i, id, e, err)
			}
		}
		cancel()
		<-done
		ob.Close()
	}
	for _, p := range pkts {
		fp.check(t, p)
		for _, d := range p.Docs { // the portal-side copy the finalise names is complete
			if fp.count(fp.creates, p.ID+"/"+d.Name) < 1 {
				t.Errorf("%s/%s never uploaded", p.ID, d.Name)
			}
		}
	}
	t.Logf("%d power-cut images; packet states found on reopening: %v", len(sim.images), states)
}

// checkComplete verifies that every file of p is on disk as recorded and
// decrypts to p's plaintext.
func checkComplete(t *testing.T, o *Outbox, p Packet, where string) {
	t.Helper()
	files, err := o.files(p.ID)
	if err != nil {
		t.Fatal(err)
	}
	want := append([][]byte{p.ManifestJSON}, func() (b [][]byte) {
		for _, d := range p.Docs {
			b = append(b, d.Data)
		}
		return
	}()...)
	if len(files) != len(want) {
		t.Errorf("%s: %s has %d files recorded, want %d", where, p.ID, len(files), len(want))
		return
	}
	for i, f := range files {
		if err := o.checkFile(p.ID, f); err != nil {
			t.Errorf("%s: %s: %v", where, p.ID, err)
			continue
		}
		ct, _ := os.ReadFile(filepath.Join(o.packetDir(p.ID), cipherName(f.name)))
		if got := decrypt(t, portalKey, ct); !bytes.Equal(got, want[i]) {
			t.Errorf("%s: %s file %q decrypts to different bytes", where, p.ID, f.name)
		}
	}
}
