package console

// "Give a service PIN": on a kiosk's page, staff make a one-time 8-digit
// PIN for a technician at the kiosk, named by their staff id. The PIN is drawn from the console's
// randomness (crypto/rand), shown once on the answer page (never stored,
// never logged) and the kiosk is sent only its salted Argon2id hash, the
// technician's staff id and an expiry (fleetwire.CmdServicePIN), through
// the Commander like every command, so it is audited with the others.

import (
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/google/uuid"

	"govkiosk/backend-client/fleetwire"
	"govkiosk/fleet"
)

// ServicePINTTL is how long a service PIN from the console is good for.
const ServicePINTTL = 20 * time.Minute

type pinData struct {
	KioskID    string
	Technician string
	PIN        string
	PINID      string
	Expires    time.Time
	State      string
}

func (c *Console) servicePIN(w http.ResponseWriter, r *http.Request, _ string, s session) {
	ctx := r.Context()
	id, cid, tech := r.PathValue("id"), r.PostFormValue("cid"), strings.TrimSpace(r.PostFormValue("technician"))
	if _, err := uuid.Parse(cid); err != nil {
		c.render(w, http.StatusBadRequest, "error", c.page(r, s, "err.csrf", nil))
		return
	}
	if !fleetwire.ValidKioskID(tech) { // the same alphabet: letters, digits, . _ -
		c.render(w, http.StatusBadRequest, "error", c.page(r, s, "pin.technician_bad", nil))
		return
	}
	if _, err := c.o.Store.Kiosk(ctx, id); err != nil {
		if isNotFound(err) {
			c.render(w, http.StatusNotFound, "error", c.page(r, s, "kiosk.unknown", nil))
			return
		}
		c.fail(w, r, s, "read kiosk", err)
		return
	}
	// The same form posted again must not show a PIN the kiosk never got:
	// the command with its id went already, with another PIN.
	if _, err := c.o.Store.Command(ctx, cid); err == nil {
		c.render(w, http.StatusConflict, "error", c.page(r, s, "pin.again", nil))
		return
	}
	pin, sp, err := fleetwire.NewServicePIN(c.o.Rand, tech, c.o.Now(), ServicePINTTL)
	if err != nil {
		c.fail(w, r, s, "make a service PIN", err)
		return
	}
	cmd := fleet.Command{ID: cid, KioskID: id, Name: fleetwire.CmdServicePIN, Args: sp.Encode(), By: s.user, SentAt: c.o.Now(), State: "pending"}
	sent, err := c.o.Commander.Send(ctx, cmd)
	if err != nil {
		c.fail(w, r, s, "send service PIN", err)
		return
	}
	c.log.Info("console: service PIN sent", "kiosk", id, "pin", sp.ID, "command", cid, "technician", tech, "by", s.user, "expires", sp.Expires)
	w.Header().Set("Cache-Control", "no-store")
	p := c.page(r, s, "", pinData{KioskID: id, Technician: tech, PIN: pin, PINID: sp.ID, Expires: sp.Expires, State: sent.State})
	p.LangURLs = map[string]string{} // a language switch reloads /kiosk/{id}, not this answer
	for _, l := range langs {
		p.LangURLs[l] = "/kiosk/" + url.PathEscape(id) + "?lang=" + l
	}
	c.render(w, http.StatusOK, "pin", p)
}

// serviceEventsShown is how many service-mode events a kiosk's page lists.
const serviceEventsShown = 10

// serviceEvents are the last service-mode events of evs (oldest first),
// newest first: technicians entering and leaving, refusals and PIN
// lockouts, by the id of their code or PIN.
func serviceEvents(evs []fleet.Event) []fleet.Event {
	var out []fleet.Event
	for i := len(evs) - 1; i >= 0 && len(out) < serviceEventsShown; i-- {
		if strings.HasPrefix(evs[i].Kind, "service-") {
			out = append(out, evs[i])
		}
	}
	return out
}

