package device

// Receipt paper geometry of the 203 dpi class of thermal heads, shared by
// what lays receipts out and the drivers that print them.
const (
	DotsPerMM = 8   // 203 dpi
	Width80mm = 576 // printable width of 80 mm paper, in dots
	Width58mm = 384 // printable width of 58 mm paper, in dots
)
