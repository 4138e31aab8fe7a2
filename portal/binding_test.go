package portal_test

import (
	"govkiosk/portal/pdftest"

	"crypto/ecdsa"
	"fmt"
	"math/rand/v2"
	"testing"

	"govkiosk/backend-client"
	"govkiosk/backend-client/api"
	"govkiosk/portal"
)

// confirmPacket runs the confirmation flow as a kiosk does for the packet
// the citizen has reviewed, and returns the token.
func (e *env) confirmPacket(t *testing.T, access, citizenID string, p packet) string {
	t.Helper()
	return e.confirmReview(t, access, citizenID, api.ReviewOf(p.m))
}

// withToken is p carrying token, signed again by key.
func withToken(t *testing.T, key *ecdsa.PrivateKey, p packet, token string) packet {
	t.Helper()
	p.m.ConfirmationToken = token
	return seal(t, key, p.m, p.docs)
}

// birthRecord is the birth-record-copy application of An (read-only name
// and birth date from the identity provider, no documents) from kiosk kid.
func birthRecord(n int, kid string) api.Manifest {
	return api.Manifest{
		PacketID:          fmt.Sprintf("5d7a1c3e-2b4f-4e6a-8c9d-%012d", n),
		ProvisionalNumber: fmt.Sprintf("%s-20260306-B%03d", kid, n),
		ProcedureID:       "birth-record-copy",
		KioskID:           kid,
		OfficeCode:        "QN-TK",
		Language:          "vi",
		Applicant:         api.Applicant{CitizenID: "049090001234", Name: "Nguyễn Văn An", BirthDate: "1990-09-04"},
		Form: map[string]string{"full_name": "Nguyễn Văn An", "birth_date": "1990-09-04",
			"registration_place": "UBND xã Tam Thăng", "copies": "2"},
	}
}

// TestConfirmationCannotCarryAnotherApplication performs the attack of the
// security review: a citizen confirms an application at kiosk A; the
// confirmation token is then used to file something else. Each attempt
// must be refused for good (403, permanent), store nothing, and leave the
// token usable for the application the citizen did confirm.
func TestConfirmationCannotCarryAnotherApplication(t *testing.T) {
	e := newEnv(t, nil)
	keyB, kidB := e.enroll(t) // another enrolled kiosk
	rnd := rand.NewChaCha8([32]byte{7})
	otherScan := pdftest.Scan(2, 200, rnd)

	honestBirth := seal(t, e.key, birthRecord(1, e.kid), nil)
	honestMarital := e.newPacket(t, 2, "", nil)

	for i, tc := range []struct {
		name     string
		reviewed packet // what the citizen reviewed and confirmed at kiosk A
		key      *ecdsa.PrivateKey
		forge    func(m *api.Manifest, d []backendclient.Document) []backendclient.Document
		code     string
	}{
		{"another kiosk, another name and birth date", honestBirth, keyB, func(m *api.Manifest, d []backendclient.Document) []backendclient.Document {
			m.KioskID = kidB
			m.Applicant.Name, m.Applicant.BirthDate = "Trần Văn Giả", "1970-01-01"
			m.Form["full_name"], m.Form["birth_date"] = "Trần Văn Giả", "1970-01-01"
			return d
		}, portal.CodeConfirmationMismatch},
		{"another kiosk, the same application", honestBirth, keyB, func(m *api.Manifest, d []backendclient.Document) []backendclient.Document {
			m.KioskID = kidB
			return d
		}, portal.CodeConfirmationMismatch},
		{"the same kiosk, other answers", honestBirth, e.key, func(m *api.Manifest, d []backendclient.Document) []backendclient.Document {
			m.Form["copies"] = "10"
			return d
		}, portal.CodeConfirmationMismatch},
		{"the same kiosk, another document", honestMarital, e.key, func(m *api.Manifest, d []backendclient.Document) []backendclient.Document {
			m.Documents[0].SHA256, m.Documents[0].Size = sha(otherScan), int64(len(otherScan))
			return []backendclient.Document{{Name: "doc-1.pdf", Data: otherScan}}
		}, portal.CodeConfirmationMismatch},
		{"the same kiosk, another applicant's name", honestBirth, e.key, func(m *api.Manifest, d []backendclient.Document) []backendclient.Document {
			m.Applicant.Name = "Trần Văn Giả"
			return d
		}, portal.CodeConfirmationMismatch},
	} {
		t.Run(tc.name, func(t *testing.T) {
			token := e.confirmPacket(t, "tok-an", "049090001234", tc.reviewed)
			m := tc.reviewed.m
			m.PacketID = fmt.Sprintf("9e8d7c6b-5a49-4382-a170-%012d", 100+i)
			m.ProvisionalNumber = fmt.Sprintf("P-ATTACK-%03d", i)
			m.Form = cloneForm(m.Form)
			m.Documents = append([]api.DocumentRef(nil), m.Documents...)
			docs := tc.forge(&m, append([]backendclient.Document(nil), tc.reviewed.docs...))
			m.ConfirmationToken = token
			forged := seal(t, tc.key, m, docs)
			_, err := backendclient.New(e.url, nil, m.KioskID, tc.key).Submit(t.Context(), forged.manifest, forged.sig, forged.docs)
			if st, code := apiCode(err); st != 403 || code != tc.code || !backendclient.IsPermanent(err) {
				t.Fatalf("forged application: %v, want a permanent 403 %s", err, tc.code)
			}
			// The application the citizen reviewed still goes through with it.
			honest := withToken(t, e.key, tc.reviewed, token)
			honest.m.PacketID = fmt.Sprintf("1f2e3d4c-5b6a-4978-8695-%012d", 100+i)
			honest.m.ProvisionalNumber = fmt.Sprintf("P-HONEST-%03d", i)
			honest = seal(t, e.key, honest.m, honest.docs)
			if _, err := e.submit(honest); err != nil {
				t.Fatalf("the reviewed application with its own confirmation: %v", err)
			}
		})
	}
	for _, a := range e.apps(t) {
		var d portal.AdminApplicationDetail
		getJSON(t, e.url+"/api/v1/admin/applications/"+a.TrackingNumber, &d)
		if d.KioskID != e.kid || d.Form["full_name"] != "Nguyễn Văn An" {
			t.Errorf("a forged application was stored: kiosk %s, form %v", d.KioskID, d.Form)
		}
	}
}

