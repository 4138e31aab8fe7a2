package kiosk

import (
	"context"
	"image"

	"govkiosk/drivers/device"
	"govkiosk/kiosk/receipt"
)

// The receipt, the rating and the goodbye.

// receiptData is what the receipt shows, copied from s under the lock.
func (c *Controller) receiptData(s *session) receipt.Data {
	d := receipt.Data{
		Lang:            s.lang,
		OfficeName:      c.officeName(s.lang),
		KioskID:         c.d.Config.KioskID,
		Procedure:       s.procedure.Name.Get(s.lang),
		ProcedureCode:   s.procedure.Code,
		ApplicantName:   s.ident.Name,
		MaskedCitizenID: MaskID(s.ident.CitizenID),
		Reference:       s.receipt.Reference,
		Provisional:     s.receipt.Provisional,
		ReceivedAt:      s.receipt.ReceivedAt,
		AppointmentDate: s.receipt.AppointmentDate,
		FeeMinor:        s.procedure.FeeMinor,
		Currency:        s.procedure.Currency,
		TrackURL:        s.receipt.TrackURL,
		TempDir:         c.d.Config.TempDir(),
		Location:        c.location(),
	}
	for i, doc := range s.docs {
		if doc.Pages > 0 {
			d.Documents = append(d.Documents, receipt.Document{Label: s.procedure.Documents[i].Label.Get(s.lang), Pages: doc.Pages})
		}
	}
	return d
}

// printReceipt renders and prints the receipt with the lock released, or
// keeps it for the screen when it cannot be printed. The printer gets at
// most PrintWait.
func (c *Controller) printReceipt(ctx context.Context, o *op, d receipt.Data) {
	img, err := c.d.RenderReceipt(d)
	if err != nil {
		c.d.Log.Error("receipt render failed", "err", err)
		o.apply(func(s *session) error { s.receipt.PrintError = "err.printer_unavailable"; return nil })
		return
	}
	png := encodePNG(img)
	if c.d.Printer == nil {
		o.apply(func(s *session) error {
			s.receipt.PNG, s.receipt.image, s.receipt.PrintError = png, img, "err.printer_unavailable"
			return nil
		})
		return
	}
	// The receipt is on screen at once should the printer fail.
	o.apply(func(s *session) error { s.receipt.PNG, s.receipt.image = png, img; return nil })
	pctx, cancel := context.WithTimeout(ctx, c.d.PrintWait)
	job, err := c.d.Printer.Print(pctx, device.PrintPart{Image: img})
	cancel()
	c.d.Metrics.PrintJob(err == nil)
	if err != nil {
		c.d.Log.Warn("receipt not printed", "job", job, "err", err)
	}
	o.apply(func(s *session) error {
		s.receipt.JobID = job
		if err != nil {
			s.receipt.PrintError = "err.printer_unavailable"
			return nil
		}
		s.receipt.Printed, s.receipt.PrintError = true, ""
		return nil
	})
}

// ReprintReceipt tries the printer again (after paper was refilled).
func (c *Controller) ReprintReceipt(ctx context.Context) error {
	var img *image.Gray
	var jobID string
	o, err := c.begin(ctx, []Step{StepReceipt}, MsgBusyPrinting, true, func(s *session) error {
		r := s.receipt
		if r == nil || r.Printed || c.d.Printer == nil || r.image == nil {
			return errNothingToReprint
		}
		img, jobID = r.image, r.JobID
		return nil
	})
	if o == nil || err == errNothingToReprint {
		return nil
	}
	if err != nil {
		return err
	}
	defer o.end()
	pctx, cancel := context.WithTimeout(o.ctx, c.d.PrintWait)
	defer cancel()
	var job string
	if jobID == "" {
		job, err = c.d.Printer.Print(pctx, device.PrintPart{Image: img})
	} else {
		job, err = c.d.Printer.Reprint(pctx, jobID, device.PrintPart{Image: img})
	}
	c.d.Metrics.PrintJob(err == nil)
	if err != nil {
		c.d.Log.Warn("receipt reprint failed", "job", jobID, "err", err)
	}
	return o.apply(func(s *session) error {
		if err != nil {
			if job != "" {
				s.receipt.JobID = job
			}
			s.receipt.PrintError = "err.printer_unavailable"
			return nil
		}
		s.receipt.JobID, s.receipt.Printed, s.receipt.PrintError = job, true, ""
		return nil
	})
}

var errNothingToReprint = userErr(MsgGeneric, nil)

// ReceiptDone moves from the receipt to the rating.
func (c *Controller) ReceiptDone() error {
	return c.do([]Step{StepReceipt}, func(s *session) error { return s.fire(evReceiptDone) })
}

// Rate records the 1–5 satisfaction rating and thanks the citizen; 0
// skips. The receipt screen asks for it too, so a rating there is the
// citizen's last tap. Ratings are anonymous: a rating logged alone as its session ends
// would sit next to the lines that name the session (and its packet), so
// they are only counted, and the counts logged every ratingBatch ratings,
// with nothing of any session.
func (c *Controller) Rate(n int) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.touchLocked()
	if c.s.step != StepRating && c.s.step != StepReceipt || c.s.busy != "" {
		return nil
	}
	if n >= 1 && n <= 5 {
		c.ratings[n]++
		c.d.Metrics.Rated(n)
		if c.ratings[0]++; c.ratings[0] >= ratingBatch {
			c.logRatingsLocked()
		}
	}
	if err := c.s.fire(evRated); err != nil {
		return err
	}
	// Personal data is no longer needed: drop it now, keep only the language.
	lang, large := c.s.lang, c.s.largeText
	c.wipeLocked("finished")
	c.s.lang, c.s.largeText, c.s.step = lang, large, StepThanks
	return nil
}

// ratingBatch is how many ratings are logged together.
const ratingBatch = 5

// logRatingsLocked logs the ratings counted since the last time, if any,
// and starts counting again; c.mu is held.
func (c *Controller) logRatingsLocked() {
	r := c.ratings
	if r[0] == 0 {
		return
	}
	c.ratings = [6]int{}
	c.d.Log.Info("satisfaction ratings", "ratings", r[0],
		"rating_1", r[1], "rating_2", r[2], "rating_3", r[3], "rating_4", r[4], "rating_5", r[5])
}

// Finish leaves the thank-you screen.
func (c *Controller) Finish() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.wipeLocked("thanks shown")
}

// ReceiptPNG returns the current receipt image for the screen.
func (c *Controller) ReceiptPNG() []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.s.receipt == nil {
		return nil
	}
	return c.s.receipt.PNG
}

// Thumbnail returns the cleaned picture of fed page p (kept or left out)
// of document d of the current session.
func (c *Controller) Thumbnail(d, p int) []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	if d < 0 || d >= len(c.s.docs) || p < 0 || p >= len(c.s.docs[d].Sheet) {
		return nil
	}
	return c.s.docs[d].Sheet[p].Thumb
}
