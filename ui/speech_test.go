package ui

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os/exec"
	"regexp"
	"strings"
	"testing"

	"govkiosk/backend-client/api"
	"govkiosk/kiosk"
	"govkiosk/kiosk/lang"
	"govkiosk/kiosk/voice"
)

func newSpeaker(t *testing.T) *voice.Speaker {
	t.Helper()
	if _, err := exec.LookPath("espeak-ng"); err != nil {
		t.Fatalf("espeak-ng is not installed (Debian package espeak-ng, in the Makefile's APT_PACKAGES): %v", err)
	}
	sp, err := voice.New(voice.Opts{Enabled: true})
	if err != nil {
		t.Fatal(err)
	}
	return sp
}

var reAudio = regexp.MustCompile(`<audio id="voice"[^>]*src="([^"]+)"`)

// espeak is espeak-ng's own rendering of text with voice, the samples only.
func espeak(t *testing.T, voice, text string) []byte {
	t.Helper()
	cmd := exec.Command("espeak-ng", "-v", voice, "-s", "140", "--stdin", "--stdout")
	cmd.Stdin = strings.NewReader(text)
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	return out[44:]
}

// TestVoiceInstructionsAreFixedTexts: every screen has an instruction to
// read in every language, made only of messages with no place for a value.
func TestVoiceInstructionsAreFixedTexts(t *testing.T) {
	for _, step := range kiosk.Steps {
		keys, ok := voiceKeys[step]
		if !ok {
			t.Errorf("screen %s has nothing to read aloud", step)
		}
		for _, k := range keys {
			for _, l := range lang.Codes() {
				s, ok := messages[l][k]
				if !ok {
					t.Errorf("%s: no %s message %q", step, l, k)
				}
				if strings.Contains(s, "%") {
					t.Errorf("%s: %s message %q has a place for a value: %q", step, l, k, s)
				}
			}
		}
	}
}

// TestVoiceThaiScreen: the Thai form screen has a Listen button and an
// audio element; the audio is a valid WAV file, and it is espeak-ng's Thai
// voice reading the screen's instruction.
func TestVoiceThaiScreen(t *testing.T) {
	r := newInputRig(t, "th", newSpeaker(t))
	page := r.get("/")
	if !strings.Contains(page, `data-testid="listen"`) || !strings.Contains(page, T("th", "voice.listen")) {
		t.Fatal("no Listen button on the Thai form screen")
	}
	m := reAudio.FindStringSubmatch(page)
	if m == nil {
		t.Fatal("no audio element")
	}
	resp, err := r.hc.Get(r.ts.URL + strings.ReplaceAll(m[1], "&amp;", "&"))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	buf.ReadFrom(resp.Body)
	wav := buf.Bytes()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "audio/wav" {
		t.Fatalf("audio: %s %s", resp.Status, resp.Header.Get("Content-Type"))
	}
	f, err := voice.Parse(wav)
	if err != nil {
		t.Fatalf("not a valid WAV file: %v", err)
	}
	text, _ := spokenText("th", kiosk.StepForm)
	if !strings.Contains(text, T("th", "form.title")) {
		t.Fatalf("spoken text %q is not the form's instruction", text)
	}
	if !bytes.Equal(wav[f.DataOffset:], espeak(t, "th", text)) {
		t.Fatal("the audio is not espeak-ng's Thai voice reading the form's instruction")
	}
	if bytes.Equal(wav[f.DataOffset:], espeak(t, "en", text)) {
		t.Fatal("the audio is the English voice's")
	}
	// Not the citizen's name, which the form shows.
	if !strings.Contains(page, "สมหญิง ใจดี") {
		t.Fatal("the form does not show the name: the test proves nothing")
	}
	if strings.Contains(text, "สมหญิง") || strings.Contains(m[1], "%") {
		t.Fatal("the spoken text or the audio address carries the citizen's name")
	}
}

