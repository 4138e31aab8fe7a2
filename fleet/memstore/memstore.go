// Package memstore is a fleet.Store held in memory: for tests of the MQTT
// side and for the demo until a durable store is chosen. History is kept
// until Prune; nothing survives the process.
package memstore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"sync"
	"time"

	"govkiosk/fleet"
)

// ErrNotFound is a kiosk or command the store does not hold: it is
// fleet.ErrNotFound, as the Store contract says.
var ErrNotFound = fmt.Errorf("memstore: %w", fleet.ErrNotFound)

// Store is an in-memory fleet.Store, safe for concurrent use.
type Store struct {
	mu       sync.Mutex
	kiosks   map[string]*kiosk
	commands map[string]fleet.Command
	cmdOrder []string
	closed   bool
}

type kiosk struct {
	view      fleet.KioskView
	events    []fleet.Event // by Seq
	seen      map[uint64]bool
	snapshots []fleet.Snapshot
}

var _ fleet.Store = (*Store)(nil)

// New returns an empty store.
func New() *Store {
	return &Store{kiosks: map[string]*kiosk{}, commands: map[string]fleet.Command{}}
}

func (s *Store) kioskLocked(id string) *kiosk {
	k := s.kiosks[id]
	if k == nil {
		k = &kiosk{view: fleet.KioskView{KioskInfo: fleet.KioskInfo{KioskID: id}}, seen: map[uint64]bool{}}
		s.kiosks[id] = k
	}
	return k
}

var errClosed = errors.New("memstore: closed")

func (s *Store) lock() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return errClosed
	}
	return nil
}

// PutKiosk adds or updates a registry entry.
func (s *Store) PutKiosk(_ context.Context, k fleet.KioskInfo) error {
	if err := s.lock(); err != nil {
		return err
	}
	defer s.mu.Unlock()
	s.kioskLocked(k.KioskID).view.KioskInfo = k
	return nil
}

// SetPresence records a kiosk online or offline.
func (s *Store) SetPresence(_ context.Context, p fleet.Presence) error {
	if err := s.lock(); err != nil {
		return err
	}
	defer s.mu.Unlock()
	k := s.kioskLocked(p.KioskID)
	k.view.Online = p.Online
	if p.At.After(k.view.LastSeen) {
		k.view.LastSeen = p.At
	}
	return nil
}

// PutSnapshot records a snapshot as the latest and in the history.
func (s *Store) PutSnapshot(_ context.Context, sn fleet.Snapshot) error {
	if err := s.lock(); err != nil {
		return err
	}
	defer s.mu.Unlock()
	k := s.kioskLocked(sn.KioskID)
	sn = cloneSnapshot(sn)
	k.snapshots = append(k.snapshots, sn)
	if k.view.Snapshot == nil || !sn.At.Before(k.view.Snapshot.At) {
		c := cloneSnapshot(sn)
		k.view.Snapshot = &c
	}
	if sn.At.After(k.view.LastSeen) {
		k.view.LastSeen = sn.At
	}
	return nil
}

// AddEvent keeps an event once per (KioskID, Seq).
func (s *Store) AddEvent(_ context.Context, e fleet.Event) error {
	if err := s.lock(); err != nil {
		return err
	}
	defer s.mu.Unlock()
	k := s.kioskLocked(e.KioskID)
	if k.seen[e.Seq] {
		return nil
	}
	k.seen[e.Seq] = true
	i := sort.Search(len(k.events), func(i int) bool { return k.events[i].Seq > e.Seq })
	k.events = slices.Insert(k.events, i, e)
	return nil
}

// PutCommand adds or updates a command.
func (s *Store) PutCommand(_ context.Context, c fleet.Command) error {
	if err := s.lock(); err != nil {
		return err
	}
	defer s.mu.Unlock()
	if _, ok := s.commands[c.ID]; !ok {
		s.cmdOrder = append(s.cmdOrder, c.ID)
	}
	s.commands[c.ID] = c
	return nil
}

// Kiosk returns one kiosk's view.
func (s *Store) Kiosk(_ context.Context, id string) (fleet.KioskView, error) {
	if err := s.lock(); err != nil {
		return fleet.KioskView{}, err
	}
	defer s.mu.Unlock()
	k := s.kiosks[id]
	if k == nil {
		return fleet.KioskView{}, ErrNotFound
	}
	return cloneView(k.view), nil
}

