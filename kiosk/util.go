package kiosk

import (
	"bytes"
	"image"
	"image/png"
	"strings"
	"time"
	"unicode/utf8"
)

// provisionalNumber is the kiosk-issued number printed when the portal has
// not answered yet; the portal maps it to its own tracking number later.
func provisionalNumber(kioskID string, now time.Time, packetID string) string {
	id := strings.ToUpper(strings.NewReplacer("KIOSK-", "K", "_", "").Replace(kioskID))
	return "P-" + id + "-" + now.Format("060102") + "-" + strings.ToUpper(strings.ReplaceAll(packetID, "-", "")[:6])
}

// appointmentEstimate adds working days (Monday to Friday) to a date.
func appointmentEstimate(from time.Time, days int) string {
	d := from
	for days > 0 {
		d = d.AddDate(0, 0, 1)
		if wd := d.Weekday(); wd != time.Saturday && wd != time.Sunday {
			days--
		}
	}
	return d.Format("2006-01-02")
}

// MaskID keeps the first and last two characters of a citizen ID.
func MaskID(id string) string {
	n := utf8.RuneCountInString(id)
	if n <= 4 {
		return strings.Repeat("•", n)
	}
	r := []rune(id)
	return string(r[:2]) + strings.Repeat("•", n-4) + string(r[n-2:])
}

func encodePNG(img image.Image) []byte {
	var b bytes.Buffer
	enc := png.Encoder{CompressionLevel: png.BestSpeed}
	if err := enc.Encode(&b, img); err != nil {
		return nil
	}
	return b.Bytes()
}
