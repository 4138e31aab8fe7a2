package console

import (
	"bufio"
	"bytes"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// Users are the staff who may log in: name → bcrypt hash.
type Users map[string][]byte

// ParseUsers reads a user file: one "name:bcrypt-hash" a line (the format
// of `htpasswd -B`), blank lines and lines starting with # ignored. Every
// bad line is reported, with its number, never its hash.
func ParseUsers(r io.Reader) (Users, error) {
	u := Users{}
	var problems []string
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, hash, ok := strings.Cut(line, ":")
		switch {
		case !ok || name == "":
			problems = append(problems, fmt.Sprintf("line %d: want name:bcrypt-hash", n))
			continue
		case !validUser(name):
			problems = append(problems, fmt.Sprintf("line %d: user name %q: letters, digits, . _ - only", n, name))
			continue
		}
		if _, err := bcrypt.Cost([]byte(hash)); err != nil {
			problems = append(problems, fmt.Sprintf("line %d: user %s: not a bcrypt hash (make one with `htpasswd -nB %s`)", n, name, name))
			continue
		}
		if _, dup := u[name]; dup {
			problems = append(problems, fmt.Sprintf("line %d: user %s given twice", n, name))
		}
		u[name] = []byte(hash)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(problems) > 0 {
		return nil, errors.New("console users: " + strings.Join(problems, "; "))
	}
	if len(u) == 0 {
		return nil, errors.New("console users: no user: nobody could log in")
	}
	return u, nil
}

// LoadUsers reads a user file (see ParseUsers).
func LoadUsers(path string) (Users, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	u, err := ParseUsers(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return u, nil
}

func validUser(s string) bool {
	if len(s) > 64 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-') {
			return false
		}
	}
	return true
}

// dummyHash is checked against for an unknown user, so a wrong name takes
// as long as a wrong password.
var dummyHash, _ = bcrypt.GenerateFromPassword([]byte("not a password"), bcrypt.MinCost)

// check says whether name and password match.
func (u Users) check(name, password string) bool {
	h, ok := u[name]
	if !ok {
		bcrypt.CompareHashAndPassword(dummyHash, []byte(password))
		return false
	}
	return bcrypt.CompareHashAndPassword(h, []byte(password)) == nil
}

// session is one logged-in staff member.
type session struct {
	user, csrf, lang string
	expires          time.Time
}

// sessions are kept in memory: a restart of the fleet service logs staff
// out, which is fine for a console.
type sessions struct {
	mu   sync.Mutex
	m    map[string]session
	ttl  time.Duration
	now  func() time.Time
	rand io.Reader
}

func (s *sessions) token() (string, error) {
	b := make([]byte, 32)
	if _, err := io.ReadFull(s.rand, b); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

func (s *sessions) create(user, lang string) (string, session, error) {
	id, err := s.token()
	if err != nil {
		return "", session{}, err
	}
	csrf, err := s.token()
	if err != nil {
		return "", session{}, err
	}
	ss := session{user: user, csrf: csrf, lang: lang, expires: s.now().Add(s.ttl)}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	for k, v := range s.m { // drop the expired now and then
		if now.After(v.expires) {
			delete(s.m, k)
		}
	}
	s.m[id] = ss
	return id, ss, nil
}

// get returns a live session and slides its expiry.
func (s *sessions) get(id string) (session, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ss, ok := s.m[id]
	if !ok {
		return session{}, false
	}
	now := s.now()
	if now.After(ss.expires) {
		delete(s.m, id)
		return session{}, false
	}
	ss.expires = now.Add(s.ttl)
	s.m[id] = ss
	return ss, true
}

func (s *sessions) setLang(id, lang string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if ss, ok := s.m[id]; ok {
		ss.lang = lang
		s.m[id] = ss
	}
}

func (s *sessions) drop(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, id)
}

func sameToken(a, b string) bool {
	return a != "" && subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}

// Login throttling: after maxFailures wrong passwords for one user name
// within failureWindow, that name cannot log in until the window has
// passed since the last failure, whatever the password. The answer is the
// same wrong-password page, so it tells a guesser nothing.
const (
	maxFailures   = 5
	failureWindow = 15 * time.Minute
)

type failures struct {
	mu  sync.Mutex
	m   map[string][]time.Time // user name → recent failures
	now func() time.Time
}

// locked says whether name has too many recent failures.
func (f *failures) locked(name string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.recentLocked(name)) >= maxFailures
}

func (f *failures) recentLocked(name string) []time.Time {
	cut := f.now().Add(-failureWindow)
	ts := f.m[name]
	i := 0
	for i < len(ts) && ts[i].Before(cut) {
		i++
	}
	ts = ts[i:]
	if len(ts) == 0 {
		delete(f.m, name)
	} else {
		f.m[name] = ts
	}
	return ts
}

func (f *failures) add(name string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.m) > 10000 { // a flood of made-up names: forget them rather than grow
		clear(f.m)
	}
	ts := f.recentLocked(name)
	f.m[name] = append(ts, f.now())
}

func (f *failures) reset(name string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.m, name)
}
