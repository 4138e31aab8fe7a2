package portal

import (
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"govkiosk/backend-client/api"
	"govkiosk/kiosk/lang"
)

func TestCatalogueValid(t *testing.T) {
	c, err := LoadCatalogue()
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Procedures) != 5 {
		t.Fatalf("%d procedures, want 5", len(c.Procedures))
	}
	langs := func(where string, tx api.Text) {
		t.Helper()
		for _, l := range lang.Codes() {
			if strings.TrimSpace(tx[l]) == "" {
				t.Errorf("%s: no %s text", where, l)
			}
			if l != lang.Fallback && tx[l] == tx[lang.Fallback] {
				t.Errorf("%s: %s text is a copy of the English one: %v", where, l, tx)
			}
		}
	}
	withScanner := 0
	for _, p := range c.Procedures {
		langs(p.ID+" name", p.Name)
		langs(p.ID+" summary", p.Summary)
		langs(p.ID+" agency", p.Agency)
		if n := len(p.Fields); n < 2 || n > 6 {
			t.Errorf("%s: %d fields, want 2..6", p.ID, n)
		}
		if p.ProcessingDays < 1 || p.FeeMinor < 0 || p.Currency == "" || p.Code == "" {
			t.Errorf("%s: bad days/fee/currency/code", p.ID)
		}
		for _, f := range p.Fields {
			langs(p.ID+"."+f.Name, f.Label)
			switch f.Type {
			case api.FieldText, api.FieldNumber, api.FieldDate, api.FieldSelect, api.FieldPhone:
			default:
				t.Errorf("%s.%s: type %q", p.ID, f.Name, f.Type)
			}
			for _, o := range f.Options {
				langs(p.ID+"."+f.Name+"="+o.Value, o.Label)
			}
		}
		for _, d := range p.Documents {
			langs(p.ID+" doc "+d.Type, d.Label)
			if d.MinPages > d.MaxPages || d.MaxPages < 1 {
				t.Errorf("%s doc %s: pages %d..%d", p.ID, d.Type, d.MinPages, d.MaxPages)
			}
		}
		if p.NeedsScanner() {
			withScanner++
		} else if p.ID != "birth-record-copy" && p.ID != "th-marital-status" {
			t.Errorf("%s needs no scanned document", p.ID)
		}
	}
	if withScanner < 3 {
		t.Errorf("%d procedures need the scanner, want >= 3", withScanner)
	}
}

