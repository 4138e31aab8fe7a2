package qrreader

import (
	"context"
	"errors"
	"image"
	"log/slog"
	"time"

	"govkiosk/drivers/device"
)

// Reader is a source of scanned codes: the serial imager or a camera.
type Reader interface {
	device.Device
	Scans() <-chan Scan
}

var (
	_ Reader = (*Serial)(nil)
	_ Reader = (*Frames)(nil)
)

// FramesOpts configures the camera side of the reader. Zero fields take the
// value of DefaultFramesOpts.
type FramesOpts struct {
	Name     string          `json:"name,omitempty"`    // what String shows, e.g. the camera ["camera"]
	Debounce device.Duration `json:"debounce,omitzero"` // the same payload within this of its last emission is dropped [2s]

	Now func() time.Time `json:"-"` // clock for scan and status times and debouncing [time.Now]
}

// DefaultFramesOpts are the defaults OpenFrames fills zero fields from.
var DefaultFramesOpts = FramesOpts{Name: "camera", Debounce: device.D(2 * time.Second)}

// WithDefaults fills zero fields from DefaultFramesOpts and checks the result.
func (o FramesOpts) WithDefaults() (FramesOpts, error) {
	d := DefaultFramesOpts
	if o.Name == "" {
		o.Name = d.Name
	}
	if o.Debounce.Duration == 0 {
		o.Debounce = d.Debounce
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Debounce.Duration < 0 {
		return o, errors.New("qrreader: negative debounce")
	}
	return o, nil
}

// Frames is the camera side of the reader: each frame (or scanned page) goes
// through the gozxing pipeline of DecodeImage, and what it finds comes out on
// Scans like a code from the serial imager.
type Frames struct {
	cfg   FramesOpts
	out   *emitter
	scans chan Scan
}

// OpenFrames checks o (nil: DefaultFramesOpts) and returns a frame reader.
func OpenFrames(o *FramesOpts, log *slog.Logger) (*Frames, error) {
	var cfg FramesOpts
	if o != nil {
		cfg = *o
	}
	cfg, err := cfg.WithDefaults()
	if err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	f := &Frames{cfg: cfg, scans: make(chan Scan, scanBuffer)}
	f.out = newEmitter(f.scans, log.With("device", "camera"), cfg.Now)
	return f, nil
}

// Submit decodes one frame. It reports whether a new code came out of it.
func (f *Frames) Submit(img image.Image) bool {
	data, err := DecodeImage(img)
	if err != nil {
		return false
	}
	return f.out.emit(data, SourceCamera, f.cfg.Debounce.Duration)
}

// Scans delivers the codes found in frames.
func (f *Frames) Scans() <-chan Scan { return f.scans }

// Status is online: frames arrive from whoever holds the camera.
func (f *Frames) Status(context.Context) device.Status {
	return device.Status{Device: "camera", State: device.Online, At: f.cfg.Now()}
}

// String is "qrreader(camera)", or the Name given.
func (f *Frames) String() string { return "qrreader(" + f.cfg.Name + ")" }

// Close releases nothing: the frames' owner holds the camera.
func (f *Frames) Close() error { return nil }
