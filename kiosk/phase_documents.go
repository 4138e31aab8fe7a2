package kiosk

import (
	"context"
	"errors"
	"fmt"

	"govkiosk/backend-client/api"
	"govkiosk/drivers/device"
	"govkiosk/kiosk/document"
	"govkiosk/kiosk/document/pipeline"
)

// Scanning the supporting documents.

// ScanDocument scans the current document from the feeder. The lock is not
// held while the scanner runs or the pages are cleaned, so the idle timer
// and the screen stay alive; pages that come back after the session was
// wiped or moved on are dropped.
func (c *Controller) ScanDocument(ctx context.Context) error {
	var req api.DocumentRequirement
	var idx int
	o, err := c.begin(ctx, []Step{StepDocuments}, MsgBusyScanning, true, func(s *session) error {
		idx = s.docIndex
		req = s.procedure.Documents[idx]
		return nil
	})
	if o == nil || err != nil {
		return err
	}
	defer o.end()

	doc, err := c.scan(o.ctx, req)
	c.d.Metrics.Scanned(doc.Pages, errors.Is(err, device.ErrScannerJammed))

	aerr := o.apply(func(s *session) error {
		if err != nil {
			c.setNotice(err)
			return err
		}
		s.docs[idx] = doc
		s.notice, s.noticeCode = "", ""
		if err := pageCountErr(doc, req); err != nil {
			c.setNotice(err)
			return err
		}
		return nil
	})
	if errors.Is(aerr, errStale) {
		return nil // wiped or moved on while scanning: the pages are dropped
	}
	return aerr
}

// pageCountErr says what is wrong with the number of kept pages.
func pageCountErr(doc ScannedDocument, req api.DocumentRequirement) error {
	switch {
	case len(doc.Sheet) > 0 && doc.Pages == 0:
		return userErr(MsgScanAllBlank, errors.New("every page was blank"))
	case doc.Pages < req.MinPages:
		return userErr(MsgTooFewPages, fmt.Errorf("%d pages, want at least %d", doc.Pages, req.MinPages))
	case req.MaxPages > 0 && doc.Pages > req.MaxPages:
		// The feeder takes twice MaxPages (blank backs are left out); more
		// kept pages than the document may have would be refused at intake.
		return userErr(MsgTooManyPages, fmt.Errorf("%d pages, want at most %d", doc.Pages, req.MaxPages))
	}
	return nil
}

// scanErr maps a scanner fault to what the citizen is told.
func scanErr(err error) error {
	switch {
	case errors.Is(err, device.ErrScannerJammed):
		return userErr(MsgScannerJammed, err)
	case errors.Is(err, device.ErrScannerNoPaper):
		return userErr(MsgScannerEmpty, err)
	case errors.Is(err, device.ErrScannerCoverOpen):
		return userErr(MsgScannerCover, err)
	default:
		return userErr(MsgScannerDown, err)
	}
}

func (c *Controller) scan(ctx context.Context, req api.DocumentRequirement) (ScannedDocument, error) {
	if c.d.Scanner == nil {
		return ScannedDocument{}, userErr(MsgScannerDown, errors.New("no scanner"))
	}
	maxPages := req.MaxPages
	if maxPages <= 0 {
		maxPages = 10
	}
	// A duplex feeder gives two pages a sheet and blank backs are left out:
	// take up to twice the pages, so a document of MaxPages printed on
	// one side fits. A simplex feeder leaves what is past MaxPages in its
	// tray.
	if c.d.ScanDuplex {
		maxPages *= 2
	}
	pages, err := c.d.Scanner.ScanBatch(ctx, min(maxPages, 100))
	if err != nil {
		return ScannedDocument{}, scanErr(err)
	}
	scan, err := document.ProcessPages(ctx, pages, c.d.ScanDPI, pipeline.Options{ThumbWidth: 240})
	if err != nil {
		return ScannedDocument{}, fmt.Errorf("clean pages: %w", err)
	}
	return assemble(req.Type, scan)
}

// assemble builds the document from the pipeline's pages: the PDF of the
// kept pages, their thumbnails, and what the citizen sees of every page.
func assemble(typ string, scan []document.ScanPage) (ScannedDocument, error) {
	doc := ScannedDocument{Type: typ, scan: scan}
	for _, p := range scan {
		sp := ScannedPage{Thumb: p.Thumb, Kept: p.Keep, Blank: p.Blank}
		if probs := p.Problems(); len(probs) > 0 {
			sp.Problem = PageProblemKey(probs[0])
		}
		for _, v := range p.Verdicts {
			if v == pipeline.Rotated {
				sp.Rotated = true
			}
		}
		doc.Sheet = append(doc.Sheet, sp)
		if p.Keep {
			doc.Thumbs = append(doc.Thumbs, p.Thumb)
		}
	}
	doc.Pages = len(doc.Thumbs)
	if doc.Pages > 0 {
		pdf, err := document.ScanPDF(scan)
		if err != nil {
			return ScannedDocument{}, fmt.Errorf("assemble pdf: %w", err)
		}
		doc.PDF = pdf
	}
	return doc, nil
}

// RestorePage puts page i (of every page fed, from 0) of the current
// document, left out as blank, back into its PDF.
func (c *Controller) RestorePage(i int) error {
	return c.do([]Step{StepDocuments}, func(s *session) error {
		doc := s.docs[s.docIndex]
		if i < 0 || i >= len(doc.scan) || doc.scan[i].Keep {
			return nil
		}
		scan := append([]document.ScanPage(nil), doc.scan...) // views share the old slice
		scan[i].Keep = true
		nd, err := assemble(doc.Type, scan)
		if err != nil {
			return err
		}
		s.docs[s.docIndex] = nd
		s.notice, s.noticeCode = "", ""
		if err := pageCountErr(nd, s.procedure.Documents[s.docIndex]); err != nil {
			c.setNotice(err)
		}
		return nil
	})
}

// NextDocument accepts the current document and moves to the next or to review.
func (c *Controller) NextDocument() error {
	return c.do([]Step{StepDocuments}, func(s *session) error {
		req := s.procedure.Documents[s.docIndex]
		doc := s.docs[s.docIndex]
		if doc.Pages == 0 && req.Required || doc.Pages > 0 && doc.Pages < req.MinPages {
			err := userErr(MsgTooFewPages, fmt.Errorf("document %d has %d pages", s.docIndex, doc.Pages))
			c.setNotice(err)
			return err
		}
		if doc.Pages > 0 {
			if err := pageCountErr(doc, req); err != nil {
				c.setNotice(err)
				return err
			}
		}
		if s.docIndex+1 < len(s.procedure.Documents) {
			s.docIndex++
			s.moved()
			return nil
		}
		return s.fire(evDocsDone)
	})
}

// RescanDocument drops the current document's pages.
func (c *Controller) RescanDocument() error {
	return c.do([]Step{StepDocuments}, func(s *session) error {
		s.docs[s.docIndex] = ScannedDocument{}
		s.notice, s.noticeCode = "", ""
		return nil
	})
}
