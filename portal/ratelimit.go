package portal

import (
	"net/http"
	"strconv"
	"sync"
	"time"

	"govkiosk/backend-client/api"
)

// CodeRateLimited answers a confirmation request or check over its rate
// limits (429, with Retry-After and an api.Reason* reason).
const CodeRateLimited = "rate-limited"

// RateLimits bound the confirmation codes sent to citizens' phones and the
// guessing of them. Each new challenge gives five more tries and sends one
// more message, so both are limited across challenges: per citizen (the
// one of the access token) and per kiosk. Zero fields take the defaults of
// DefaultRateLimits; a negative gap or count turns that limit off.
type RateLimits struct {
	CodeGap         time.Duration // least time between two codes to one citizen
	CodesPerCitizen int           // codes to one citizen per CodeWindow
	CodesPerKiosk   int           // codes asked for at one kiosk per CodeWindow
	CodeWindow      time.Duration
	WrongPerCitizen int // wrong codes typed by one citizen per WrongWindow
	WrongPerKiosk   int // wrong codes typed at one kiosk per WrongWindow
	WrongWindow     time.Duration
}

// DefaultRateLimits: a citizen gets a code, and may ask again twice, a
// minute apart, in 15 minutes; ten wrong codes (two challenges' worth) lock
// them out for up to an hour. A kiosk, which serves a few citizens in 15
// minutes, may ask for 30 codes in that time and take 60 wrong codes an hour.
var DefaultRateLimits = RateLimits{
	CodeGap: time.Minute, CodesPerCitizen: 3, CodesPerKiosk: 30, CodeWindow: 15 * time.Minute,
	WrongPerCitizen: 10, WrongPerKiosk: 60, WrongWindow: time.Hour,
}

func (l RateLimits) withDefaults() RateLimits {
	d := DefaultRateLimits
	set := func(v *int, def int) {
		if *v == 0 {
			*v = def
		}
	}
	setD := func(v *time.Duration, def time.Duration) {
		if *v == 0 {
			*v = def
		}
	}
	setD(&l.CodeGap, d.CodeGap)
	set(&l.CodesPerCitizen, d.CodesPerCitizen)
	set(&l.CodesPerKiosk, d.CodesPerKiosk)
	setD(&l.CodeWindow, d.CodeWindow)
	set(&l.WrongPerCitizen, d.WrongPerCitizen)
	set(&l.WrongPerKiosk, d.WrongPerKiosk)
	setD(&l.WrongWindow, d.WrongWindow)
	return l
}

// limiter keeps, per citizen hash and per kiosk, the times of the codes
// sent and of the wrong codes typed within their windows, in memory (a
// restart forgets them; the codes' own lifetime and attempts still hold).
// Time is the server's injected clock.
type limiter struct {
	lim RateLimits

	mu        sync.Mutex
	codes     map[string][]time.Time // "c:"+citizen hash or "k:"+kiosk id
	wrong     map[string][]time.Time
	lastSweep time.Time
}

func newLimiter(l RateLimits) *limiter {
	return &limiter{lim: l.withDefaults(), codes: map[string][]time.Time{}, wrong: map[string][]time.Time{}}
}

// recent drops the times of key older than window and returns the rest.
func recent(m map[string][]time.Time, key string, window time.Duration, now time.Time) []time.Time {
	ts := m[key]
	i := 0
	for i < len(ts) && !ts[i].After(now.Add(-window)) {
		i++
	}
	if ts = ts[i:]; len(ts) == 0 {
		delete(m, key)
		return nil
	}
	m[key] = ts
	return ts
}

// full returns how long until one more event fits under n per window (n
// negative: no limit).
func full(ts []time.Time, n int, window time.Duration, now time.Time) time.Duration {
	if n < 0 || len(ts) < n {
		return 0
	}
	return ts[len(ts)-n].Add(window).Sub(now)
}

// refusal is the longest wait of the limits that apply, and its reason.
type refusal struct {
	reason string
	wait   time.Duration
}

