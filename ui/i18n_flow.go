package ui

import (
	"fmt"

	"govkiosk/kiosk/lang"
)

// flowMessages are the texts of the flow's screens: the step indicator,
// the login screen around the provider's QR, "not me", the question
// screens, the cancel confirmation, the code keypad, the status screen's
// next step and each screen's own help. init merges them into messages.
var flowMessages = map[string]map[string]string{
	"en": {
		"stage.of":        "Step %d of %d: %s",
		"stage.choose":    "choose a service",
		"stage.login":     "log in",
		"stage.details":   "your details",
		"stage.documents": "your documents",
		"stage.check":     "check and confirm",
		"stage.receipt":   "your receipt",

		"login.frame_title": "Log in with the ID app on your phone",
		"login.retry":       "Try again",
		"login.not_me":      "You said this is not you, so that person has been logged out. Please log in with your own ID app: scan the new QR code below.",

		"form.question": "Question %d of %d",
		"form.from_id":  "From your national ID",
		"form.chosen":   "your answer",

		"cancel.title": "Do you want to stop?",
		"cancel.body":  "Everything you entered and scanned will be deleted, and nothing will be sent.",
		"cancel.yes":   "Yes, stop and delete",
		"cancel.no":    "No, continue",

		"confirm.type6":     "Type all 6 digits, then press the button below.",
		"confirm.clear_all": "Clear all",
		"busy.wait":         "Please wait…",

		"receipt.rate":     "How was this service? Touch a face to finish.",
		"receipt.no_rate":  "Finish without rating",
		"status.procedure": "Service",
		"status.next":      "What happens next",

		"status.next.received":  "Your application has arrived. The office will check it; you need to do nothing now.",
		"status.next.in-review": "The office is working on it. Please come back on the result date.",
		"status.next.ready":     "Your result is ready. Bring this receipt and your ID card to the counter.",
		"status.next.rejected":  "Please come to the counter with this receipt. The staff will explain what is needed.",

		"help.attract":      "Touch the screen to start. To see how an earlier application is going, hold the QR code on its receipt under the scanner.",
		"help.catalogue":    "Touch the service you need. Its processing time and fee are shown under its name.",
		"help.login":        "Open the national ID app on your own phone, scan the QR code on this screen, and pick the number shown here. If you have no ID app, ask the staff.",
		"help.identity":     "Check the name and year of birth. If they are not yours, say so with the button below and log in with your own ID app.",
		"help.form":         "Answer the question on the screen. Details from your national ID are filled in for you. Back takes you to the previous question.",
		"help.documents":    "Put the pages face down in the feeder at the top of the scanner, then touch Scan. Take your originals back when they come out.",
		"help.review":       "Check everything. To change something, touch Back. When all is right, ask for the code: it is sent to your own phone.",
		"help.confirm":      "Type the 6-digit code from your phone on the number pad, then touch the button. No code? Ask for a new one.",
		"help.receipt":      "Take your printed receipt: it has your tracking number and the date of your result.",
		"help.rating":       "Touch a face to say how this service was, or skip.",
		"help.thanks":       "You are done. The kiosk returns to the start by itself.",
		"help.status":       "This is how your earlier application is going. Touch Done when you have read it.",
		"help.refused":      "The office could not accept the application as it is. Correct your answers, or ask the staff.",
		"help.outOfService": "This kiosk is being serviced. Please ask the staff at the counter.",
	},
	"vi": {
		"stage.of":        "Bước %d/%d: %s",
		"stage.choose":    "chọn thủ tục",
		"stage.login":     "đăng nhập",
		"stage.details":   "thông tin của Ông/Bà",
		"stage.documents": "giấy tờ",
		"stage.check":     "kiểm tra và xác nhận",
		"stage.receipt":   "biên nhận",

		"login.frame_title": "Đăng nhập bằng ứng dụng định danh trên điện thoại",
		"login.retry":       "Thử lại",
		"login.not_me":      "Ông/Bà cho biết đây không phải là mình, nên người đó đã được đăng xuất. Xin Ông/Bà đăng nhập bằng ứng dụng định danh của chính mình: quét mã QR mới bên dưới.",

		"form.question": "Câu hỏi %d/%d",
		"form.from_id":  "Theo định danh điện tử của Ông/Bà",
		"form.chosen":   "lựa chọn của Ông/Bà",

		"cancel.title": "Ông/Bà có muốn dừng lại không?",
		"cancel.body":  "Mọi thông tin đã nhập và giấy tờ đã quét sẽ bị xóa, hồ sơ sẽ không được gửi.",
		"cancel.yes":   "Có, dừng lại và xóa",
		"cancel.no":    "Không, tiếp tục",

		"confirm.type6":     "Xin nhập đủ 6 chữ số, rồi bấm nút bên dưới.",
		"confirm.clear_all": "Xóa hết",
		"busy.wait":         "Xin vui lòng chờ…",

		"receipt.rate":     "Ông/Bà thấy dịch vụ thế nào? Chạm vào một khuôn mặt để kết thúc.",
		"receipt.no_rate":  "Kết thúc, không đánh giá",
		"status.procedure": "Thủ tục",
		"status.next":      "Bước tiếp theo",

		"status.next.received":  "Hồ sơ của Ông/Bà đã đến. Cơ quan sẽ kiểm tra; hiện Ông/Bà không cần làm gì thêm.",
		"status.next.in-review": "Cơ quan đang xử lý hồ sơ. Xin Ông/Bà quay lại vào ngày trả kết quả.",
		"status.next.ready":     "Đã có kết quả. Xin Ông/Bà mang biên nhận này và thẻ căn cước đến quầy.",
		"status.next.rejected":  "Xin Ông/Bà mang biên nhận này đến quầy. Cán bộ sẽ giải thích những gì cần bổ sung.",

		"help.attract":      "Chạm vào màn hình để bắt đầu. Để xem tình trạng hồ sơ đã nộp, Ông/Bà đưa mã QR trên biên nhận vào dưới máy quét.",
		"help.catalogue":    "Chạm vào thủ tục Ông/Bà cần. Thời gian giải quyết và lệ phí ghi dưới tên thủ tục.",
		"help.login":        "Ông/Bà mở ứng dụng định danh trên điện thoại của mình, quét mã QR trên màn hình này và chọn con số hiện ở đây. Nếu chưa có ứng dụng, xin hỏi cán bộ.",
		"help.identity":     "Ông/Bà kiểm tra họ tên và năm sinh. Nếu không phải của mình, xin chạm nút bên dưới để báo và đăng nhập bằng ứng dụng của chính mình.",
		"help.form":         "Ông/Bà trả lời câu hỏi trên màn hình. Thông tin từ định danh điện tử đã được điền sẵn. Nút Quay lại về câu hỏi trước.",
		"help.documents":    "Ông/Bà đặt giấy tờ úp mặt xuống vào khay nạp phía trên máy quét, rồi chạm Quét. Nhớ lấy lại bản gốc khi giấy ra.",
		"help.review":       "Ông/Bà kiểm tra lại tất cả. Muốn sửa, chạm Quay lại. Khi đã đúng, xin mã xác nhận: mã được gửi đến điện thoại của Ông/Bà.",
		"help.confirm":      "Ông/Bà nhập mã 6 chữ số trên điện thoại bằng bàn phím số, rồi chạm nút. Chưa nhận được mã? Xin mã mới.",
		"help.receipt":      "Ông/Bà nhận biên nhận đã in: trên đó có mã hồ sơ và ngày trả kết quả.",
		"help.rating":       "Ông/Bà chạm vào một khuôn mặt để đánh giá dịch vụ, hoặc bỏ qua.",
		"help.thanks":       "Ông/Bà đã hoàn tất. Máy sẽ tự quay về màn hình đầu.",
		"help.status":       "Đây là tình trạng hồ sơ Ông/Bà đã nộp. Đọc xong, chạm Xong.",
		"help.refused":      "Cơ quan chưa thể tiếp nhận hồ sơ như hiện tại. Ông/Bà sửa câu trả lời, hoặc hỏi cán bộ.",
		"help.outOfService": "Máy đang được bảo trì. Xin Ông/Bà hỏi cán bộ tại quầy.",
	},
	"th": {
		"stage.of":        "ขั้นตอนที่ %d จาก %d: %s",
		"stage.choose":    "เลือกบริการ",
		"stage.login":     "เข้าสู่ระบบ",
		"stage.details":   "ข้อมูลของท่าน",
		"stage.documents": "เอกสารของท่าน",
		"stage.check":     "ตรวจสอบและยืนยัน",
		"stage.receipt":   "ใบรับเรื่อง",

		"login.frame_title": "เข้าสู่ระบบด้วยแอปยืนยันตัวตนบนโทรศัพท์ของท่าน",
		"login.retry":       "ลองอีกครั้ง",
		"login.not_me":      "ท่านแจ้งว่าไม่ใช่ท่าน ระบบจึงออกจากระบบของบุคคลนั้นแล้ว กรุณาเข้าสู่ระบบด้วยแอปยืนยันตัวตนของท่านเอง โดยสแกนคิวอาร์โค้ดใหม่ด้านล่าง",

		"form.question": "คำถามที่ %d จาก %d",
		"form.from_id":  "จากบัตรประชาชนดิจิทัลของท่าน",
		"form.chosen":   "คำตอบของท่าน",

		"cancel.title": "ท่านต้องการหยุดหรือไม่",
		"cancel.body":  "ข้อมูลที่ท่านกรอกและเอกสารที่สแกนทั้งหมดจะถูกลบ และจะไม่มีการส่งคำขอ",
		"cancel.yes":   "หยุดและลบข้อมูล",
		"cancel.no":    "ไม่ ทำต่อ",

		"confirm.type6":     "กรุณากรอกตัวเลขให้ครบ 6 หลัก แล้วกดปุ่มด้านล่าง",
		"confirm.clear_all": "ล้างทั้งหมด",
		"busy.wait":         "กรุณารอสักครู่…",

		"receipt.rate":     "ท่านพอใจบริการนี้เพียงใด แตะใบหน้าเพื่อจบการใช้งาน",
		"receipt.no_rate":  "จบการใช้งานโดยไม่ประเมิน",
		"status.procedure": "บริการ",
		"status.next":      "ขั้นตอนต่อไป",

		"status.next.received":  "คำขอของท่านถึงหน่วยงานแล้ว เจ้าหน้าที่จะตรวจสอบ ขณะนี้ท่านไม่ต้องดำเนินการใด ๆ",
		"status.next.in-review": "หน่วยงานกำลังดำเนินการ กรุณากลับมาในวันรับผล",
		"status.next.ready":     "ผลพร้อมแล้ว กรุณานำใบรับเรื่องนี้และบัตรประชาชนมาที่เคาน์เตอร์",
		"status.next.rejected":  "กรุณานำใบรับเรื่องนี้มาที่เคาน์เตอร์ เจ้าหน้าที่จะชี้แจงสิ่งที่ต้องเพิ่มเติม",

		"help.attract":      "แตะหน้าจอเพื่อเริ่ม หากต้องการดูสถานะคำขอเดิม ให้วางคิวอาร์โค้ดบนใบรับเรื่องใต้เครื่องสแกน",
		"help.catalogue":    "แตะบริการที่ท่านต้องการ ระยะเวลาดำเนินการและค่าธรรมเนียมแสดงอยู่ใต้ชื่อบริการ",
		"help.login":        "เปิดแอปยืนยันตัวตนบนโทรศัพท์ของท่าน สแกนคิวอาร์โค้ดบนหน้าจอนี้ แล้วเลือกหมายเลขที่แสดงที่นี่ หากท่านไม่มีแอป กรุณาสอบถามเจ้าหน้าที่",
		"help.identity":     "ตรวจสอบชื่อและปีเกิด หากไม่ใช่ของท่าน กรุณาแตะปุ่มด้านล่างเพื่อแจ้ง แล้วเข้าสู่ระบบด้วยแอปของท่านเอง",
		"help.form":         "ตอบคำถามบนหน้าจอ ข้อมูลจากบัตรประชาชนดิจิทัลกรอกไว้ให้แล้ว ปุ่มย้อนกลับจะพาไปคำถามก่อนหน้า",
		"help.documents":    "วางเอกสารคว่ำหน้าลงในช่องป้อนกระดาษด้านบนเครื่องสแกน แล้วแตะสแกน อย่าลืมรับเอกสารฉบับจริงคืนเมื่อออกมา",
		"help.review":       "ตรวจสอบข้อมูลทั้งหมด หากต้องการแก้ไข แตะย้อนกลับ เมื่อถูกต้องแล้ว ขอรหัสยืนยัน ซึ่งจะส่งไปยังโทรศัพท์ของท่าน",
		"help.confirm":      "กรอกรหัส 6 หลักจากโทรศัพท์ของท่านด้วยแป้นตัวเลข แล้วแตะปุ่ม หากไม่ได้รับรหัส ขอรหัสใหม่ได้",
		"help.receipt":      "รับใบรับเรื่องที่พิมพ์ออกมา ซึ่งมีหมายเลขติดตามและวันรับผล",
		"help.rating":       "แตะใบหน้าเพื่อประเมินบริการ หรือข้าม",
		"help.thanks":       "ท่านดำเนินการเสร็จแล้ว เครื่องจะกลับไปหน้าเริ่มต้นเอง",
		"help.status":       "นี่คือสถานะคำขอเดิมของท่าน อ่านแล้วแตะปุ่มเสร็จ",
		"help.refused":      "หน่วยงานยังรับคำขอนี้ไม่ได้ กรุณาแก้ไขคำตอบ หรือสอบถามเจ้าหน้าที่",
		"help.outOfService": "เครื่องนี้อยู่ระหว่างการบำรุงรักษา กรุณาติดต่อเจ้าหน้าที่ที่เคาน์เตอร์",
	},
}

func init() {
	for code, m := range flowMessages {
		if messages[code] == nil {
			messages[code] = map[string]string{}
		}
		for k, v := range m {
			if _, dup := messages[code][k]; dup {
				panic(fmt.Sprintf("ui: flow message %s/%q is defined twice", code, k))
			}
			messages[code][k] = v
		}
	}
}

// hasMessage reports whether key is a message (every language has every
// key English has).
func hasMessage(key string) bool {
	_, ok := messages[lang.Fallback][key]
	return ok
}
