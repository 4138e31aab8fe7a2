package kiosk

import (
	"context"
	"testing"

	"govkiosk/kiosk/document"
)

// A duplex batch of two sheets printed on one side: the two empty backs
// are left out of the PDF but shown to the citizen as left out, and the
// one restored goes back into the PDF in its place.
func TestDuplexBlankBacksLeftOutAndRestored(t *testing.T) {
	r := newRig(t)
	r.scanner.pages, r.scanner.duplex = 2, true
	r.c.d.ScanDuplex = true // the kiosk knows its feeder is duplex: it asks for twice the pages
	r.walkToDocuments()
	ctx := context.Background()
	if err := r.c.ScanDocument(ctx); err != nil {
		t.Fatalf("scan: %v", err)
	}
	v := r.c.View(ctx)
	d := v.Docs[0]
	if len(d.Sheet) != 4 || d.Pages != 2 || len(d.Thumbs) != 2 {
		t.Fatalf("fed %d pages, kept %d (%d thumbnails); want 4 fed, 2 kept", len(d.Sheet), d.Pages, len(d.Thumbs))
	}
	for i, p := range d.Sheet {
		if wantKept := i%2 == 0; p.Kept != wantKept || p.Blank == wantKept || p.Thumb == nil {
			t.Errorf("page %d: kept=%v blank=%v thumb=%v; want kept=%v", i+1, p.Kept, p.Blank, p.Thumb != nil, wantKept)
		}
	}
	if n, err := document.PageCount(d.PDF); err != nil || n != 2 {
		t.Fatalf("PDF has %d pages (%v), want 2", n, err)
	}
	if r.c.Thumbnail(0, 1) == nil {
		t.Error("no picture of the page left out")
	}

	if err := r.c.RestorePage(1); err != nil {
		t.Fatal(err)
	}
	after := r.c.View(ctx).Docs[0]
	if after.Pages != 3 || !after.Sheet[1].Kept {
		t.Fatalf("after restoring page 2: %d pages, page 2 kept=%v; want 3, true", after.Pages, after.Sheet[1].Kept)
	}
	if n, err := document.PageCount(after.PDF); err != nil || n != 3 {
		t.Fatalf("PDF has %d pages (%v) after restoring, want 3", n, err)
	}
	// The earlier view is a copy: restoring did not change it.
	if d.Pages != 2 || d.Sheet[1].Kept {
		t.Error("restoring a page changed an earlier view")
	}
	// Restoring a kept page or one out of range changes nothing.
	for _, i := range []int{0, 7, -1} {
		if err := r.c.RestorePage(i); err != nil || r.c.View(ctx).Docs[0].Pages != 3 {
			t.Errorf("RestorePage(%d): %v, %d pages", i, err, r.c.View(ctx).Docs[0].Pages)
		}
	}
}

// Every page blank: nothing goes in the PDF, the citizen is told so, sees
// the pages left out and cannot go on without restoring one.
func TestAllBlankScanSaysSo(t *testing.T) {
	r := newRig(t)
	r.scanner.pages, r.scanner.duplex = 0, true
	r.c.d.ScanDuplex = true // the kiosk knows its feeder is duplex: it asks for twice the pages
	r.scanner.blankOnly = 2
	r.walkToDocuments()
	ctx := context.Background()
	r.c.ScanDocument(ctx)
	v := r.c.View(ctx)
	if v.Notice != MsgScanAllBlank || v.Docs[0].Pages != 0 || len(v.Docs[0].Sheet) != 2 || v.Docs[0].PDF != nil {
		t.Fatalf("notice %q, %d pages kept of %d; want %q, 0 of 2, no PDF", v.Notice, v.Docs[0].Pages, len(v.Docs[0].Sheet), MsgScanAllBlank)
	}
	if err := r.c.NextDocument(); err == nil {
		t.Fatal("went on with no page of a required document")
	}
	if err := r.c.RestorePage(0); err != nil {
		t.Fatal(err)
	}
	if v := r.c.View(ctx); v.Docs[0].Pages != 1 || v.Notice != "" {
		t.Fatalf("after restoring: %d pages, notice %q", v.Docs[0].Pages, v.Notice)
	}
}

// A duplex feeder is asked for twice a document's pages (blank backs are
// left out); when the backs are not blank, more kept pages than the
// document may have are not sent to be refused at intake: the citizen is
// told and cannot go on until a scan of only this document fits.
func TestTooManyKeptPagesSaysSo(t *testing.T) {
	r := newRig(t)
	r.c.d.ScanDuplex = true
	r.scanner.pages = 3 // printed on both sides; the first document may have at most 2
	r.walkToDocuments()
	ctx := context.Background()
	r.c.ScanDocument(ctx)
	v := r.c.View(ctx)
	if v.Notice != MsgTooManyPages || v.Docs[0].Pages != 3 {
		t.Fatalf("notice %q with %d pages kept; want %q with 3", v.Notice, v.Docs[0].Pages, MsgTooManyPages)
	}
	if err := r.c.NextDocument(); err == nil || r.c.View(ctx).DocIndex != 0 {
		t.Fatal("went on with more pages than the document may have")
	}
	if err := r.c.RescanDocument(); err != nil {
		t.Fatal(err)
	}
	r.scanner.pages = 2
	if err := r.c.ScanDocument(ctx); err != nil {
		t.Fatalf("scan of 2 pages: %v", err)
	}
	if err := r.c.NextDocument(); err != nil {
		t.Fatalf("2 pages of at most 2: %v", err)
	}
}
