package kiosk

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"io"
	"log/slog"
	"slices"
	"testing"
	"time"

	"govkiosk/backend-client/api"
	"govkiosk/backend-client/idqr"
)

func TestClassifyQR(t *testing.T) {
	for _, tc := range []struct {
		in, kind, ref string
	}{
		{"http://p.test/t/QN-2026-000042", QRTracking, "QN-2026-000042"},
		{"http://p.test/t/QN-2026-7KD4M9QXR", QRTracking, "QN-2026-7KD4M9QXR"}, // the portal's random tracking numbers
		{"http://p.test/t/P-K0001-261122-ABCDEF", QRTracking, "P-K0001-261122-ABCDEF"},
		{"http://p.test/t/../admin", QRUnknown, ""},
		{"http://p.test/t/qn-lower", QRUnknown, ""},
		{"http://other.test/t/QN-2026-000042", QRUnknown, ""},
		{"NID1:NCFOXN%TS3DH", QRIdentity, ""},
		{"HC1:NCFOXN%TS3DH", QRUnknown, ""}, // EU health certificates are not identity credentials
		{"GOVKIOSK-PROVISION:abc", QRProvisioning, ""},
		{"\xff\xfe binary", QRUnknown, ""},
		{"http://p.test/t/QN-1\nx", QRUnknown, ""},
		{"", QRUnknown, ""},
	} {
		kind, ref := ClassifyQR([]byte(tc.in), "http://p.test/")
		if kind != tc.kind || ref != tc.ref {
			t.Errorf("ClassifyQR(%q) = %q, %q; want %q, %q", tc.in, kind, ref, tc.kind, tc.ref)
		}
	}
}

func TestValidateForm(t *testing.T) {
	one, ten := 1.0, 10.0
	fields := []api.Field{
		{Name: "name", Type: api.FieldText, Required: true, MinLen: 2, MaxLen: 10},
		{Name: "floors", Type: api.FieldNumber, Min: &one, Max: &ten},
		{Name: "born", Type: api.FieldDate},
		{Name: "phone", Type: api.FieldPhone},
		{Name: "kind", Type: api.FieldSelect, Options: []api.Option{{Value: "a"}, {Value: "b"}}},
		{Name: "zip", Type: api.FieldText, Pattern: `[0-9]{5}`},
	}
	for _, tc := range []struct {
		values map[string]string
		want   map[string]string
	}{
		{map[string]string{"name": "Lan"}, map[string]string{}},
		{map[string]string{}, map[string]string{"name": FieldRequired}},
		{map[string]string{"name": "L"}, map[string]string{"name": FieldTooShort}},
		{map[string]string{"name": "Nguyễn Văn An B"}, map[string]string{"name": FieldTooLong}},
		{map[string]string{"name": "ทดสอบ", "floors": "11"}, map[string]string{"floors": FieldRange}},
		{map[string]string{"name": "ok", "floors": "two"}, map[string]string{"floors": FieldNumber}},
		{map[string]string{"name": "ok", "born": "31/05/1960"}, map[string]string{"born": FieldDate}},
		{map[string]string{"name": "ok", "phone": "call me"}, map[string]string{"phone": FieldPattern}},
		{map[string]string{"name": "ok", "kind": "c"}, map[string]string{"kind": FieldOption}},
		{map[string]string{"name": "ok", "zip": "1234"}, map[string]string{"zip": FieldPattern}},
		{map[string]string{"name": "ok", "zip": "12345x"}, map[string]string{"zip": FieldPattern}},
		{map[string]string{"name": "ok", "zip": "12345", "kind": "b", "phone": "+84 905 123 456", "born": "1960-05-31", "floors": "2"}, map[string]string{}},
	} {
		got := ValidateForm(fields, tc.values)
		if len(got) != len(tc.want) {
			t.Errorf("ValidateForm(%v) = %v, want %v", tc.values, got, tc.want)
			continue
		}
		for k, v := range tc.want {
			if got[k] != v {
				t.Errorf("ValidateForm(%v)[%s] = %q, want %q", tc.values, k, got[k], v)
			}
		}
	}
}