func TestValidateCatalogueRejects(t *testing.T) {
	good, err := LoadCatalogue()
	if err != nil {
		t.Fatal(err)
	}
	clone := func() api.Catalogue {
		c := good
		c.Procedures = append([]api.Procedure(nil), good.Procedures...)
		p := c.Procedures[0]
		p.Fields = append([]api.Field(nil), p.Fields...)
		p.Documents = append([]api.DocumentRequirement(nil), p.Documents...)
		c.Procedures[0] = p
		c.Offices = append([]api.Office(nil), good.Offices...)
		return c
	}
	for _, tc := range []struct {
		name   string
		mutate func(*api.Catalogue)
	}{
		{"missing thai name", func(c *api.Catalogue) { c.Procedures[0].Name = api.Text{"vi": "x", "en": "x"} }},
		{"unknown field type", func(c *api.Catalogue) { c.Procedures[0].Fields[0].Type = "colour" }},
		{"min pages above max", func(c *api.Catalogue) { c.Procedures[0].Documents[0].MinPages = 11 }},
		{"scan a registry's document", func(c *api.Catalogue) {
			c.Procedures[0].Documents = append(c.Procedures[0].Documents, api.DocumentRequirement{Type: "id-card", Label: c.Procedures[0].Name, MinPages: 1, MaxPages: 2, Required: true})
		}},
		{"condition on a text field", func(c *api.Catalogue) {
			c.Procedures[0].Documents[0].When = &api.Condition{Field: "full_name", In: []string{"x"}}
		}},
		{"condition on an unknown option", func(c *api.Catalogue) {
			c.Procedures[0].Documents[0].When = &api.Condition{Field: "marital_history", In: []string{"separated"}}
		}},
		{"unknown registry", func(c *api.Catalogue) {
			c.Procedures[0].FromRegistries = []api.RegistryDocument{{Type: "id-card", Registry: "mars", Label: c.Procedures[0].Name}}
		}},
		{"registry that does not hold it", func(c *api.Catalogue) {
			c.Procedures[0].FromRegistries = []api.RegistryDocument{{Type: "divorce-decree", Registry: "vn-population", Label: c.Procedures[0].Name}}
		}},
		{"office charging in another currency", func(c *api.Catalogue) { c.Offices[0].Currency = "THB" }},
		{"office time zone unknown", func(c *api.Catalogue) { c.Offices[0].TimeZone = "Asia/Atlantis" }},
		{"office time zone of the machine", func(c *api.Catalogue) { c.Offices[0].TimeZone = "Local" }},
		{"office language unknown", func(c *api.Catalogue) { c.Offices[0].Languages = []string{"fr"} }},
		{"office offers an unknown procedure", func(c *api.Catalogue) { c.Offices[0].Procedures = []string{"marital-status", "visa"} }},
		{"procedure no office offers", func(c *api.Catalogue) { c.Offices[1].Procedures = c.Offices[1].Procedures[:1] }},
		{"bad pattern", func(c *api.Catalogue) { c.Procedures[0].Fields[0].Pattern = "([" }},
		{"unknown prefill", func(c *api.Catalogue) { c.Procedures[0].Fields[0].Prefill = "email" }},
		{"duplicate id", func(c *api.Catalogue) { c.Procedures[1].ID = c.Procedures[0].ID }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := clone()
			tc.mutate(&c)
			if err := ValidateCatalogue(c); err == nil {
				t.Error("ValidateCatalogue accepted a broken catalogue")
			}
		})
	}
	for _, l := range lang.Codes() {
		c := clone()
		name := maps.Clone(c.Procedures[0].Name)
		delete(name, l)
		c.Procedures[0].Name = name
		if err := ValidateCatalogue(c); err == nil || !strings.Contains(err.Error(), fmt.Sprintf("missing %q text", l)) {
			t.Errorf("a name without %s text: %v", l, err)
		}
	}
	if err := ValidateCatalogue(clone()); err != nil {
		t.Errorf("clone of the good catalogue rejected: %v", err)
	}
}

func TestAppointmentDate(t *testing.T) {
	ict := time.FixedZone("ICT", 7*3600)
	for _, tc := range []struct {
		received string // RFC 3339
		days     int
		want     string
	}{
		{"2026-03-02T09:00:00+07:00", 3, "2026-03-05"},  // Mon + 3 -> Thu
		{"2026-03-05T09:00:00+07:00", 3, "2026-03-10"},  // Thu + 3 -> Tue (skips Sat, Sun)
		{"2026-03-06T16:59:00+07:00", 1, "2026-03-09"},  // Fri + 1 -> Mon
		{"2026-03-07T10:00:00+07:00", 1, "2026-03-09"},  // Sat + 1 -> Mon
		{"2026-03-08T10:00:00+07:00", 3, "2026-03-11"},  // Sun + 3 -> Wed
		{"2026-03-07T10:00:00+07:00", 0, "2026-03-09"},  // Sat + 0 -> Mon
		{"2026-03-04T10:00:00+07:00", 0, "2026-03-04"},  // Wed + 0 -> same day
		{"2026-03-02T09:00:00+07:00", 15, "2026-03-23"}, // three full weeks
		{"2026-03-02T01:30:00+07:00", 1, "2026-03-03"},  // local Monday (Sunday in UTC)
	} {
		at, err := time.Parse(time.RFC3339, tc.received)
		if err != nil {
			t.Fatal(err)
		}
		if got := AppointmentDate(at.In(ict), tc.days); got != tc.want {
			t.Errorf("AppointmentDate(%s, %d) = %s, want %s", tc.received, tc.days, got, tc.want)
		}
	}
}

