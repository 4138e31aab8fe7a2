// Package fonts ships the typefaces the kiosk uses on screen and on paper:
// Noto Sans (Latin and Vietnamese), Noto Sans Thai and Noto Sans Mono, all
// under the SIL Open Font License 1.1 (OFL.txt). Both the browser UI and the
// MuPDF receipt renderer load them through @font-face so that Thai stacked
// vowels and Vietnamese stacked diacritics shape the same everywhere.
package fonts

import "embed"

// FS holds the .ttf files at its root.
//
//go:embed *.ttf OFL.txt
var FS embed.FS

// FaceCSS is the @font-face block for HTML that keeps the font files beside
// it (the receipt renderer and the UI's /static/fonts/ both do).
const FaceCSS = `
@font-face { font-family: "Kiosk Sans"; src: url("NotoSans-Regular.ttf"); }
@font-face { font-family: "Kiosk Sans"; font-weight: bold; src: url("NotoSans-Bold.ttf"); }
@font-face { font-family: "Kiosk Thai"; src: url("NotoSansThai-Regular.ttf"); }
@font-face { font-family: "Kiosk Thai"; font-weight: bold; src: url("NotoSansThai-Bold.ttf"); }
@font-face { font-family: "Kiosk Mono"; src: url("NotoSansMono-Regular.ttf"); }
`
