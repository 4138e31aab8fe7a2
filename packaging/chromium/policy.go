// Package chromium is the touchscreen's Chromium managed policy
// (govkiosk.json, installed as /etc/chromium/policies/managed/govkiosk.json)
// and its completion for one kiosk: the UI's origin and the identity
// provider's login origins allowed, everything else blocked.
package chromium

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"net/url"
)

// shippedPolicy is govkiosk.json, the managed policy the package installs.
//
//go:embed govkiosk.json
var shippedPolicy []byte

// ShippedPolicy is the managed policy as the package ships it: every URL
// blocked but the kiosk UI's default origin.
func ShippedPolicy() []byte { return append([]byte(nil), shippedPolicy...) }

// Policy is the shipped policy with its allowlist set to the kiosk
// UI's origin and the identity provider's login origins (a provisioned
// kiosk knows both from kiosk.json): everything else stays blocked.
func Policy(uiOrigin string, loginOrigins ...string) ([]byte, error) {
	var p map[string]any
	if err := json.Unmarshal(shippedPolicy, &p); err != nil {
		return nil, fmt.Errorf("shipped policy: %w", err)
	}
	allow := []string{}
	for _, o := range append([]string{uiOrigin}, loginOrigins...) {
		origin, err := Origin(o)
		if err != nil {
			return nil, err
		}
		allow = append(allow, origin)
	}
	p["URLAllowlist"] = allow
	out, err := json.MarshalIndent(p, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(out, '\n'), nil
}

// Origin is the scheme://host[:port] of an http or https URL, the form of a
// Chromium URL filter that admits that origin alone.
func Origin(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", fmt.Errorf("origin %q: %w", raw, err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
		return "", fmt.Errorf("origin %q: want http(s)://host[:port]", raw)
	}
	return u.Scheme + "://" + u.Host, nil
}
