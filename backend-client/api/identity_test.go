package api

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestEnrollCodeRoundTrip(t *testing.T) {
	c := EnrollCode{
		PortalURL:     "https://portal.example:8443/base",
		Token:         "ABCDEFGHIJKLMNOPQRSTUVWX23456789",
		CAFingerprint: "sha256:" + strings.Repeat("ab", 32),
		Office:        "QN-TK",
		ReplaceKiosk:  "KIOSK-0007",
	}
	got, err := ParseEnrollCode(c.String())
	if err != nil {
		t.Fatal(err)
	}
	if got != c {
		t.Fatalf("round trip: got %+v, want %+v", got, c)
	}
}

func TestParseEnrollCodeRefuses(t *testing.T) {
	good := EnrollCode{PortalURL: "https://p.example", Token: "T", CAFingerprint: "sha256:" + strings.Repeat("0", 64), Office: "QN-TK"}.String()
	for _, tc := range []struct {
		name, in string
		notCode  bool
	}{
		{"a receipt QR", "https://portal.example/t/QN-2026-7KD4M9QXR", true},
		{"a technician code", "GKT1.abc.def", true},
		{"no version", strings.Replace(good, "&v=1", "", 1), false},
		{"version 2", strings.Replace(good, "v=1", "v=2", 1), false},
		{"no token", strings.Replace(good, "token=T", "token=", 1), false},
		{"bad fingerprint", strings.Replace(good, "ca=sha256%3A", "ca=md5%3A", 1), false},
		{"not http", strings.Replace(good, "https%3A", "file%3A", 1), false},
		{"too long", good + "&x=" + strings.Repeat("a", 3000), false},
	} {
		_, err := ParseEnrollCode(tc.in)
		if err == nil {
			t.Errorf("%s: accepted", tc.name)
			continue
		}
		if errors.Is(err, ErrNotEnrollCode) != tc.notCode {
			t.Errorf("%s: err %v, want ErrNotEnrollCode=%v", tc.name, err, tc.notCode)
		}
	}
}

func TestRenewWhenLeft(t *testing.T) {
	nb := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	na := nb.Add(DefaultDeviceCertTTL)
	if RenewWhenLeft(nb, na, nb.Add(19*24*time.Hour)) {
		t.Error("renews with 11 of 30 days left")
	}
	if !RenewWhenLeft(nb, na, nb.Add(21*24*time.Hour)) {
		t.Error("does not renew with 9 of 30 days left")
	}
}
