package ui

import "fmt"

// scanMessages are the documents screen's words about cleaned pages: pages
// left out as blank, and each quality problem with what to do about it.
var scanMessages = map[string]map[string]string{
	"en": {
		"scan.dropped":        "%d pages looked empty and were left out. If one of them has something on it, touch “Keep this page”.",
		"scan.dropped.one":    "%d page looked empty and was left out. If it has something on it, touch “Keep this page”.",
		"scan.restore":        "Keep this page",
		"scan.again":          "Place it again",
		"scan.rotated":        "We turned this page the right way up.",
		"scan.all_blank":      "Every page came out empty. Please check that the pages are face down in the feeder, then touch “Place it again”.",
		"scan.too-dark":       "This page came out too dark to read. Please place it again.",
		"scan.too-light":      "This page came out too pale to read. Please place it again.",
		"scan.blurred":        "This page came out blurred. Please place it again and keep it flat.",
		"scan.too-skewed":     "This page went in crooked. Please line it up with the guides and place it again.",
		"scan.partly-outside": "Part of this page was outside the scanner. Please put it in the middle of the feeder and place it again.",
	},
	"vi": {
		"scan.dropped":        "Có %d trang trống đã được bỏ ra. Nếu trang nào có nội dung, xin Ông/Bà chạm “Giữ trang này”.",
		"scan.restore":        "Giữ trang này",
		"scan.again":          "Đặt lại giấy",
		"scan.rotated":        "Trang này đã được xoay lại cho đúng chiều.",
		"scan.all_blank":      "Tất cả các trang đều trống. Xin quý khách kiểm tra các trang đã úp mặt xuống trong khay nạp giấy, rồi chạm “Đặt lại giấy”.",
		"scan.too-dark":       "Trang này quá tối, không đọc được. Xin Ông/Bà đặt lại trang này.",
		"scan.too-light":      "Trang này quá mờ, không đọc được. Xin Ông/Bà đặt lại trang này.",
		"scan.blurred":        "Trang này bị nhòe. Xin Ông/Bà đặt lại và giữ cho giấy phẳng.",
		"scan.too-skewed":     "Trang này bị đặt lệch. Xin Ông/Bà đặt thẳng theo thanh dẫn rồi đặt lại.",
		"scan.partly-outside": "Một phần trang này nằm ngoài vùng quét. Xin Ông/Bà đặt giấy vào giữa khay rồi đặt lại.",
	},
	"th": {
		"scan.dropped":        "มี %d หน้าที่ว่างเปล่าจึงไม่ได้รวมไว้ หากหน้าใดมีข้อความ ขอให้ท่านแตะ “เก็บหน้านี้ไว้”",
		"scan.restore":        "เก็บหน้านี้ไว้",
		"scan.again":          "วางเอกสารใหม่",
		"scan.rotated":        "ระบบได้หมุนหน้านี้ให้ตั้งตรงแล้ว",
		"scan.all_blank":      "ทุกหน้าที่สแกนว่างเปล่า ขอให้ท่านตรวจว่าได้วางเอกสารคว่ำหน้าลงในช่องป้อนกระดาษ แล้วแตะ “วางเอกสารใหม่”",
		"scan.too-dark":       "หน้านี้มืดเกินไปจนอ่านไม่ได้ ขอให้ท่านวางหน้านี้ใหม่อีกครั้ง",
		"scan.too-light":      "หน้านี้จางเกินไปจนอ่านไม่ได้ ขอให้ท่านวางหน้านี้ใหม่อีกครั้ง",
		"scan.blurred":        "หน้านี้พร่ามัว ขอให้ท่านวางใหม่และให้กระดาษเรียบ",
		"scan.too-skewed":     "หน้านี้เอียงมากเกินไป ขอให้ท่านวางให้ตรงตามแนวกั้นกระดาษแล้ววางใหม่",
		"scan.partly-outside": "บางส่วนของหน้านี้อยู่นอกพื้นที่สแกน ขอให้ท่านวางกระดาษไว้กลางช่องป้อนแล้ววางใหม่",
	},
}

func init() {
	for l, m := range scanMessages {
		dst := messages[l]
		if dst == nil {
			panic(fmt.Sprintf("ui: scan messages in %q, which has no messages", l))
		}
		for k, v := range m {
			if _, dup := dst[k]; dup {
				panic(fmt.Sprintf("ui: scan message %q already in %s messages", k, l))
			}
			dst[k] = v
		}
	}
}