func TestValidateForm(t *testing.T) {
	c, err := LoadCatalogue()
	if err != nil {
		t.Fatal(err)
	}
	procs := map[string]api.Procedure{}
	for _, p := range c.Procedures {
		procs[p.ID] = p
	}
	good := map[string]string{"site_address": "12 Phan Bội Châu, Tam Kỳ", "land_parcel": "125/18", "floor_area": "120", "floors": "2"}
	with := func(k, v string) map[string]string {
		m := map[string]string{}
		for a, b := range good {
			m[a] = b
		}
		if v == "" {
			delete(m, k)
		} else {
			m[k] = v
		}
		return m
	}
	for _, tc := range []struct {
		name string
		form map[string]string
		ok   bool
	}{
		{"good", good, true},
		{"missing required", with("land_parcel", ""), false},
		{"pattern", with("land_parcel", "125-18"), false},
		{"area above 150", with("floor_area", "151"), false},
		{"not a number", with("floors", "two"), false},
		{"unknown field", with("colour", "red"), false},
	} {
		if err := validateForm(procs["house-building-permit"], tc.form); (err == nil) != tc.ok {
			t.Errorf("%s: err = %v, want ok=%v", tc.name, err, tc.ok)
		}
	}
	if err := validateForm(procs["marital-status"], map[string]string{
		"full_name": "Nguyễn Văn An", "citizen_id": "049090001234", "purpose": "marriage", "marital_history": "nope",
	}); err == nil {
		t.Error("unknown select option accepted")
	}
}

// stateHeld are kinds of documents a government registry holds, named
// here independently of the catalogue's own registries: no procedure may
// ask a citizen to scan one.
var stateHeld = []string{"id-card", "house-registration", "residence-record", "civil-status-record",
	"birth-record", "birth-certificate", "marriage-record", "marriage-registration", "divorce-registration", "death-record", "death-certificate"}

// stateHeldWords are what such documents are called; a scanned document
// whose label says one of them asks for a copy the state holds, whatever
// its type.
var stateHeldWords = []string{"căn cước", "chứng minh nhân dân", "hộ khẩu", "khai sinh", "khai tử", "hộ tịch",
	"บัตรประจำตัวประชาชน", "ทะเบียนบ้าน", "สูติบัตร", "มรณบัตร", "identity card", "id card", "house registration", "civil-status", "birth certificate"}

// TestNoCopiesOfStateDocuments: no procedure of the demo catalogue asks to
// scan an ID card, a house registration or a civil-status record; each
// says which registry it retrieves them from, and the citizen who logged
// in with the national ID is never asked for the ID card.
func TestNoCopiesOfStateDocuments(t *testing.T) {
	c, err := LoadCatalogue()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range c.Procedures {
		for _, d := range p.Documents {
			if slices.Contains(stateHeld, d.Type) {
				t.Errorf("%s asks to scan %s, which a registry holds", p.ID, d.Type)
			}
			for l, label := range d.Label {
				for _, w := range stateHeldWords {
					if strings.Contains(strings.ToLower(label), w) {
						t.Errorf("%s asks to scan %q (%s), a document the state holds", p.ID, label, l)
					}
				}
			}
		}
		if !slices.ContainsFunc(p.FromRegistries, func(d api.RegistryDocument) bool { return d.Type == "id-card" && d.When == nil }) {
			t.Errorf("%s does not say the ID card comes from a registry", p.ID)
		}
		for _, d := range p.FromRegistries {
			if r, ok := c.Registry(d.Registry); !ok || r.Name.Get("en") == "" {
				t.Errorf("%s: %s from unnamed registry %q", p.ID, d.Type, d.Registry)
			}
		}
	}
}

