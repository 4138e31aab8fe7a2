package console

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"govkiosk/fleet"
	"govkiosk/fleet/store"
)

var t0 = time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC)

// fakeCommander records what the console sends, and keeps it in the store
// as the MQTT commander does.
type fakeCommander struct {
	st   fleet.Store
	mu   sync.Mutex
	sent []fleet.Command
}

func (f *fakeCommander) Send(ctx context.Context, c fleet.Command) (fleet.Command, error) {
	f.mu.Lock()
	f.sent = append(f.sent, c)
	f.mu.Unlock()
	return c, f.st.PutCommand(ctx, c)
}

func (f *fakeCommander) commands() []fleet.Command {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]fleet.Command(nil), f.sent...)
}

type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

type rig struct {
	t    *testing.T
	st   *store.Store
	cmd  *fakeCommander
	srv  *httptest.Server
	clk  *clock
	c    *Console
	http *http.Client
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func users(t testing.TB) Users {
	h, err := bcrypt.GenerateFromPassword([]byte("correct horse"), bcrypt.MinCost)
	must(t, err)
	u, err := ParseUsers(strings.NewReader("# staff\nanan:" + string(h) + "\n"))
	must(t, err)
	return u
}

func newRig(t *testing.T, amURL string) *rig {
	t.Helper()
	st, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "fleet.db"))
	must(t, err)
	t.Cleanup(func() { st.Close() })
	r := &rig{t: t, st: st, cmd: &fakeCommander{st: st}, clk: &clock{now: t0.Add(7 * 24 * time.Hour)}}
	r.c, err = New(Options{Store: st, Commander: r.cmd, Users: users(t), AlertmanagerURL: amURL, Now: r.clk.Now,
		Rand: rand.NewChaCha8([32]byte{1})})
	must(t, err)
	r.srv = httptest.NewServer(r.c)
	t.Cleanup(r.srv.Close)
	jar, _ := cookiejar.New(nil)
	r.http = &http.Client{Jar: jar, Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	return r
}

func (r *rig) do(method, path string, form url.Values) (int, http.Header, string) {
	r.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, r.srv.URL+path, body)
	must(r.t, err)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := r.http.Do(req)
	must(r.t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

func (r *rig) login() {
	r.t.Helper()
	code, h, body := r.do("POST", "/login", url.Values{"user": {"anan"}, "password": {"correct horse"}, "next": {"/"}})
	if code != http.StatusSeeOther || h.Get("Location") != "/" {
		r.t.Fatalf("login: %d %v\n%s", code, h, body)
	}
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)
var cidRE = regexp.MustCompile(`name="cid" value="([^"]+)"`)

func find(t *testing.T, re *regexp.Regexp, body string) string {
	t.Helper()
	m := re.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("%v not in page:\n%s", re, body)
	}
	return m[1]
}

// addFleet registers n kiosks: every fourth offline, every fifth with
// paper out, in two provinces and four offices.
func addFleet(t testing.TB, st fleet.Store, n int, at time.Time) {
	ctx := context.Background()
	for i := range n {
		id := fmt.Sprintf("K%04d", i)
		prov := []string{"TH-10", "VN-49"}[i%2]
		must(t, st.PutKiosk(ctx, fleet.KioskInfo{KioskID: id, Province: prov, Office: fmt.Sprintf("%s-%d", prov, i%4)}))
		must(t, st.SetPresence(ctx, fleet.Presence{KioskID: id, Online: i%4 != 0, At: at}))
		paper := "full"
		if i%5 == 0 {
			paper = "out"
		}
		must(t, st.PutSnapshot(ctx, fleet.Snapshot{KioskID: id, At: at, Seq: 1, Version: "1.4.0", Backlog: i % 7,
			Devices: []fleet.DeviceState{{Name: "printer", State: "online", Media: paper}, {Name: "scanner", State: "online", Media: "ready"}}}))
	}
}

