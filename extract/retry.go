package extract

import (
	"net/http"
	"strconv"
	"strings"
	"time"
)

// RetryAfter reads an HTTP Retry-After header, given as seconds or as an HTTP date
// (a date in the past is no wait); ok is false when the header is empty or unreadable.
// API sources wait this long before retrying a 429 or 503.
func RetryAfter(h string) (d time.Duration, ok bool) {
	h = strings.TrimSpace(h)
	if h == "" {
		return 0, false
	}
	if s, err := strconv.Atoi(h); err == nil && s >= 0 {
		return time.Duration(s) * time.Second, true
	}
	if t, err := http.ParseTime(h); err == nil {
		return max(time.Until(t), 0), true
	}
	return 0, false
}
