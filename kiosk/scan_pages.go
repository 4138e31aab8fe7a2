package kiosk

import "govkiosk/kiosk/document/pipeline"

// ScannedPage is what the citizen sees of one fed page: its cleaned
// picture, whether it is in the document or was left out as blank, and the
// message of its first quality problem.
type ScannedPage struct {
	Thumb   []byte // PNG
	Kept    bool
	Blank   bool
	Rotated bool   // turned upright automatically
	Problem string // message key (PageProblemKey), "" when the page is good
}

// MsgScanAllBlank: every page fed came out blank.
const MsgScanAllBlank = "scan.all_blank"

// PageProblemKey is the message key of a page's quality verdict.
func PageProblemKey(v pipeline.Verdict) string { return "scan." + string(v) }

// ScanMessageKeys lists the keys the documents screen may show about pages,
// for the UI's coverage test.
var ScanMessageKeys = []string{
	MsgScanAllBlank,
	PageProblemKey(pipeline.TooDark), PageProblemKey(pipeline.TooLight), PageProblemKey(pipeline.Blurred),
	PageProblemKey(pipeline.TooSkewed), PageProblemKey(pipeline.PartlyOutside),
}

// Dropped counts the fed pages left out of the PDF.
func (d ScannedDocument) Dropped() int { return len(d.Sheet) - d.Pages }

// HasProblems reports whether a kept page should be placed again.
func (d ScannedDocument) HasProblems() bool {
	for _, p := range d.Sheet {
		if p.Kept && p.Problem != "" {
			return true
		}
	}
	return false
}
