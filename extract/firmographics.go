package extract

import (
	"log/slog"
	"strconv"
	"strings"
	"sync/atomic"
	"unicode/utf8"
)

// MaxLoggedBadValues is how many unreadable values a BadValues logs one by one.
const MaxLoggedBadValues = 5

// BadValues counts the values an extractor could not read and wrote as NULL, keeping
// the row (a CRM record's number of employees), and logs the first MaxLoggedBadValues
// of them one by one; the extractor logs the count at the end. Safe for concurrent use.
type BadValues struct{ n atomic.Int64 }

// Add counts one value, and logs msg with attrs while fewer than MaxLoggedBadValues
// were logged.
func (b *BadValues) Add(log *slog.Logger, msg string, attrs ...any) {
	if b.n.Add(1) <= MaxLoggedBadValues {
		log.Warn(msg, attrs...)
	}
}

// Count is how many values were counted since the last Reset.
func (b *BadValues) Count() int64 { return b.n.Load() }

// Logged is how many of them were logged one by one.
func (b *BadValues) Logged() int64 { return min(b.n.Load(), MaxLoggedBadValues) }

// Reset starts counting again, for the next Extract.
func (b *BadValues) Reset() { b.n.Store(0) }

// CompanySize reads a number of employees as CRMs hold it: a whole number ("250",
// "1,200", or "250.0" as warehouses write integer columns), a range, whose lower
// bound it returns ("25-50", HubSpot's numemployees options; "1,000 – 5,000"), or an
// open range ("1000+"). ok is false for anything else, "" included.
func CompanySize(s string) (n int64, ok bool) {
	s = strings.TrimSpace(s)
	if rest, open := strings.CutSuffix(s, "+"); open {
		return wholeNumber(strings.TrimSpace(rest))
	}
	for _, dash := range []string{"-", "–", "—"} {
		lo, hi, found := strings.Cut(s, dash)
		if !found {
			continue
		}
		l, ok1 := wholeNumber(strings.TrimSpace(lo))
		h, ok2 := wholeNumber(strings.TrimSpace(hi))
		if !ok1 || !ok2 || h < l {
			return 0, false
		}
		return l, true
	}
	return wholeNumber(s)
}

// wholeNumber reads digits, optionally grouped by thousands with commas and
// followed by a fraction of zeros.
func wholeNumber(s string) (int64, bool) {
	if i := strings.IndexByte(s, '.'); i >= 0 {
		frac := s[i+1:]
		if frac == "" || strings.Trim(frac, "0") != "" {
			return 0, false
		}
		s = s[:i]
	}
	if strings.Contains(s, ",") {
		groups := strings.Split(s, ",")
		if len(groups[0]) == 0 || len(groups[0]) > 3 {
			return 0, false
		}
		for _, g := range groups[1:] {
			if len(g) != 3 {
				return 0, false
			}
		}
		s = strings.Join(groups, "")
	}
	if s == "" {
		return 0, false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, false
	}
	return n, true
}

// ShortValue cuts a value for a log line to 80 bytes, at a character boundary.
func ShortValue(s string) string {
	const max = 80
	if len(s) <= max {
		return s
	}
	i := max
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	return s[:i] + "…"
}

// Domain reads a company's web domain as CRMs hold it (HubSpot's domain, Salesforce's
// Website): lower-case, without scheme, "www.", port, path, query or trailing dot
// ("https://www.Acme.com/about" is "acme.com"). It returns "" for a value that names
// no host (blank, or with spaces inside).
func Domain(s string) string {
	s = strings.ToLower(strings.TrimSpace(s))
	if i := strings.Index(s, "://"); i >= 0 {
		s = s[i+3:]
	}
	if i := strings.IndexAny(s, "/?#"); i >= 0 {
		s = s[:i]
	}
	if i := strings.LastIndexByte(s, '@'); i >= 0 { // user@host of a URL
		s = s[i+1:]
	}
	if i := strings.IndexByte(s, ':'); i >= 0 {
		s = s[:i]
	}
	s = strings.TrimSuffix(strings.TrimPrefix(s, "www."), ".")
	if s == "" || strings.ContainsAny(s, " \t\r\n") {
		return ""
	}
	return s
}
