package ui

import (
	"io"
	"log/slog"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"govkiosk/backend-client/api"
	"govkiosk/kiosk"
	"govkiosk/kiosk/lang"
)

// TestWordingForElders: Vietnamese addresses the citizen as Ông/Bà, never
// "bạn", says "đã mất" rather than "đã chết" and uses the current term
// "thẻ căn cước"; Thai says "ท่าน" and never the casual first person "ฉัน"
// nor a speaker's gendered particle.
func TestWordingForElders(t *testing.T) {
	banned := map[string][]*regexp.Regexp{
		"vi": {
			regexp.MustCompile(`(?i)(^|[^\p{L}])bạn([^\p{L}]|$)`), regexp.MustCompile(`(?i)quý vị`),
			regexp.MustCompile(`(?i)đã chết`), regexp.MustCompile(`(?i)chứng minh nhân dân`), regexp.MustCompile(`(?i)căn cước công dân`),
		},
		"th": {regexp.MustCompile(`ฉัน`), regexp.MustCompile(`ค่ะ|ครับ`), regexp.MustCompile(`(^|[^บ])คุณ`)},
	}
	for l, res := range banned {
		for key, text := range messages[l] {
			for _, re := range res {
				if re.MatchString(text) {
					t.Errorf("%s %s: %q says %q", l, key, text, re.FindString(text))
				}
			}
		}
	}
	for _, key := range []string{"identity.title", "catalogue.title", "thanks.title", "receipt.title", "help.body"} {
		if !strings.Contains(messages["vi"][key], "Ông/Bà") {
			t.Errorf("vi %s does not address the citizen as Ông/Bà: %q", key, messages["vi"][key])
		}
		if !strings.Contains(messages["th"][key], "ท่าน") && key != "thanks.title" {
			t.Errorf("th %s does not address the citizen as ท่าน: %q", key, messages["th"][key])
		}
	}
}

// TestCountsHavePluralForms: every English message that counts things
// ("%d pages", "%s seconds") has its form for one.
func TestCountsHavePluralForms(t *testing.T) {
	counted := regexp.MustCompile(`%[ds] [a-z]+s\b`)
	for key, text := range messages[lang.English] {
		// "%d to %d pages" always ends above one: a document of one
		// page is "docs.pages_exact".
		if strings.HasSuffix(key, pluralOne) || !counted.MatchString(text) || key == "docs.pages" {
			continue
		}
		if _, ok := messages[lang.English][key+pluralOne]; !ok {
			t.Errorf("%s %q has no form for one", key, text)
		}
	}
	if got := TN("en", "catalogue.days", 1); got != "%d working day" {
		t.Errorf("1 working day: %q", got)
	}
}

// TestChooseOneIsSaid: an unanswered choice has its own words in every
// language, not those of an empty text field.
func TestChooseOneIsSaid(t *testing.T) {
	for _, l := range lang.Codes() {
		opt, req := messages[l][api.ProblemOption], messages[l][api.ProblemRequired]
		if opt == "" || opt == req {
			t.Errorf("%s: %q is %q (required: %q)", l, api.ProblemOption, opt, req)
		}
	}
	if got := T("en", api.ProblemOption); got != "Please choose one." {
		t.Errorf("en %s: %q", api.ProblemOption, got)
	}
}

// TestDocumentsTheStateHolds: the documents screen (on its first document)
// and the review say, in the citizen's language, which documents need not
// be brought or scanned and where the office gets them.
func TestDocumentsTheStateHolds(t *testing.T) {
	s, err := New(nil, Options{Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	p := proc
	p.Documents = []api.DocumentRequirement{
		{Type: "plan", Label: api.Text{"en": "Site plan"}, MinPages: 1, MaxPages: 1, Required: true},
		{Type: "drawings", Label: api.Text{"en": "Drawings"}, MinPages: 2, MaxPages: 9},
	}
	for _, l := range lang.Codes() {
		for _, tc := range []struct {
			step  kiosk.Step
			doc   int
			shown bool
		}{{kiosk.StepDocuments, 0, true}, {kiosk.StepDocuments, 1, false}, {kiosk.StepReview, 0, true}} {
			v := kiosk.View{Step: tc.step, Lang: l, Languages: lang.Codes(), Procedure: &p, DocIndex: tc.doc,
				Docs: make([]kiosk.ScannedDocument, 2), Form: map[string]string{},
				FromRegistries: []kiosk.RegistryDocView{{Label: "Thẻ căn cước", Registry: "Cơ sở dữ liệu quốc gia về dân cư"}}}
			w := httptest.NewRecorder()
			s.render(w, v)
			body := w.Body.String()
			has := strings.Contains(body, T(l, "docs.not_needed")) && strings.Contains(body, "Thẻ căn cước") &&
				strings.Contains(body, strings.Replace(T(l, "docs.from_registry"), "%s", "Cơ sở dữ liệu quốc gia về dân cư", 1))
			if has != tc.shown {
				t.Errorf("%s %s document %d: registry block shown %v, want %v", l, tc.step, tc.doc, has, tc.shown)
			}
			if tc.step == kiosk.StepDocuments && tc.doc == 0 && l == "en" && !strings.Contains(body, ">1 page<") {
				t.Errorf("a one-page document does not say \"1 page\"")
			}
		}
	}
}

// TestFeesInTheReadersForm: the catalogue screen writes a fee in the
// procedure's currency the way the session's language writes money.
func TestFeesInTheReadersForm(t *testing.T) {
	s, err := New(nil, Options{Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	thb, vnd := proc, proc
	thb.ID, thb.FeeMinor, thb.Currency = "th", 20000, "THB"
	vnd.ID, vnd.FeeMinor, vnd.Currency = "vn", 50000, "VND"
	for _, tc := range []struct {
		lang      string
		want, not []string
	}{
		{"th", []string{"200 บาท", "50,000 ดอง"}, []string{"₫"}},
		{"en", []string{"฿200", "50,000 dong"}, []string{"₫", "บาท"}},
		{"vi", []string{"200 bạt", "50.000 ₫"}, []string{"บาท"}},
	} {
		w := httptest.NewRecorder()
		s.render(w, kiosk.View{Step: kiosk.StepCatalogue, Lang: tc.lang, Languages: lang.Codes(),
			Procedures: []kiosk.ProcedureView{{Procedure: thb, Available: true}, {Procedure: vnd, Available: true}}})
		body := w.Body.String()
		for _, want := range tc.want {
			if !strings.Contains(body, want) {
				t.Errorf("%s catalogue lacks %q", tc.lang, want)
			}
		}
		for _, not := range tc.not {
			if strings.Contains(body, not) {
				t.Errorf("%s catalogue shows %q", tc.lang, not)
			}
		}
	}
}

// TestHelpNamesTheOffice: the help dialog gives the office's own help
// contacts from its profile.
func TestHelpNamesTheOffice(t *testing.T) {
	s, err := New(nil, Options{Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	w := httptest.NewRecorder()
	s.render(w, kiosk.View{Step: kiosk.StepCatalogue, Lang: "th", Languages: lang.Codes(), OfficeHelp: "โทรสายด่วนรัฐบาล 1111"})
	if !strings.Contains(w.Body.String(), `data-testid="office-help">โทรสายด่วนรัฐบาล 1111<`) {
		t.Error("help dialog without the office's help contacts")
	}
}