var pinMessages = map[string]map[string]string{
	"en": {
		"cmd.service-pin":          "Service PIN",
		"pin.title":                "Service PIN",
		"pin.give":                 "Give a service PIN",
		"pin.explain":              "For a technician at the kiosk without a technician code: the kiosk gets a one-time 8-digit PIN, good for 20 minutes and once. The PIN is shown here once only.",
		"pin.show":                 "Tell the technician this PIN. It is not shown again.",
		"pin.expires":              "Good once, until",
		"pin.id":                   "PIN id (in the kiosk's log and events)",
		"pin.state":                "Delivery to the kiosk",
		"pin.back":                 "Back to the kiosk",
		"pin.again":                "This form was sent already: open the kiosk's page again for a new PIN.",
		"pin.technician":           "Technician's staff id",
		"pin.technician_bad":       "Give the technician's staff id (letters, digits, . _ -), not a name.",
		"svcev.title":              "Service visits",
		"svcev.none":               "No service mode in the last week.",
		"svcev.service-enter":      "service mode entered",
		"svcev.service-exit":       "service mode left",
		"svcev.service-action":     "service action",
		"svcev.service-refused":    "technician code or PIN refused",
		"svcev.service-pin-locked": "PIN entry locked after wrong PINs",
	},
	"th": {
		"cmd.service-pin":          "PIN บำรุงรักษา",
		"pin.title":                "PIN บำรุงรักษา",
		"pin.give":                 "ให้ PIN บำรุงรักษา",
		"pin.explain":              "สำหรับช่างที่ตู้ซึ่งไม่มีรหัสช่าง: ตู้จะได้รับ PIN 8 หลักใช้ครั้งเดียว ใช้ได้ 20 นาที แสดง PIN ที่นี่เพียงครั้งเดียว",
		"pin.show":                 "แจ้ง PIN นี้แก่ช่าง จะไม่แสดงอีก",
		"pin.expires":              "ใช้ได้ครั้งเดียว จนถึง",
		"pin.id":                   "รหัสอ้างอิง PIN (ในบันทึกและเหตุการณ์ของตู้)",
		"pin.state":                "การส่งถึงตู้",
		"pin.back":                 "กลับไปที่ตู้",
		"pin.again":                "ส่งแบบฟอร์มนี้ไปแล้ว: เปิดหน้าของตู้อีกครั้งเพื่อขอ PIN ใหม่",
		"pin.technician":           "รหัสพนักงานของช่าง",
		"pin.technician_bad":       "ใส่รหัสพนักงานของช่าง (ตัวอักษร ตัวเลข . _ -) ไม่ใช่ชื่อ",
		"svcev.title":              "การเข้าบำรุงรักษา",
		"svcev.none":               "ไม่มีการเข้าโหมดบำรุงรักษาในสัปดาห์ที่ผ่านมา",
		"svcev.service-enter":      "เข้าโหมดบำรุงรักษา",
		"svcev.service-exit":       "ออกจากโหมดบำรุงรักษา",
		"svcev.service-action":     "งานบำรุงรักษา",
		"svcev.service-refused":    "ปฏิเสธรหัสช่างหรือ PIN",
		"svcev.service-pin-locked": "ล็อกการใส่ PIN หลังใส่ผิดหลายครั้ง",
	},
	"vi": {
		"cmd.service-pin":          "Mã PIN bảo trì",
		"pin.title":                "Mã PIN bảo trì",
		"pin.give":                 "Cấp mã PIN bảo trì",
		"pin.explain":              "Cho kỹ thuật viên tại ki-ốt không có mã kỹ thuật viên: ki-ốt nhận một mã PIN 8 chữ số dùng một lần, hiệu lực 20 phút. Mã PIN chỉ hiện ở đây một lần.",
		"pin.show":                 "Báo mã PIN này cho kỹ thuật viên. Mã sẽ không hiện lại.",
		"pin.expires":              "Dùng một lần, đến",
		"pin.id":                   "Mã tham chiếu PIN (trong nhật ký và sự kiện của ki-ốt)",
		"pin.state":                "Gửi tới ki-ốt",
		"pin.back":                 "Quay lại ki-ốt",
		"pin.again":                "Biểu mẫu này đã được gửi: mở lại trang của ki-ốt để lấy mã PIN mới.",
		"pin.technician":           "Mã nhân viên của kỹ thuật viên",
		"pin.technician_bad":       "Nhập mã nhân viên của kỹ thuật viên (chữ, số, . _ -), không phải họ tên.",
		"svcev.title":              "Lượt bảo trì",
		"svcev.none":               "Không có lượt bảo trì nào trong tuần qua.",
		"svcev.service-enter":      "vào chế độ bảo trì",
		"svcev.service-exit":       "rời chế độ bảo trì",
		"svcev.service-action":     "thao tác bảo trì",
		"svcev.service-refused":    "mã kỹ thuật viên hoặc PIN bị từ chối",
		"svcev.service-pin-locked": "khóa nhập PIN sau nhiều lần sai",
	},
}

func init() {
	for l, m := range pinMessages {
		for k, v := range m {
			if _, dup := messages[l][k]; dup {
				panic("console: message " + l + "/" + k + " defined twice")
			}
			messages[l][k] = v
		}
	}
}
