package identity

import (
	"crypto/rand"
	"log/slog"
	"strings"
	"sync"
	"unicode"
)

// LogValue redacts the identity: only the profile and which fields are
// present reach a log.
func (i *Identity) LogValue() slog.Value {
	if i == nil {
		return slog.StringValue("<nil>")
	}
	return slog.GroupValue(
		slog.String("profile", i.Profile),
		slog.Bool("citizenId", i.CitizenID != ""),
		slog.Bool("name", i.Name != ""),
		slog.Bool("birthDate", i.BirthDate != ""),
		slog.Bool("address", i.Address != ""),
		slog.Bool("phone", i.Phone != ""),
		slog.Bool("accessToken", i.AccessToken != ""),
	)
}

// MaskedName is the name to show on the "Is this you?" screen, hiding
// enough that a passer-by learns little:
//
//   - Thai names (profile "th" or Thai script): each part keeps its first
//     two characters, then "***" ("สมชาย ใจดี" → "สม*** ใจ***").
//   - Others: the family name is shown in full, every other part keeps its
//     first letter and one "*" per remaining letter ("Nguyễn Thị Hồng
//     Nhung" → "Nguyễn T** H*** N****", "John Smith" → "J*** Smith"). The
//     family name is the part equal to FamilyName, else the first part for
//     Vietnamese and the last for anything else.
//
// A "character" is a base rune with its combining marks, so Thai vowel and
// tone marks and decomposed Vietnamese diacritics are never split.
func (i *Identity) MaskedName() string {
	parts := strings.Fields(i.Name)
	if len(parts) == 0 {
		return ""
	}
	if i.Profile == "th" || hasThai(i.Name) {
		for k, w := range parts {
			cl := clusters(w)
			parts[k] = strings.Join(cl[:min(2, len(cl))], "") + "***"
		}
		return strings.Join(parts, " ")
	}
	show := make([]bool, len(parts))
	found := false
	for _, f := range strings.Fields(i.FamilyName) {
		for k, w := range parts {
			if w == f {
				show[k], found = true, true
			}
		}
	}
	if !found {
		if i.Profile == "vn" {
			show[0] = true
		} else {
			show[len(parts)-1] = true
		}
	}
	for k, w := range parts {
		if !show[k] {
			cl := clusters(w)
			parts[k] = cl[0] + strings.Repeat("*", len(cl)-1)
		}
	}
	return strings.Join(parts, " ")
}

// BirthYear is the year of BirthDate (YYYY-MM-DD), or "" if it has none.
func (i *Identity) BirthYear() string {
	if len(i.BirthDate) < 4 || !allDigits(i.BirthDate[:4], 4) || (len(i.BirthDate) > 4 && i.BirthDate[4] != '-') {
		return ""
	}
	return i.BirthDate[:4]
}

// clusters splits s into base runes each followed by their combining marks.
func clusters(s string) []string {
	var out []string
	start := 0
	for k, r := range s {
		if k > start && !unicode.In(r, unicode.Mn, unicode.Me) {
			out = append(out, s[start:k])
			start = k
		}
	}
	if start < len(s) {
		out = append(out, s[start:])
	}
	return out
}

func hasThai(s string) bool {
	for _, r := range s {
		if unicode.Is(unicode.Thai, r) {
			return true
		}
	}
	return false
}

type cryptoRand struct{}

func (cryptoRand) Read(b []byte) (int, error) { return rand.Read(b) }

// lockedReader serialises reads from an injected randomness source.
type lockedReader struct {
	mu sync.Mutex
	r  interface{ Read([]byte) (int, error) }
}

func (l *lockedReader) Read(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.r.Read(b)
}
