//go:build !cgo || nocgo

package receipt

import (
	"errors"

	"github.com/gen2brain/go-fitz"
)

func layoutDocument(d *fitz.Document, w, h, em float32) error {
	return errors.New("receipt layout needs cgo (MuPDF's fz_layout_document)")
}
