package scangen

import (
	"fmt"
	"strings"
)

// The documents of the test set, laid out as the real ones are. Sizes are
// written in millimetres of the A4 sheet and scaled by mm() because the
// renderer lays the page out wider than A4 (see render).

// mm and pt write a length of the sheet for render to scale.
func mm(v float64) string { return fmt.Sprintf("{mm:%g}", v) }
func pt(v float64) string { return fmt.Sprintf("{pt:%g}", v) }

// page wraps a body in the page's style.
func page(body string, _ float64) string {
	return fmt.Sprintf(`<style>
body { margin: 0; padding: %s %s; font-family: "Kiosk Sans", "Kiosk Thai"; font-size: %s; color: #000; line-height: 1.35; }
.c { text-align: center; } .r { text-align: right; } .b { font-weight: bold; }
h1 { font-size: %s; text-align: center; font-weight: bold; margin: %s 0; }
h2 { font-size: %s; text-align: center; font-weight: bold; margin: %s 0; }
.f { margin: %s 0; }
.box { border: %s solid #000; padding: %s; margin: %s 0; }
.frame { border: %s solid #000; padding: %s; }
td { padding: %s %s; border: %s solid #000; vertical-align: top; }
table { border-collapse: collapse; width: 100%%; }
.sig { height: %s; }
</style>
<body>%s</body>`,
		mm(18), mm(20), pt(11.5), pt(15), mm(3), pt(12.5), mm(2), mm(2.2),
		mm(0.35), mm(2.5), mm(2), mm(0.8), mm(6), mm(1.2), mm(1.2), mm(0.25), mm(22), body)
}

func field(label string) string {
	return `<div class="f">` + label + ` ` + strings.Repeat(".", 60) + `</div>`
}