func TestNoAnonymousAccess(t *testing.T) {
	r := newRig(t, "")
	addFleet(t, r.st, 3, t0)
	for _, p := range []string{"/", "/overview", "/kiosk/K0001", "/?status=problem"} {
		code, h, body := r.do("GET", p, nil)
		if code != http.StatusSeeOther || !strings.HasPrefix(h.Get("Location"), "/login?next=") {
			t.Errorf("GET %s anonymously: %d %s", p, code, h.Get("Location"))
		}
		if strings.Contains(body, "TH-10") || strings.Contains(body, "<table") {
			t.Errorf("GET %s anonymously shows a kiosk", p)
		}
	}
	code, _, _ := r.do("POST", "/kiosk/K0001/command", url.Values{"name": {"restart"}})
	if code != http.StatusUnauthorized || len(r.cmd.commands()) != 0 {
		t.Errorf("anonymous command: %d, sent %v", code, r.cmd.commands())
	}
	code, _, body := r.do("POST", "/login", url.Values{"user": {"anan"}, "password": {"wrong"}})
	if code != http.StatusUnauthorized || !strings.Contains(body, "Wrong user name or password") {
		t.Errorf("wrong password: %d\n%s", code, body)
	}
	if code, _, _ := r.do("GET", "/", nil); code != http.StatusSeeOther {
		t.Errorf("a refused login let in: %d", code)
	}
	// The login page sends only to console paths afterwards.
	for _, next := range []string{"//evil.example/", "https://evil.example/", "/\\evil"} {
		_, h, _ := r.do("POST", "/login", url.Values{"user": {"anan"}, "password": {"correct horse"}, "next": {next}})
		if h.Get("Location") != "/" {
			t.Errorf("login with next=%q redirects to %q", next, h.Get("Location"))
		}
	}
}

func TestSessionExpiresAndLogout(t *testing.T) {
	r := newRig(t, "")
	r.login()
	code, _, body := r.do("GET", "/", nil)
	if code != 200 {
		t.Fatalf("after login: %d", code)
	}
	csrf := find(t, csrfRE, body)
	r.clk.add(9 * time.Hour)
	if code, _, _ := r.do("GET", "/", nil); code != http.StatusSeeOther {
		t.Errorf("after 9 idle hours: %d, want the login page", code)
	}
	r.login()
	_, _, body = r.do("GET", "/", nil)
	csrf2 := find(t, csrfRE, body)
	if csrf2 == csrf {
		t.Error("a new session kept the old CSRF token")
	}
	if code, _, _ := r.do("POST", "/logout", url.Values{"csrf": {csrf2}}); code != http.StatusSeeOther {
		t.Errorf("logout: %d", code)
	}
	if code, _, _ := r.do("GET", "/", nil); code != http.StatusSeeOther {
		t.Errorf("after logout: %d", code)
	}
}

func TestListProblemsFirstFiltersPages(t *testing.T) {
	r := newRig(t, "")
	addFleet(t, r.st, 120, t0)
	r.login()
	code, h, body := r.do("GET", "/", nil)
	if code != 200 {
		t.Fatalf("list: %d\n%s", code, body)
	}
	// Counts: 120 kiosks, 30 offline (i%4==0), problems: offline or paper
	// out: 30 + the i%5==0 that are online (i%20 != 0: 24-6=18) = 48.
	for _, want := range []string{"Kiosks<b>120</b>", `Online<b class="ok">90</b>`, `Offline<b class="problem">30</b>`, `Need a look<b class="problem">48</b>`} {
		if !strings.Contains(body, want) {
			t.Errorf("list lacks %q", want)
		}
	}
	rows := regexp.MustCompile(`<tr( class="bad")?>\s*<td><a href="/kiosk/(K\d+)">`).FindAllStringSubmatch(body, -1)
	if len(rows) != PageSize {
		t.Fatalf("page 1 has %d kiosks, want %d", len(rows), PageSize)
	}
	for i, row := range rows[:48] {
		if row[1] == "" {
			t.Errorf("row %d (%s) is not a problem: problems come first", i, row[2])
		}
	}
	if rows[48][1] != "" || rows[0][2] != "K0000" {
		t.Errorf("rows 48 = %v, first = %s", rows[48], rows[0][2])
	}
	if !strings.Contains(body, "kiosks 1–50 of 120") || !strings.Contains(body, `href="/?page=2" rel="next"`) {
		t.Errorf("no page 2 link or range")
	}
	if h.Get("Content-Security-Policy") == "" {
		t.Error("no CSP")
	}
	if regexp.MustCompile(`(src|href)="(https?:)?//`).MatchString(body) {
		t.Error("the page loads something from elsewhere")
	}
	_, _, body = r.do("GET", "/?page=3", nil)
	if n := strings.Count(body, `<td><a href="/kiosk/`); n != 20 || !strings.Contains(body, "rel=\"prev\"") || strings.Contains(body, "rel=\"next\"") {
		t.Errorf("page 3: %d rows", n)
	}
	_, _, body = r.do("GET", "/?status=offline&province=VN-49", nil)
	// VN-49 holds odd i, none of which is i%4==0.
	if !strings.Contains(body, "No kiosk matches.") {
		t.Errorf("offline in VN-49: want none")
	}
	_, _, body = r.do("GET", "/?status=offline&office=TH-10-0", nil)
	if n := strings.Count(body, `<td><a href="/kiosk/`); n != 30 || !strings.Contains(body, "Kiosks<b>30</b>") {
		t.Errorf("offline in TH-10-0: %d rows", n)
	}
	_, _, body = r.do("GET", "/?version=9.9", nil)
	if !strings.Contains(body, "No kiosk matches.") {
		t.Error("version filter ignored")
	}
}

