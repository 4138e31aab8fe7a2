package config

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"strings"
	"time"

	"periph.io/x/conn/v3/gpio"

	"govkiosk/drivers/device"
	"govkiosk/drivers/display"
	"govkiosk/drivers/printer"
	"govkiosk/drivers/qrreader"
	"govkiosk/drivers/scanner"
	"govkiosk/drivers/sensors"
	"govkiosk/kiosk"
)

// OpenOptions are what Open needs besides the device sections.
type OpenOptions struct {
	Log *slog.Logger
	// Timeout bounds opening each device [10s]: a printer that never
	// answers its first status request costs that, not the start-up.
	Timeout time.Duration
	// Door and LED, when set, are used instead of looking the sensor pins
	// up by name (the demo's simulated cabinet).
	Door, LED gpio.PinIO
	Now       func() time.Time // clock for the statuses of devices not fitted [time.Now]
}

// DefaultOpenTimeout bounds opening one device.
const DefaultOpenTimeout = 10 * time.Second

// Printer is a receipt printer as the kiosk runs it: what the controller
// prints through, the device contract, and a run loop (idle status polling;
// a model with none returns when ctx ends).
type Printer interface {
	kiosk.Printer
	device.Device
	Run(ctx context.Context) error
}

// Scanner is a document scanner as the kiosk runs it.
type Scanner interface {
	kiosk.DocumentScanner
	device.Device
}

// Set is the kiosk's devices, opened. A device field is nil when its section
// names none or when it could not be opened; Problem tells which. Printer
// and Scanner are any model; the rest of the kiosk never names a driver.
type Set struct {
	Printer  Printer
	Scanner  Scanner
	QRReader *qrreader.Serial
	Sensors  *sensors.Sensors
	Display  *display.Display

	// ReceiptWidthDots and ScanDPI are the fitted printer's paper width and
	// the scanner's resolution, as the drivers default them.
	ReceiptWidthDots int
	ScanDPI          int
	// ScanDuplex: the scanner feeds both sides of each sheet.
	ScanDuplex bool

	problems map[string]error // device name → why it is not open
	now      func() time.Time
	log      *slog.Logger
}

// Device names, as in statuses, health checks and the self-test report.
const (
	NamePrinter  = "printer"
	NameScanner  = "scanner"
	NameQRReader = "qrreader"
	NameSensors  = "sensors"
	NameDisplay  = "display"
)

// Names lists the devices in report order.
var Names = []string{NamePrinter, NameScanner, NameQRReader, NameSensors, NameDisplay}

// Open opens every fitted device. A printer or scanner that cannot be
// opened is logged and reported by Checkers, never fatal: the kiosk offers
// what it can. An error is returned only for what no retry would fix
// (options the drivers refuse, sensors or display that cannot be set up),
// after closing what was opened. The QR imager is created, not connected:
// its Run opens the port and keeps reopening it.
func Open(ctx context.Context, d Devices, o OpenOptions) (*Set, error) {
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultOpenTimeout
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	s := &Set{problems: map[string]error{}, now: o.Now, log: o.Log}

	// One case per printer model: a second model adds its section to
	// Devices and its case here.
	s.ReceiptWidthDots, s.ScanDPI = device.Width80mm, scanner.DefaultDPI
	switch {
	case d.Printer.Port != "":
		popts, err := d.Printer.WithDefaults()
		if err != nil {
			return nil, fmt.Errorf("printer: %w", err)
		}
		s.ReceiptWidthDots = popts.WidthDots
		s.Printer = openWithin(ctx, s, o.Timeout, NamePrinter, func() (Printer, error) { return printer.Open(&d.Printer, o.Log) })
	}

	switch {
	case d.Scanner.Device != "":
		sopts, err := d.Scanner.WithDefaults()
		if err != nil {
			return nil, errors.Join(fmt.Errorf("scanner: %w", err), s.Close(o.Timeout))
		}
		s.ScanDPI, s.ScanDuplex = sopts.DPI, strings.Contains(strings.ToLower(sopts.Source), "duplex")
		s.Scanner = openWithin(ctx, s, o.Timeout, NameScanner, func() (Scanner, error) { return scanner.Open(&d.Scanner, o.Log) })
	}

	var err error
	if d.QRReader.Port != "" {
		if s.QRReader, err = qrreader.OpenSerial(&d.QRReader, o.Log); err != nil {
			return nil, errors.Join(fmt.Errorf("qrReader: %w", err), s.Close(o.Timeout))
		}
	}

	so := d.Sensors
	if o.Door != nil || o.LED != nil {
		so.Door, so.LED = o.Door, o.LED
	}
	if s.Sensors, err = sensors.Open(&so, o.Log); err != nil {
		return nil, errors.Join(fmt.Errorf("sensors: %w", err), s.Close(o.Timeout))
	}
	if s.Display, err = display.Open(&d.Display, o.Log); err != nil {
		return nil, errors.Join(fmt.Errorf("display: %w", err), s.Close(o.Timeout))
	}
	return s, nil
}

