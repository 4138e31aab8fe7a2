package ui

import "fmt"

// setupMessages are the texts of the setup screen (setup.html), shown in
// every language at once, and of the out-of-service screen of a kiosk
// whose identity was revoked. init merges them into messages.
var setupMessages = map[string]map[string]string{
	"en": {
		"setup.title":               "This kiosk is not set up yet.",
		"setup.hold":                "Technician: hold the enrollment code to the reader.",
		"setup.enrolling":           "Enrolling…",
		"setup.enrolled":            "This kiosk is enrolled.",
		"setup.kiosk_id":            "Kiosk ID",
		"setup.office":              "Office",
		"setup.testing":             "Testing the devices…",
		"setup.test_true":           "Every check passed.",
		"setup.test_false":          "Some checks failed. The kiosk offers what works; fix the rest in service mode.",
		"setup.start":               "Start the kiosk",
		"setup.failed":              "The kiosk could not be enrolled. Nothing was saved.",
		"setup.retry":               "Try again",
		"setup.fail.token-used":     "This enrollment code was used already. Ask the fleet console for a new one.",
		"setup.fail.token-expired":  "This enrollment code has expired. Ask the fleet console for a new one.",
		"setup.fail.token-invalid":  "The portal does not know this enrollment code. Ask the fleet console for a new one.",
		"setup.fail.token-scope":    "This enrollment code is for another office or another kiosk.",
		"setup.fail.wrong-ca":       "The portal does not match the enrollment code (wrong CA fingerprint). Check the code, or call support.",
		"setup.fail.wrong-office":   "The portal enrolled this kiosk for another office than the code names. Call support.",
		"setup.fail.unreachable":    "The portal cannot be reached. Check the network cable or Wi-Fi, then try again.",
		"setup.fail.other":          "Something went wrong; the kiosk's log says more. Try again, or call support.",
		"setup.notice.not-code":     "This is not an enrollment code.",
		"setup.notice.bad-code":     "This enrollment code is damaged or incomplete. Ask the fleet console for a new one.",
		"setup.notice.busy":         "One moment: the kiosk is enrolling already.",
		"svc.decom.title":           "Decommission",
		"svc.decom.ask":             "Decommission this kiosk",
		"svc.decom.confirm":         "This removes the kiosk's identity. It will not serve citizens again until it is set up anew.",
		"svc.decom.yes":             "Yes, decommission it",
		"svc.decom.no":              "No, keep it",
		"svc.decom.pending":         "Not yet delivered: %d",
		"svc.err.decom_undelivered": "Applications are not yet delivered; wait for them or call support.",
		"svc.err.decom_unreachable": "The portal cannot be reached, so nothing was removed. Check the network and try again.",
		"svc.err.decom_failed":      "The portal refused to retire this kiosk, so nothing was removed. Call support.",
		"svc.ok.decommissioned":     "The kiosk is decommissioned. It removes its identity and starts again in setup mode.",
		"outofservice.revoked":      "This kiosk is out of service. Please use another kiosk or the counter.",
	},
	"vi": {
		"setup.title":               "Ki-ốt này chưa được cài đặt.",
		"setup.hold":                "Kỹ thuật viên: hãy đưa mã đăng ký vào đầu đọc.",
		"setup.enrolling":           "Đang đăng ký…",
		"setup.enrolled":            "Ki-ốt đã được đăng ký.",
		"setup.kiosk_id":            "Mã ki-ốt",
		"setup.office":              "Cơ quan",
		"setup.testing":             "Đang kiểm tra các thiết bị…",
		"setup.test_true":           "Mọi kiểm tra đều đạt.",
		"setup.test_false":          "Một số kiểm tra không đạt. Ki-ốt cung cấp những gì hoạt động; hãy sửa phần còn lại trong chế độ bảo trì.",
		"setup.start":               "Khởi động ki-ốt",
		"setup.failed":              "Không đăng ký được ki-ốt. Chưa có gì được lưu.",
		"setup.retry":               "Thử lại",
		"setup.fail.token-used":     "Mã đăng ký này đã được dùng. Hãy xin mã mới từ bảng điều khiển đội thiết bị.",
		"setup.fail.token-expired":  "Mã đăng ký này đã hết hạn. Hãy xin mã mới từ bảng điều khiển đội thiết bị.",
		"setup.fail.token-invalid":  "Cổng dịch vụ không nhận ra mã đăng ký này. Hãy xin mã mới từ bảng điều khiển đội thiết bị.",
		"setup.fail.token-scope":    "Mã đăng ký này dành cho cơ quan khác hoặc ki-ốt khác.",
		"setup.fail.wrong-ca":       "Cổng dịch vụ không khớp với mã đăng ký (sai dấu vân tay CA). Hãy kiểm tra mã hoặc gọi hỗ trợ.",
		"setup.fail.wrong-office":   "Cổng dịch vụ đăng ký ki-ốt cho cơ quan khác với cơ quan ghi trong mã. Hãy gọi hỗ trợ.",
		"setup.fail.unreachable":    "Không kết nối được cổng dịch vụ. Hãy kiểm tra cáp mạng hoặc Wi-Fi rồi thử lại.",
		"setup.fail.other":          "Đã có lỗi; nhật ký của ki-ốt ghi rõ hơn. Hãy thử lại hoặc gọi hỗ trợ.",
		"setup.notice.not-code":     "Đây không phải là mã đăng ký.",
		"setup.notice.bad-code":     "Mã đăng ký này bị hỏng hoặc không đầy đủ. Hãy xin mã mới từ bảng điều khiển đội thiết bị.",
		"setup.notice.busy":         "Xin chờ: ki-ốt đang đăng ký.",
		"svc.decom.title":           "Ngừng sử dụng",
		"svc.decom.ask":             "Ngừng sử dụng ki-ốt này",
		"svc.decom.confirm":         "Thao tác này xóa danh tính của ki-ốt. Ki-ốt sẽ không phục vụ công dân cho đến khi được cài đặt lại.",
		"svc.decom.yes":             "Có, ngừng sử dụng",
		"svc.decom.no":              "Không, giữ lại",
		"svc.decom.pending":         "Chưa gửi được: %d",
		"svc.err.decom_undelivered": "Còn hồ sơ chưa được gửi; hãy chờ gửi xong hoặc gọi hỗ trợ.",
		"svc.err.decom_unreachable": "Không kết nối được cổng dịch vụ nên chưa xóa gì. Hãy kiểm tra mạng rồi thử lại.",
		"svc.err.decom_failed":      "Cổng dịch vụ từ chối cho ki-ốt ngừng sử dụng nên chưa xóa gì. Hãy gọi hỗ trợ.",
		"svc.ok.decommissioned":     "Ki-ốt đã ngừng sử dụng. Ki-ốt xóa danh tính và khởi động lại ở chế độ cài đặt.",
		"outofservice.revoked":      "Ki-ốt này đã ngừng phục vụ. Xin Ông/Bà dùng ki-ốt khác hoặc đến quầy.",
	},
	"th": {
		"setup.title":               "ตู้นี้ยังไม่ได้ตั้งค่า",
		"setup.hold":                "ช่างเทคนิค: กรุณานำรหัสลงทะเบียนมาแสดงที่เครื่องอ่าน",
		"setup.enrolling":           "กำลังลงทะเบียน…",
		"setup.enrolled":            "ลงทะเบียนตู้นี้แล้ว",
		"setup.kiosk_id":            "รหัสตู้",
		"setup.office":              "สำนักงาน",
		"setup.testing":             "กำลังทดสอบอุปกรณ์…",
		"setup.test_true":           "ผ่านการตรวจสอบทุกข้อ",
		"setup.test_false":          "การตรวจสอบบางข้อไม่ผ่าน ตู้จะให้บริการส่วนที่ใช้งานได้ แก้ไขส่วนที่เหลือในโหมดบริการ",
		"setup.start":               "เริ่มใช้งานตู้",
		"setup.failed":              "ลงทะเบียนตู้ไม่สำเร็จ ยังไม่มีการบันทึกสิ่งใด",
		"setup.retry":               "ลองอีกครั้ง",
		"setup.fail.token-used":     "รหัสลงทะเบียนนี้ถูกใช้ไปแล้ว กรุณาขอรหัสใหม่จากคอนโซลของทีมดูแลตู้",
		"setup.fail.token-expired":  "รหัสลงทะเบียนนี้หมดอายุแล้ว กรุณาขอรหัสใหม่จากคอนโซลของทีมดูแลตู้",
		"setup.fail.token-invalid":  "พอร์ทัลไม่รู้จักรหัสลงทะเบียนนี้ กรุณาขอรหัสใหม่จากคอนโซลของทีมดูแลตู้",
		"setup.fail.token-scope":    "รหัสลงทะเบียนนี้เป็นของสำนักงานอื่นหรือตู้อื่น",
		"setup.fail.wrong-ca":       "พอร์ทัลไม่ตรงกับรหัสลงทะเบียน (ลายนิ้วมือ CA ไม่ถูกต้อง) กรุณาตรวจสอบรหัส หรือติดต่อฝ่ายสนับสนุน",
		"setup.fail.wrong-office":   "พอร์ทัลลงทะเบียนตู้นี้ให้สำนักงานอื่นที่ไม่ใช่ตามรหัส กรุณาติดต่อฝ่ายสนับสนุน",
		"setup.fail.unreachable":    "ติดต่อพอร์ทัลไม่ได้ กรุณาตรวจสอบสายแลนหรือ Wi-Fi แล้วลองอีกครั้ง",
		"setup.fail.other":          "เกิดข้อผิดพลาด ดูรายละเอียดในบันทึกของตู้ ลองอีกครั้ง หรือติดต่อฝ่ายสนับสนุน",
		"setup.notice.not-code":     "นี่ไม่ใช่รหัสลงทะเบียน",
		"setup.notice.bad-code":     "รหัสลงทะเบียนนี้เสียหายหรือไม่ครบ กรุณาขอรหัสใหม่จากคอนโซลของทีมดูแลตู้",
		"setup.notice.busy":         "กรุณารอสักครู่ ตู้กำลังลงทะเบียนอยู่",
		"svc.decom.title":           "ปลดระวาง",
		"svc.decom.ask":             "ปลดระวางตู้นี้",
		"svc.decom.confirm":         "การดำเนินการนี้จะลบตัวตนของตู้ ตู้จะไม่ให้บริการประชาชนอีกจนกว่าจะตั้งค่าใหม่",
		"svc.decom.yes":             "ใช่ ปลดระวาง",
		"svc.decom.no":              "ไม่ เก็บไว้",
		"svc.decom.pending":         "ยังส่งไม่ถึง: %d",
		"svc.err.decom_undelivered": "ยังมีคำขอที่ส่งไม่ถึง กรุณารอให้ส่งเสร็จหรือติดต่อฝ่ายสนับสนุน",
		"svc.err.decom_unreachable": "ติดต่อพอร์ทัลไม่ได้ จึงยังไม่ได้ลบสิ่งใด กรุณาตรวจสอบเครือข่ายแล้วลองอีกครั้ง",
		"svc.err.decom_failed":      "พอร์ทัลปฏิเสธการปลดระวางตู้นี้ จึงยังไม่ได้ลบสิ่งใด กรุณาติดต่อฝ่ายสนับสนุน",
		"svc.ok.decommissioned":     "ปลดระวางตู้แล้ว ตู้จะลบตัวตนและเริ่มใหม่ในโหมดตั้งค่า",
		"outofservice.revoked":      "ตู้นี้งดให้บริการ กรุณาใช้ตู้อื่นหรือติดต่อเคาน์เตอร์",
	},
}

func init() {
	for code, m := range setupMessages {
		if messages[code] == nil {
			messages[code] = map[string]string{}
		}
		for k, v := range m {
			if _, dup := messages[code][k]; dup {
				panic(fmt.Sprintf("ui: setup message %s/%q is defined twice", code, k))
			}
			messages[code][k] = v
		}
	}
}