// TestReadOnlyFieldsAreTheVerifiedIdentity: a kiosk that confirms a
// review whose identity fields are not the citizen's (a tampered kiosk,
// or one that trusted a forged ID card) is refused: read-only fields that
// come from the identity provider are checked against the identity the
// portal verified at confirmation, not taken from the kiosk.
func TestReadOnlyFieldsAreTheVerifiedIdentity(t *testing.T) {
	e := newEnv(t, nil)
	for i, tc := range []struct {
		name string
		edit func(m *api.Manifest)
	}{
		{"form name", func(m *api.Manifest) { m.Form["full_name"] = "Trần Văn Giả" }},
		{"form birth date", func(m *api.Manifest) { m.Form["birth_date"] = "1970-01-01" }},
		{"applicant name", func(m *api.Manifest) { m.Applicant.Name = "Trần Văn Giả" }},
		{"applicant birth date", func(m *api.Manifest) { m.Applicant.BirthDate = "1970-01-01" }},
		{"all of them", func(m *api.Manifest) {
			m.Applicant.Name, m.Applicant.BirthDate = "Trần Văn Giả", "1970-01-01"
			m.Form["full_name"], m.Form["birth_date"] = "Trần Văn Giả", "1970-01-01"
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := birthRecord(10+i, e.kid)
			tc.edit(&m)
			p := seal(t, e.key, m, nil)
			// The kiosk confirms exactly what it will send: the review matches.
			p = withToken(t, e.key, p, e.confirmPacket(t, "tok-an", "049090001234", p))
			_, err := e.submit(p)
			if st, code := apiCode(err); st != 403 || code != portal.CodeIdentityMismatch || !backendclient.IsPermanent(err) {
				t.Fatalf("identity fields not the citizen's: %v, want a permanent 403 %s", err, portal.CodeIdentityMismatch)
			}
		})
	}
	if apps := e.apps(t); len(apps) != 0 {
		t.Errorf("%d applications stored with identity fields that are not the citizen's", len(apps))
	}
	// The citizen's own identity goes through.
	p := seal(t, e.key, birthRecord(20, e.kid), nil)
	p = withToken(t, e.key, p, e.confirmPacket(t, "tok-an", "049090001234", p))
	if _, err := e.submit(p); err != nil {
		t.Errorf("the citizen's own identity: %v", err)
	}
}

func cloneForm(f map[string]string) map[string]string {
	c := make(map[string]string, len(f))
	for k, v := range f {
		c[k] = v
	}
	return c
}
