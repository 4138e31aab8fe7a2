package ui

import (
	"html"
	"io"
	"log/slog"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"govkiosk/kiosk"
	"govkiosk/kiosk/document/pipeline"
	"govkiosk/kiosk/lang"
)

// Every message the documents screen may show about a page is translated.
func TestEveryScanMessageIsTranslated(t *testing.T) {
	keys := append([]string{"scan.dropped", "scan.restore", "scan.again", "scan.rotated"}, kiosk.ScanMessageKeys...)
	for _, key := range keys {
		for _, l := range lang.Codes() {
			if messages[l][key] == "" {
				t.Errorf("no %s message for %q", l, key)
			}
		}
	}
}

// The documents screen after a scan shows each kept page's cleaned picture
// (as many as the PDF has pages), its problem with "Place it again", and
// the page left out as blank with "Keep this page" naming that page; no
// message key leaks onto the screen.
func TestDocumentsScreenShowsCleanedPages(t *testing.T) {
	s, err := New(nil, Options{Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	doc := kiosk.ScannedDocument{Type: "plan", Pages: 2, Thumbs: [][]byte{{1}, {3}}, Sheet: []kiosk.ScannedPage{
		{Thumb: []byte{1}, Kept: true, Problem: kiosk.PageProblemKey(pipeline.TooDark)},
		{Thumb: []byte{2}, Blank: true},
		{Thumb: []byte{3}, Kept: true, Rotated: true},
	}}
	leak := regexp.MustCompile(`>\s*(scan|docs)\.[a-z_-]+`)
	for _, l := range lang.Codes() {
		v := kiosk.View{Step: kiosk.StepDocuments, Lang: l, Languages: lang.Codes(), Procedure: &proc, Docs: []kiosk.ScannedDocument{doc}}
		w := httptest.NewRecorder()
		s.render(w, v)
		body := w.Body.String()
		for _, c := range []struct {
			what string
			n    int
		}{
			{`data-testid="thumb"`, 2}, {`data-testid="dropped-thumb"`, 1}, {`data-testid="restore"`, 1},
			{`data-testid="page-problem"`, 1}, {`data-testid="place-again"`, 1}, {`name="page" value="1"`, 1},
			{`data-testid="scanned-pages" data-pages="2"`, 1}, {`data-testid="dropped-pages" data-pages="1"`, 1},
		} {
			if got := strings.Count(body, c.what); got != c.n {
				t.Errorf("%s: %d× %s, want %d", l, got, c.what, c.n)
			}
		}
		for _, key := range []string{"scan.too-dark", "scan.rotated", "scan.restore", "scan.again"} {
			if !strings.Contains(body, html.EscapeString(T(l, key))) {
				t.Errorf("%s: %q not shown", l, key)
			}
		}
		if m := leak.FindString(body); m != "" {
			t.Errorf("%s: untranslated key on screen: %q", l, m)
		}
	}
}