// TestDocumentsForAnswers: the documents asked for follow the answers the
// catalogue declares them for.
func TestDocumentsForAnswers(t *testing.T) {
	c, err := LoadCatalogue()
	if err != nil {
		t.Fatal(err)
	}
	procs := map[string]api.Procedure{}
	for _, p := range c.Procedures {
		procs[p.ID] = p
	}
	types := func(docs []api.DocumentRequirement) (out []string) {
		for _, d := range docs {
			out = append(out, d.Type)
		}
		return out
	}
	regs := func(docs []api.RegistryDocument) (out []string) {
		for _, d := range docs {
			out = append(out, d.Type)
		}
		return out
	}
	for _, tc := range []struct {
		proc, field, value string
		scan, registry     []string
	}{
		{"marital-status", "marital_history", "never_married", nil, []string{"id-card", "residence-record"}},
		{"marital-status", "marital_history", "divorced", []string{"divorce-decree"}, []string{"id-card", "residence-record"}},
		{"marital-status", "marital_history", "widowed", nil, []string{"id-card", "residence-record", "death-record"}},
		{"marital-status", "marital_history", "", nil, []string{"id-card", "residence-record"}},
		{"th-marital-status", "marital_history", "divorced", nil, []string{"id-card", "house-registration", "divorce-registration"}},
		{"food-establishment-notification", "premises", "own", []string{"site-map"}, []string{"id-card", "house-registration"}},
		{"food-establishment-notification", "premises", "rented", []string{"owner-consent", "site-map"}, []string{"id-card", "house-registration"}},
	} {
		form := map[string]string{tc.field: tc.value}
		p := procs[tc.proc]
		if got := types(p.DocumentsFor(form)); !slices.Equal(got, tc.scan) {
			t.Errorf("%s with %s=%q: scan %v, want %v", tc.proc, tc.field, tc.value, got, tc.scan)
		}
		if got := regs(p.RegistryDocumentsFor(form)); !slices.Equal(got, tc.registry) {
			t.Errorf("%s with %s=%q: from registries %v, want %v", tc.proc, tc.field, tc.value, got, tc.registry)
		}
	}
}

// TestOfficeProfiles: the demo's Thai and Vietnamese offices each offer
// only procedures charged in their own currency, speak their own language
// first and keep their own time.
func TestOfficeProfiles(t *testing.T) {
	c, err := LoadCatalogue()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ code, country, lang, currency, zone string }{
		{"QN-TK", "VN", "vi", "VND", "Asia/Ho_Chi_Minh"},
		{"BKK-BR", "TH", "th", "THB", "Asia/Bangkok"},
	} {
		o, ok := c.Office(tc.code)
		if !ok {
			t.Errorf("no office %s", tc.code)
			continue
		}
		if o.Country != tc.country || o.Languages[0] != tc.lang || o.Currency != tc.currency || o.TimeZone != tc.zone {
			t.Errorf("office %s: %s %v %s %s, want %s %s %s %s", tc.code, o.Country, o.Languages, o.Currency, o.TimeZone, tc.country, tc.lang, tc.currency, tc.zone)
		}
		for _, id := range o.Procedures {
			for _, p := range c.Procedures {
				if p.ID == id && p.Currency != o.Currency {
					t.Errorf("office %s offers %s in %s", tc.code, id, p.Currency)
				}
			}
		}
	}
}

// TestCatalogueWordingForElders: the catalogue's Vietnamese addresses the
// citizen as Ông/Bà, says "đã mất" and "thẻ căn cước"; its Thai says ท่าน.
func TestCatalogueWordingForElders(t *testing.T) {
	c, err := LoadCatalogue()
	if err != nil {
		t.Fatal(err)
	}
	banned := map[string][]*regexp.Regexp{
		"vi": {regexp.MustCompile(`(?i)(^|[^\p{L}])bạn([^\p{L}]|$)`), regexp.MustCompile(`(?i)đã chết`),
			regexp.MustCompile(`(?i)chứng minh nhân dân`), regexp.MustCompile(`(?i)căn cước công dân`)},
		"th": {regexp.MustCompile(`ฉัน`), regexp.MustCompile(`(^|[^บ])คุณ`)},
	}
	check := func(where string, tx api.Text) {
		for l, res := range banned {
			for _, re := range res {
				if re.MatchString(tx[l]) {
					t.Errorf("%s (%s): %q says %q", where, l, tx[l], re.FindString(tx[l]))
				}
			}
		}
	}
	for _, p := range c.Procedures {
		check(p.ID+" name", p.Name)
		check(p.ID+" summary", p.Summary)
		check(p.ID+" agency", p.Agency)
		for _, f := range p.Fields {
			check(p.ID+"."+f.Name, f.Label)
			check(p.ID+"."+f.Name+" help", f.Help)
			for _, o := range f.Options {
				check(p.ID+"."+f.Name+"="+o.Value, o.Label)
			}
		}
		for _, d := range p.Documents {
			check(p.ID+" doc "+d.Type, d.Label)
		}
		for _, d := range p.FromRegistries {
			check(p.ID+" registry doc "+d.Type, d.Label)
		}
	}
	for _, o := range c.Offices {
		check("office "+o.Code+" help", o.Help)
	}
}
