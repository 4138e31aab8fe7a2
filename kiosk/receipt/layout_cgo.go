//go:build cgo && !nocgo

package receipt

/*
#include <stdlib.h>

// go-fitz links MuPDF statically; its headers are not on our include path,
// so declare the few functions we need. The types stay opaque here.
typedef struct fz_context fz_context;
typedef struct fz_document fz_document;
typedef struct fz_font fz_font;
typedef fz_font *(fz_load_system_font_fn)(fz_context *ctx, const char *name, int bold, int italic, int needs_exact_metrics);
typedef fz_font *(fz_load_system_cjk_font_fn)(fz_context *ctx, const char *name, int ordering, int serif);
typedef fz_font *(fz_load_system_fallback_font_fn)(fz_context *ctx, int script, int language, int serif, int bold, int italic);
void fz_layout_document(fz_context *ctx, fz_document *doc, float w, float h, float em);
fz_font *fz_new_font_from_memory(fz_context *ctx, const char *name, const unsigned char *data, int len, int index, int use_glyph_bbox);
void fz_install_load_system_font_funcs(fz_context *ctx, fz_load_system_font_fn *f, fz_load_system_cjk_font_fn *f_cjk, fz_load_system_fallback_font_fn *f_fallback);

// UCDN script codes (MuPDF's thirdparty/ucdn/ucdn.h).
enum { kioskScriptCommon = 0, kioskScriptLatin = 1, kioskScriptThai = 19 };

// Font files copied once into C memory that lives as long as the process:
// 0 sans, 1 sans bold, 2 thai, 3 thai bold.
static const unsigned char *kiosk_font_data[4];
static int kiosk_font_len[4];

static void kiosk_set_font(int i, const unsigned char *data, int len) {
	kiosk_font_data[i] = data;
	kiosk_font_len[i] = len;
}

// kiosk_fallback hands MuPDF the kiosk's Noto fonts for glyphs the chosen
// font lacks, so Thai text in a Latin-font element (and Vietnamese in a
// Thai-font element) still shapes instead of printing tofu. This MuPDF build
// has no built-in Thai fallback.
static fz_font *kiosk_fallback(fz_context *ctx, int script, int language, int serif, int bold, int italic) {
	int i;
	switch (script) {
	case kioskScriptThai: i = 2; break;
	case kioskScriptLatin: case kioskScriptCommon: i = 0; break;
	default: return NULL;
	}
	if (bold) i++;
	if (kiosk_font_data[i] == NULL) return NULL;
	return fz_new_font_from_memory(ctx, NULL, kiosk_font_data[i], kiosk_font_len[i], 0, 0);
}

static void kiosk_layout(void *ctx, void *doc, float w, float h, float em) {
	fz_install_load_system_font_funcs((fz_context *)ctx, NULL, NULL, kiosk_fallback);
	fz_layout_document((fz_context *)ctx, (fz_document *)doc, w, h, em);
}
*/
import "C"

import (
	"errors"
	"fmt"
	"io/fs"
	"reflect"
	"sync"
	"unsafe"

	"github.com/gen2brain/go-fitz"

	"govkiosk/kiosk/fonts"
)

var (
	fallbackOnce sync.Once
	fallbackErr  error
)

// loadFallbackFonts copies the fallback fonts into C memory once.
func loadFallbackFonts() error {
	fallbackOnce.Do(func() {
		for i, name := range []string{"NotoSans-Regular.ttf", "NotoSans-Bold.ttf", "NotoSansThai-Regular.ttf", "NotoSansThai-Bold.ttf"} {
			b, err := fs.ReadFile(fonts.FS, name)
			if err != nil {
				fallbackErr = fmt.Errorf("fallback font: %w", err)
				return
			}
			C.kiosk_set_font(C.int(i), (*C.uchar)(C.CBytes(b)), C.int(len(b)))
		}
	})
	return fallbackErr
}

// layoutDocument re-flows a reflowable document (HTML) to a page of w×h
// points with a default font size of em points, with the kiosk fonts as
// glyph fallback. go-fitz does not expose fz_layout_document, so this
// reaches the document's MuPDF context and handle (the unexported ctx and
// doc fields of the pinned go-fitz version; checked at run time).
func layoutDocument(d *fitz.Document, w, h, em float32) error {
	if err := loadFallbackFonts(); err != nil {
		return err
	}
	v := reflect.ValueOf(d).Elem()
	ctxF, docF := v.FieldByName("ctx"), v.FieldByName("doc")
	if !ctxF.IsValid() || !docF.IsValid() || ctxF.Kind() != reflect.Pointer || docF.Kind() != reflect.Pointer {
		return errors.New("go-fitz Document changed: cannot reach MuPDF handles")
	}
	ctx, doc := ctxF.UnsafePointer(), docF.UnsafePointer()
	if ctx == nil || doc == nil {
		return errors.New("go-fitz document not open")
	}
	C.kiosk_layout(unsafe.Pointer(ctx), unsafe.Pointer(doc), C.float(w), C.float(h), C.float(em))
	return nil
}
