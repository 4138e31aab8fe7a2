package device

import (
	"context"
	"fmt"
	"log/slog"
	"time"
)

// Within runs open, which takes no context, for at most d (or until ctx
// ends): a device or peer that hangs while being opened costs a bounded
// wait. What open returns after the caller gave up is handed to discard
// (typically its Close), so nothing opened late is leaked.
func Within[T any](ctx context.Context, d time.Duration, open func() (T, error), discard func(T)) (T, error) {
	type result struct {
		v   T
		err error
	}
	done := make(chan result, 1)
	go func() {
		v, err := open()
		done <- result{v, err}
	}()
	t := time.NewTimer(d)
	defer t.Stop()
	giveUp := func(why error) (T, error) {
		go func() {
			if r := <-done; r.err == nil && discard != nil {
				discard(r.v)
			}
		}()
		var zero T
		return zero, why
	}
	select {
	case r := <-done:
		return r.v, r.err
	case <-t.C:
		return giveUp(fmt.Errorf("no answer within %v", d))
	case <-ctx.Done():
		return giveUp(ctx.Err())
	}
}

// CloseWithin runs closeFn for at most d. A close that fails or hangs is
// logged under name and returned as an error; a hung one is left running.
func CloseWithin(log *slog.Logger, name string, d time.Duration, closeFn func() error) error {
	done := make(chan error, 1)
	go func() { done <- closeFn() }()
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case err := <-done:
		if err != nil {
			log.Warn("close failed", "part", name, "err", err)
		}
		return err
	case <-t.C:
		log.Warn("close did not finish in time; leaving it", "part", name, "within", d)
		return fmt.Errorf("%s: not closed within %v", name, d)
	}
}
