package pipeline_test

import "testing"

// skipUnderRace skips a test that processes pages on one goroutine, so the
// race detector has nothing to watch while its instrumentation makes the
// image loops 10-20 times slower. make test runs these tests again without
// -race (NORACE_TESTS in the Makefile), so every assertion still runs.
func skipUnderRace(t *testing.T) {
	t.Helper()
	if raceBuild {
		t.Skip("single-goroutine image work: nothing for the race detector to see; make test runs it without -race")
	}
}
