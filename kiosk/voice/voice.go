// Package voice reads a screen's instruction aloud: it renders text with
// Debian's espeak-ng (Thai, Vietnamese and English voices) into WAV audio
// that the touch UI serves to a plain <audio> element.
//
// Audio is rendered on first use and kept in memory, keyed by language and
// text. The texts are the UI's fixed instructions (a few dozen per
// language), never a citizen's data, so the cache is small and bounded by
// the catalogue of messages; espeak-ng renders a sentence in tens of
// milliseconds, so nothing is rendered at start-up (no boot delay, no CPU
// spent on screens nobody listens to) and nothing at build time (the
// package needs no espeak-ng to build and the audio follows the messages as
// they are). Text goes to espeak-ng on its standard input and audio comes
// back on its standard output: nothing touches the disk.
package voice

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os/exec"
	"sync"
	"time"
)

// Opts are kiosk.json's "voice" section. Voice guidance is the office's
// choice: off unless enabled.
type Opts struct {
	Enabled bool              `json:"enabled"`
	Command string            `json:"command,omitempty"` // espeak-ng
	Voices  map[string]string `json:"voices,omitempty"`  // espeak-ng voice per language ["th", "vi", "en"]
	Rate    int               `json:"rate,omitempty"`    // words per minute [140: slower than espeak-ng's 175, for elders]
	Volume  int               `json:"volume,omitempty"`  // level a session starts at, 1 to Levels [3]
	Timeout time.Duration     `json:"-"`                 // longest render [10s]
}

// Levels is the number of volume levels the citizen can choose from.
const Levels = 5

// DefaultOpts are the defaults of everything but Enabled.
func DefaultOpts() Opts {
	return Opts{Command: "espeak-ng", Voices: map[string]string{"th": "th", "vi": "vi", "en": "en"}, Rate: 140, Volume: 3, Timeout: 10 * time.Second}
}

// WithDefaults fills what o leaves out and checks the rest; with voice
// enabled, the command must be installed.
func (o Opts) WithDefaults() (Opts, error) {
	d := DefaultOpts()
	if o.Command == "" {
		o.Command = d.Command
	}
	voices := map[string]string{}
	for l, v := range d.Voices {
		voices[l] = v
	}
	for l, v := range o.Voices {
		voices[l] = v
	}
	o.Voices = voices
	if o.Rate == 0 {
		o.Rate = d.Rate
	}
	if o.Volume == 0 {
		o.Volume = d.Volume
	}
	if o.Timeout == 0 {
		o.Timeout = d.Timeout
	}
	var errs []error
	if o.Rate < 80 || o.Rate > 300 {
		errs = append(errs, fmt.Errorf("rate %d is not between 80 and 300 words a minute", o.Rate))
	}
	if o.Volume < 1 || o.Volume > Levels {
		errs = append(errs, fmt.Errorf("volume %d is not between 1 and %d", o.Volume, Levels))
	}
	for l, v := range o.Voices {
		if v == "" {
			errs = append(errs, fmt.Errorf("voices: %q has no voice", l))
		}
	}
	if o.Enabled {
		if _, err := exec.LookPath(o.Command); err != nil {
			errs = append(errs, fmt.Errorf("command %q not found (install the espeak-ng package, or disable voice): %v", o.Command, err))
		}
	}
	return o, errors.Join(errs...)
}

// Speaker renders and caches audio.
type Speaker struct {
	o Opts

	mu    sync.Mutex
	cache map[key]*entry
}

type key struct{ lang, text string }

// entry is one rendering: done closes when wav or err is set.
type entry struct {
	done chan struct{}
	wav  []byte
	err  error
}

// New returns a Speaker for o (checked by WithDefaults).
func New(o Opts) (*Speaker, error) {
	o, err := o.WithDefaults()
	if err != nil {
		return nil, err
	}
	return &Speaker{o: o, cache: map[key]*entry{}}, nil
}

// Opts are the speaker's options, defaults filled in.
func (s *Speaker) Opts() Opts { return s.o }

// ErrNoVoice: no voice for the language.
var ErrNoVoice = errors.New("voice: no voice for this language")

