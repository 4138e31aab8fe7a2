package logring

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
)

func TestRingKeepsTheLastLines(t *testing.T) {
	var out bytes.Buffer
	r := New(3)
	log := slog.New(r.Handler(slog.NewTextHandler(&out, nil), slog.LevelInfo)).With("part", "outbox")
	log.Debug("not kept")
	for _, m := range []string{"one", "two", "three", "four"} {
		log.Info(m, "n", len(m))
	}
	got := r.Last(10)
	if len(got) != 3 || !strings.Contains(got[0], "msg=two") || !strings.Contains(got[2], "msg=four") || !strings.Contains(got[2], "part=outbox") {
		t.Fatalf("Last(10) = %q, want two, three, four with their attributes", got)
	}
	if l := r.Last(1); len(l) != 1 || !strings.Contains(l[0], "msg=four") {
		t.Errorf("Last(1) = %q", l)
	}
	if strings.Count(out.String(), "\n") != 4 {
		t.Errorf("the next handler got %q, want the four info lines", out.String())
	}
}
