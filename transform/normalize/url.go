package normalize

import (
	"net/url"
	"strings"
	"unicode/utf8"
)

// query is a URL query as key/value pairs in order. Unlike url.ParseQuery it keeps a
// value whose escapes are broken ("50%off") as written instead of dropping the pair.
type query []string

func parseQuery(raw string) query {
	if raw == "" {
		return nil
	}
	q := make(query, 0, 2*(strings.Count(raw, "&")+1))
	for raw != "" {
		var pair string
		pair, raw, _ = strings.Cut(raw, "&")
		if pair == "" {
			continue
		}
		k, v, _ := strings.Cut(pair, "=")
		q = append(q, unescape(k), v) // values are unescaped on lookup
	}
	return q
}

// get returns the first value of key, unescaped ("" when absent).
func (q query) get(key string) string {
	for i := 0; i+1 < len(q); i += 2 {
		if q[i] == key {
			return unescape(q[i+1])
		}
	}
	return ""
}

// unescape decodes a query component; one whose escapes are broken, or decode to
// bytes no warehouse stores (%E9 from a Latin-1 page, %00), is kept as written.
func unescape(s string) string {
	if strings.IndexByte(s, '%') < 0 && strings.IndexByte(s, '+') < 0 {
		return s
	}
	if u, err := url.QueryUnescape(s); err == nil && text(u) {
		return u
	}
	return s
}

// text reports whether s can be stored as text: valid UTF-8 without NUL bytes.
func text(s string) bool {
	return utf8.ValidString(s) && strings.IndexByte(s, 0) < 0
}

// parsed is what Classify reads of a URL.
type parsed struct {
	scheme, host, path string
	query              query
}

// parseURL splits raw into host (lower case, no port), path and the query before any
// fragment. The query is read even when the rest does not parse; host and path are
// then empty. A path whose escapes decode to bytes no warehouse stores keeps them
// escaped; such a host is left empty.
func parseURL(raw string) parsed {
	raw = strings.TrimSpace(raw)
	var p parsed
	if raw == "" {
		return p
	}
	base, _, _ := strings.Cut(raw, "#")
	base, rawQuery, _ := strings.Cut(base, "?")
	p.query = parseQuery(rawQuery)
	u, err := url.Parse(base)
	if err != nil {
		return p
	}
	p.scheme, p.path = strings.ToLower(u.Scheme), u.Path
	if h := u.Hostname(); text(h) {
		p.host = strings.ToLower(h)
	}
	if !text(p.path) {
		p.path = u.EscapedPath()
	}
	if p.path == "" && p.host != "" {
		p.path = "/"
	}
	return p
}

// Path returns the path of a URL: "/" for a bare host, "" when it does not parse.
func Path(raw string) string { return parseURL(raw).path }

// Host returns the lower-case host of a URL, without port ("" when it does not parse).
func Host(raw string) string { return parseURL(raw).host }
