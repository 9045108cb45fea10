package extract

import (
	"math"
	"strings"
	"testing"
	"time"
)

func TestValueLimits(t *testing.T) {
	now := time.Date(2026, 12, 5, 6, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		name, got, want string // want: a part of the reason, "" for none
	}{
		{"plain text", BadText("page", "/pricing?q=é"), ""},
		{"latin-1 byte", BadText("page", "caf\xe9"), "page is not valid UTF-8 (byte 0xe9 at offset 3)"},
		{"NUL byte", BadText("cookie", "a\x00b"), "NUL byte at offset 1"},
		{"revenue", BadRevenue("revenue", 120.5), ""},
		{"zero revenue", BadRevenue("revenue", 0), ""},
		{"negative", BadRevenue("amount", -5), "amount is negative (-5)"},
		{"huge", BadRevenue("value", 1e308), "above the plausible 1e+12"},
		{"NaN", BadRevenue("value", math.NaN()), "not a number"},
		{"Inf", BadRevenue("value", math.Inf(1)), "not a number"},
		{"time", BadTime("event_time", now.Add(-time.Hour), now), ""},
		{"clock skew", BadTime("event_time", now.Add(23*time.Hour), now), ""},
		{"future", BadTime("event_time", time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC), now), "after the run's start"},
		{"epoch", BadTime("closedate", time.Unix(0, 0), now), "before 2000-01-01"},
	} {
		if c.want == "" && c.got != "" || c.want != "" && !strings.Contains(c.got, c.want) {
			t.Errorf("%s: reason %q, want %q", c.name, c.got, c.want)
		}
	}
}
