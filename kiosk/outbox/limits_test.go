package outbox

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"
)

func TestLimits(t *testing.T) {
	start := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	type setup struct {
		limits  Limits
		enqueue int           // packets enqueued (and kept undelivered)
		age     time.Duration // clock advance afterwards
		free    uint64        // DiskFree answer
	}
	tests := []struct {
		name    string
		s       setup
		level   string
		reasons []string
		err     error
	}{
		{"no limits", setup{Limits{}, 3, 1000 * time.Hour, 0}, PressureOK, nil, nil},
		{"backlog fine", setup{Limits{MaxBacklog: 10}, 4, 0, 0}, PressureOK, nil, nil},
		{"backlog high", setup{Limits{MaxBacklog: 10}, 5, 0, 0}, PressureWarning, []string{"outbox-backlog-high"}, nil},
		{"backlog early warning", setup{Limits{MaxBacklog: 10, WarnFraction: 0.2}, 2, 0, 0}, PressureWarning, []string{"outbox-backlog-high"}, nil},
		{"backlog full", setup{Limits{MaxBacklog: 3}, 3, 0, 0}, PressureRefusing, []string{"outbox-backlog-full"}, ErrBacklogFull},
		{"age fine", setup{Limits{MaxBacklogAge: 48 * time.Hour}, 1, 23 * time.Hour, 0}, PressureOK, nil, nil},
		{"age old", setup{Limits{MaxBacklogAge: 48 * time.Hour}, 1, 24 * time.Hour, 0}, PressureWarning, []string{"outbox-backlog-old"}, nil},
		{"age too old", setup{Limits{MaxBacklogAge: 48 * time.Hour}, 1, 48 * time.Hour, 0}, PressureRefusing, []string{"outbox-backlog-too-old"}, ErrBacklogTooOld},
		{"empty backlog is never old", setup{Limits{MaxBacklogAge: time.Hour}, 0, 100 * time.Hour, 0}, PressureOK, nil, nil},
		{"quota high", setup{Limits{MaxDiskBytes: 4000}, 2, 0, 0}, PressureWarning, []string{"outbox-quota-high"}, nil},
		{"quota full", setup{Limits{MaxDiskBytes: 2500}, 2, 0, 0}, PressureRefusing, []string{"outbox-quota-full"}, ErrQuotaFull},
		{"disk fine", setup{Limits{MinFreeDisk: 1000}, 0, 0, 2000}, PressureOK, nil, nil},
		{"disk getting low", setup{Limits{MinFreeDisk: 1000}, 0, 0, 1999}, PressureWarning, []string{"outbox-disk-getting-low"}, nil},
		{"disk low", setup{Limits{MinFreeDisk: 1000}, 0, 0, 999}, PressureRefusing, []string{"outbox-disk-low"}, ErrDiskLow},
		{"full and warning", setup{Limits{MaxBacklog: 2, MinFreeDisk: 100000}, 2, 0, 150000}, PressureRefusing,
			[]string{"outbox-backlog-full", "outbox-disk-getting-low"}, ErrBacklogFull},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := &fakeClock{t: start}
			o := open(t, t.TempDir(), func(op *Options) {
				op.Limits, op.Now = tt.s.limits, clk.Now
				op.DiskFree = func(string) (uint64, error) { return tt.s.free, nil }
			})
			for i := range tt.s.enqueue {
				mustEnqueue(t, o, testPacket(300+i))
			}
			clk.Set(start.Add(tt.s.age))
			p, err := o.Pressure()
			if err != nil {
				t.Fatal(err)
			}
			if p.Level != tt.level || !slices.Equal(p.Reasons, tt.reasons) {
				t.Errorf("pressure %s %v, want %s %v (%+v)", p.Level, p.Reasons, tt.level, tt.reasons, p)
			}
			if p.Backlog != tt.s.enqueue {
				t.Errorf("backlog %d", p.Backlog)
			}
			err = o.Admit()
			if !errors.Is(err, tt.err) || (tt.err == nil) != (err == nil) {
				t.Errorf("Admit: %v, want %v", err, tt.err)
			}
			if err != nil && !IsLimit(err) {
				t.Errorf("IsLimit(%v) false", err)
			}
			// Enqueue refuses exactly when Admit does (and before writing).
			q := testPacket(399)
			err = o.Enqueue(context.Background(), q)
			if tt.err != nil {
				if !errors.Is(err, tt.err) {
					t.Errorf("Enqueue: %v, want %v", err, tt.err)
				}
				if _, ok, _ := o.Get(q.ID); ok {
					t.Error("refused packet stored")
				}
			} else if err != nil {
				t.Errorf("Enqueue: %v", err)
			}
		})
	}
}

// TestQuotaCountsTheNewPacket: a packet that would overflow the quota is
// refused although the quota is not reached yet; once packets are
// delivered and purged, room comes back.
func TestQuotaCountsTheNewPacket(t *testing.T) {
	o := open(t, t.TempDir(), func(op *Options) { op.Limits = Limits{MaxDiskBytes: 20000} })
	mustEnqueue(t, o, testPacketSized(400, 9000))
	if err := o.Admit(); err != nil {
		t.Fatalf("Admit with room left: %v", err)
	}
	big := testPacketSized(401, 12000)
	if err := o.Enqueue(context.Background(), big); !errors.Is(err, ErrQuotaFull) {
		t.Fatalf("Enqueue over quota: %v", err)
	}
	fp := newPortal()
	run(t, o, fp)
	waitPurged(t, o, testPacketSized(400, 9000).ID)
	if p, _ := o.Pressure(); p.DiskBytes != 0 {
		t.Errorf("disk bytes after purge %d", p.DiskBytes)
	}
	mustEnqueue(t, o, big)
	if e := wait(t, o, big.ID); !e.Delivered() {
		t.Errorf("%+v", e)
	}
}

// TestNeedsAttentionCountsInBacklog: parked packets keep the limits honest.
func TestNeedsAttentionCountsInBacklog(t *testing.T) {
	o := open(t, t.TempDir(), func(op *Options) { op.Limits = Limits{MaxBacklog: 1} })
	fp := newPortal()
	var once sync.Once
	fp.fail = func(ctx context.Context, op, id, file string) error {
		var err error
		once.Do(func() { err = permErr{"422 rejected"} })
		return err
	}
	p := testPacket(402)
	mustEnqueue(t, o, p)
	run(t, o, fp)
	if e := wait(t, o, p.ID); e.State != StateNeedsAttention {
		t.Fatalf("%s", e.State)
	}
	if err := o.Admit(); !errors.Is(err, ErrBacklogFull) {
		t.Errorf("Admit with a parked packet at the limit: %v", err)
	}
}
