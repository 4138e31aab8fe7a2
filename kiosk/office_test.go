package kiosk

import (
	"context"
	"slices"
	"testing"
	"time"

	"govkiosk/backend-client/api"
	"govkiosk/backend-client/identity"
)

// officeCatalogue has a Vietnamese and a Thai office, each offering its
// own procedure, and a procedure whose divorce decree is asked for only
// from a citizen who is divorced, whose ID card comes from a registry.
func officeCatalogue() api.Catalogue {
	en := func(s string) api.Text { return api.Text{"en": s, "vi": s + " (vi)", "th": s + " (th)"} }
	return api.Catalogue{
		Procedures: []api.Procedure{{
			ID: "marital-status", Code: "1.004873", Name: en("Certificate of marital status"), Currency: "VND", FeeMinor: 3000, ProcessingDays: 3,
			Fields: []api.Field{
				{Name: "full_name", Type: api.FieldText, Label: en("Name"), Required: true, Prefill: "name", ReadOnly: true},
				{Name: "marital_history", Type: api.FieldSelect, Label: en("Marital history"), Required: true, Options: []api.Option{
					{Value: "never_married", Label: en("Never married")}, {Value: "divorced", Label: en("Divorced")},
				}},
			},
			Documents: []api.DocumentRequirement{{
				Type: "divorce-decree", Label: en("Divorce decree"), MinPages: 1, MaxPages: 10, Required: true,
				When: &api.Condition{Field: "marital_history", In: []string{"divorced"}},
			}},
			FromRegistries: []api.RegistryDocument{{Type: "id-card", Label: en("Identity card"), Registry: "vn-population"}},
		}, {
			ID: "food-shop", Code: "TH-1", Name: en("Food shop"), Currency: "THB", FeeMinor: 20000, ProcessingDays: 7,
			Fields: []api.Field{{Name: "shop", Type: api.FieldText, Label: en("Shop"), Required: true}},
		}},
		Offices: []api.Office{
			{Code: "QN-TK", Country: "VN", Name: en("Tam Ky centre"), Languages: []string{"vi", "en"}, Currency: "VND", TimeZone: "Asia/Ho_Chi_Minh",
				Help: en("Ask at counter 1"), Procedures: []string{"marital-status"}},
			{Code: "BKK-BR", Country: "TH", Name: en("Bang Rak district office"), Languages: []string{"th", "en"}, Currency: "THB", TimeZone: "Asia/Bangkok",
				Help: en("Call 1111"), Procedures: []string{"food-shop"}},
		},
		Registries: []api.Registry{{ID: "vn-population", Country: "VN", Name: en("National Population Database"), Holds: []string{"id-card"}}},
	}
}

func procedureIDsOf(v View) []string {
	var ids []string
	for _, p := range v.Procedures {
		ids = append(ids, p.ID)
	}
	return ids
}

// TestOfficeProfile: the office's profile decides what the kiosk offers,
// which language it starts in, its help contacts and the time zone of its
// receipts.
func TestOfficeProfile(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		office, lang, help, zone string
		langs, procs             []string
	}{
		{"BKK-BR", "th", "Call 1111 (th)", "Asia/Bangkok", []string{"th", "en"}, []string{"food-shop"}},
		{"QN-TK", "vi", "Ask at counter 1 (vi)", "Asia/Ho_Chi_Minh", []string{"vi", "en"}, []string{"marital-status"}},
	} {
		t.Run(tc.office, func(t *testing.T) {
			r := newRigWith(t, officeCatalogue(), tc.office)
			v := r.c.View(ctx)
			if v.Lang != tc.lang || !slices.Equal(v.Languages, tc.langs) || v.OfficeHelp != tc.help {
				t.Fatalf("start screen in %s, offers %v, help %q; want %s, %v, %q", v.Lang, v.Languages, v.OfficeHelp, tc.lang, tc.langs, tc.help)
			}
			if err := r.c.SetLanguage("vi"); tc.office == "BKK-BR" && err == nil {
				t.Error("Vietnamese chosen at an office that does not offer it")
			}
			r.c.Start()
			r.c.SetLanguage(tc.lang)
			if ids := procedureIDsOf(r.c.View(ctx)); !slices.Equal(ids, tc.procs) {
				t.Fatalf("catalogue screen offers %v, want %v", ids, tc.procs)
			}
			other := "marital-status"
			if tc.office == "QN-TK" {
				other = "food-shop"
			}
			if err := r.c.ChooseProcedure(ctx, other); err == nil {
				t.Errorf("%s chosen at %s, which does not offer it", other, tc.office)
			}
			if loc := r.c.location(); loc == nil || loc.String() != tc.zone {
				t.Errorf("receipts in %v, want %s", loc, tc.zone)
			}
			if w := r.c.d.Catalogue.Warnings(); len(w) != 0 {
				t.Errorf("warnings %v", w)
			}
		})
	}
	r := newRigWith(t, officeCatalogue(), "HN-01")
	if ids := procedureIDsOf(viewAtCatalogue(r)); len(ids) != 0 {
		t.Errorf("a kiosk of an office without a profile offers %v", ids)
	}
	if w := r.c.d.Catalogue.Warnings(); !slices.Contains(w, "office-unknown") {
		t.Errorf("warnings %v, want office-unknown", w)
	}
}