// openWithin opens one device within d; a failure is recorded and nil
// returned, so the kiosk starts without it.
func openWithin[T device.Device](ctx context.Context, s *Set, d time.Duration, name string, open func() (T, error)) T {
	v, err := device.Within(ctx, d, open, func(late T) { late.Close() })
	if err != nil {
		s.problem(name, err)
		var none T
		return none
	}
	return v
}

func (s *Set) problem(name string, err error) {
	s.log.Warn("device not available", "device", name, "err", err)
	s.problems[name] = err
}

// Problem is why the named device is not open (nil when it is, or when it
// is not fitted).
func (s *Set) Problem(name string) error { return s.problems[name] }

// Checkers returns a status function per device name, for health reports
// and the self-test. A device not fitted reports noDevice; one that could
// not be opened reports why.
func (s *Set) Checkers() map[string]func(context.Context) device.Status {
	c := map[string]func(context.Context) device.Status{}
	if s.Printer != nil {
		c[NamePrinter] = s.Printer.Status
	} else {
		c[NamePrinter] = s.absent(NamePrinter)
	}
	if s.Scanner != nil {
		c[NameScanner] = s.Scanner.Status
	} else {
		c[NameScanner] = s.absent(NameScanner)
	}
	if s.QRReader != nil {
		c[NameQRReader] = s.QRReader.Status
	} else {
		c[NameQRReader] = s.absent(NameQRReader)
	}
	c[NameSensors] = s.Sensors.Status
	c[NameDisplay] = s.Display.Status
	return c
}

func (s *Set) absent(name string) func(context.Context) device.Status {
	err := s.problems[name]
	return func(context.Context) device.Status {
		st := device.Status{Device: name, State: device.NoDevice, At: s.now()}
		if err != nil {
			st.Detail = fmt.Sprintf("open: %v", err)
			if !errors.Is(err, fs.ErrNotExist) {
				st.State, st.Action = device.HardwareError, device.ActionMaintenance
			}
		}
		return st
	}
}

// Close closes every open device, each within timeout, and joins their
// errors.
func (s *Set) Close(timeout time.Duration) error {
	var errs []error
	closeOne := func(name string, open bool, closeFn func() error) {
		if open {
			errs = append(errs, device.CloseWithin(s.log, name, timeout, closeFn))
		}
	}
	closeOne(NamePrinter, s.Printer != nil, func() error { return s.Printer.Close() })
	closeOne(NameScanner, s.Scanner != nil, func() error { return s.Scanner.Close() })
	closeOne(NameQRReader, s.QRReader != nil, func() error { return s.QRReader.Close() })
	closeOne(NameSensors, s.Sensors != nil, func() error { return s.Sensors.Close() })
	closeOne(NameDisplay, s.Display != nil, func() error { return s.Display.Close() })
	return errors.Join(errs...)
}
