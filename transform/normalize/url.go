package normalize

import (
	"net/url"
	"strings"
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

func unescape(s string) string {
	if strings.IndexByte(s, '%') < 0 && strings.IndexByte(s, '+') < 0 {
		return s
	}
	if u, err := url.QueryUnescape(s); err == nil {
		return u
	}
	return s
}

// parsed is what Classify reads of a URL.
type parsed struct {
	scheme, host, path string
	query              query
}

// parseURL splits raw into host (lower case, no port), path and the query before any
// fragment. The query is read even when the rest does not parse; host and path are
// then empty.
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
	p.scheme, p.host, p.path = strings.ToLower(u.Scheme), strings.ToLower(u.Hostname()), u.Path
	if p.path == "" && p.host != "" {
		p.path = "/"
	}
	return p
}

// Path returns the path of a URL: "/" for a bare host, "" when it does not parse.
func Path(raw string) string { return parseURL(raw).path }

// Host returns the lower-case host of a URL, without port ("" when it does not parse).
func Host(raw string) string { return parseURL(raw).host }
