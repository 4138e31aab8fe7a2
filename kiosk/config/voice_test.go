package config

import (
	"strings"
	"testing"
)

// TestVoiceSection: voice guidance is off unless the office turns it on;
// turned on, it is checked with the rest of the file: a bad knob or a
// missing command stops start-up with a message naming it.
func TestVoiceSection(t *testing.T) {
	c, err := Load(write(t, good))
	if err != nil {
		t.Fatal(err)
	}
	if c.Voice.Enabled {
		t.Fatal("voice guidance on by default")
	}
	on := strings.Replace(good, `"idleTimeout"`, `"voice":{"enabled":true,"rate":130,"volume":2},"idleTimeout"`, 1)
	if c, err = Load(write(t, on)); err != nil {
		t.Fatalf("voice on: %v (is espeak-ng installed? CI installs it)", err)
	}
	if !c.Voice.Enabled || c.Voice.Rate != 130 || c.Voice.Volume != 2 {
		t.Fatalf("voice section read as %+v", c.Voice)
	}
	for name, tc := range map[string]struct{ section, want string }{
		"missing command": {`{"enabled":true,"command":"/nonexistent/espeak-ng"}`, "voice: command"},
		"volume":          {`{"volume":9}`, "voice: volume 9"},
		"rate":            {`{"enabled":true,"rate":1000}`, "voice: rate 1000"},
		"no Thai voice":   {`{"enabled":true,"voices":{"th":""}}`, `"th" has no voice`},
		"unknown knob":    {`{"enabled":true,"speed":3}`, "speed"},
	} {
		bad := strings.Replace(good, `"idleTimeout"`, `"voice":`+tc.section+`,"idleTimeout"`, 1)
		if _, err := Load(write(t, bad)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one saying %q", name, err, tc.want)
		}
	}
}
