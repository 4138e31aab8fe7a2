package qrreader

import (
	"image"
	"log/slog"
	"time"

	"govkiosk/drivers/device"
)

// Reader is a source of scanned codes: the serial imager or a camera.
type Reader interface {
	Scans() <-chan Scan
	Status() device.Status
}

var (
	_ Reader = (*Serial)(nil)
	_ Reader = (*Frames)(nil)
)

// Frames is the camera side of the reader: each frame (or scanned page) goes
// through the gozxing pipeline of DecodeImage, and what it finds comes out on
// Scans like a code from the serial imager.
type Frames struct {
	out      *emitter
	scans    chan Scan
	debounce time.Duration
	now      func() time.Time
}

// NewFrames returns a frame reader; now nil means time.Now.
func NewFrames(debounce time.Duration, log *slog.Logger, now func() time.Time) *Frames {
	if now == nil {
		now = time.Now
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	f := &Frames{scans: make(chan Scan, scanBuffer), debounce: debounce, now: now}
	f.out = newEmitter(f.scans, log.With("device", "camera"), now)
	return f
}

// Submit decodes one frame. It reports whether a new code came out of it.
func (f *Frames) Submit(img image.Image) bool {
	data, err := DecodeImage(img)
	if err != nil {
		return false
	}
	return f.out.emit(data, SourceCamera, f.debounce)
}

// Scans delivers the codes found in frames.
func (f *Frames) Scans() <-chan Scan { return f.scans }

// Status is online: frames arrive from whoever holds the camera.
func (f *Frames) Status() device.Status {
	return device.Status{Device: "camera", State: device.Online, At: f.now()}
}
