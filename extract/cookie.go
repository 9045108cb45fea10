package extract

import (
	"strings"
)

// CookieID normalizes an analytics cookie id as a CRM record or a form stores it to the
// client id the analytics source exports, and says whether it looks like one.
//
// The usual way a GA client id reaches a CRM is a hidden form field filled from the
// `_ga` cookie, which holds "GA1.1.1234567890.1712345678" (the "GA1.<n>." prefix
// varies with the cookie's domain depth), while the GA4 export's user_pseudo_id is
// "1234567890.1712345678". CookieID trims the value and quotes, drops a leading
// "_ga=" and the "GA<v>.<n>." prefix, so both forms give the same id.
//
// ok is false for a value that is no client id at all: an e-mail address, a
// `_ga_<container>` session cookie ("GS1.1.…", "GS2.1.s…"), free text (spaces),
// placeholders ("unknown", "n/a", "null") or, unless it has GA's "<digits>.<digits>"
// form, anything without a digit or shorter than 8 characters. Such a value must not be used as a cookie id (shared
// placeholders would join strangers): callers drop it, and count and report it.
// An empty value gives ("", true): nothing was stored.
func CookieID(v string) (id string, ok bool) {
	v = strings.TrimSpace(v)
	v = strings.Trim(v, `"'`)
	v = strings.TrimSpace(v)
	if v == "" {
		return "", true
	}
	v = strings.TrimPrefix(v, "_ga=")
	v = stripGAPrefix(v)
	if r, ok := digitsDot(v); ok && allDigits(r) {
		return v, true // <random>.<timestamp>: GA's client id, whatever its length
	}
	if len(v) < 8 || strings.ContainsAny(v, "@ \t\r\n") || strings.HasPrefix(v, "GS1.") || strings.HasPrefix(v, "GS2.") {
		return v, false
	}
	digit := false
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case c >= '0' && c <= '9':
			digit = true
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c == '.', c == '-', c == '_', c == ':':
		default:
			return v, false
		}
	}
	return v, digit
}

// stripGAPrefix drops the "GA<version>.<domain depth>." prefix of a `_ga` cookie
// value when what follows is a client id ("<random>.<timestamp>").
func stripGAPrefix(v string) string {
	if !strings.HasPrefix(v, "GA") {
		return v
	}
	rest, ok := digitsDot(v[2:])
	if !ok {
		return v
	}
	if rest, ok = digitsDot(rest); !ok {
		return v
	}
	if r, ok := digitsDot(rest); !ok || !allDigits(r) {
		return v // not <digits>.<digits> after the prefix
	}
	return rest
}

// digitsDot consumes "<digits>." at the start of s and returns the rest.
func digitsDot(s string) (string, bool) {
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	if i == 0 || i >= len(s) || s[i] != '.' {
		return s, false
	}
	return s[i+1:], true
}

func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