func viewAtCatalogue(r *rig) View {
	r.c.Start()
	r.c.SetLanguage("en")
	return r.c.View(context.Background())
}

// TestReceiptInOfficeTime: the receipt is printed in the office's time, not
// the machine's UTC.
func TestReceiptInOfficeTime(t *testing.T) {
	r := newRigWith(t, officeCatalogue(), "BKK-BR")
	p := officeCatalogue().Procedures[1]
	s := &session{lang: "th", procedure: &p, ident: &identity.Identity{CitizenID: "1103700012345", Name: "Somchai"}, receipt: &Receipt{Reference: "X", ReceivedAt: time.Date(2026, 12, 2, 20, 30, 0, 0, time.UTC)}}
	d := r.c.receiptData(s)
	if d.Location == nil || d.ReceivedAt.In(d.Location).Format("2006-01-02 15:04") != "2026-12-03 03:30" {
		t.Fatalf("receipt time zone %v", d.Location)
	}
	if d.OfficeName != "Bang Rak district office (th)" || d.Currency != "THB" {
		t.Errorf("receipt of office %q in %s", d.OfficeName, d.Currency)
	}
}

// TestDocumentsFollowAnswers: the divorce decree is asked for only from a
// divorced citizen; changing the answer drops or asks for it, and a scan
// made is kept while the answer still calls for it. The ID card is never
// asked for: the screens name the registry it comes from.
func TestDocumentsFollowAnswers(t *testing.T) {
	ctx := context.Background()
	r := newRigWith(t, officeCatalogue(), "QN-TK")
	r.walkToForm()
	want := []RegistryDocView{{Label: "Identity card", Registry: "National Population Database"}}
	if v := r.c.View(ctx); !slices.Equal(v.FromRegistries, want) {
		t.Fatalf("form screen: from registries %+v, want %+v", v.FromRegistries, want)
	}
	submit := func(history string, step Step) View {
		t.Helper()
		if err := r.c.SubmitForm(map[string]string{"marital_history": history}); err != nil {
			t.Fatalf("form with %s: %v", history, err)
		}
		v := r.c.View(ctx)
		if v.Step != step {
			t.Fatalf("form with %s goes to %s, want %s", history, v.Step, step)
		}
		return v
	}
	v := submit("never_married", StepReview)
	if len(v.Procedure.Documents) != 0 || len(v.Docs) != 0 {
		t.Fatalf("never married: asked for %+v", v.Procedure.Documents)
	}
	r.c.Back()
	v = submit("divorced", StepDocuments)
	if len(v.Procedure.Documents) != 1 || v.Procedure.Documents[0].Type != "divorce-decree" || len(v.Docs) != 1 {
		t.Fatalf("divorced: asked for %+v", v.Procedure.Documents)
	}
	if err := r.c.ScanDocument(ctx); err != nil {
		t.Fatal(err)
	}
	r.c.Back() // to the form
	if v := submit("divorced", StepDocuments); v.Docs[0].Pages != 2 {
		t.Fatalf("the decree's scan was lost going back to the form: %+v", v.Docs)
	}
	r.c.Back()
	if v := submit("never_married", StepReview); len(v.Docs) != 0 {
		t.Fatalf("never married after all: still holds %d documents", len(v.Docs))
	}
	if err := r.c.RequestCode(ctx); err != nil {
		t.Fatal(err)
	}
	if err := r.c.VerifyCode(ctx, "424242"); err != nil {
		t.Fatal(err)
	}
	if v := r.c.View(ctx); v.Step != StepReceipt {
		t.Fatalf("after the code at %s", v.Step)
	}
}
