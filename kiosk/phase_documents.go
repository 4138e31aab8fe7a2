package kiosk

import (
	"context"
	"errors"
	"fmt"

	"govkiosk/backend-client/api"
	"govkiosk/drivers/device"
	"govkiosk/kiosk/document"
)

// Scanning the supporting documents.

// ScanDocument scans the current document from the feeder. The lock is not
// held while the scanner runs, so the idle timer and the screen stay alive;
// pages that come back after the session was wiped or moved on are dropped.
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
		if doc.Pages < req.MinPages {
			err := userErr(MsgTooFewPages, fmt.Errorf("%d pages, want at least %d", doc.Pages, req.MinPages))
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
	pages, err := c.d.Scanner.ScanBatch(ctx, maxPages)
	if err != nil {
		return ScannedDocument{}, scanErr(err)
	}
	dpi := c.d.ScanDPI
	if len(pages) > 0 && pages[0].DPI > 0 {
		dpi = pages[0].DPI
	}
	pdf, err := document.BuildPDF(pages, dpi)
	if err != nil {
		return ScannedDocument{}, fmt.Errorf("assemble pdf: %w", err)
	}
	thumbs, err := document.Thumbnails(pdf, 240)
	if err != nil {
		return ScannedDocument{}, fmt.Errorf("thumbnails: %w", err)
	}
	return ScannedDocument{Type: req.Type, PDF: pdf, Pages: len(pages), Thumbs: thumbs}, nil
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
