package extract

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

var timeLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02T15:04:05.999999999",
	"2006-01-02 15:04:05.999999999Z07:00",
	"2006-01-02 15:04:05.999999999 MST",
	"2006-01-02 15:04:05.999999999",
	"2006-01-02T15:04",
	"2006-01-02",
}

// ParseTime reads the time formats sources use: RFC 3339 with or without zone (no zone
// means UTC), a space instead of the T, a bare date, and epoch seconds, milliseconds or
// microseconds (told apart by magnitude). The result is in UTC.
func ParseTime(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, fmt.Errorf("empty time")
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		switch {
		case n > 1e17 || n < -1e17: // nanoseconds are not used by any source: refuse
			return time.Time{}, fmt.Errorf("time %q: epoch value out of range", s)
		case n > 1e14 || n < -1e14:
			return time.UnixMicro(n).UTC(), nil
		case n > 1e11 || n < -1e11:
			return time.UnixMilli(n).UTC(), nil
		default:
			return time.Unix(n, 0).UTC(), nil
		}
	}
	for _, l := range timeLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("time %q: want RFC 3339 (2018-07-03T13:02:11Z), a date, or epoch seconds/ms/µs", s)
}