func TestKioskPageAndCommands(t *testing.T) {
	r := newRig(t, "")
	ctx := context.Background()
	now := r.clk.Now()
	must(t, r.st.PutKiosk(ctx, fleet.KioskInfo{KioskID: "K1", Province: "TH-10", Office: "TH-10-1001"}))
	for i := range 7 * 24 {
		at := now.Add(-7*24*time.Hour + time.Duration(i)*time.Hour)
		paper := "full"
		if i > 150 {
			paper = "out"
		}
		must(t, r.st.PutSnapshot(ctx, fleet.Snapshot{KioskID: "K1", At: at, Seq: uint64(i + 1), Version: "1.4.0", Backlog: i % 5,
			UpdateState: "rolledBack", UpdateFailed: "1.5.0",
			Sessions: uint64(i * 3), Ratings: []uint64{0, 0, uint64(i / 10), 0, uint64(i)},
			Devices: []fleet.DeviceState{{Name: "printer", State: "online", Media: paper}, {Name: "scanner", State: "online", Media: "ready"}}}))
	}
	must(t, r.st.SetPresence(ctx, fleet.Presence{KioskID: "K1", Online: false, At: now.Add(-3 * 24 * time.Hour)}))
	must(t, r.st.SetPresence(ctx, fleet.Presence{KioskID: "K1", Online: true, At: now.Add(-2 * 24 * time.Hour)}))
	must(t, r.st.PutCommand(ctx, fleet.Command{ID: "c-old", KioskID: "K1", Name: "selftest", By: "binh", SentAt: now.Add(-time.Hour),
		AnsweredAt: now.Add(-59 * time.Minute), State: "done", Result: "printer: paper out; scanner: ok"}))
	r.login()
	code, _, body := r.do("GET", "/kiosk/K1", nil)
	if code != 200 {
		t.Fatalf("kiosk page: %d\n%s", code, body)
	}
	for _, want := range []string{
		"printer: out of paper",           // problem, from the store (no Alertmanager)
		"Alertmanager not configured",     // where the alerts came from
		"printer: paper out; scanner: ok", // last self-test
		"Update rolledBack (1.5.0)",       // the updater's state and the version it rolled back
		`aria-label="Online and offline"`, `aria-label="Sessions per day"`, `aria-label="Ratings given (1–5)"`, `aria-label="printer"`,
		`fill="#c62828"><title>out `, // the printer strip shows paper out
		`fill="#c62828"><title>offline `,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("kiosk page lacks %q", want)
		}
	}
	// Sessions per day: 3 an hour, 72 a day.
	if !strings.Contains(body, "<title>12-04: 72</title>") {
		t.Errorf("sessions chart lacks 72 on 12-04")
	}

	// No CSRF token: refused, nothing sent.
	cid := find(t, cidRE, body)
	code, _, _ = r.do("POST", "/kiosk/K1/command", url.Values{"name": {"restart"}, "cid": {cid}})
	if code != http.StatusForbidden || len(r.cmd.commands()) != 0 {
		t.Fatalf("command without CSRF: %d, sent %v", code, r.cmd.commands())
	}
	csrf := find(t, csrfRE, body)
	code, _, _ = r.do("POST", "/kiosk/K1/command", url.Values{"name": {"format-disk"}, "cid": {cid}, "csrf": {csrf}})
	if code != http.StatusBadRequest || len(r.cmd.commands()) != 0 {
		t.Fatalf("unknown command: %d", code)
	}
	form := url.Values{"name": {"out-of-service"}, "args": {"Closed for repairs until 14:00"}, "cid": {cid}, "csrf": {csrf}}
	code, h, _ := r.do("POST", "/kiosk/K1/command", form)
	if code != http.StatusSeeOther || h.Get("Location") != "/kiosk/K1?sent="+cid {
		t.Fatalf("command: %d %s", code, h.Get("Location"))
	}
	r.do("POST", "/kiosk/K1/command", form) // the same form twice
	sent := r.cmd.commands()
	if len(sent) != 2 || sent[0].ID != cid || sent[1].ID != cid {
		t.Fatalf("sent = %+v: want the same command id twice (idempotent)", sent)
	}
	if c := sent[0]; c.KioskID != "K1" || c.Name != "out-of-service" || c.By != "anan" || c.Args != "Closed for repairs until 14:00" || !c.SentAt.Equal(now) {
		t.Errorf("command = %+v", c)
	}
	_, _, body = r.do("GET", "/kiosk/K1?sent="+cid, nil)
	if !strings.Contains(body, "Command sent") || !strings.Contains(body, "Put out of service (Closed for repairs until 14:00)") || strings.Count(body, "Put out of service (") != 1 {
		t.Errorf("kiosk page does not list the command once")
	}
	if find(t, cidRE, body) == cid {
		t.Error("the next form reuses the command id")
	}
	if code, _, _ := r.do("GET", "/kiosk/NOPE", nil); code != http.StatusNotFound {
		t.Errorf("unknown kiosk: %d", code)
	}
}

