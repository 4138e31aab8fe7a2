package idp

import (
	"testing"

	"govkiosk/kiosk/lang"
)

func TestMessagesInEveryLanguage(t *testing.T) {
	for _, l := range lang.Codes() {
		for key := range messages[lang.Fallback] {
			if messages[l][key] == "" {
				t.Errorf("%s: no login page text %q", l, key)
			}
		}
		for key := range messages[l] {
			if _, ok := messages[lang.Fallback][key]; !ok {
				t.Errorf("%s: login page text %q that English lacks", l, key)
			}
		}
	}
}
