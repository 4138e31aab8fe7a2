package ui

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"govkiosk/ui/keyboard"
)

// The keyboard in Debian's Chromium, headless, at the kiosk's portrait
// 1080×1920: with script (typing in the page) and without (every key a
// form post), and the larger-text layout. E2E_SCREENSHOTS=DIR keeps the
// screens as PNG files.

// chromium starts a headless Chromium of width×height, with or without
// script, and returns its tab.
func chromium(t *testing.T, script bool) context.Context {
	t.Helper()
	bin, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatalf("chromium is not installed (Debian package chromium, in the Makefile's APT_PACKAGES): %v", err)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:len(chromedp.DefaultExecAllocatorOptions):len(chromedp.DefaultExecAllocatorOptions)],
		chromedp.ExecPath(bin), chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("no-first-run", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1080, 1920),
	)
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancel)
	ctx, cancel2 := chromedp.NewContext(actx)
	t.Cleanup(cancel2)
	done := make(chan error, 1)
	go func() { done <- chromedp.Do(ctx, chromedp.EmulateViewport(1080, 1920)) }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("start chromium: %v", err)
		}
	case <-time.After(30 * time.Second):
		cancel2()
		t.Fatal("chromium did not start within 30s")
	}
	if !script {
		if err := chromedp.Do(ctx, chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			_, err := cdp.Call(ctx, tg, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true})
			return err
		})); err != nil {
			t.Fatal(err)
		}
	}
	return ctx
}