func TestAlertsFromAlertmanager(t *testing.T) {
	var gotFilter string
	am := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotFilter = r.URL.Query().Get("filter")
		fmt.Fprint(w, `[{"labels":{"alertname":"KioskPaperOut","kiosk":"K0000"},"annotations":{"summary":"Kiosk K0000 is out of receipt paper"},
			"startsAt":"2026-12-08T07:00:00Z","status":{"state":"suppressed","inhibitedBy":["x"]}}]`)
	}))
	defer am.Close()
	r := newRig(t, am.URL)
	addFleet(t, r.st, 1, t0)
	r.login()
	_, _, body := r.do("GET", "/kiosk/K0000", nil)
	if gotFilter != `kiosk="K0000"` || !strings.Contains(body, "KioskPaperOut: Kiosk K0000 is out of receipt paper (2026-12-08 07:00) ⏸") ||
		strings.Contains(body, "Alertmanager not configured") {
		t.Errorf("filter %q; page:\n%s", gotFilter, body)
	}
	am.Close() // Alertmanager gone: the store's view, said so.
	_, _, body = r.do("GET", "/kiosk/K0000", nil)
	if !strings.Contains(body, "Alertmanager not configured or not answering") || !strings.Contains(body, "printer: out of paper") {
		t.Errorf("without Alertmanager:\n%s", body)
	}
}

func TestOverviewAndLanguages(t *testing.T) {
	r := newRig(t, "")
	addFleet(t, r.st, 40, t0)
	r.login()
	_, _, body := r.do("GET", "/overview?lang=th", nil)
	for _, want := range []string{`lang="th"`, "จังหวัด", `href="/overview?province=TH-10"`, "<td>20</td>", `class="bar"`, "TH-10-0", "VN-49-3"} {
		if !strings.Contains(body, want) {
			t.Errorf("overview (th) lacks %q", want)
		}
	}
	_, _, body = r.do("GET", "/overview?province=VN-49", nil) // the session keeps Thai
	if !strings.Contains(body, "สำนักงาน") || strings.Contains(body, "TH-10-0") {
		t.Errorf("overview of VN-49 in Thai")
	}
	if !strings.Contains(body, `href="/overview?lang=vi&amp;province=VN-49"`) {
		t.Error("the language links do not keep the page's filters")
	}
	_, _, body = r.do("GET", "/?lang=vi", nil)
	if !strings.Contains(body, "Cần kiểm tra") || !strings.Contains(body, "mất kết nối") {
		t.Errorf("list in Vietnamese lacks its words")
	}
}

