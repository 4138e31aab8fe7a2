package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"govkiosk/drivers/device"
	"govkiosk/kiosk/document"
	"govkiosk/kiosk/document/pipeline"
)

var processScanUsage = `  kioskctl process-scan [--dpi N] [--json] --pdf OUT.pdf IMAGE...
      Run the kiosk's scan pipeline on image files (PNG, JPEG, PGM, TIFF), in
      order, as one document: per page, kept or blank, the skew found, the
      crop box, the quality verdicts, how it is stored and the bytes it takes
      in the PDF; the kept pages go to OUT.pdf. --dpi is the resolution of
      the images [300].
`

// scanReport is one input page as process-scan reports it.
type scanReport struct {
	File     string             `json:"file"`
	Kept     bool               `json:"kept"`
	Blank    bool               `json:"blank"`
	SkewDeg  float64            `json:"skewDeg"`
	Rotation int                `json:"rotation"`
	Crop     [4]int             `json:"crop"` // x0, y0, x1, y1 in the straightened page
	Verdicts []pipeline.Verdict `json:"verdicts"`
	Kind     pipeline.Kind      `json:"kind"`
	Bytes    int                `json:"bytes"` // of the page's image in the PDF (0 when left out)
	Metrics  pipeline.Metrics   `json:"metrics"`
}

func runProcessScan(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("process-scan", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dpi := fs.Int("dpi", pipeline.DefaultDPI, "resolution the images were scanned at")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	out := fs.String("pdf", "", "file for the PDF of the kept pages")
	if err := fs.Parse(args); err != nil {
		return err
	}
	files := fs.Args()
	if *out == "" {
		return errors.New("process-scan: --pdf OUT.pdf is required")
	}
	if len(files) == 0 {
		return errors.New("process-scan: no image files given")
	}
	if *dpi < 50 || *dpi > 1200 {
		return fmt.Errorf("process-scan: --dpi %d out of range 50..1200", *dpi)
	}
	pages := make([]device.Page, 0, len(files))
	for _, f := range files {
		b, err := readLimited(f, document.MaxPageBytes)
		if err != nil {
			return fmt.Errorf("process-scan: %w", err)
		}
		pages = append(pages, device.Page{PNG: b, DPI: *dpi})
	}
	res, err := document.ProcessPages(ctx, pages, *dpi, pipeline.Options{})
	if err != nil {
		// Name the file rather than the page number.
		var n int
		if _, serr := fmt.Sscanf(err.Error(), "document: page %d:", &n); serr == nil && n >= 1 && n <= len(files) {
			return fmt.Errorf("process-scan: %s: %w", files[n-1], errors.Unwrap(err))
		}
		return fmt.Errorf("process-scan: %w", err)
	}
	reports := make([]scanReport, len(res))
	for i, p := range res {
		r := scanReport{
			File: files[i], Kept: p.Keep, Blank: p.Blank, SkewDeg: p.SkewDeg, Rotation: p.Rotation,
			Crop:     [4]int{p.Crop.Min.X, p.Crop.Min.Y, p.Crop.Max.X, p.Crop.Max.Y},
			Verdicts: p.Verdicts, Kind: p.Kind, Metrics: p.Metrics,
		}
		if r.Verdicts == nil {
			r.Verdicts = []pipeline.Verdict{}
		}
		if p.Keep {
			r.Bytes = p.StoredBytes()
		}
		reports[i] = r
	}
	kept := document.Kept(res)
	var pdfErr error
	var pdfBytes int
	if kept > 0 {
		pdf, err := document.ScanPDF(res)
		if err != nil {
			return fmt.Errorf("process-scan: %w", err)
		}
		if err := os.WriteFile(*out, pdf, 0o644); err != nil {
			return fmt.Errorf("process-scan: %w", err)
		}
		pdfBytes = len(pdf)
	} else {
		pdfErr = fmt.Errorf("process-scan: every page is blank; %s not written", *out)
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(reports); err != nil {
			return err
		}
		return pdfErr
	}
	for _, r := range reports {
		state := "kept"
		if !r.Kept {
			state = "blank"
		}
		verdicts := "ok"
		if len(r.Verdicts) > 0 {
			vs := make([]string, len(r.Verdicts))
			for i, v := range r.Verdicts {
				vs[i] = string(v)
			}
			verdicts = strings.Join(vs, ",")
		}
		fmt.Fprintf(stdout, "%s\t%s\tskew %+.2f°\trotated %d°\tcrop %d,%d-%d,%d\t%s\t%s\t%d bytes\n",
			filepath.Base(r.File), state, r.SkewDeg, r.Rotation, r.Crop[0], r.Crop[1], r.Crop[2], r.Crop[3], verdicts, r.Kind, r.Bytes)
	}
	if pdfErr == nil {
		fmt.Fprintf(stdout, "%s: %d of %d pages, %d bytes\n", *out, kept, len(reports), pdfBytes)
	}
	return pdfErr
}

// readLimited reads a file of at most max bytes.
func readLimited(path string, max int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if int64(len(b)) > max {
		return nil, fmt.Errorf("%s: larger than %d bytes", path, max)
	}
	return b, nil
}