// Audio is text read aloud in language lang at volume level (1 to Levels),
// as a WAV file. The first call for a text renders it; later ones, and
// calls while it renders, get the same audio. A failed rendering is not
// kept, so the next call tries again.
func (s *Speaker) Audio(ctx context.Context, lang, text string, level int) ([]byte, error) {
	if _, ok := s.o.Voices[lang]; !ok {
		return nil, ErrNoVoice
	}
	k := key{lang, text}
	s.mu.Lock()
	e, ok := s.cache[k]
	if !ok {
		e = &entry{done: make(chan struct{})}
		s.cache[k] = e
	}
	s.mu.Unlock()
	if !ok {
		e.wav, e.err = s.render(ctx, lang, text)
		if e.err != nil {
			s.mu.Lock()
			delete(s.cache, k)
			s.mu.Unlock()
		}
		close(e.done)
	}
	select {
	case <-e.done:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	if e.err != nil {
		return nil, e.err
	}
	return Scale(e.wav, level), nil
}

// render runs espeak-ng once, text in on stdin, WAV out on stdout.
func (s *Speaker) render(ctx context.Context, lang, text string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.o.Timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, s.o.Command, "-v", s.o.Voices[lang], "-s", fmt.Sprint(s.o.Rate), "--stdin", "--stdout")
	cmd.Stdin = bytes.NewReader([]byte(text))
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("voice: %s -v %s: %w: %s", s.o.Command, s.o.Voices[lang], err, bytes.TrimSpace(stderr.Bytes()))
	}
	wav, err := fixSizes(out.Bytes())
	if err != nil {
		return nil, fmt.Errorf("voice: %s -v %s: %w", s.o.Command, s.o.Voices[lang], err)
	}
	return wav, nil
}

// Format is what a WAV file holds, from its header.
type Format struct {
	Channels, SampleRate, BitsPerSample int
	DataOffset, DataLen                 int
}

// Parse reads the header of a PCM WAV file and checks that its sizes are
// the file's own.
func Parse(wav []byte) (Format, error) {
	var f Format
	if len(wav) < 44 || string(wav[0:4]) != "RIFF" || string(wav[8:12]) != "WAVE" {
		return f, errors.New("not a RIFF WAVE file")
	}
	if int(binary.LittleEndian.Uint32(wav[4:8])) != len(wav)-8 {
		return f, errors.New("RIFF size is not the file's")
	}
	for off := 12; off+8 <= len(wav); {
		id, n := string(wav[off:off+4]), int(binary.LittleEndian.Uint32(wav[off+4:off+8]))
		body := off + 8
		switch id {
		case "fmt ":
			if n < 16 || body+16 > len(wav) || binary.LittleEndian.Uint16(wav[body:]) != 1 {
				return f, errors.New("not PCM")
			}
			f.Channels = int(binary.LittleEndian.Uint16(wav[body+2:]))
			f.SampleRate = int(binary.LittleEndian.Uint32(wav[body+4:]))
			f.BitsPerSample = int(binary.LittleEndian.Uint16(wav[body+14:]))
		case "data":
			if body+n != len(wav) || f.SampleRate == 0 {
				return f, errors.New("data chunk is not the rest of the file, or comes before fmt")
			}
			f.DataOffset, f.DataLen = body, n
			return f, nil
		}
		off = body + n + n%2
	}
	return f, errors.New("no data chunk")
}

// fixSizes writes the real sizes into the header espeak-ng streams out
// (it cannot seek back on a pipe, so it writes a placeholder): the data
// chunk is the rest of the file.
func fixSizes(wav []byte) ([]byte, error) {
	if len(wav) < 44 || string(wav[0:4]) != "RIFF" || string(wav[8:12]) != "WAVE" {
		return nil, errors.New("output is not a WAV file")
	}
	for off := 12; off+8 <= len(wav); {
		id, n := string(wav[off:off+4]), int(binary.LittleEndian.Uint32(wav[off+4:off+8]))
		if id == "data" {
			binary.LittleEndian.PutUint32(wav[4:8], uint32(len(wav)-8))
			binary.LittleEndian.PutUint32(wav[off+4:off+8], uint32(len(wav)-off-8))
			if _, err := Parse(wav); err != nil {
				return nil, err
			}
			return wav, nil
		}
		if off+8+n > len(wav) {
			break
		}
		off += 8 + n + n%2
	}
	return nil, errors.New("output has no data chunk")
}

// gains are the volume levels, as a factor on espeak-ng's own loudness.
var gains = [Levels + 1]float64{0, 0.35, 0.6, 1, 1.5, 2.2}

// Scale is a copy of a 16-bit PCM WAV file at volume level (1 to Levels;
// out of range is clamped), clipped rather than wrapped when loud.
func Scale(wav []byte, level int) []byte {
	level = min(max(level, 1), Levels)
	out := bytes.Clone(wav)
	f, err := Parse(out)
	if err != nil || f.BitsPerSample != 16 || gains[level] == 1 {
		return out
	}
	g := gains[level]
	pcm := out[f.DataOffset : f.DataOffset+f.DataLen]
	for i := 0; i+1 < len(pcm); i += 2 {
		x := float64(int16(binary.LittleEndian.Uint16(pcm[i:]))) * g
		x = min(max(x, -32768), 32767)
		binary.LittleEndian.PutUint16(pcm[i:], uint16(int16(x)))
	}
	return out
}
