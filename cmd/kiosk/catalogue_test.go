package main

import (
	"testing"
	"time"
)

// The catalogue is retried 2 s after a failure, doubling to 5 min, and from
// 2 s again after a success (the old loop waited 4 s first, and 5 min after
// a failure that followed a success).
func TestCatalogueRetry(t *testing.T) {
	b := catalogueRetry()
	want := []time.Duration{2, 4, 8, 16, 32, 64, 128, 256, 300, 300}
	for round := 0; round < 2; round++ {
		for i, w := range want {
			if got := b.NextBackOff(); got != w*time.Second {
				t.Errorf("round %d, retry %d: %v, want %v", round, i+1, got, w*time.Second)
			}
		}
		b.Reset() // a refresh succeeded
	}
}
