//go:build !race

package document

const raceBuild = false
