package lang

import (
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestCodes(t *testing.T) {
	got := Codes()
	if strings.Join(got, ",") != "th,vi,en" {
		t.Fatalf("Codes() = %v, want th, vi, en (Thai first: the kiosk default)", got)
	}
	got[0] = "xx"
	if Codes()[0] != Thai {
		t.Fatal("Codes() hands out its own slice")
	}
	if !Supported(Fallback) {
		t.Fatalf("fallback %q is not supported", Fallback)
	}
	for _, c := range Codes() {
		if !Supported(c) {
			t.Errorf("Supported(%q) = false", c)
		}
	}
	for _, c := range []string{"", "TH", "th-TH", "fr", "vn", "eng"} {
		if Supported(c) {
			t.Errorf("Supported(%q) = true", c)
		}
	}
}

func TestName(t *testing.T) {
	want := map[string]string{Thai: "ไทย", Vietnamese: "Tiếng Việt", English: "English"}
	for _, c := range Codes() {
		if Name(c) != want[c] {
			t.Errorf("Name(%q) = %q, want %q", c, Name(c), want[c])
		}
	}
	if len(want) != len(Codes()) {
		t.Errorf("a new language needs its name here")
	}
	if Name("fr") != "fr" {
		t.Errorf("Name(fr) = %q", Name("fr"))
	}
}

func TestParseAndMatch(t *testing.T) {
	for _, tc := range []struct{ tag, want string }{
		{"th", "th"}, {"TH", "th"}, {"vi-VN", "vi"}, {"en_GB", "en"}, {" en-US ", "en"},
		{"th;q=0.8", "th"}, {"vi-Latn-VN", "vi"},
		{"", ""}, {"fr", ""}, {"*", ""}, {"thx", ""}, {"vie", ""}, {"q=0.5", ""},
	} {
		got, ok := Parse(tc.tag)
		if got != tc.want || ok != (tc.want != "") {
			t.Errorf("Parse(%q) = %q, %v, want %q", tc.tag, got, ok, tc.want)
		}
	}
	for _, tc := range []struct{ list, want string }{
		{"th vi", "th"},                               // ui_locales
		{"fr-CA  vi en", "vi"},                        // unknown first, extra spaces
		{"fr-FR,fr;q=0.9,en-US;q=0.8,en;q=0.7", "en"}, // a browser's Accept-Language
		{"vi-VN,vi;q=0.9", "vi"},                      //
		{"de, th ;q=0.5", "th"},                       // spaces around a quality value
		{"", ""}, {"fr de", ""}, {"*", ""},            // nothing supported: the caller picks
	} {
		got, ok := Match(tc.list)
		if got != tc.want || ok != (tc.want != "") {
			t.Errorf("Match(%q) = %q, %v, want %q", tc.list, got, ok, tc.want)
		}
	}
}

func TestFormatDate(t *testing.T) {
	ict := time.FixedZone("ICT", 7*3600)
	for _, tc := range []struct {
		code string
		t    time.Time
		want string
	}{
		{Thai, time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC), "25/11/2569"}, // Buddhist era: Gregorian + 543
		{Thai, time.Date(2027, 1, 5, 0, 0, 0, 0, time.UTC), "05/01/2570"},
		{Thai, time.Date(2026, 12, 31, 23, 59, 0, 0, ict), "31/12/2569"}, // the day where t is, not UTC's
		{Vietnamese, time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC), "25/11/2026"},
		{Vietnamese, time.Date(2027, 1, 5, 0, 0, 0, 0, time.UTC), "05/01/2027"},
		{English, time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC), "25 Nov 2026"},
		{English, time.Date(2027, 1, 5, 0, 0, 0, 0, time.UTC), "5 Jan 2027"},
		{"fr", time.Date(2027, 1, 5, 0, 0, 0, 0, time.UTC), "5 Jan 2027"}, // unsupported: the fallback's
	} {
		if got := FormatDate(tc.code, tc.t); got != tc.want {
			t.Errorf("FormatDate(%s, %s) = %q, want %q", tc.code, tc.t, got, tc.want)
		}
	}
	for _, c := range Codes() {
		if FormatDate(c, time.Date(2026, 3, 11, 0, 0, 0, 0, time.UTC)) == "" {
			t.Errorf("%s: no date format", c)
		}
	}
}

func TestPlural(t *testing.T) {
	want := map[string][]string{ // the form for 0, 1, 2, 5, 11, 21
		Thai:       {"other", "other", "other", "other", "other", "other"},
		Vietnamese: {"other", "other", "other", "other", "other", "other"},
		English:    {"other", "one", "other", "other", "other", "other"},
		"fr":       {"other", "one", "other", "other", "other", "other"}, // unsupported: English rules
	}
	for _, c := range Codes() {
		if want[c] == nil {
			t.Errorf("%s: no plural rule tested", c)
		}
	}
	for c, forms := range want {
		for i, n := range []int{0, 1, 2, 5, 11, 21} {
			if got := Plural(c, n, "one", "other"); got != forms[i] {
				t.Errorf("Plural(%s, %d) = %s, want %s", c, n, got, forms[i])
			}
		}
	}
}

// TestImports keeps the package a leaf (standard library only) and out of
// the drivers, which know nothing of languages.
func TestImports(t *testing.T) {
	imports := func(dir string, walk bool) map[string][]string {
		out := map[string][]string{}
		err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() && path != dir && !walk {
				return filepath.SkipDir
			}
			if d.IsDir() || !strings.HasSuffix(path, ".go") {
				return nil
			}
			f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.ImportsOnly)
			if err != nil {
				return err
			}
			for _, im := range f.Imports {
				p, _ := strconv.Unquote(im.Path.Value)
				out[path] = append(out[path], p)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	for file, ims := range imports(".", false) {
		for _, p := range ims {
			if first, _, _ := strings.Cut(p, "/"); strings.Contains(first, ".") || strings.HasPrefix(p, "govkiosk") {
				t.Errorf("%s imports %s: lang imports only the standard library", file, p)
			}
		}
	}
	drivers := imports(filepath.Join("..", "..", "drivers"), true)
	if len(drivers) == 0 {
		t.Fatal("no driver sources found")
	}
	for file, ims := range drivers {
		for _, p := range ims {
			if p == "govkiosk/kiosk/lang" {
				t.Errorf("%s imports %s: drivers know nothing of languages", file, p)
			}
		}
	}
}