func TestMaskIDAndAppointment(t *testing.T) {
	if got := MaskID("1101700230705"); got != "11•••••••••05" {
		t.Errorf("MaskID = %q", got)
	}
	if got := MaskID("123"); got != "•••" {
		t.Errorf("MaskID short = %q", got)
	}
	fri := time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)
	for days, want := range map[int]string{0: "2026-11-20", 1: "2026-11-23", 5: "2026-11-27", 7: "2026-12-01"} {
		if got := appointmentEstimate(fri, days); got != want {
			t.Errorf("appointmentEstimate(Fri, %d) = %s, want %s", days, got, want)
		}
	}
	if p := provisionalNumber("KIOSK-0007", fri, "3f9a2c1b-0000"); p != "P-K0007-261120-3F9A2C" {
		t.Errorf("provisionalNumber = %q", p)
	}
}

func TestCatalogueCarriesIDQRTrustList(t *testing.T) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	trust, err := idqr.NewTrustList(map[string]crypto.PublicKey{"vn-2026": key.Public()})
	if err != nil {
		t.Fatal(err)
	}
	jwks, err := trust.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	noVerify := func(sc api.SignedCatalogue, _ *ecdsa.PublicKey) (api.Catalogue, error) {
		var c api.Catalogue
		return c, json.Unmarshal(sc.Payload, &c)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	for name, tc := range map[string]struct {
		issuers json.RawMessage
		want    []string
	}{
		"trust list":     {jwks, []string{"vn-2026"}},
		"none":           {nil, nil},
		"private key in": {json.RawMessage(`{"keys":[{"kty":"EC","crv":"P-256","kid":"x","d":"AAAA","x":"AAAA","y":"AAAA"}]}`), nil},
	} {
		payload, _ := json.Marshal(api.Catalogue{Version: "1", ExpiresAt: time.Now().Add(time.Hour), IDIssuers: tc.issuers})
		c := NewCatalogue(t.TempDir(), &key.PublicKey, noVerify, log, nil)
		if err := c.Refresh(context.Background(), catSource{api.SignedCatalogue{Payload: payload}}); err != nil {
			t.Fatal(err)
		}
		got := c.IDTrust()
		if (got == nil) != (tc.want == nil) || (got != nil && !slices.Equal(got.KeyIDs(), tc.want)) {
			t.Errorf("%s: trust list %v, want key IDs %v", name, got, tc.want)
		}
	}
}

// FuzzClassifyQR: whatever is scanned, routing never panics, and a tracking
// reference it extracts is always one the status look-up can safely take.
func FuzzClassifyQR(f *testing.F) {
	for _, s := range []string{"http://p.test/t/QN-2026-000042", "NID1:6BFOXN", "GOVKIOSK-PROVISION:x", "\xff", "http://p.test/t/../x"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		kind, ref := ClassifyQR(b, "http://p.test")
		switch kind {
		case QRTracking:
			if !refPattern.MatchString(ref) {
				t.Fatalf("tracking ref %q escapes the pattern", ref)
			}
		case QRIdentity, QRProvisioning, QRUnknown:
			if ref != "" {
				t.Fatalf("%s with a ref %q", kind, ref)
			}
		default:
			t.Fatalf("unknown kind %q", kind)
		}
	})
}

func TestProvisioningCodeOnlyInTechnicianMode(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	door := false
	var got [][]byte
	r.c.d.Technician = func() bool { return door }
	r.c.d.Provision = func(_ context.Context, p []byte) { got = append(got, p) }
	r.c.HandleScan(ctx, []byte("GOVKIOSK-PROVISION:abc"))
	if v := r.c.View(ctx); len(got) != 0 || v.Notice != MsgNotForKiosk {
		t.Fatalf("door closed: handed on %d codes, notice %q", len(got), v.Notice)
	}
	door = true
	r.c.HandleScan(ctx, []byte("GOVKIOSK-PROVISION:abc"))
	if len(got) != 1 || string(got[0]) != "GOVKIOSK-PROVISION:abc" {
		t.Fatalf("door open: handed on %q", got)
	}
}
