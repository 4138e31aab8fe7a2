package receipt

import "time"

// Sample is a realistic receipt in lang (th, vi or en; others give en) for
// technicians (kioskctl receipt-sample), golden tests and benchmarks: the
// names and documents exercise Thai stacked vowels and tone marks and
// Vietnamese stacked diacritics. provisional makes it an offline receipt
// with a kiosk-issued number. Everything in it is invented.
func Sample(lang string, provisional bool) Data {
	ict := time.FixedZone("ICT", 7*3600)
	d := Data{
		Lang:            "en",
		OfficeName:      "Citizen Service Centre, Hai Chau District",
		KioskID:         "KIOSK-DN-0007",
		Procedure:       "Certificate of marital status",
		ProcedureCode:   "1.004873",
		ApplicantName:   "Trần Thị Ngọc Ánh",
		MaskedCitizenID: "048•••••••12",
		Reference:       "DN-2026-000042",
		ReceivedAt:      time.Date(2026, 11, 20, 9, 30, 0, 0, ict),
		AppointmentDate: "2026-11-25",
		Documents: []Document{
			{Label: "Declaration form", Pages: 1},
			{Label: "Divorce decision (copy)", Pages: 3},
		},
		FeeMinor: 3000, Currency: "VND",
		TrackURL: "https://dichvucong.example.vn/tra-cuu?ma=DN-2026-000042",
		Location: ict,
	}
	switch lang {
	case "vi":
		d.Lang = "vi"
		d.OfficeName = "Trung tâm Phục vụ hành chính công quận Hải Châu"
		d.Procedure = "Xác nhận tình trạng hôn nhân"
		d.ApplicantName = "Nguyễn Thị Hồng Nhung"
		d.Documents = []Document{
			{Label: "Tờ khai xác nhận tình trạng hôn nhân", Pages: 1},
			{Label: "Bản sao quyết định ly hôn đã có hiệu lực", Pages: 3},
		}
	case "th":
		d.Lang = "th"
		d.OfficeName = "สำนักงานเขตบางรัก กรุงเทพมหานคร"
		d.KioskID = "KIOSK-BKK-0012"
		d.Procedure = "ขอหนังสือรับรองสถานภาพการสมรส"
		d.ProcedureCode = "BKK-REG-031"
		d.ApplicantName = "นางสาวกิ่งแก้ว ศรีสุขใจ"
		d.MaskedCitizenID = "1-1037-•••••-••-3"
		d.Reference = "BRK-2569-000042"
		d.Documents = []Document{
			{Label: "คำพิพากษาหรือคำสั่งหย่าของศาล", Pages: 2},
			{Label: "หนังสือยินยอมของเจ้าของสถานที่", Pages: 1},
		}
		d.FeeMinor, d.Currency = 2000, "THB"
		d.TrackURL = "https://eservice.example.go.th/track?ref=BRK-2569-000042"
	}
	if provisional {
		d.Provisional = true
		d.Reference = "P-" + d.KioskID[6:] + "-261120-3F9A2C"
		d.TrackURL = "https://portal.example.org/t/" + d.Reference
	}
	return d
}
