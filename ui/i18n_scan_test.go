package ui

import (
	"testing"

	"govkiosk/kiosk"
	"govkiosk/kiosk/lang"
)

// Every message the documents screen may show about a page is translated.
func TestEveryScanMessageIsTranslated(t *testing.T) {
	keys := append([]string{"scan.dropped", "scan.restore", "scan.again", "scan.rotated"}, kiosk.ScanMessageKeys...)
	for _, key := range keys {
		for _, l := range lang.Codes() {
			if messages[l][key] == "" {
				t.Errorf("no %s message for %q", l, key)
			}
		}
	}
}
