package fleetwire

import (
	"errors"
	"testing"
)

func TestTopicRoundTrip(t *testing.T) {
	for _, kind := range []string{KindStatus, KindSnapshot, KindEvent, KindCmd, KindReply} {
		id, k, err := ParseTopic(Topic("TH-10-1001-03", kind))
		if err != nil || id != "TH-10-1001-03" || k != kind {
			t.Errorf("ParseTopic(Topic(%q)) = %q, %q, %v", kind, id, k, err)
		}
	}
	for _, bad := range []string{"govkiosk/v1/kiosk/", "govkiosk/v1/kiosk/a", "other/a/status", "govkiosk/v1/kiosk/+/status", "govkiosk/v1/kiosk/a/b/c"} {
		if _, _, err := ParseTopic(bad); !errors.Is(err, ErrBadTopic) {
			t.Errorf("ParseTopic(%q) = %v, want ErrBadTopic", bad, err)
		}
	}
	for _, id := range []string{"", "a/b", "a+", "#", string(make([]byte, 65))} {
		if ValidKioskID(id) {
			t.Errorf("ValidKioskID(%q) = true", id)
		}
	}
}

func TestSnapshotIsCompact(t *testing.T) {
	s := Snapshot{
		At: 1798000000, Seq: 41, Version: "1.4.2", Catalogue: "2026-11-30",
		Devices: []Device{{Name: "printer", State: "online", Media: "full"}, {Name: "scanner", State: "online", Media: "ready"},
			{Name: "qr", State: "online"}, {Name: "sensors", State: "online"}, {Name: "display", State: "online"}},
		DiskFreeMB: 51234, TemperatureC: 41.5, CertNotAfter: 1800000000,
	}
	b, err := Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) > 200 {
		t.Errorf("a healthy kiosk's snapshot is %d bytes, want at most 200", len(b))
	}
	var got Snapshot
	if err := Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	if !SameHealth(s, got) || got.At != s.At || got.DiskFreeMB != s.DiskFreeMB {
		t.Errorf("round trip: got %+v, want %+v", got, s)
	}
	got.Devices[0].Media = "low"
	if SameHealth(s, got) {
		t.Error("SameHealth misses a paper change")
	}
}

func TestUnmarshalRefusesGarbage(t *testing.T) {
	var e Event
	for _, b := range [][]byte{[]byte("not cbor"), make([]byte, MaxPayload+1), {0x9f}} {
		if err := Unmarshal(b, &e); !errors.Is(err, ErrBadPayload) {
			t.Errorf("Unmarshal(%d bytes) = %v, want ErrBadPayload", len(b), err)
		}
	}
}

func FuzzUnmarshal(f *testing.F) {
	b, _ := Marshal(Event{Seq: 1, At: 2, Kind: "paper-out", Device: "printer"})
	f.Add(b)
	f.Fuzz(func(t *testing.T, b []byte) {
		var e Event
		_ = Unmarshal(b, &e)
		var s Snapshot
		_ = Unmarshal(b, &s)
	})
}

// A snapshot from a kiosk of before the session and rating counts still
// decodes, and the counts round-trip; they alone do not make news.
func TestSnapshotCountsCompatible(t *testing.T) {
	type oldSnapshot struct {
		At          int64  `cbor:"1,keyasint"`
		Version     string `cbor:"3,keyasint,omitempty"`
		UpdateState string `cbor:"13,keyasint,omitempty"`
	}
	old, err := Marshal(oldSnapshot{At: 1700000000, Version: "1.2.0", UpdateState: "committed"})
	if err != nil {
		t.Fatal(err)
	}
	var s Snapshot
	if err := Unmarshal(old, &s); err != nil || s.Version != "1.2.0" || s.UpdateState != "committed" || s.Sessions != 0 || s.Ratings != nil {
		t.Errorf("old snapshot decoded to %+v, %v", s, err)
	}
	s.Sessions, s.Ratings = 41, []uint64{1, 0, 2, 7, 30}
	b, err := Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	var back Snapshot
	if err := Unmarshal(b, &back); err != nil || back.Sessions != 41 || len(back.Ratings) != 5 || back.Ratings[4] != 30 {
		t.Errorf("round trip = %+v, %v", back, err)
	}
	if !SameHealth(s, Snapshot{At: s.At, Version: s.Version, UpdateState: s.UpdateState}) {
		t.Error("SameHealth: counts alone made the snapshot news (it would be sent at every session)")
	}
	if len(b)-len(old) > 12 {
		t.Errorf("the counts cost %d bytes, want a few", len(b)-len(old))
	}
}
