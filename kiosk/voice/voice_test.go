package voice

import (
	"bytes"
	"context"
	"encoding/binary"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// needEspeak fails the test when espeak-ng is missing: CI installs it.
func needEspeak(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("espeak-ng"); err != nil {
		t.Fatalf("espeak-ng is not installed (Debian package espeak-ng, in the Makefile's APT_PACKAGES): %v", err)
	}
}

const thaiText = "วางเอกสารคว่ำหน้าลงในช่องป้อนกระดาษด้านบน"

// TestThaiAudioIsEspeakThai: the audio for Thai text is a valid WAV file
// (sizes in the header are the file's), mono 16-bit PCM of a second or
// more, and it is what espeak-ng says with its Thai voice, not another.
func TestThaiAudioIsEspeakThai(t *testing.T) {
	needEspeak(t)
	s, err := New(Opts{Enabled: true})
	if err != nil {
		t.Fatal(err)
	}
	wav, err := s.Audio(context.Background(), "th", thaiText, 3)
	if err != nil {
		t.Fatal(err)
	}
	f, err := Parse(wav)
	if err != nil {
		t.Fatalf("not a valid WAV file: %v", err)
	}
	if f.Channels != 1 || f.BitsPerSample != 16 || f.SampleRate < 16000 {
		t.Fatalf("format %+v, want mono 16-bit PCM", f)
	}
	if secs := float64(f.DataLen) / float64(2*f.SampleRate); secs < 1 {
		t.Fatalf("%.2f s of audio for a sentence", secs)
	}
	pcm := func(voice string) []byte {
		cmd := exec.Command("espeak-ng", "-v", voice, "-s", "140", "--stdin", "--stdout")
		cmd.Stdin = strings.NewReader(thaiText)
		out, err := cmd.Output()
		if err != nil {
			t.Fatal(err)
		}
		return out[44:]
	}
	if !bytes.Equal(wav[f.DataOffset:], pcm("th")) {
		t.Error("the audio is not espeak-ng's Thai voice reading the text")
	}
	if bytes.Equal(wav[f.DataOffset:], pcm("en")) {
		t.Error("the audio is the same as the English voice's")
	}
}

// TestRendersOnce: concurrent and later requests for one text run
// espeak-ng once; a failure is not kept.
func TestRendersOnce(t *testing.T) {
	needEspeak(t)
	dir := t.TempDir()
	count := filepath.Join(dir, "count")
	wrapper := filepath.Join(dir, "espeak")
	real, _ := exec.LookPath("espeak-ng")
	if err := os.WriteFile(wrapper, []byte("#!/bin/sh\necho x >> "+count+"\nexec "+real+" \"$@\"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	s, err := New(Opts{Enabled: true, Command: wrapper})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			if _, err := s.Audio(context.Background(), "vi", "Xin mời Ông/Bà chạm vào đây", 2); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if _, err := s.Audio(context.Background(), "vi", "Xin mời Ông/Bà chạm vào đây", 5); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(count)
	if n := bytes.Count(b, []byte("x")); n != 1 {
		t.Fatalf("espeak-ng ran %d times, want once", n)
	}
	if _, err := s.Audio(context.Background(), "fr", "bonjour", 3); err != ErrNoVoice {
		t.Fatalf("a language without a voice: %v", err)
	}

	bad, err := New(Opts{Command: "false"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bad.Audio(context.Background(), "en", "hello", 3); err == nil {
		t.Fatal("a failing command gave audio")
	}
	if len(bad.cache) != 0 {
		t.Fatal("a failed rendering was kept")
	}
}

func TestScale(t *testing.T) {
	wav := make([]byte, 44+6)
	copy(wav, "RIFF")
	binary.LittleEndian.PutUint32(wav[4:], uint32(len(wav)-8))
	copy(wav[8:], "WAVEfmt ")
	binary.LittleEndian.PutUint32(wav[16:], 16)
	binary.LittleEndian.PutUint16(wav[20:], 1)
	binary.LittleEndian.PutUint16(wav[22:], 1)
	binary.LittleEndian.PutUint32(wav[24:], 22050)
	binary.LittleEndian.PutUint16(wav[34:], 16)
	copy(wav[36:], "data")
	binary.LittleEndian.PutUint32(wav[40:], 6)
	for i, v := range []int16{1000, -1000, 30000} {
		binary.LittleEndian.PutUint16(wav[44+2*i:], uint16(v))
	}
	sample := func(w []byte, i int) int16 { return int16(binary.LittleEndian.Uint16(w[44+2*i:])) }
	if got := Scale(wav, 3); !bytes.Equal(got, wav) {
		t.Error("the middle level changed the audio")
	}
	q := Scale(wav, 1)
	if sample(q, 0) != 350 || sample(q, 1) != -350 {
		t.Errorf("quietest: %d %d", sample(q, 0), sample(q, 1))
	}
	l := Scale(wav, 5)
	if sample(l, 0) != 2200 || sample(l, 2) != 32767 {
		t.Errorf("loudest: %d %d, want 2200 and clipped 32767", sample(l, 0), sample(l, 2))
	}
	if sample(wav, 0) != 1000 {
		t.Error("Scale changed its input")
	}
	if _, err := Parse(wav[:40]); err == nil {
		t.Error("a cut header parsed")
	}
}

func TestOpts(t *testing.T) {
	o, err := Opts{}.WithDefaults()
	if err != nil || o.Command != "espeak-ng" || o.Voices["th"] != "th" || o.Rate != 140 || o.Volume != 3 {
		t.Fatalf("defaults: %+v %v", o, err)
	}
	_, err = Opts{Enabled: true, Command: "/nonexistent/espeak-ng", Rate: 20, Volume: 9, Voices: map[string]string{"vi": ""}}.WithDefaults()
	for _, want := range []string{"rate 20", "volume 9", `"vi" has no voice`, "not found"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v does not say %q", err, want)
		}
	}
}
