package health

import (
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"

	"govkiosk/kiosk/atomicfile"
)

// Sequence numbers the kiosk's heartbeats for the portal's replay check:
// every Next is above every earlier one, across restarts. The last number
// is kept in a file, written atomically and synced before the number is
// handed out, so a crash can skip numbers but never repeat one. Next is
// also never below the clock's milliseconds since 1970: a kiosk whose file
// was lost (a new disk) starts above what it sent before, as long as its
// clock did not go back too. It is used by one goroutine (Monitor.Run).
type Sequence struct {
	path string
	last uint64
}

// OpenSequence reads the sequence kept at path. A missing file starts at
// the clock; an unreadable one is logged and does the same.
func OpenSequence(path string, log *slog.Logger) *Sequence {
	s := &Sequence{path: path}
	b, err := os.ReadFile(path)
	switch {
	case os.IsNotExist(err):
	case err != nil:
		log.Warn("health: heartbeat sequence unreadable; continuing from the clock", "path", path, "err", err)
	default:
		if s.last, err = strconv.ParseUint(strings.TrimSpace(string(b)), 10, 63); err != nil {
			log.Warn("health: heartbeat sequence file corrupt; continuing from the clock", "path", path, "err", err)
		}
	}
	return s
}

// Next returns the next number, kept on disk before it is returned.
func (s *Sequence) Next(now time.Time) (uint64, error) {
	n := s.last + 1
	if ms := now.UnixMilli(); ms > 0 && uint64(ms) > n {
		n = uint64(ms)
	}
	if err := atomicfile.Write(s.path, []byte(strconv.FormatUint(n, 10)+"\n"), 0o600); err != nil {
		return 0, fmt.Errorf("keep heartbeat sequence: %w", err)
	}
	s.last = n
	return n, nil
}
