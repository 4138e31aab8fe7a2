package api

import (
	"encoding/json"
	"strings"
	"testing"
)

func sampleReview() Review {
	return Review{
		ProcedureID: "marital-status",
		Applicant:   Applicant{CitizenID: "049090001234", Name: "Nguyễn Văn An", BirthDate: "1990-09-04"},
		Form:        map[string]string{"full_name": "Nguyễn Văn An", "purpose": "marriage"},
		Documents:   []ReviewDocument{{Type: "id-card", SHA256: strings.Repeat("ab", 32)}},
	}
}

// The encoding is a contract between kiosks and portals of different
// versions: this digest changes only with the domain's version. The value
// was computed apart from this code, from CanonicalReview's description
// (Python: struct.pack(">I", len) before each UTF-8 string and count).
func TestReviewDigestIsStable(t *testing.T) {
	const want = "3f4e425f82a93594752e7e959baa8b943cd91b13569a13020e194cd9d3ca92e7"
	got := ReviewDigest(sampleReview())
	if !ValidReviewDigest(got) {
		t.Fatalf("digest %q is not lower-case hex SHA-256", got)
	}
	if got != want {
		t.Errorf("ReviewDigest(sample) = %s, want %s (the canonical encoding changed: bump reviewDomain)", got, want)
	}
}

// Every part of the review is covered, and no two reviews share an
// encoding by moving bytes between fields.
func TestReviewDigestCoversEverything(t *testing.T) {
	base := ReviewDigest(sampleReview())
	for name, edit := range map[string]func(r *Review){
		"procedure":      func(r *Review) { r.ProcedureID = "birth-record-copy" },
		"citizen id":     func(r *Review) { r.Applicant.CitizenID = "049090001235" },
		"name":           func(r *Review) { r.Applicant.Name = "Nguyễn Văn Ân" },
		"birth date":     func(r *Review) { r.Applicant.BirthDate = "1990-09-05" },
		"phone":          func(r *Review) { r.Applicant.Phone = "0905123456" },
		"form value":     func(r *Review) { r.Form["purpose"] = "other" },
		"form field":     func(r *Review) { r.Form["extra"] = "" },
		"key/value edge": func(r *Review) { r.Form = map[string]string{"full_nameN": "guyễn Văn An", "purpose": "marriage"} },
		"name into form": func(r *Review) { r.Applicant.Name, r.Form["full_name"] = "", "Nguyễn Văn AnNguyễn Văn An" },
		"document hash":  func(r *Review) { r.Documents[0].SHA256 = strings.Repeat("cd", 32) },
		"document type":  func(r *Review) { r.Documents[0].Type = "divorce-decree" },
		"no document":    func(r *Review) { r.Documents = nil },
		"another document": func(r *Review) {
			r.Documents = append(r.Documents, ReviewDocument{Type: "divorce-decree", SHA256: strings.Repeat("ef", 32)})
		},
	} {
		r := sampleReview()
		edit(&r)
		if ReviewDigest(r) == base {
			t.Errorf("changing the %s leaves the digest", name)
		}
	}
	// What does not change what the citizen saw leaves it.
	r := sampleReview()
	r.Documents[0].SHA256 = strings.ToUpper(r.Documents[0].SHA256)
	if ReviewDigest(r) != base {
		t.Error("upper-case hex changes the digest")
	}
}

// The kiosk digests the review from its memory, the portal from the
// manifest JSON it decodes: the two agree, whatever bytes a form holds.
func TestReviewDigestSurvivesTheManifest(t *testing.T) {
	for _, v := range []string{"plain", "Nguyễn", "bad \xff\xfe bytes", "\xed\xa0\x80 surrogate", "<&> \u2028", "trailing \xe1\xbb"} {
		r := sampleReview()
		r.Form["note"] = v
		r.Applicant.Name = v
		m := Manifest{ProcedureID: r.ProcedureID, Applicant: r.Applicant, Form: r.Form,
			Documents: []DocumentRef{{Type: "id-card", File: "doc-1.pdf", SHA256: r.Documents[0].SHA256}}}
		b, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		var back Manifest
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatal(err)
		}
		if ReviewDigest(r) != ReviewDigest(ReviewOf(back)) {
			t.Errorf("%q: the digest differs once through the manifest", v)
		}
	}
}

func TestValidReviewDigest(t *testing.T) {
	for s, want := range map[string]bool{
		strings.Repeat("0a", 32): true,
		strings.Repeat("0A", 32): false,
		strings.Repeat("0a", 31): false,
		strings.Repeat("0g", 32): false,
		"":                       false,
	} {
		if ValidReviewDigest(s) != want {
			t.Errorf("ValidReviewDigest(%q) = %v", s, !want)
		}
	}
}
