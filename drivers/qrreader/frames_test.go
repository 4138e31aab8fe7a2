package qrreader

import (
	"image"
	"testing"
	"time"

	"govkiosk/drivers/device"
)

func qrFrame(t *testing.T, payload string) image.Image {
	t.Helper()
	return encodeQR(t, payload, 320)
}
func TestFramesEmitsDecodedCodesOnce(t *testing.T) {
	now := time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC)
	f, err := OpenFrames(&FramesOpts{Debounce: device.D(2 * time.Second), Now: func() time.Time { return now }}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !f.Submit(qrFrame(t, "http://127.0.0.1:8090/t/QN-2026-000001")) {
		t.Fatal("frame with a QR code not decoded")
	}
	s := <-f.Scans()
	if string(s.Data) != "http://127.0.0.1:8090/t/QN-2026-000001" || s.Source != SourceCamera {
		t.Fatalf("scan %+v", s)
	}
	if f.Submit(qrFrame(t, "http://127.0.0.1:8090/t/QN-2026-000001")) {
		t.Fatal("the same code within the debounce window came out twice")
	}
	now = now.Add(3 * time.Second)
	if !f.Submit(qrFrame(t, "http://127.0.0.1:8090/t/QN-2026-000001")) {
		t.Fatal("the same code after the window was dropped")
	}
	if f.Submit(image.NewGray(image.Rect(0, 0, 640, 480))) {
		t.Fatal("a blank frame produced a code")
	}
}
