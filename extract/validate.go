package extract

import (
	"fmt"
	"math"
	"strings"
	"time"
	"unicode/utf8"
)

// The value limits every decoder applies to a row before it reaches a table (see the
// README's "Bad input"). A row that breaks one is a Rejection whose Reason is what the
// Bad* function returns; no warehouse is the first to see such a value.
const (
	// MaxRevenue bounds one row's revenue or amount (a trillion in any currency): a
	// larger value is a unit or parsing mistake (1e308, cents read as a float of
	// exponent notation), and one such row would swamp every total it joins.
	MaxRevenue = 1e12
	// ClockSkew is how far after the run's start a timestamp may lie: the source's
	// clock may run ahead a little, a date in 9999 is a placeholder, not an event.
	ClockSkew = 24 * time.Hour
)

// MinTime is the earliest plausible event, deal or spend time: before it, a value is
// a zero or an epoch default (1970-01-01) rather than a date.
var MinTime = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

// BadText says why s cannot be stored as text in every warehouse, "" when it can:
// it must be valid UTF-8 (DuckDB and PostgreSQL refuse other bytes) without NUL
// bytes (PostgreSQL refuses them).
func BadText(field, s string) string {
	if !utf8.ValidString(s) {
		off := 0
		for off < len(s) {
			r, n := utf8.DecodeRuneInString(s[off:])
			if r == utf8.RuneError && n <= 1 {
				break
			}
			off += n
		}
		return fmt.Sprintf("%s is not valid UTF-8 (byte 0x%02x at offset %d): re-export the file as UTF-8 (a Latin-1 or Windows-1252 export gives such bytes)", field, s[off], off)
	}
	if i := strings.IndexByte(s, 0); i >= 0 {
		return fmt.Sprintf("%s holds a NUL byte at offset %d: the warehouse cannot store it; fix the export", field, i)
	}
	return ""
}

// BadRevenue says why v is not a plausible revenue, amount or cost, "" when it is: it
// must be a finite number between 0 and MaxRevenue. Refunds are not attributed, so a
// negative value is refused rather than netted against other conversions.
func BadRevenue(field string, v float64) string {
	switch {
	case math.IsNaN(v) || math.IsInf(v, 0):
		return fmt.Sprintf("%s is %v, not a number: leave it empty when unknown", field, v)
	case v < 0:
		return fmt.Sprintf("%s is negative (%g): refunds and corrections are not attributed; drop the row or record it as 0", field, v)
	case v > MaxRevenue:
		return fmt.Sprintf("%s is %g, above the plausible %g: check the column's unit and number format", field, v, MaxRevenue)
	}
	return ""
}

// BadTime says why t is not a plausible time of an event, deal, stage or spend, ""
// when it is: not before MinTime, not after now plus ClockSkew (now is when the run
// started). A zero t is the caller's to refuse or allow (a missing optional time).
func BadTime(field string, t, now time.Time) string {
	switch {
	case t.Before(MinTime):
		return fmt.Sprintf("%s %s is before %s: a zero or default date, not the row's time", field, t.UTC().Format(time.RFC3339), MinTime.Format(time.DateOnly))
	case t.After(now.Add(ClockSkew)):
		return fmt.Sprintf("%s %s is after the run's start (%s) plus a day of clock skew: a placeholder or a wrong time zone or unit", field, t.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339))
	}
	return ""
}
