package identity

import (
	"context"
	"errors"
	"net/url"
	"testing"
)

// A callback that is not the login's answer (a stray request, a forged
// one) neither matches nor uses the login up: the real answer still works.
func TestStrayCallbackKeepsPending(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, envOpt{})
	p, cb := e.login(t, "vi", citizen(t, "vn", 0).ID)
	for _, junk := range []url.Values{
		nil,
		{"state": {"forged"}, "code": {"forged"}},
		{"state": {cb.Get("state"), cb.Get("state")}, "code": {cb.Get("code")}},
	} {
		if e.c.CallbackMatches(p, junk) {
			t.Errorf("%v matches", junk)
		}
		if _, err := e.c.Complete(ctx, p, junk); !errors.Is(err, ErrStateMismatch) {
			t.Errorf("%v: %v", junk, err)
		}
	}
	if !e.c.CallbackMatches(p, cb) {
		t.Fatal("the real callback does not match")
	}
	if _, err := e.c.Complete(ctx, p, cb); err != nil {
		t.Fatalf("real callback after junk: %v", err)
	}
	if e.c.CallbackMatches(p, cb) {
		t.Error("a completed login still matches its callback")
	}
}
