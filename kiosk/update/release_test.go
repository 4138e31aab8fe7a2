package update

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"
)

func TestBucketSpreadsAndIsStable(t *testing.T) {
	ro := &Rollout{Percent: 10, Salt: "2.0.0"}
	in := 0
	for i := range 10000 {
		if ro.Admits(fmt.Sprintf("kiosk-%d", i)) {
			in++
		}
	}
	if in < 900 || in > 1100 {
		t.Errorf("10 %% admitted %d of 10000", in)
	}
	// The bucket is fixed by the id and salt alone: the fleet computes the
	// same one (this value is part of the contract with deployed kiosks).
	if got := Bucket("kiosk-1", "a"); got != bucketKiosk1A {
		t.Errorf("Bucket(kiosk-1, a) = %d, want %d", got, bucketKiosk1A)
	}
	same := 0
	for i := range 1000 {
		id := fmt.Sprintf("kiosk-%d", i)
		if Bucket(id, "a") == Bucket(id, "b") {
			same++
		}
	}
	if same > 5 {
		t.Errorf("%d of 1000 kiosks keep their bucket across salts", same)
	}
	if (&Rollout{Percent: 100, Salt: "x", Halted: true}).Admits("k") {
		t.Error("a halted rollout admits")
	}
	if !(&Rollout{Percent: 100, Salt: "x"}).Admits("k") || (&Rollout{Percent: 0, Salt: "x"}).Admits("k") {
		t.Error("0 % and 100 % are not none and all")
	}
}

func TestWindow(t *testing.T) {
	at := func(h, m int) time.Time { return time.Date(2026, 12, 2, h, m, 0, 0, time.Local) }
	night := &Window{Start: "22:00", End: "05:00"}
	day := &Window{Start: "12:00", End: "13:30"}
	for _, tc := range []struct {
		w    *Window
		t    time.Time
		want bool
	}{
		{nil, at(9, 0), true},
		{night, at(23, 0), true}, {night, at(2, 0), true}, {night, at(5, 0), false}, {night, at(12, 0), false},
		{day, at(12, 0), true}, {day, at(13, 29), true}, {day, at(13, 30), false}, {day, at(11, 59), false},
	} {
		if got := tc.w.Open(tc.t); got != tc.want {
			t.Errorf("%+v.Open(%s) = %v", tc.w, tc.t.Format("15:04"), got)
		}
	}
}

func TestReleaseValidate(t *testing.T) {
	good := Release{Version: "2.0.0", MinVersion: "1.0.0", Arch: "arm64", Rollout: &Rollout{Percent: 1, Salt: "s"}}
	if err := good.Validate(); err != nil {
		t.Fatal(err)
	}
	c, err := good.Custom()
	if err != nil {
		t.Fatal(err)
	}
	back, err := ParseCustom(c)
	if err != nil || back.Version != "2.0.0" || back.Rollout.Percent != 1 {
		t.Errorf("round trip: %+v, %v", back, err)
	}
	err = Release{Version: "v2", MinVersion: "x", Arch: "../x", Rollout: &Rollout{Percent: 101, Window: &Window{Start: "1", End: "2"}}}.Validate()
	for _, want := range []string{`version "v2"`, `minVersion "x"`, `arch "../x"`, "percent 101", `"1" is not HH:MM`} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate: %v; want it to name %s", err, want)
		}
	}
}

// A kiosk reads the state file an older kiosk wrote (before the format
// marker) and rewrites it in its own format; it refuses one from a newer
// kiosk instead of guessing.
func TestStateFileFormats(t *testing.T) {
	l := Layout{Root: t.TempDir()}
	old, err := os.ReadFile("testdata/state-format0.json")
	if err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(l.updateDir(), 0o700)
	os.WriteFile(l.statePath(), old, 0o600)
	st, ok, err := l.ReadState()
	if err != nil || !ok || st.Phase != RolledBack || st.Failed != "2.0.0" || st.Format != stateFormat {
		t.Fatalf("reading a format-0 state: %+v, %v, %v", st, ok, err)
	}
	if err := l.writeState(st); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(l.statePath())
	if !strings.Contains(string(b), fmt.Sprintf(`"format": %d`, stateFormat)) {
		t.Errorf("rewritten state has no format marker: %s", b)
	}
	os.WriteFile(l.statePath(), []byte(`{"format": 99, "phase": "committed", "version": "9.0.0"}`), 0o600)
	if _, _, err := l.ReadState(); err == nil || !strings.Contains(err.Error(), "newer") {
		t.Errorf("a newer format: %v; want refused", err)
	}
	os.WriteFile(l.statePath(), []byte(`{"phase": "dancing", "version": "1.0.0"}`), 0o600)
	if _, _, err := l.ReadState(); err == nil || !strings.Contains(err.Error(), "dancing") {
		t.Errorf("an unknown phase: %v", err)
	}
}

// bucketKiosk1A is SHA-256("a\x00kiosk-1")'s first eight bytes, big-endian,
// modulo 10000: computed once outside this package.
const bucketKiosk1A = 8325
