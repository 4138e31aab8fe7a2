// Package kiosk is the controller: the citizen-session state machine, the
// procedure catalogue, the application model, the durable outbox, health
// and configuration. It knows no device wire formats and never imports ui.
package kiosk

import "bytes"

func bytesReader(b []byte) *bytes.Reader { return bytes.NewReader(b) }
