//go:build !race

package qrreader

// raceBuild: the tests run under the race detector.
const raceBuild = false