var docs = map[string]string{
	"form-vi": page(`<div class="c b">CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM</div>
<div class="c b">Độc lập – Tự do – Hạnh phúc</div>
<div class="c">———————</div>
<h1>TỜ KHAI ĐĂNG KÝ KẾT HÔN</h1>
<div class="c">Kính gửi: Ủy ban nhân dân xã Tam Kỳ, tỉnh Quảng Nam</div>
<table><tr><td class="b">Thông tin</td><td class="b">Bên nữ</td><td class="b">Bên nam</td></tr>
<tr><td>Họ, chữ đệm, tên</td><td>Nguyễn Thị Hồng Nhung</td><td>Trần Văn Đức</td></tr>
<tr><td>Ngày, tháng, năm sinh</td><td>14/03/1996</td><td>02/11/1993</td></tr>
<tr><td>Dân tộc</td><td>Kinh</td><td>Kinh</td></tr>
<tr><td>Quốc tịch</td><td>Việt Nam</td><td>Việt Nam</td></tr>
<tr><td>Nơi cư trú</td><td>Thôn Phú Ninh, xã Tam Kỳ</td><td>Khối phố 3, phường An Mỹ</td></tr>
<tr><td>Giấy tờ tùy thân</td><td>CCCD 049196001234</td><td>CCCD 049193005678</td></tr>
<tr><td>Kết hôn lần thứ mấy</td><td>Thứ nhất</td><td>Thứ nhất</td></tr></table>
<div class="f">Chúng tôi cam đoan những lời khai trên đây là đúng sự thật, việc kết hôn của chúng tôi là tự nguyện, không vi phạm quy định của Luật Hôn nhân và gia đình Việt Nam.</div>
<div class="f">Chúng tôi chịu trách nhiệm trước pháp luật về cam đoan của mình.</div>
<div class="r">Tam Kỳ, ngày 02 tháng 12 năm 2026</div>
<table><tr><td class="c b">Bên nữ<div class="sig"></div>Nguyễn Thị Hồng Nhung</td><td class="c b">Bên nam<div class="sig"></div>Trần Văn Đức</td></tr></table>
<div class="f">Ghi chú: Đề nghị đánh dấu X vào ô nếu có yêu cầu cấp bản sao trích lục kết hôn. Số lượng: 02 bản.</div>`, 210),

	"form-th": page(`<h1>แบบคำขอมีบัตรประจำตัวประชาชน</h1>
<div class="r">เขียนที่ สำนักงานเขตบางรัก กรุงเทพมหานคร</div>
<div class="r">วันที่ ๒ เดือน ธันวาคม พ.ศ. ๒๕๖๙</div>
<div class="f">ข้าพเจ้า นางสาวสมศรี ใจดี อายุ ๓๔ ปี สัญชาติ ไทย</div>
<div class="f">เลขประจำตัวประชาชน ๑ ๑๐๐๒ ๐๐๓๔๕ ๖๗ ๘</div>
<div class="f">ที่อยู่ตามทะเบียนบ้าน เลขที่ ๑๒๓ ถนนสีลม แขวงสุริยวงศ์ เขตบางรัก กรุงเทพมหานคร ๑๐๕๐๐</div>
<div class="f">มีความประสงค์ขอมีบัตรประจำตัวประชาชน เนื่องจาก บัตรเดิมหมดอายุ</div>
<table><tr><td class="b">รายการ</td><td class="b">รายละเอียด</td></tr>
<tr><td>ชื่อบิดา</td><td>นายสมชาย ใจดี</td></tr>
<tr><td>ชื่อมารดา</td><td>นางสมหญิง ใจดี</td></tr>
<tr><td>หมู่โลหิต</td><td>โอ</td></tr>
<tr><td>โทรศัพท์</td><td>๐๘๑ ๒๓๔ ๕๖๗๘</td></tr></table>
<div class="f">ข้าพเจ้าขอรับรองว่าข้อความข้างต้นเป็นความจริงทุกประการ หากปรากฏว่าเป็นเท็จ ข้าพเจ้ายินยอมรับผิดตามกฎหมาย</div>
`+field("ลงชื่อ")+`
<div class="c">( นางสาวสมศรี ใจดี ) ผู้ยื่นคำขอ</div>
<div class="box"><div class="b">สำหรับเจ้าหน้าที่</div>`+field("ตรวจสอบแล้วถูกต้อง ลงชื่อ")+field("ตำแหน่ง")+`</div>`, 210),

	"land": page(`<div class="frame">
<div class="c b">CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM</div>
<div class="c b">Độc lập – Tự do – Hạnh phúc</div>
<h1>GIẤY CHỨNG NHẬN</h1>
<h2>QUYỀN SỬ DỤNG ĐẤT, QUYỀN SỞ HỮU TÀI SẢN GẮN LIỀN VỚI ĐẤT</h2>
<div class="c">Số phát hành: CS 04917 &nbsp; Số vào sổ: CH 01234</div>
<div class="f b">1. Người sử dụng đất, chủ sở hữu tài sản gắn liền với đất</div>
<div class="f">Ông: Lê Văn Hùng, sinh năm 1968, CCCD số 049068009876</div>
<div class="f">Bà: Phạm Thị Lan, sinh năm 1971, CCCD số 049171004321</div>
<div class="f">Địa chỉ thường trú: thôn Tiên Phước, xã Tiên Cảnh, tỉnh Quảng Nam</div>
<div class="f b">2. Thửa đất</div>
<table><tr><td>Thửa đất số</td><td>215</td><td>Tờ bản đồ số</td><td>12</td></tr>
<tr><td>Diện tích</td><td>324,5 m²</td><td>Hình thức sử dụng</td><td>Sử dụng chung</td></tr>
<tr><td>Mục đích sử dụng</td><td colspan="3">Đất ở tại nông thôn 200 m²; đất trồng cây lâu năm 124,5 m²</td></tr>
<tr><td>Thời hạn sử dụng</td><td colspan="3">Đất ở: lâu dài; đất trồng cây lâu năm: đến ngày 15/10/2064</td></tr>
<tr><td>Nguồn gốc sử dụng</td><td colspan="3">Nhà nước công nhận quyền sử dụng đất như giao đất có thu tiền sử dụng đất</td></tr></table>
<div class="f b">3. Nhà ở và tài sản khác gắn liền với đất</div>
<div class="f">Nhà ở riêng lẻ, diện tích xây dựng 96 m², kết cấu bê tông cốt thép, 02 tầng.</div>
<div class="r">Quảng Nam, ngày 20 tháng 05 năm 2019</div>
<div class="r b">TM. ỦY BAN NHÂN DÂN TỈNH</div>
<div class="r b">KT. CHỦ TỊCH – PHÓ CHỦ TỊCH</div>
<div class="sig"></div>
<div class="r b">Nguyễn Văn Minh</div>
</div>`, 210),

	"letter": page(`<div class="b">Công ty TNHH Dịch vụ Hội An Xanh</div>
<div>45 Trần Phú, phường Minh An, thành phố Hội An</div>
<div>Điện thoại: 0235 3861 234</div>
<div class="r">Hội An, ngày 28 tháng 11 năm 2026</div>
<h2>GIẤY XÁC NHẬN CÔNG TÁC</h2>
<div class="f">Kính gửi: Bộ phận Một cửa, Ủy ban nhân dân phường Minh An</div>
<div class="f">Công ty TNHH Dịch vụ Hội An Xanh xác nhận bà Võ Thị Thu Hà, sinh ngày 09/07/1990, số CCCD 049190012345, hiện đang làm việc tại Công ty với chức danh Kế toán trưởng, theo hợp đồng lao động không xác định thời hạn số 17/2021/HĐLĐ ký ngày 01/03/2021.</div>
<div class="f">Mức lương cơ bản hiện nay của bà Võ Thị Thu Hà là 14.500.000 đồng một tháng, đóng bảo hiểm xã hội đầy đủ theo quy định. Trong thời gian công tác, bà Hà luôn hoàn thành tốt nhiệm vụ được giao, chấp hành nghiêm nội quy lao động của Công ty.</div>
<div class="f">Giấy xác nhận này được cấp để bà Võ Thị Thu Hà bổ sung hồ sơ đề nghị cấp giấy xác nhận tình trạng hôn nhân và không dùng vào mục đích khác.</div>
<div class="f">Công ty cam kết những thông tin trên là đúng sự thật và chịu trách nhiệm trước pháp luật về nội dung xác nhận.</div>
<div class="f">Trân trọng.</div>
<div class="r b">GIÁM ĐỐC</div>
<div class="sig"></div>
<div class="r b">Phan Quốc Bảo</div>
<div class="f">Nơi nhận: – Như trên; – Lưu: VT, HCNS.</div>`, 210),

	"oneline": page(`<div style="height: `+mm(110)+`"></div><div class="c">Trang này để trống có chủ ý.</div>`, 210),

	"stamp-back": page(`<div></div>`, 210),

	"idcard": `<style>
body { margin: 0; padding: ` + mm(3) + `; font-family: "Kiosk Sans", "Kiosk Thai"; font-size: ` + pt(7) + `; line-height: 1.25; }
.t { font-weight: bold; font-size: ` + pt(7.5) + `; text-align: center; }
.p { margin-left: ` + mm(30) + `; }
</style><body><div class="t">CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM</div>
<div class="t">CĂN CƯỚC CÔNG DÂN</div>
<div class="p">Số / No.: 049190012345</div>
<div class="p">Họ và tên / Full name:</div><div class="p" style="font-weight: bold">VÕ THỊ THU HÀ</div>
<div class="p">Ngày sinh / Date of birth: 09/07/1990</div>
<div class="p">Giới tính / Sex: Nữ &nbsp; Quốc tịch: Việt Nam</div>
<div class="p">Quê quán: Hội An, Quảng Nam</div>
<div class="p">Có giá trị đến: 09/07/2030</div></body>`,
}
