//go:build race

package crash

// raceBuild: this test binary runs under the race detector.
const raceBuild = true