func (r *refusal) consider(reason string, wait time.Duration) {
	if wait > r.wait {
		r.reason, r.wait = reason, wait
	}
}

func (l *limiter) sweepLocked(now time.Time) {
	if now.Sub(l.lastSweep) < time.Minute {
		return
	}
	l.lastSweep = now
	for k := range l.codes {
		recent(l.codes, k, l.lim.CodeWindow, now)
	}
	for k := range l.wrong {
		recent(l.wrong, k, l.lim.WrongWindow, now)
	}
}

// guessRefusalLocked is the wait before citizen may type a code at kiosk.
func (l *limiter) guessRefusalLocked(citizen, kiosk string, now time.Time) refusal {
	var r refusal
	r.consider(api.ReasonCitizenWrongCodes, full(recent(l.wrong, "c:"+citizen, l.lim.WrongWindow, now), l.lim.WrongPerCitizen, l.lim.WrongWindow, now))
	r.consider(api.ReasonKioskWrongCodes, full(recent(l.wrong, "k:"+kiosk, l.lim.WrongWindow, now), l.lim.WrongPerKiosk, l.lim.WrongWindow, now))
	return r
}

// takeCode records a code for citizen at kiosk if every limit allows it;
// else it returns the reason and the wait.
func (l *limiter) takeCode(citizen, kiosk string, now time.Time) refusal {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.sweepLocked(now)
	r := l.guessRefusalLocked(citizen, kiosk, now) // no new code while locked out for guessing
	cs := recent(l.codes, "c:"+citizen, l.lim.CodeWindow, now)
	if len(cs) > 0 && l.lim.CodeGap > 0 {
		r.consider(api.ReasonCodeGap, cs[len(cs)-1].Add(l.lim.CodeGap).Sub(now))
	}
	r.consider(api.ReasonCitizenCodes, full(cs, l.lim.CodesPerCitizen, l.lim.CodeWindow, now))
	ks := recent(l.codes, "k:"+kiosk, l.lim.CodeWindow, now)
	r.consider(api.ReasonKioskCodes, full(ks, l.lim.CodesPerKiosk, l.lim.CodeWindow, now))
	if r.wait > 0 {
		return r
	}
	l.codes["c:"+citizen] = append(cs, now)
	l.codes["k:"+kiosk] = append(ks, now)
	return refusal{}
}

// guessRefusal is the wait before citizen may type a code at kiosk.
func (l *limiter) guessRefusal(citizen, kiosk string, now time.Time) refusal {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.sweepLocked(now)
	return l.guessRefusalLocked(citizen, kiosk, now)
}

// wrongGuess records a wrong code typed by citizen at kiosk.
func (l *limiter) wrongGuess(citizen, kiosk string, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.wrong["c:"+citizen] = append(l.wrong["c:"+citizen], now)
	l.wrong["k:"+kiosk] = append(l.wrong["k:"+kiosk], now)
}

// retrySeconds rounds a wait up to whole seconds, at least one.
func retrySeconds(wait time.Duration) int {
	return max(1, int((wait+time.Second-1)/time.Second))
}

// writeRetryLater answers status (429 or 503) with Retry-After and the
// same wait, and the reason, in the error body.
func writeRetryLater(w http.ResponseWriter, status int, code, reason, msg string, wait time.Duration) {
	secs := retrySeconds(wait)
	w.Header().Set("Retry-After", strconv.Itoa(secs))
	writeJSON(w, status, api.Error{Code: code, Message: msg, Reason: reason, RetryAfter: secs})
}

func (s *Server) writeRateLimited(w http.ResponseWriter, r *http.Request, ref refusal, kiosk string) {
	s.log.Warn("confirmation rate-limited", "path", r.URL.Path, "reason", ref.reason, "kiosk", kiosk, "wait", ref.wait.Round(time.Second))
	writeRetryLater(w, http.StatusTooManyRequests, CodeRateLimited, ref.reason, "too many confirmation codes or wrong codes; wait before asking again", ref.wait)
}
