package fleetwire

// One-time service PINs: for a technician without a technician code, staff
// at the fleet console give a kiosk an 8-digit PIN. The fleet makes the PIN
// from crypto/rand, shows it once, and sends the kiosk only a salted
// Argon2id hash of it (CmdServicePIN, its Args being ServicePIN.Encode),
// the technician's staff id and an expiry of at most MaxServicePINTTL. The
// kiosk keeps the hash in memory and takes the PIN once.

import (
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/url"
	"strconv"
	"time"

	"golang.org/x/crypto/argon2"
)

// CmdServicePIN gives the kiosk a one-time service PIN (Args: ServicePIN.Encode).
const CmdServicePIN = "service-pin"

// ServicePINDigits is the length of a service PIN.
const ServicePINDigits = 8

// MaxServicePINTTL bounds how long a service PIN is good for.
const MaxServicePINTTL = 30 * time.Minute

// The Argon2id cost the fleet hashes a PIN with (OWASP's minimum for
// Argon2id: 19 MiB, two passes, one lane): a stolen command does not give
// the PIN within its lifetime on one machine. A kiosk refuses costs above
// the Max ones, so a forged command cannot make it hash for minutes.
const (
	PINTime      = 2
	PINMemoryKiB = 19 * 1024
	PINThreads   = 1

	MaxPINTime      = 4
	MaxPINMemoryKiB = 64 * 1024
)

const pinSaltLen, pinHashLen = 16, 32

// ServicePIN is what a kiosk is told of a service PIN: never the PIN.
type ServicePIN struct {
	ID         string // names the PIN in logs and events
	Technician string // the staff id it was given to, not a name
	Expires    time.Time
	Salt, Hash []byte
	Time       uint32 // Argon2id passes
	MemoryKiB  uint32
	Threads    uint8
}

// ErrServicePIN is a service PIN command that does not parse or is out of
// bounds.
var ErrServicePIN = errors.New("fleetwire: bad service PIN")

// NewServicePIN makes a PIN of ServicePINDigits digits from rnd, good until
// now+ttl (ttl at most MaxServicePINTTL), for the technician (a staff id).
func NewServicePIN(rnd io.Reader, technician string, now time.Time, ttl time.Duration) (string, ServicePIN, error) {
	if ttl <= 0 || ttl > MaxServicePINTTL {
		return "", ServicePIN{}, fmt.Errorf("%w: lifetime %v is not within (0, %v]", ErrServicePIN, ttl, MaxServicePINTTL)
	}
	if !validStaffID(technician) {
		return "", ServicePIN{}, fmt.Errorf("%w: technician id %q: 1-64 letters, digits, . _ -", ErrServicePIN, technician)
	}
	n, err := randIntn(rnd, pow10(ServicePINDigits))
	if err != nil {
		return "", ServicePIN{}, err
	}
	pin := fmt.Sprintf("%0*d", ServicePINDigits, n)
	id := make([]byte, 6)
	salt := make([]byte, pinSaltLen)
	if _, err := io.ReadFull(rnd, id); err != nil {
		return "", ServicePIN{}, err
	}
	if _, err := io.ReadFull(rnd, salt); err != nil {
		return "", ServicePIN{}, err
	}
	p := ServicePIN{
		ID: "pin-" + hex.EncodeToString(id), Technician: technician, Expires: now.Add(ttl).Truncate(time.Second),
		Salt: salt, Time: PINTime, MemoryKiB: PINMemoryKiB, Threads: PINThreads,
	}
	p.Hash = p.derive(pin)
	return pin, p, nil
}

func pow10(n int) int64 {
	v := int64(1)
	for range n {
		v *= 10
	}
	return v
}

func randIntn(rnd io.Reader, n int64) (int64, error) {
	// Rejection sampling over 40 bits: uniform over [0, n).
	limit := (int64(1) << 40) / n * n
	for {
		var b [5]byte
		if _, err := io.ReadFull(rnd, b[:]); err != nil {
			return 0, err
		}
		v := new(big.Int).SetBytes(b[:]).Int64()
		if v < limit {
			return v % n, nil
		}
	}
}

func validStaffID(s string) bool { return ValidKioskID(s) }

func (p ServicePIN) derive(pin string) []byte {
	return argon2.IDKey([]byte(pin), p.Salt, p.Time, p.MemoryKiB, p.Threads, pinHashLen)
}

// Match says whether pin is the PIN p was made from (in constant time
// over the hashes). It costs one Argon2id hash.
func (p ServicePIN) Match(pin string) bool {
	if len(pin) != ServicePINDigits || len(p.Hash) != pinHashLen {
		return false
	}
	return subtle.ConstantTimeCompare(p.derive(pin), p.Hash) == 1
}

// Encode is the command's Args text.
func (p ServicePIN) Encode() string {
	b64 := base64.RawURLEncoding.EncodeToString
	return url.Values{
		"v": {"1"}, "id": {p.ID}, "tech": {p.Technician}, "exp": {strconv.FormatInt(p.Expires.Unix(), 10)},
		"salt": {b64(p.Salt)}, "hash": {b64(p.Hash)},
		"t": {strconv.FormatUint(uint64(p.Time), 10)}, "m": {strconv.FormatUint(uint64(p.MemoryKiB), 10)}, "p": {strconv.FormatUint(uint64(p.Threads), 10)},
	}.Encode()
}

// ParseServicePIN reads a command's Args (Encode), checking every field and
// the cost bounds; it does not check the expiry against a clock.
func ParseServicePIN(args string) (ServicePIN, error) {
	q, err := url.ParseQuery(args)
	if err != nil {
		return ServicePIN{}, fmt.Errorf("%w: %v", ErrServicePIN, err)
	}
	if q.Get("v") != "1" {
		return ServicePIN{}, fmt.Errorf("%w: version %q", ErrServicePIN, q.Get("v"))
	}
	var problems []error
	bad := func(f string, a ...any) { problems = append(problems, fmt.Errorf(f, a...)) }
	p := ServicePIN{ID: q.Get("id"), Technician: q.Get("tech")}
	if !ValidKioskID(p.ID) {
		bad("id %q", p.ID)
	}
	if !validStaffID(p.Technician) {
		bad("technician id %q", p.Technician)
	}
	exp, err := strconv.ParseInt(q.Get("exp"), 10, 64)
	if err != nil || exp <= 0 {
		bad("expiry %q", q.Get("exp"))
	}
	p.Expires = time.Unix(exp, 0).UTC()
	if p.Salt, err = base64.RawURLEncoding.DecodeString(q.Get("salt")); err != nil || len(p.Salt) < 8 || len(p.Salt) > 64 {
		bad("salt")
	}
	if p.Hash, err = base64.RawURLEncoding.DecodeString(q.Get("hash")); err != nil || len(p.Hash) != pinHashLen {
		bad("hash")
	}
	num := func(k string, lo, hi uint64) uint64 {
		v, err := strconv.ParseUint(q.Get(k), 10, 32)
		if err != nil || v < lo || v > hi {
			bad("cost %s=%q not within [%d, %d]", k, q.Get(k), lo, hi)
		}
		return v
	}
	p.Time = uint32(num("t", 1, MaxPINTime))
	p.MemoryKiB = uint32(num("m", 8, MaxPINMemoryKiB))
	p.Threads = uint8(num("p", 1, 4))
	if len(problems) > 0 {
		return ServicePIN{}, fmt.Errorf("%w: %w", ErrServicePIN, errors.Join(problems...))
	}
	return p, nil
}