// TestVoiceNeverReadsPersonalData: on every screen, with a session full
// of a citizen's data, the audio is that of the screen's fixed
// instruction: the same as with no data at all, and its address names
// only the language and the screen.
func TestVoiceNeverReadsPersonalData(t *testing.T) {
	sp := newSpeaker(t)
	s, err := New(nil, Options{Voice: sp})
	if err != nil {
		t.Fatal(err)
	}
	secret := []string{"Nguyễn Thị Secret", "N••• S•••", "QN-2026-SECRET", "0905999888", "Secret answer"}
	p := api.Procedure{ID: "p", Name: api.Text{"en": "P"}, Fields: []api.Field{{Name: "a", Type: api.FieldText, Label: api.Text{"en": "A"}}},
		Documents: []api.DocumentRequirement{{Type: "d", Label: api.Text{"en": "D"}, MinPages: 1, MaxPages: 1}}}
	for _, step := range kiosk.Steps {
		for _, l := range lang.Codes() {
			v := kiosk.View{Step: step, Lang: l, Languages: lang.Codes(), Procedure: &p, IdleTimeout: 120, IdleCountdown: 30,
				MaskedName: secret[1], BirthYear: "1948", Form: map[string]string{"a": secret[4]},
				Docs:    []kiosk.ScannedDocument{{}},
				Receipt: &kiosk.Receipt{Reference: secret[2], AppointmentDate: "2026-12-11"},
				Status:  &api.ApplicationStatus{TrackingNumber: secret[2], Status: "in-review"}}
			rec := httptest.NewRecorder()
			s.render(rec, v)
			m := reAudio.FindStringSubmatch(rec.Body.String())
			if m == nil {
				t.Fatalf("%s/%s: no audio", step, l)
			}
			src := strings.ReplaceAll(m[1], "&amp;", "&")
			u, _ := url.Parse(src)
			if u.Path != "/voice/"+l+"/"+string(step)+".wav" || len(u.Query()) != 1 {
				t.Errorf("%s/%s: audio address %q names more than the language and the screen", step, l, src)
			}
			text, _ := spokenText(l, step)
			for _, sec := range secret {
				if strings.Contains(text, sec) {
					t.Errorf("%s/%s: reads %q aloud", step, l, sec)
				}
			}
		}
	}
	// The identity screen shows the masked name; its audio is the title
	// alone, the same whoever is logged in.
	rec := httptest.NewRecorder()
	s.mux.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/voice/vi/identity.wav?v=3", nil))
	f, err := voice.Parse(rec.Body.Bytes())
	if err != nil {
		t.Fatalf("identity audio: %d %v", rec.Code, err)
	}
	if !bytes.Equal(rec.Body.Bytes()[f.DataOffset:], espeak(t, "vi", T("vi", "identity.title"))) {
		t.Fatal("the identity screen's audio is not its title alone")
	}
}

// TestVoiceOffByDefault: without the office's choice there is no Listen
// button and no audio.
func TestVoiceOffByDefault(t *testing.T) {
	r := newInputRig(t, "en", nil)
	if page := r.get("/"); strings.Contains(page, `data-testid="listen"`) || strings.Contains(page, "<audio") {
		t.Fatal("voice guidance shown while off")
	}
	resp, err := r.hc.Get(r.ts.URL + "/voice/en/form.wav?v=3")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("audio while off: %s", resp.Status)
	}
}

// TestVoiceVolume: louder and quieter change the level for the session, in
// the audio's loudness, within the levels; Listen (without script) plays.
func TestVoiceVolume(t *testing.T) {
	r := newInputRig(t, "vi", newSpeaker(t))
	level := func(page string) string {
		m := regexp.MustCompile(`data-testid="voice-level" data-level="([0-9])"`).FindStringSubmatch(page)
		if m == nil {
			t.Fatal("no volume level on the page")
		}
		return m[1]
	}
	page := r.get("/")
	if level(page) != "3" || strings.Contains(page, " autoplay") {
		t.Fatalf("start: level %s, autoplay %v", level(page), strings.Contains(page, " autoplay"))
	}
	page, addr := r.post("/voice/volume", url.Values{"d": {"up"}})
	if level(page) != "4" || !strings.Contains(page, " autoplay") || !strings.HasSuffix(addr, "/?listen=1") {
		t.Fatalf("louder: level %s at %s", level(page), addr)
	}
	for range 3 {
		page, _ = r.post("/voice/volume", url.Values{"d": {"up"}})
	}
	if level(page) != "5" || !strings.Contains(page, `data-testid="voice-louder" disabled`) {
		t.Fatalf("loudest: level %s", level(page))
	}
	if r.ctrl.View(context.Background()).VoiceVolume != 5 {
		t.Fatal("the session does not keep the level")
	}
	loud := r.get("/voice/vi/form.wav?v=5")
	quiet := r.get("/voice/vi/form.wav?v=1")
	peak := func(w string) int {
		b := []byte(w)
		f, err := voice.Parse(b)
		if err != nil {
			t.Fatal(err)
		}
		p := 0
		for i := f.DataOffset; i+1 < len(b); i += 2 {
			x := int(int16(uint16(b[i]) | uint16(b[i+1])<<8))
			p = max(p, x, -x)
		}
		return p
	}
	if peak(loud) <= 2*peak(quiet) {
		t.Fatalf("peak %d at the loudest, %d at the quietest", peak(loud), peak(quiet))
	}
}
