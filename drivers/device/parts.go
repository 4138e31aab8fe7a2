package device

import (
	"errors"
	"image"
)

// Page is one scanned page as an encoded image (PNG; grey for a grey scan),
// with its size in pixels and the resolution it was scanned at.
type Page struct {
	PNG           []byte
	Width, Height int
	DPI           int // 0 when the scanner did not say
}

// PrintPart is one piece of a print job, printed in order: a raster image
// (already reduced to the paper width) or, when Image is nil, a QR code that
// a printer able to draw QR codes itself prints natively.
type PrintPart struct {
	Image image.Image
	QR    string
}

// Scanner faults every scanner driver wraps, so callers test with errors.Is
// without knowing the driver.
var (
	ErrScannerJammed    = errors.New("scanner: document feeder jammed")
	ErrScannerNoPaper   = errors.New("scanner: document feeder empty")
	ErrScannerCoverOpen = errors.New("scanner: cover open")
	ErrNoDevice         = errors.New("device not found")
)

// Printer faults every printer driver wraps.
var (
	ErrPaperOut         = errors.New("printer: paper out")
	ErrPrinterCoverOpen = errors.New("printer: cover open")
	ErrPrinterOffline   = errors.New("printer: offline")
)
