package portal

// MakePDF is makePDF for the external tests.
var MakePDF = makePDF
