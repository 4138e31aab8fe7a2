package ui

import "fmt"

// inputMessages are the texts of the on-screen keyboard, larger text, the
// feeder picture and voice guidance, by language then key; init merges
// them into messages.
var inputMessages = map[string]map[string]string{
	"en": {
		"nav.larger_on":         "Larger text: on",
		"kb.label":              "On-screen keyboard",
		"kb.open":               "Type here",
		"kb.shift":              "⇧ Capitals",
		"kb.space":              "Space",
		"kb.back":               "Delete the last letter",
		"kb.clear":              "Clear all",
		"kb.done":               "Done",
		"kb.date_placeholder":   "day/month/year",
		"docs.feeder_picture":   "Put the pages face down, top edge first, into the feeder on top. The originals come out below.",
		"err.scanner_jam_staff": "The paper is stuck in the scanner. Please do not open the scanner yourself: call a staff member, who will take it out for you. Your answers are kept.",
		"voice.listen":          "Listen",
		"voice.volume":          "Volume",
		"voice.louder":          "Louder",
		"voice.quieter":         "Quieter",
	},
	"vi": {
		"nav.larger_on":         "Chữ to: đang bật",
		"kb.label":              "Bàn phím trên màn hình",
		"kb.open":               "Nhập tại đây",
		"kb.shift":              "⇧ Chữ hoa",
		"kb.space":              "Dấu cách",
		"kb.back":               "Xóa chữ cuối",
		"kb.clear":              "Xóa hết",
		"kb.done":               "Xong",
		"kb.date_placeholder":   "ngày/tháng/năm",
		"docs.feeder_picture":   "Đặt các trang úp mặt xuống, đầu trang vào trước, vào khay nạp giấy phía trên. Bản gốc sẽ ra ở phía dưới.",
		"err.scanner_jam_staff": "Giấy bị kẹt trong máy quét. Xin Ông/Bà đừng tự mở máy quét: vui lòng gọi cán bộ để được lấy giấy ra giúp. Thông tin Ông/Bà đã nhập vẫn được giữ lại.",
		"voice.listen":          "Nghe hướng dẫn",
		"voice.volume":          "Âm lượng",
		"voice.louder":          "To hơn",
		"voice.quieter":         "Nhỏ hơn",
	},
	"th": {
		"nav.larger_on":         "ตัวอักษรใหญ่: เปิดอยู่",
		"kb.label":              "แป้นพิมพ์บนหน้าจอ",
		"kb.open":               "แตะเพื่อพิมพ์",
		"kb.shift":              "⇧ สลับแป้น",
		"kb.space":              "เว้นวรรค",
		"kb.back":               "ลบตัวสุดท้าย",
		"kb.clear":              "ล้างทั้งหมด",
		"kb.done":               "เสร็จ",
		"kb.date_placeholder":   "วัน/เดือน/ปี พ.ศ.",
		"docs.feeder_picture":   "วางเอกสารคว่ำหน้าลง ให้หัวกระดาษเข้าก่อน ในช่องป้อนกระดาษด้านบน เอกสารตัวจริงจะออกมาทางด้านล่าง",
		"err.scanner_jam_staff": "กระดาษติดในเครื่องสแกน กรุณาอย่าเปิดเครื่องเอง โปรดเรียกเจ้าหน้าที่ให้ช่วยนำกระดาษออกให้ท่าน ข้อมูลที่ท่านกรอกไว้ยังอยู่ครบ",
		"voice.listen":          "ฟังคำแนะนำ",
		"voice.volume":          "ระดับเสียง",
		"voice.louder":          "ดังขึ้น",
		"voice.quieter":         "เบาลง",
	},
}

// init adds inputMessages to messages; a key already there is a mistake.
func init() {
	for l, m := range inputMessages {
		if messages[l] == nil {
			messages[l] = map[string]string{}
		}
		for k, s := range m {
			if _, dup := messages[l][k]; dup {
				panic(fmt.Sprintf("ui: message %s %q defined twice", l, k))
			}
			messages[l][k] = s
		}
	}
}
