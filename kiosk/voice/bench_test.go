package voice

import (
	"context"
	"fmt"
	"testing"
)

// BenchmarkAudio: a screen's instruction rendered by espeak-ng (the first
// Listen on a screen) beside the same audio from the cache (every later
// one), at a volume level that scales the samples.
func BenchmarkAudio(b *testing.B) {
	s, err := New(Opts{Enabled: true})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.Run("render", func(b *testing.B) {
		for i := 0; b.Loop(); i++ {
			if _, err := s.Audio(ctx, "th", fmt.Sprintf("%s %d", thaiText, i), 3); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("cached", func(b *testing.B) {
		for b.Loop() {
			if _, err := s.Audio(ctx, "th", thaiText, 4); err != nil {
				b.Fatal(err)
			}
		}
	})
}