func TestMessagesComplete(t *testing.T) {
	for _, l := range langs {
		for k := range messages["en"] {
			if messages[l][k] == "" {
				t.Errorf("%s lacks %q", l, k)
			}
		}
		if len(messages[l]) != len(messages["en"]) {
			t.Errorf("%s has %d keys, en %d", l, len(messages[l]), len(messages["en"]))
		}
	}
	for _, c := range Commands {
		if _, ok := messages["en"]["cmd."+c]; !ok {
			t.Errorf("command %s has no label", c)
		}
	}
}

func TestParseUsers(t *testing.T) {
	for _, in := range []string{"", "# none\n", "anan\n", "anan:plaintext\n", "an an:$2a$04$abc\n"} {
		if _, err := ParseUsers(strings.NewReader(in)); err == nil {
			t.Errorf("ParseUsers(%q) accepted", in)
		} else if strings.Contains(err.Error(), "plaintext") {
			t.Errorf("error shows the secret: %v", err)
		}
	}
	if _, err := New(Options{}); err == nil || !strings.Contains(err.Error(), "no Store") || !strings.Contains(err.Error(), "no Users") {
		t.Errorf("New without options: %v", err)
	}
}

// TestOverviewHistory: a province's and an office's last week as charts,
// outages and sessions per day.
func TestOverviewHistory(t *testing.T) {
	r := newRig(t, "")
	ctx := context.Background()
	now := r.clk.Now() // 2026-12-08 08:00
	for i, k := range []fleet.KioskInfo{{KioskID: "A", Province: "TH-10", Office: "TH-10-1"}, {KioskID: "B", Province: "TH-10", Office: "TH-10-2"}} {
		must(t, r.st.PutKiosk(ctx, k))
		for h := range 3 {
			must(t, r.st.PutSnapshot(ctx, fleet.Snapshot{KioskID: k.KioskID, At: now.Add(time.Duration(h-26) * time.Hour), Seq: uint64(h + 1),
				Sessions: uint64(h * (i + 1) * 5)}))
		}
		must(t, r.st.SetPresence(ctx, fleet.Presence{KioskID: k.KioskID, Online: false, At: now.Add(-time.Hour)}))
	}
	r.login()
	_, _, body := r.do("GET", "/overview?province=TH-10", nil)
	// Yesterday (12-07): A 10 sessions, B 20; today both went offline.
	for _, want := range []string{"TH-10: Last 7 days", "<title>12-07: 30</title>", "<title>12-08: 2</title>", `href="/?office=&amp;province=TH-10"`} {
		if !strings.Contains(body, want) {
			t.Errorf("province overview lacks %q", want)
		}
	}
	_, _, body = r.do("GET", "/overview?province=TH-10&office=TH-10-2", nil)
	if !strings.Contains(body, "<title>12-07: 20</title>") || !strings.Contains(body, "<title>12-08: 1</title>") {
		t.Errorf("office overview:\n%s", body)
	}
	_, _, body = r.do("GET", "/overview", nil)
	if strings.Contains(body, "Last 7 days") {
		t.Error("the whole fleet's overview reads every snapshot")
	}
}

// TestLoginThrottled: five wrong passwords lock the name for 15 minutes,
// even against the right one; then it works again.
func TestLoginThrottled(t *testing.T) {
	r := newRig(t, "")
	for range maxFailures {
		if code, _, _ := r.do("POST", "/login", url.Values{"user": {"anan"}, "password": {"guess"}}); code != http.StatusUnauthorized {
			t.Fatalf("wrong password: %d", code)
		}
	}
	right := url.Values{"user": {"anan"}, "password": {"correct horse"}}
	if code, _, body := r.do("POST", "/login", right); code != http.StatusUnauthorized || !strings.Contains(body, "Wrong user name or password") {
		t.Fatalf("locked name logged in: %d", code)
	}
	r.clk.add(failureWindow + time.Second)
	if code, _, _ := r.do("POST", "/login", right); code != http.StatusSeeOther {
		t.Fatalf("after the window: %d, want logged in", code)
	}
}