// Kiosks returns a page of kiosks matching f, problems first, then by id.
func (s *Store) Kiosks(_ context.Context, f fleet.Filter) ([]fleet.KioskView, int, error) {
	if err := s.lock(); err != nil {
		return nil, 0, err
	}
	var all []fleet.KioskView
	for _, k := range s.kiosks {
		v := k.view
		if v.Retired != (f.Status == "retired") {
			continue
		}
		if (f.Province != "" && v.Province != f.Province) || (f.Office != "" && v.Office != f.Office) {
			continue
		}
		if f.Version != "" && (v.Snapshot == nil || v.Snapshot.Version != f.Version) {
			continue
		}
		switch f.Status {
		case "online":
			if !v.Online {
				continue
			}
		case "offline":
			if v.Online {
				continue
			}
		case "problem":
			if !problem(v) {
				continue
			}
		}
		all = append(all, cloneView(v))
	}
	s.mu.Unlock()
	sort.Slice(all, func(i, j int) bool {
		if pi, pj := problem(all[i]), problem(all[j]); pi != pj {
			return pi
		}
		return all[i].KioskID < all[j].KioskID
	})
	total := len(all)
	lo := min(max(f.Offset, 0), total)
	hi := total
	if f.Limit > 0 {
		hi = min(lo+f.Limit, total)
	}
	return all[lo:hi], total, nil
}

func problem(v fleet.KioskView) bool {
	return !v.Online || (v.Snapshot != nil && (len(v.Snapshot.Warnings) > 0 || v.Snapshot.NeedsAttention > 0 || v.Snapshot.OutOfService))
}

// Events returns a kiosk's events since a time, oldest first.
func (s *Store) Events(_ context.Context, kioskID string, since time.Time, limit int) ([]fleet.Event, error) {
	if err := s.lock(); err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	k := s.kiosks[kioskID]
	if k == nil {
		return nil, nil
	}
	var out []fleet.Event
	for _, e := range k.events {
		if e.At.Before(since) {
			continue
		}
		out = append(out, e)
		if limit > 0 && len(out) == limit {
			break
		}
	}
	return out, nil
}

// Snapshots returns a kiosk's snapshots since a time, in arrival order.
func (s *Store) Snapshots(_ context.Context, kioskID string, since time.Time) ([]fleet.Snapshot, error) {
	if err := s.lock(); err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	k := s.kiosks[kioskID]
	if k == nil {
		return nil, nil
	}
	var out []fleet.Snapshot
	for _, sn := range k.snapshots {
		if !sn.At.Before(since) {
			out = append(out, cloneSnapshot(sn))
		}
	}
	return out, nil
}

// Commands returns a kiosk's commands, newest first ("" for every kiosk).
func (s *Store) Commands(_ context.Context, kioskID string, limit int) ([]fleet.Command, error) {
	if err := s.lock(); err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	var out []fleet.Command
	for i := len(s.cmdOrder) - 1; i >= 0; i-- {
		c := s.commands[s.cmdOrder[i]]
		if kioskID != "" && c.KioskID != kioskID {
			continue
		}
		out = append(out, c)
		if limit > 0 && len(out) == limit {
			break
		}
	}
	return out, nil
}

// Command returns one command.
func (s *Store) Command(_ context.Context, id string) (fleet.Command, error) {
	if err := s.lock(); err != nil {
		return fleet.Command{}, err
	}
	defer s.mu.Unlock()
	c, ok := s.commands[id]
	if !ok {
		return fleet.Command{}, ErrNotFound
	}
	return c, nil
}

// Prune drops events, snapshots and answered commands older than before.
func (s *Store) Prune(_ context.Context, before time.Time) error {
	if err := s.lock(); err != nil {
		return err
	}
	defer s.mu.Unlock()
	for _, k := range s.kiosks {
		k.events = slices.DeleteFunc(k.events, func(e fleet.Event) bool { return e.At.Before(before) })
		k.snapshots = slices.DeleteFunc(k.snapshots, func(sn fleet.Snapshot) bool { return sn.At.Before(before) })
	}
	s.cmdOrder = slices.DeleteFunc(s.cmdOrder, func(id string) bool {
		c := s.commands[id]
		if c.State != "pending" && c.SentAt.Before(before) {
			delete(s.commands, id)
			return true
		}
		return false
	})
	return nil
}

// Close ends the store; later calls fail.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	return nil
}

func cloneSnapshot(sn fleet.Snapshot) fleet.Snapshot {
	sn.Devices = slices.Clone(sn.Devices)
	sn.Warnings = slices.Clone(sn.Warnings)
	return sn
}

func cloneView(v fleet.KioskView) fleet.KioskView {
	if v.Snapshot != nil {
		c := cloneSnapshot(*v.Snapshot)
		v.Snapshot = &c
	}
	return v
}
