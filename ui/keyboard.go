package ui

import (
	"net/http"
	"net/url"
	"strings"

	"govkiosk/backend-client/api"
	"govkiosk/kiosk"
	"govkiosk/ui/keyboard"
)

// The on-screen keyboard on the form. Without script every key is a submit
// button of the form that posts to /kb with all the form's values: the
// server types the key (keyboard.Press), keeps the draft in the session and
// sends the browser back to the form, with which field is being typed, in
// which layout and layer, in the address (the UI keeps no state of its
// own). With script the page types the same way without a round trip.

// Form parameters of the keyboard.
const (
	kbField  = "kb.field"  // the field being typed
	kbLayout = "kb.layout" // its layout
	kbShift  = "kb.shift"  // "1" on the shift layer
	kbKey    = "kb.key"    // the key pressed (a character or a keyboard command)
	kbFocus  = "kb.focus"  // type into this field instead
	kbTo     = "kb.to"     // switch to this text layout
	kbDone   = "@done"     // the key that ends typing in a field
	kbClosed = "-"         // kb.field of a closed keyboard
)

// inputState is the keyboard's state as the address of a form screen
// carries it (?kb=FIELD&kbl=LAYOUT&kbs=1), and whether to read the screen
// aloud; zero: the default.
type inputState struct {
	Field  string // "" default, kbClosed: no keyboard
	Layout string
	Shift  bool
	Listen bool // read the screen aloud now (?listen=1)
}

func inputStateFrom(q url.Values) inputState {
	return inputState{Field: q.Get("kb"), Layout: q.Get("kbl"), Shift: q.Get("kbs") == "1", Listen: q.Get("listen") == "1"}
}

func (st inputState) query() string {
	q := url.Values{}
	q.Set("kb", st.Field)
	if st.Layout != "" {
		q.Set("kbl", st.Layout)
	}
	if st.Shift {
		q.Set("kbs", "1")
	}
	return q.Encode()
}

// typed says whether the citizen types field f with the keyboard: any
// field that is not a choice, unless it is the provider's (read-only).
func typed(f api.Field) bool { return f.Type != api.FieldSelect && !f.ReadOnly }

// kbView is what the keyboard template draws for one field.
type kbView struct {
	Typed   bool   // the field is typed with the keyboard
	Active  bool   // the keyboard is under this field
	Field   string // the field's name
	Layout  string // the layout shown
	Shift   bool
	Switch  bool              // the citizen may switch between text layouts
	Layouts []keyboard.Layout // every layout, so that script can switch without a round trip
	Text    []keyboard.Layout // the text layouts offered on the switch keys
	Max     int               // at most this many characters
}

// activeField is the field the keyboard is under: the one st names, else
// the first typed field of the question on screen; "" for none.
func activeField(v kiosk.View, st inputState) string {
	if v.Procedure == nil || st.Field == kbClosed {
		return ""
	}
	for i, f := range v.Procedure.Fields {
		if !onScreen(v, i) {
			continue
		}
		// One question is on screen: its keyboard is open unless closed.
		if typed(f) && (f.Name == st.Field || st.Field == "") {
			return f.Name
		}
	}
	return ""
}

// keyboardFor builds the keyboard view of field f.
func keyboardFor(v kiosk.View, st inputState, f api.Field) kbView {
	kv := kbView{Typed: typed(f), Field: f.Name, Max: maxRunes(f)}
	if !kv.Typed {
		return kv
	}
	kv.Active = activeField(v, st) == f.Name
	kv.Layout, kv.Switch = keyboard.ForField(f.Type, v.Lang)
	if kv.Active {
		if kv.Switch && keyboard.IsTextLayout(st.Layout) {
			kv.Layout = st.Layout
		}
		kv.Shift = st.Shift
	}
	for _, id := range append(keyboard.TextLayouts(), "number", "phone", "date") {
		l, _ := keyboard.Get(id)
		kv.Layouts = append(kv.Layouts, l)
		if keyboard.IsTextLayout(id) {
			kv.Text = append(kv.Text, l)
		}
	}
	return kv
}

func maxRunes(f api.Field) int {
	if f.MaxLen > 0 && f.MaxLen < api.MaxFieldRunes {
		return f.MaxLen
	}
	return api.MaxFieldRunes
}

// keyboardPost handles one key pressed without script: it types the key
// into the field, keeps the whole form as the citizen has it, and sends the
// browser back to the form with the keyboard where it was.
func (s *Server) keyboardPost(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	v := s.c.View(r.Context())
	if v.Step != kiosk.StepForm || v.Procedure == nil {
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return
	}
	values := map[string]string{}
	for k, vs := range r.PostForm {
		if len(vs) > 0 && !strings.HasPrefix(k, "kb.") {
			values[k] = vs[0]
		}
	}
	st := inputState{Field: r.PostFormValue(kbField), Layout: r.PostFormValue(kbLayout), Shift: r.PostFormValue(kbShift) == "1"}
	var fields []api.Field // the question on screen: only its field is typed
	for i, f := range v.Procedure.Fields {
		if onScreen(v, i) {
			fields = append(fields, f)
		}
	}
	field := func(name string) (api.Field, bool) {
		for _, f := range fields {
			if f.Name == name && typed(f) {
				return f, true
			}
		}
		return api.Field{}, false
	}
	f, ok := field(st.Field)
	switch key := r.PostFormValue(kbKey); {
	case r.PostFormValue(kbFocus) != "":
		if nf, ok := field(r.PostFormValue(kbFocus)); ok {
			st = inputState{Field: nf.Name, Layout: textLayoutFor(nf, v.Lang, st.Layout)}
		}
	case !ok:
		st = inputState{}
	case r.PostFormValue(kbTo) != "":
		if to := r.PostFormValue(kbTo); keyboard.IsTextLayout(to) {
			if _, sw := keyboard.ForField(f.Type, v.Lang); sw {
				st.Layout, st.Shift = to, false
			}
		}
	case key == keyboard.Shift:
		st.Shift = !st.Shift
	case key == kbDone:
		cur := st.Layout
		st = inputState{Field: kbClosed}
		after := false
		for _, nf := range fields {
			if after && typed(nf) && values[nf.Name] == "" {
				st = inputState{Field: nf.Name, Layout: textLayoutFor(nf, v.Lang, cur)}
				break
			}
			after = after || nf.Name == f.Name
		}
		if st.Field == kbClosed {
			// Done on the question's last field answers it, as Continue does.
			s.logAction("/kb", s.c.AnswerQuestion(v.Question, values))
			http.Redirect(w, r, "/", http.StatusSeeOther)
			return
		}
	case key != "":
		values[f.Name] = keyboard.Press(values[f.Name], key, maxRunes(f))
		if !strings.HasPrefix(key, "@") {
			st.Shift = false // one character on the shift layer
		}
	}
	if err := s.c.SaveDraft(values); err != nil {
		s.logAction("/kb", err)
	}
	http.Redirect(w, r, "/?"+st.query()+"#kb", http.StatusSeeOther)
}

// textLayoutFor is the layout field f starts with; a text field keeps the
// text layout the citizen last chose (cur).
func textLayoutFor(f api.Field, lang, cur string) string {
	id, sw := keyboard.ForField(f.Type, lang)
	if sw && keyboard.IsTextLayout(cur) {
		return cur
	}
	return id
}
