package portal

// MakePDF is makePDF for the external tests.
var MakePDF = makePDF

// MakeScanPDF is makeScanPDF for the external tests.
var MakeScanPDF = makeScanPDF
