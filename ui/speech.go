package ui

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"govkiosk/kiosk"
	"govkiosk/kiosk/lang"
	"govkiosk/kiosk/voice"
)

// Voice guidance: a Listen button on every screen reads the screen's
// instruction aloud in the session's language, when the office turned it on
// (kiosk.json "voice"). What is read is the screen's fixed instruction
// only, chosen by the screen (voiceKeys), never anything of the citizen's:
// no name, no answer, no tracking number. The audio's address names only
// the language and the screen, so it carries nothing personal either.

// voiceKeys are, per screen, the messages its instruction is read from.
// None has a place for a value (%), so none can carry personal data.
var voiceKeys = map[kiosk.Step][]string{
	kiosk.StepAttract:      {"attract.title", "attract.touch"},
	kiosk.StepCatalogue:    {"catalogue.title"},
	kiosk.StepLogin:        {"login.title", "help.login"},
	kiosk.StepIdentity:     {"identity.title"},
	kiosk.StepForm:         {"form.title", "form.hint"},
	kiosk.StepDocuments:    {"docs.title", "docs.insert"},
	kiosk.StepReview:       {"review.title", "review.code_note"},
	kiosk.StepConfirm:      {"confirm.title", "confirm.body"},
	kiosk.StepReceipt:      {"receipt.title"},
	kiosk.StepRating:       {"rating.title"},
	kiosk.StepThanks:       {"thanks.title", "thanks.body"},
	kiosk.StepStatus:       {"status.title"},
	kiosk.StepRefused:      {"refused.title", "refused.staff_hint"},
	kiosk.StepOutOfService: {"outofservice.title", "outofservice.body"},
}

// spokenText is the instruction of screen step in language code, as read
// aloud; ok is false for a screen without one.
func spokenText(code string, step kiosk.Step) (string, bool) {
	keys, ok := voiceKeys[step]
	if !ok || !lang.Supported(code) {
		return "", false
	}
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = T(code, k)
	}
	return strings.Join(parts, "\n\n"), true
}

// voiceView is what the page draws of voice guidance.
type voiceView struct {
	On       bool
	Src      string // the audio of this screen's instruction
	Autoplay bool   // the citizen just asked to listen (a browser without script)
	Level    int
	Levels   int
}

func (s *Server) voiceFor(v kiosk.View, st inputState) voiceView {
	if s.voice == nil {
		return voiceView{}
	}
	if _, ok := spokenText(v.Lang, v.Step); !ok {
		return voiceView{}
	}
	level := v.VoiceVolume
	if level == 0 {
		level = s.voice.Opts().Volume
	}
	level = min(max(level, 1), voice.Levels)
	return voiceView{
		On: true, Autoplay: st.Listen, Level: level, Levels: voice.Levels,
		Src: fmt.Sprintf("/voice/%s/%s.wav?v=%d", v.Lang, v.Step, level),
	}
}

// voiceAudio serves the audio of one screen's instruction.
func (s *Server) voiceAudio(w http.ResponseWriter, r *http.Request) {
	step, ok := strings.CutSuffix(r.PathValue("file"), ".wav")
	text, known := spokenText(r.PathValue("lang"), kiosk.Step(step))
	if s.voice == nil || !ok || !known {
		http.NotFound(w, r)
		return
	}
	level, err := strconv.Atoi(r.URL.Query().Get("v"))
	if err != nil {
		level = s.voice.Opts().Volume
	}
	wav, err := s.voice.Audio(r.Context(), r.PathValue("lang"), text, level)
	if err != nil {
		s.log.Error("voice guidance", "step", step, "lang", r.PathValue("lang"), "err", err)
		http.Error(w, "no audio", http.StatusServiceUnavailable)
		return
	}
	w.Header().Set("Content-Type", "audio/wav")
	w.Header().Set("Content-Length", strconv.Itoa(len(wav)))
	w.Write(wav)
}

// voiceVolume makes voice guidance louder or quieter for the session and
// reads the screen again at the new level.
func (s *Server) voiceVolume(r *http.Request) {
	if s.voice == nil {
		return
	}
	v := s.c.View(r.Context())
	level := v.VoiceVolume
	if level == 0 {
		level = s.voice.Opts().Volume
	}
	switch r.PostFormValue("d") {
	case "up":
		level++
	case "down":
		level--
	}
	s.c.SetVoiceVolume(min(max(level, 1), voice.Levels))
}
