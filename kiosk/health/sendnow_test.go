package health

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"govkiosk/backend-client/api"
	"govkiosk/drivers/device"
)

// TestSendNowDoesNotWaitForTheInterval: when the cabinet door opens the
// monitoring team hears of it at once, in a heartbeat that carries the
// door-open warning, not up to an interval later.
func TestSendNowDoesNotWaitForTheInterval(t *testing.T) {
	sent := make(chan api.Heartbeat, 16)
	r := newRig(t, func(o *Options) {
		o.Interval = time.Hour
		o.Send = func(ctx context.Context, hb api.Heartbeat) error { sent <- hb; return nil }
	})
	r.sensorsCk.set(device.Status{Device: "sensors", State: device.Online})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go r.m.Run(ctx)
	select {
	case hb := <-sent:
		if slices.Contains(hb.Warnings, "door-open") {
			t.Fatalf("door-open before the door opened: %v", hb.Warnings)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("no first heartbeat")
	}
	r.sensorsCk.set(device.Status{Device: "sensors", State: device.Online, Action: device.ActionMaintenance, Detail: "door open"})
	r.m.SendNow()
	select {
	case hb := <-sent:
		if !slices.Contains(hb.Warnings, "door-open") {
			t.Fatalf("the heartbeat sent at once lacks door-open: %v", hb.Warnings)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("SendNow sent nothing: the alert waits for the next interval (1h)")
	}
}

// TestLastDelivered: the service screen's "last heartbeat" is the last one
// the portal took, not one it refused.
func TestLastDelivered(t *testing.T) {
	refuse := make(chan bool, 4)
	r := newRig(t, func(o *Options) {
		o.Interval = time.Hour
		o.Send = func(ctx context.Context, hb api.Heartbeat) error {
			if <-refuse {
				return errors.New("portal unreachable")
			}
			return nil
		}
	})
	ctx := context.Background()
	if at := r.m.LastDelivered(); !at.IsZero() {
		t.Fatalf("a heartbeat delivered at %v before any was sent", at)
	}
	refuse <- true
	r.m.send(ctx, r.m.Refresh(ctx))
	if at := r.m.LastDelivered(); !at.IsZero() {
		t.Fatalf("a refused heartbeat counts as delivered at %v", at)
	}
	refuse <- false
	r.m.send(ctx, r.m.Refresh(ctx))
	if at := r.m.LastDelivered(); !at.Equal(t0) {
		t.Fatalf("last delivered %v, want %v", at, t0)
	}
}
