// Package pipeline cleans one scanned page for an official to read and for
// a weak link to carry: it finds the paper against the scanner bed, drops
// empty backs, straightens and crops the page, turns it upright, judges
// whether the citizen should place it again, and encodes it compactly
// (CCITT Group 4 for text, JPEG for grey and photo pages).
//
// It is pure image work on an *image.Gray, with no device, file or
// session: the kiosk (through kiosk/document), its tests, the benchmark and
// `kioskctl process-scan` all call Process, so they run one code path. It
// sits beside the PDF assembly in kiosk/document rather than in the scanner
// driver because it must work on any scanner's pages and the kiosk may not
// import a concrete driver.
//
// # Steps of Process
//
//  1. Analysis copy: the page box-averaged to about 150 dpi.
//  2. Paper: the bed (darker than paper, seen along the image border) is
//     separated from the sheet by a threshold between the two levels; each
//     row's and column's first and last paper pixel outline the sheet. A
//     sheet touching the image border is partly outside the scan area.
//  3. Blank: ink (darker than the paper by half the page's contrast, at least
//     50 levels) is grouped into 8-connected components inside the sheet less
//     an 18 mm margin (punch holes, edge shadows); components smaller than a
//     speck (1.2 mm across or 0.6 mm² of ink) are ignored, and so is
//     show-through, which is fainter than the ink threshold. No component
//     left: blank.
//  4. Skew: projection profiles of the ink pixels, coarse (0.5° steps over
//     ±15°) then fine (0.05°), scoring the squared differences of adjacent
//     row sums; pages with too little ink take the angle of the sheet's
//     edges. Beyond ±10° the page is judged fed at an angle.
//  5. Crop and deskew: the sheet's edges, turned into the straightened frame,
//     give the crop box; only that box is resampled (bilinear).
//  6. Orientation: text lines run across (row profile sharper than column
//     profile) or the page is turned 90°; within a line, ink starts gently
//     (accents, ascenders, Thai vowels above) and stops sharply at the
//     baseline, which tells upright from upside down. Only a clear lead
//     turns the page.
//  7. Quality: paper level (too dark), darkest ink (too light), and the
//     no-reference blur measure of Crété-Roffet et al. (how much a 9-pixel
//     box blur still changes the image).
//  8. Kind and encoding: a page with solid mid-grey areas (a photo, a
//     coloured stamp) is mixed: what is nearly as dark as the ink becomes a
//     G4 stencil at the scan resolution, painted black over a JPEG (at
//     JPEGQuality, a third of the resolution, paper and ink flattened) of
//     the page with that text taken out; such a page that is also blurred
//     is one grey JPEG at half the resolution. Any other page is thresholded
//     half-way between paper and ink, cleared of specks, and stored as CCITT
//     G4 at the scan resolution.
//
// Memory: a page of at most MaxPixels is held a few times over (grey input,
// analysis copy, output, one-bit page); nothing is written to disk.
// Process checks ctx between steps and inside the long loops.
package pipeline
