package device

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"
)

func TestWithinGivesUpOnAHungOpen(t *testing.T) {
	unblock := make(chan struct{})
	discarded := make(chan int, 1)
	begin := time.Now()
	_, err := Within(context.Background(), 100*time.Millisecond, func() (int, error) {
		<-unblock
		return 7, nil
	}, func(v int) { discarded <- v })
	if err == nil || !strings.Contains(err.Error(), "no answer within 100ms") {
		t.Fatalf("within: %v", err)
	}
	if took := time.Since(begin); took > 2*time.Second {
		t.Fatalf("within waited %v", took)
	}
	close(unblock)
	select {
	case v := <-discarded:
		if v != 7 {
			t.Fatalf("discarded %d", v)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("what the open returned late was never discarded")
	}
	v, err := Within(context.Background(), time.Second, func() (int, error) { return 3, nil }, nil)
	if v != 3 || err != nil {
		t.Fatalf("within a quick open: %d, %v", v, err)
	}
}

func TestCloseWithinIsBounded(t *testing.T) {
	log := slog.New(slog.DiscardHandler)
	if err := CloseWithin(log, "outbox", time.Second, func() error { return errors.New("busy") }); err == nil || err.Error() != "busy" {
		t.Fatalf("close error %v", err)
	}
	hang := make(chan struct{})
	defer close(hang)
	begin := time.Now()
	err := CloseWithin(log, "printer", 100*time.Millisecond, func() error { <-hang; return nil })
	if err == nil || err.Error() != "printer: not closed within 100ms" {
		t.Fatalf("hung close: %v", err)
	}
	if took := time.Since(begin); took > 2*time.Second {
		t.Fatalf("closeWithin waited %v", took)
	}
}
