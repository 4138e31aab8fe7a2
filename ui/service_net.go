package ui

// The service screen's network section (kiosk.NetReport drawn in words)
// and the service PIN pad on the offer screen: the pad's keys are submit
// buttons of a form posted to /service/pin/key, the server types them
// (keyboard.Press) into the PIN kept by service mode, and Enter posts to
// /service/pin. The page shows how many digits are typed, never them.

import (
	"fmt"
	"net/http"
	"time"

	"govkiosk/backend-client/fleetwire"
	"govkiosk/kiosk"
	"govkiosk/kiosk/lang"
	"govkiosk/ui/keyboard"
)

// serviceNetRoutes adds the network test and the PIN pad's actions.
func (s *Server) serviceNetRoutes(post func(path string, f func(r *http.Request) error)) {
	post("/service/network", func(r *http.Request) error { return s.svc.TestNetwork(r.Context()) })
	post("/service/pin/key", func(r *http.Request) error {
		key := r.FormValue("key")
		s.svc.TypePIN(func(draft string) string { return keyboard.Press(draft, key, fleetwire.ServicePINDigits) })
		return nil
	})
	post("/service/pin", func(*http.Request) error { return s.svc.EnterPIN() })
}

// netView is the network section in the technician's words.
type netView struct {
	Done          bool
	PortalOK      bool
	Portal        string // "answered in 12 ms (HTTP 200)", or why not
	ServerCert    string // "" over plain http or without an answer
	DeviceCert    string
	DeviceWarn    bool
	Fleet         string
	FleetUp       bool
	LastHeartbeat string
	At            string
}

// pinPad is the offer screen's PIN entry.
type pinPad struct {
	Typed  int
	Dots   string
	Rows   [][]keyboard.Key
	Locked string // "" or the message that PIN entry is locked until …
}

func (s *Server) netViewOf(code string, r kiosk.NetReport) netView {
	if r.At.IsZero() {
		return netView{}
	}
	tr := func(k string) string { return T(code, k) }
	day := func(t time.Time) string { return lang.FormatDate(code, t.Local()) }
	clock := func(t time.Time) string { return t.Local().Format(time.TimeOnly) }
	v := netView{Done: true, PortalOK: r.PortalOK, DeviceWarn: r.DeviceWarn, FleetUp: r.Fleet == kiosk.FleetUp, At: clock(r.At)}
	switch {
	case r.PortalURL == "":
		v.Portal = tr("svc.net.portal_none")
	case r.PortalStatus != 0:
		ms := int(r.PortalLatency.Round(time.Millisecond) / time.Millisecond)
		key := "svc.net.portal_ok"
		if !r.PortalOK {
			key = "svc.net.portal_error"
		}
		v.Portal = fmt.Sprintf(tr(key), ms, r.PortalStatus)
	default:
		v.Portal = fmt.Sprintf(tr("svc.net.portal_down"), tr("svc.net.reason."+r.PortalReason))
	}
	if !r.ServerUntil.IsZero() {
		v.ServerCert = fmt.Sprintf(tr("svc.net.server_cert"), day(r.ServerFrom), day(r.ServerUntil))
	}
	switch {
	case r.DeviceUntil.IsZero():
		v.DeviceCert = tr("svc.net.device_cert_unknown")
	case r.DeviceDaysLeft < 0 || !r.At.Before(r.DeviceUntil):
		v.DeviceCert = fmt.Sprintf(tr("svc.net.device_cert_expired"), day(r.DeviceUntil))
	default:
		v.DeviceCert = fmt.Sprintf(TN(code, "svc.net.device_cert", r.DeviceDaysLeft), day(r.DeviceUntil), r.DeviceDaysLeft)
	}
	switch r.Fleet {
	case kiosk.FleetOff:
		v.Fleet = tr("svc.net.fleet_off")
	case kiosk.FleetUp:
		v.Fleet = fmt.Sprintf(tr("svc.net.fleet_up"), clock(r.FleetSince))
	default:
		if r.FleetSince.IsZero() {
			v.Fleet = tr("svc.net.fleet_never")
		} else {
			v.Fleet = fmt.Sprintf(tr("svc.net.fleet_down"), clock(r.FleetSince))
		}
	}
	if r.LastHeartbeat.IsZero() {
		v.LastHeartbeat = tr("svc.net.heartbeat_none")
	} else {
		v.LastHeartbeat = clock(r.LastHeartbeat)
	}
	return v
}

func pinPadOf(code string, v kiosk.ServiceView) pinPad {
	p := pinPad{Typed: v.PINTyped}
	for i := range fleetwire.ServicePINDigits {
		if i < v.PINTyped {
			p.Dots += "●"
		} else {
			p.Dots += "○"
		}
	}
	if !v.PINLocked.IsZero() {
		p.Locked = fmt.Sprintf(T(code, "svc.pin_locked_until"), v.PINLocked.Local().Format("15:04"))
	}
	num, _ := keyboard.Get("number")
	for _, row := range num.Rows {
		var keys []keyboard.Key
		for _, k := range row {
			if k.Value == keyboard.Back || (len(k.Value) == 1 && k.Value[0] >= '0' && k.Value[0] <= '9') {
				keys = append(keys, k)
			} else {
				keys = append(keys, keyboard.Key{Value: keyboard.Clear, Label: "C"})
			}
		}
		p.Rows = append(p.Rows, keys)
	}
	return p
}
