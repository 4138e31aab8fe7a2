package api

// Citizen ID shapes the contract knows: Thailand's 13-digit personal number
// with its mod-11 check digit, and Vietnam's 12-digit personal ID number.

// ValidThaiID reports whether id is 13 ASCII digits whose last digit is the
// mod-11 check digit of the first twelve (weights 13 down to 2).
func ValidThaiID(id string) bool {
	if !AllDigits(id, 13) {
		return false
	}
	sum := 0
	for i := range 12 {
		sum += int(id[i]-'0') * (13 - i)
	}
	return int(id[12]-'0') == (11-sum%11)%10
}

// ValidVietnamID reports whether id is 12 ASCII digits.
func ValidVietnamID(id string) bool { return AllDigits(id, 12) }

// AllDigits reports whether s is exactly n ASCII digits.
func AllDigits(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for i := range len(s) {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