// step runs actions within a deadline, failing with what it waited for.
func step(t *testing.T, ctx context.Context, what string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if err := chromedp.Do(sctx, actions...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// read runs one action that reads a value, within a deadline.
func read[T any](t *testing.T, ctx context.Context, what string, a chromedp.Action[T]) T {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	v, err := chromedp.Run(sctx, a)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	return v
}

// openKiosk makes the tab the rig's kiosk browser, on the form.
func (r *inputRig) openKiosk(ctx context.Context) {
	r.t.Helper()
	launch, err := r.srv.LaunchURL()
	if err != nil {
		r.t.Fatal(err)
	}
	step(r.t, ctx, "open the kiosk's launch URL and show the form", chromedp.Navigate(launch), chromedp.WaitVisible(chromedp.CSS(`[data-testid="keyboard"]`)))
}

// keySel is the selector of the visible key typing value.
func keySel(value string) string {
	b, _ := json.Marshal(value)
	return `#kb .kb-layout:not([hidden]) .kb-layer:not([hidden]) button[value=` + string(b) + `], #kb .kb-cmd button[value=` + string(b) + `]`
}

func screenshot(t *testing.T, ctx context.Context, name string) {
	dir := os.Getenv("E2E_SCREENSHOTS")
	if dir == "" {
		return
	}
	png := read(t, ctx, "screenshot "+name, chromedp.FullScreenshot(100))
	if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestKeyboardInChromium: with script, the keyboard types a Thai word with
// its tone mark and a Vietnamese word with tone marks into the fields
// without reloading the page, moves to the number field with its pad, and
// what it typed is what the form sends.
func TestKeyboardInChromium(t *testing.T) {
	r := newInputRig(t, "th", nil)
	ctx := chromium(t, true)
	r.openKiosk(ctx)
	read(t, ctx, "mark the page", chromedp.Evaluate[bool](`window.notReloaded = true`))
	for _, k := range []string{"ร", "้", "า", "น", "@space"} {
		step(t, ctx, "tap key "+k, chromedp.Click(chromedp.CSS(keySel(k))))
	}
	step(t, ctx, "switch to Vietnamese", chromedp.Click(chromedp.CSS(`#kb button[name="kb.to"][value="vi"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#kb .kb-vi`)))
	for _, k := range []string{"P", "h", "ơ", "\u0309"} {
		if k == "P" {
			step(t, ctx, "shift", chromedp.Click(chromedp.CSS(keySel("@shift"))))
		}
		step(t, ctx, "tap key "+k, chromedp.Click(chromedp.CSS(keySel(k))))
	}
	shop := read(t, ctx, "read the shop name", chromedp.Value(chromedp.CSS(`#field-shop_name`)))
	still := read(t, ctx, "check the page did not reload", chromedp.Evaluate[bool](`window.notReloaded === true`))
	if shop != "ร้าน Phở" {
		t.Fatalf("typed %q, want %q", shop, "ร้าน Phở")
	}
	if !still {
		t.Fatal("the page reloaded: typing with script made a round trip")
	}
	// Switching the language keeps what was typed in the page.
	step(t, ctx, "switch the screen to Vietnamese", chromedp.Click(chromedp.CSS(`[data-testid="lang-switch-vi"]`)),
		chromedp.WaitVisible(chromedp.CSS(`html[lang="vi"] [data-testid="keyboard"]`)))
	if shop := read(t, ctx, "read the shop name", chromedp.Value(chromedp.CSS(`#field-shop_name`))); shop != "ร้าน Phở" {
		t.Fatalf("after switching the language the shop name is %q", shop)
	}
	// The next question, the area, comes with the number pad.
	step(t, ctx, "answer the shop name", chromedp.Click(chromedp.CSS(`[data-testid="form-next"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#kb .kb-number`)))
	for _, k := range []string{"4", "5", ",", "5"} {
		step(t, ctx, "tap key "+k, chromedp.Click(chromedp.CSS(keySel(k))))
	}
	area := read(t, ctx, "read the area", chromedp.Value(chromedp.CSS(`#field-area`)))
	if area != "45,5" {
		t.Fatalf("area %q, want 45,5", area)
	}
	screenshot(t, ctx, "keyboard-vi-number")
	step(t, ctx, "answer the area", chromedp.Click(chromedp.CSS(`[data-testid="form-next"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#field-phone`)))
	// The phone is left empty: the question comes back asking for it, with
	// what was typed before kept as sent.
	step(t, ctx, "Continue without a phone", chromedp.Click(chromedp.CSS(`[data-testid="form-next"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="problem-field.required"]`)))
	v := r.ctrl.View(ctx)
	if v.Form["shop_name"] != "ร้าน Phở" || v.Form["area"] != "45.5" {
		t.Fatalf("the form sent %q", v.Form)
	}
}

// TestKeyboardWithoutScriptInChromium: with script off, each key is a form
// post and the redrawn page shows the value; a Vietnamese word's tone
// marks compose.
func TestKeyboardWithoutScriptInChromium(t *testing.T) {
	r := newInputRig(t, "vi", nil)
	ctx := chromium(t, false)
	r.openKiosk(ctx)
	want := ""
	for _, k := range []string{"N", "g", "u", "y", "ê", "n", "\u0303"} {
		if k == "N" {
			tapAfterLoad(t, ctx, "shift", keySel("@shift"))
			step(t, ctx, "wait for the shift layer", chromedp.WaitVisible(chromedp.CSS(`#kb .kb-shift.on`)))
		}
		want = keyboard.Press(want, k, 0)
		tapAfterLoad(t, ctx, "tap key "+k, keySel(k))
		waitValue(t, ctx, "shop_name", want)
	}
	if want != "Nguyễn" {
		t.Fatalf("typed %q, want Nguyễn", want)
	}
	// The server typed it: the browser was sent back to the form with the
	// keyboard's state in the address.
	if loc := read(t, ctx, "read the address", chromedp.Location()); !strings.Contains(loc, "kb=shop_name") || !strings.Contains(loc, "kbl=vi") {
		t.Fatalf("address %q: the keys did not go through the server", loc)
	}
	tapAfterLoad(t, ctx, "switch to Thai", `#kb button[name="kb.to"][value="th"]`)
	step(t, ctx, "wait for the Thai layout", chromedp.WaitVisible(chromedp.CSS(`#kb .kb-th`)))
	for _, k := range []string{"@space", "ก", "ี", "่"} {
		want = keyboard.Press(want, k, 0)
		tapAfterLoad(t, ctx, "tap key "+k, keySel(k))
		waitValue(t, ctx, "shop_name", want)
	}
	if got := r.ctrl.View(ctx).Form["shop_name"]; got != "Nguyễn กี่" {
		t.Fatalf("the session keeps %q", got)
	}
}

// tapAfterLoad taps the element sel of a page that a form post has just
// redrawn: while Chromium replaces the document, a node found a moment
// before may be gone, and the tap is tried again on the new one.
func tapAfterLoad(t *testing.T, ctx context.Context, what, sel string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		err := chromedp.Do(sctx, chromedp.Click(chromedp.CSS(sel)))
		cancel()
		if err == nil {
			return
		}
		if !strings.Contains(err.Error(), "Could not find node") || time.Now().After(deadline) {
			t.Fatalf("%s: %v", what, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// waitValue waits until the page, redrawn by the server, shows want in
// field name.
func waitValue(t *testing.T, ctx context.Context, name, want string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	var got string
	for time.Now().Before(deadline) {
		sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		res, err := chromedp.Run(sctx, chromedp.AttributeValue(chromedp.CSS(`#field-`+name), "value"))
		cancel()
		got = res.Value
		if err == nil && got == want {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("waited 10s for field %s to show %q; it shows %q", name, want, got)
}

// TestScriptTypesAsServer: the page's script and the server type the same:
// Press and govkioskKeyboard.press agree on the test words and on
// thousands of random key sequences over the Thai and Vietnamese keys.
func TestScriptTypesAsServer(t *testing.T) {
	r := newInputRig(t, "th", nil)
	ctx := chromium(t, true)
	r.openKiosk(ctx)
	var alphabet []string
	for _, id := range []string{"th", "vi", "en"} {
		l, _ := keyboard.Get(id)
		for _, rows := range [][][]keyboard.Key{l.Rows, l.Shift} {
			for _, row := range rows {
				for _, k := range row {
					alphabet = append(alphabet, k.Value)
				}
			}
		}
	}
	alphabet = append(alphabet, keyboard.Back, keyboard.Space, keyboard.Clear, "\u0301", "\u0300", "\u0309", "\u0303", "\u0323")
	rng := rand.New(rand.NewPCG(1, 2))
	var cases [][]string
	for range 3000 {
		n := 1 + rng.IntN(12)
		seq := make([]string, n)
		for i := range seq {
			seq[i] = alphabet[rng.IntN(len(alphabet))]
		}
		cases = append(cases, seq)
	}
	for _, w := range []string{"ngươi\u0300", "hoa\u0300", "ho\u0301an", "quang\u0309", "gi\u0300", "ก่ี", "น้ำ"} {
		cases = append(cases, strings.Split(w, ""))
	}
	want := make([]string, len(cases))
	for i, seq := range cases {
		v := ""
		for _, k := range seq {
			v = keyboard.Press(v, k, 40)
		}
		want[i] = v
	}
	js, _ := json.Marshal(cases)
	got := read(t, ctx, "type every case in the page", chromedp.Evaluate[[]string](fmt.Sprintf(
		`%s.map((seq) => seq.reduce((v, k) => govkioskKeyboard.press(v, k, 40), ""))`, js)))
	if len(got) != len(want) {
		t.Fatalf("%d results for %d cases", len(got), len(want))
	}
	bad := 0
	for i := range want {
		if got[i] != want[i] && bad < 10 {
			bad++
			t.Errorf("keys %q: page types %q, server %q", cases[i], got[i], want[i])
		}
	}
}

// TestLargeTextLayout: larger text is at least 60% larger and shows that
// it is on (pressed, labelled); at 1080×1920 nothing runs off the screen
// sideways, every key of the keyboard (Thai, the widest) stays at least
// 64 px square and every header button and the Listen button at least
// 64 px high; the documents screen shows the feeder picture.
func TestLargeTextLayout(t *testing.T) {
	r := newInputRig(t, "th", newSpeaker(t))
	ctx := chromium(t, true)
	r.openKiosk(ctx)
	type layout struct {
		Font                  float64
		Overflow              bool
		MinKeyW, MinKeyH      float64
		MinToolH              float64
		Pressed, Label, Class string
	}
	measure := func(what string) layout {
		return read(t, ctx, "measure "+what, chromedp.Evaluate[layout](`(() => {
			const keys = [...document.querySelectorAll("#kb .k")].filter((k) => k.offsetParent !== null).map((k) => k.getBoundingClientRect());
			const tools = [...document.querySelectorAll("header .tool, #listen")].map((b) => b.getBoundingClientRect());
			const larger = document.querySelector('[data-testid="larger"]');
			return {
				Font: parseFloat(getComputedStyle(document.querySelector("h1")).fontSize),
				Overflow: document.documentElement.scrollWidth > window.innerWidth,
				MinKeyW: Math.min(...keys.map((k) => k.width)), MinKeyH: Math.min(...keys.map((k) => k.height)),
				MinToolH: Math.min(...tools.map((b) => b.height)),
				Pressed: larger.getAttribute("aria-pressed"), Label: larger.textContent, Class: larger.className,
			};
		})()`))
	}
	normal := measure("normal text")
	screenshot(t, ctx, "form-th-normal")
	step(t, ctx, "turn larger text on", chromedp.Click(chromedp.CSS(`[data-testid="larger"]`)),
		chromedp.WaitVisible(chromedp.CSS(`body.large [data-testid="keyboard"]`)))
	large := measure("larger text")
	screenshot(t, ctx, "form-th-large")
	if normal.Pressed != "false" || large.Pressed != "true" || !strings.Contains(large.Class, "on") || !strings.Contains(large.Label, T("th", "nav.larger_on")) {
		t.Errorf("the toggle does not show it is on: %+v", large)
	}
	if ratio := large.Font / normal.Font; ratio < 1.6 {
		t.Errorf("larger text is %.0f%% larger, want at least 60%%", (ratio-1)*100)
	}
	for name, l := range map[string]layout{"normal": normal, "large": large} {
		if l.Overflow {
			t.Errorf("%s: the page is wider than the screen", name)
		}
		if l.MinKeyW < 64 || l.MinKeyH < 64 {
			t.Errorf("%s: a key is %.0f×%.0f px, want at least 64×64", name, l.MinKeyW, l.MinKeyH)
		}
		if l.MinToolH < 64 {
			t.Errorf("%s: a header button is %.0f px high, want at least 64", name, l.MinToolH)
		}
	}
	// Vietnamese, with its tone row, at the larger size.
	step(t, ctx, "switch to Vietnamese", chromedp.Click(chromedp.CSS(`#kb button[name="kb.to"][value="vi"]`)))
	vi := measure("Vietnamese, larger text")
	screenshot(t, ctx, "form-vi-keyboard-large")
	if vi.Overflow || vi.MinKeyW < 64 || vi.MinKeyH < 64 {
		t.Errorf("Vietnamese keyboard at larger text: %+v", vi)
	}
	if err := r.ctrl.SubmitForm(map[string]string{"shop_name": "ร้านป้าศรี", "area": "30", "phone": "0812345678", "kind": "stall"}); err != nil {
		t.Fatal(err)
	}
	step(t, ctx, "show the documents screen", chromedp.Navigate(r.ts.URL+"/"), chromedp.WaitVisible(chromedp.CSS(`[data-testid="feeder-picture"] svg`)))
	docs := read(t, ctx, "measure the documents screen", chromedp.Evaluate[struct {
		Overflow bool
		Picture  float64
	}](`({
		Overflow: document.documentElement.scrollWidth > window.innerWidth,
		Picture: document.querySelector('[data-testid="feeder-picture"] svg').getBoundingClientRect().width })`))
	screenshot(t, ctx, "documents-th-large")
	if docs.Overflow || docs.Picture < 200 {
		t.Errorf("documents screen at larger text: %+v", docs)
	}
}
