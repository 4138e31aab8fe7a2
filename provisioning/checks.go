package provisioning

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"time"

	"go.bug.st/serial"

	"govkiosk/backend-client/api"
	"govkiosk/drivers/device"
)

// SerialPortCheck checks that a serial device (e.g. the QR imager in USB-CDC
// mode) opens at baud. It does not read from it.
func SerialPortCheck(name, port string, baud int, now func() time.Time) Check {
	if now == nil {
		now = time.Now
	}
	return Check{Name: name, Run: func(ctx context.Context) device.Status {
		st := device.Status{Device: name}
		p, err := serial.Open(port, &serial.Mode{BaudRate: baud})
		st.At = now()
		if err != nil {
			st.State, st.Action = device.HardwareError, device.ActionMaintenance
			var pe *serial.PortError
			if errors.Is(err, fs.ErrNotExist) || (errors.As(err, &pe) && pe.Code() == serial.PortNotFound) {
				st.State = device.NoDevice
			}
			st.Detail = fmt.Sprintf("open %s: %v", port, err)
			return st
		}
		if err := p.Close(); err != nil {
			st.State, st.Action = device.HardwareError, device.ActionReset
			st.Detail = fmt.Sprintf("close %s: %v", port, err)
			return st
		}
		st.State, st.Detail = device.Online, "port "+port+" opens"
		return st
	}}
}

// PortalCheck checks that GET portalURL+/api/v1/catalogue answers 200.
func PortalCheck(portalURL string, hc *http.Client, now func() time.Time) Check {
	if hc == nil {
		hc = http.DefaultClient
	}
	if now == nil {
		now = time.Now
	}
	const name = "portal"
	return Check{Name: name, Run: func(ctx context.Context) device.Status {
		st := device.Status{Device: name, State: device.Offline}
		url := portalURL + api.PathCatalogue
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			st.At, st.State, st.Detail = now(), device.HardwareError, fmt.Sprintf("bad portal URL: %v", err)
			return st
		}
		resp, err := hc.Do(req)
		st.At = now()
		if err != nil {
			st.Detail = fmt.Sprintf("GET %s: %v", url, err)
			return st
		}
		defer resp.Body.Close()
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
		if resp.StatusCode != http.StatusOK {
			st.Detail = fmt.Sprintf("GET %s: %s", url, resp.Status)
			return st
		}
		st.State, st.Detail = device.Online, "catalogue reachable"
		return st
	}}
}
