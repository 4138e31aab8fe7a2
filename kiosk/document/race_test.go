//go:build race

package document

const raceBuild = true
