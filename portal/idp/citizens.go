package idp

// Citizen is one person known to the test provider. The fields are the
// claims the provider releases in the ID token and at the userinfo endpoint.
type Citizen struct {
	ID         string // national ID number: 13 digits ("th", Thai checksum) or 12 digits ("vn")
	Name       string
	GivenName  string
	FamilyName string
	BirthDate  string // YYYY-MM-DD
	Address    string
	Phone      string // E.164
	Profile    string // "th" or "vn"
}

// TestCitizens returns the provider's fictional citizens (a fresh slice on
// every call). The ID numbers are well-formed but belong to nobody: the Thai
// one passes the mod-11 checksum, the Vietnamese ones follow the 12-digit
// citizen identity card layout (province, century/sex, birth year, serial).
func TestCitizens() []Citizen {
	return []Citizen{
		{
			ID:         "1103700123458",
			Name:       "สมชาย ใจดี",
			GivenName:  "สมชาย",
			FamilyName: "ใจดี",
			BirthDate:  "1985-03-14",
			Address:    "99/1 ถนนพหลโยธิน แขวงสามเสนใน เขตพญาไท กรุงเทพมหานคร 10400",
			Phone:      "+66812345678",
			Profile:    "th",
		},
		{
			ID:         "049190012345",
			Name:       "Nguyễn Thị Hồng Nhung",
			GivenName:  "Thị Hồng Nhung",
			FamilyName: "Nguyễn",
			BirthDate:  "1990-11-02",
			Address:    "Thôn 3, xã Điện Hồng, thị xã Điện Bàn, tỉnh Quảng Nam",
			Phone:      "+84905123456",
			Profile:    "vn",
		},
		{
			ID:         "049041003721",
			Name:       "Trần Văn Bảy",
			GivenName:  "Văn Bảy",
			FamilyName: "Trần",
			BirthDate:  "1941-07-02",
			Address:    "Tổ 5, phường Tân Thạnh, thành phố Tam Kỳ, tỉnh Quảng Nam",
			Phone:      "+84935111222",
			Profile:    "vn",
		},
		{
			ID:         "3100600482719",
			Name:       "บุญมี ศรีสุข",
			GivenName:  "บุญมี",
			FamilyName: "ศรีสุข",
			BirthDate:  "1948-01-20",
			Address:    "12 หมู่ 4 ตำบลสุเทพ อำเภอเมืองเชียงใหม่ จังหวัดเชียงใหม่ 50200",
			Phone:      "+66898765432",
			Profile:    "th",
		},
	}
}
