package ui

import "fmt"

// serviceNetMessages are the texts of the service screen's network section
// and the service PIN pad (service_net.go). init merges them into
// messages.
var serviceNetMessages = map[string]map[string]string{
	"en": {
		"svc.pin_offer":        "Or type the service PIN the fleet gave you:",
		"svc.pin_typed":        "%d digits typed",
		"svc.pin_typed.one":    "%d digit typed",
		"svc.pin_enter":        "Enter service mode",
		"svc.pin_locked_until": "Too many wrong PINs. PIN entry opens again at %s.",
		"svc.err.pin_wrong":    "That PIN is not right, or it was used already. Check it and type it again.",
		"svc.err.pin_expired":  "That PIN has expired. Ask the fleet for a new one.",
		"svc.err.pin_locked":   "Too many wrong PINs: PIN entry is locked for 5 minutes. The fleet has been told.",

		"svc.net":                     "Network",
		"svc.net.test":                "Test the network",
		"svc.net.portal":              "Portal",
		"svc.net.server":              "Portal certificate",
		"svc.net.device":              "Kiosk certificate",
		"svc.net.fleet":               "Fleet link",
		"svc.net.heartbeat":           "Last heartbeat taken by the portal",
		"svc.net.at":                  "Tested at %s",
		"svc.net.portal_ok":           "answered in %dms (HTTP %d)",
		"svc.net.portal_error":        "answered with an error in %dms (HTTP %d)",
		"svc.net.portal_down":         "cannot connect: %s",
		"svc.net.portal_none":         "no portal address configured",
		"svc.net.reason.dns":          "the portal's name is not found (DNS)",
		"svc.net.reason.refused":      "the connection was refused (the portal is not running at that address)",
		"svc.net.reason.timeout":      "no answer within 5 seconds (timeout)",
		"svc.net.reason.unreachable":  "no route to the portal (check the cable or Wi-Fi)",
		"svc.net.reason.tls":          "the secure connection failed (certificate, or the kiosk's clock)",
		"svc.net.reason.other":        "the request failed",
		"svc.net.server_cert":         "valid from %s to %s",
		"svc.net.device_cert":         "valid until %s (%d days left)",
		"svc.net.device_cert.one":     "valid until %s (%d day left)",
		"svc.net.device_cert_expired": "expired on %s: the kiosk cannot reach the portal until it is renewed",
		"svc.net.device_cert_unknown": "cannot be read",
		"svc.net.fleet_off":           "not configured",
		"svc.net.fleet_up":            "connected since %s",
		"svc.net.fleet_down":          "not connected since %s",
		"svc.net.fleet_never":         "not connected yet",
		"svc.net.heartbeat_none":      "none since the kiosk started",
	},
	"vi": {
		"svc.pin_offer":        "Hoặc nhập mã PIN bảo trì do trung tâm cấp:",
		"svc.pin_typed":        "đã nhập %d chữ số",
		"svc.pin_enter":        "Vào chế độ bảo trì",
		"svc.pin_locked_until": "Nhập sai mã PIN quá nhiều lần. Có thể nhập lại lúc %s.",
		"svc.err.pin_wrong":    "Mã PIN không đúng hoặc đã được dùng. Kiểm tra và nhập lại.",
		"svc.err.pin_expired":  "Mã PIN đã hết hạn. Hãy xin trung tâm một mã mới.",
		"svc.err.pin_locked":   "Nhập sai mã PIN quá nhiều lần: khóa nhập PIN trong 5 phút. Trung tâm đã được báo.",

		"svc.net":                     "Mạng",
		"svc.net.test":                "Kiểm tra mạng",
		"svc.net.portal":              "Cổng dịch vụ công",
		"svc.net.server":              "Chứng chỉ của cổng",
		"svc.net.device":              "Chứng chỉ của ki-ốt",
		"svc.net.fleet":               "Kết nối trung tâm",
		"svc.net.heartbeat":           "Tín hiệu gần nhất cổng đã nhận",
		"svc.net.at":                  "Kiểm tra lúc %s",
		"svc.net.portal_ok":           "trả lời sau %d ms (HTTP %d)",
		"svc.net.portal_error":        "trả lời lỗi sau %d ms (HTTP %d)",
		"svc.net.portal_down":         "không kết nối được: %s",
		"svc.net.portal_none":         "chưa cấu hình địa chỉ cổng",
		"svc.net.reason.dns":          "không tìm thấy tên của cổng (DNS)",
		"svc.net.reason.refused":      "kết nối bị từ chối (cổng không chạy ở địa chỉ đó)",
		"svc.net.reason.timeout":      "không có trả lời trong 5 giây (hết thời gian)",
		"svc.net.reason.unreachable":  "không có đường tới cổng (kiểm tra cáp mạng hoặc Wi-Fi)",
		"svc.net.reason.tls":          "kết nối bảo mật thất bại (chứng chỉ, hoặc đồng hồ của ki-ốt)",
		"svc.net.reason.other":        "yêu cầu thất bại",
		"svc.net.server_cert":         "hiệu lực từ %s đến %s",
		"svc.net.device_cert":         "hiệu lực đến %s (còn %d ngày)",
		"svc.net.device_cert_expired": "đã hết hạn ngày %s: ki-ốt không vào được cổng cho đến khi được gia hạn",
		"svc.net.device_cert_unknown": "không đọc được",
		"svc.net.fleet_off":           "chưa cấu hình",
		"svc.net.fleet_up":            "đã kết nối từ %s",
		"svc.net.fleet_down":          "mất kết nối từ %s",
		"svc.net.fleet_never":         "chưa kết nối",
		"svc.net.heartbeat_none":      "chưa có từ khi ki-ốt khởi động",
	},
	"th": {
		"svc.pin_offer":        "หรือพิมพ์รหัส PIN บำรุงรักษาที่ศูนย์ให้มา:",
		"svc.pin_typed":        "พิมพ์แล้ว %d หลัก",
		"svc.pin_enter":        "เข้าสู่โหมดบำรุงรักษา",
		"svc.pin_locked_until": "ใส่ PIN ผิดหลายครั้งเกินไป ใส่ PIN ได้อีกครั้งเวลา %s",
		"svc.err.pin_wrong":    "PIN ไม่ถูกต้อง หรือใช้ไปแล้ว ตรวจสอบแล้วพิมพ์อีกครั้ง",
		"svc.err.pin_expired":  "PIN หมดอายุแล้ว ขอ PIN ใหม่จากศูนย์",
		"svc.err.pin_locked":   "ใส่ PIN ผิดหลายครั้งเกินไป: ล็อกการใส่ PIN 5 นาที แจ้งศูนย์แล้ว",

		"svc.net":                     "เครือข่าย",
		"svc.net.test":                "ทดสอบเครือข่าย",
		"svc.net.portal":              "พอร์ทัล",
		"svc.net.server":              "ใบรับรองของพอร์ทัล",
		"svc.net.device":              "ใบรับรองของตู้",
		"svc.net.fleet":               "การเชื่อมต่อศูนย์",
		"svc.net.heartbeat":           "สัญญาณล่าสุดที่พอร์ทัลได้รับ",
		"svc.net.at":                  "ทดสอบเมื่อ %s",
		"svc.net.portal_ok":           "ตอบใน %d มิลลิวินาที (HTTP %d)",
		"svc.net.portal_error":        "ตอบกลับด้วยข้อผิดพลาดใน %d มิลลิวินาที (HTTP %d)",
		"svc.net.portal_down":         "เชื่อมต่อไม่ได้: %s",
		"svc.net.portal_none":         "ไม่ได้ตั้งค่าที่อยู่พอร์ทัล",
		"svc.net.reason.dns":          "ไม่พบชื่อของพอร์ทัล (DNS)",
		"svc.net.reason.refused":      "การเชื่อมต่อถูกปฏิเสธ (พอร์ทัลไม่ได้ทำงานที่ที่อยู่นั้น)",
		"svc.net.reason.timeout":      "ไม่มีคำตอบภายใน 5 วินาที (หมดเวลา)",
		"svc.net.reason.unreachable":  "ไม่มีเส้นทางไปยังพอร์ทัล (ตรวจสายหรือ Wi-Fi)",
		"svc.net.reason.tls":          "การเชื่อมต่อที่ปลอดภัยล้มเหลว (ใบรับรอง หรือนาฬิกาของตู้)",
		"svc.net.reason.other":        "คำขอล้มเหลว",
		"svc.net.server_cert":         "ใช้ได้ตั้งแต่ %s ถึง %s",
		"svc.net.device_cert":         "ใช้ได้ถึง %s (เหลือ %d วัน)",
		"svc.net.device_cert_expired": "หมดอายุเมื่อ %s: ตู้เข้าพอร์ทัลไม่ได้จนกว่าจะต่ออายุ",
		"svc.net.device_cert_unknown": "อ่านไม่ได้",
		"svc.net.fleet_off":           "ไม่ได้ตั้งค่า",
		"svc.net.fleet_up":            "เชื่อมต่อตั้งแต่ %s",
		"svc.net.fleet_down":          "ขาดการเชื่อมต่อตั้งแต่ %s",
		"svc.net.fleet_never":         "ยังไม่ได้เชื่อมต่อ",
		"svc.net.heartbeat_none":      "ยังไม่มีตั้งแต่ตู้เริ่มทำงาน",
	},
}

func init() {
	for code, m := range serviceNetMessages {
		if messages[code] == nil {
			messages[code] = map[string]string{}
		}
		for k, v := range m {
			if _, dup := messages[code][k]; dup {
				panic(fmt.Sprintf("ui: service network message %s/%q is defined twice", code, k))
			}
			messages[code][k] = v
		}
	}
}
