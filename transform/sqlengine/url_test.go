package sqlengine

import (
	"database/sql"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"unicode"
	"unicode/utf8"

	"closedloop/transform/normalize"
)

var (
	sharedOnce sync.Once
	shared     *sql.DB
	sharedErr  error
)

// sharedDB is one in-memory DuckDB for the fuzz targets, whose iterations outlive a
// test's cleanup.
func sharedDB(t *testing.T) *sql.DB {
	sharedOnce.Do(func() {
		if shared, sharedErr = sql.Open("duckdb", ""); sharedErr == nil {
			shared.SetMaxOpenConns(1)
			_, sharedErr = shared.Exec("SET TimeZone = 'UTC'")
		}
	})
	if sharedErr != nil {
		t.Fatal(sharedErr)
	}
	return shared
}

// sqlURL is what the DuckDB rendering makes of URL u: its path, its host, and the
// utm_source and gclid parameters of its query string.
func sqlURL(t *testing.T, u string) [4]string {
	db := sharedDB(t)
	d := DuckDB
	q := fmt.Sprintf(`WITH x AS (SELECT ? AS u), y AS (SELECT u, %s AS pq FROM x)
		SELECT %s, %s, %s, %s FROM y`, d.re1("u", `^[^#?]*\?([^#]*)`), d.path("u"), d.host("u"),
		d.trim(d.qparam("pq", "utm_source")), d.trim(d.qparam("pq", "gclid")))
	var out [4]string
	if err := db.QueryRow(q, u).Scan(&out[0], &out[1], &out[2], &out[3]); err != nil {
		t.Fatalf("%q: %v", u, err)
	}
	return out
}

// goURL is what package normalize makes of u: Path, Host, and the utm_source and
// gclid parameters as its query.get reads them (paramOf; Classify gives the click id's
// value only when gclid is the first click id of the URL).
func goURL(u string) [4]string {
	return [4]string{normalize.Path(u), normalize.Host(u), paramOf(u, "utm_source"), paramOf(u, "gclid")}
}

// TestParamOfIsClassifys holds paramOf to Classify where Classify shows the values.
func TestParamOfIsClassifys(t *testing.T) {
	for _, u := range urlSeeds {
		in := normalize.Classify(normalize.Input{PageLocation: u})
		if in.ClickID == "gclid" && in.ClickIDValue != paramOf(u, "gclid") {
			t.Errorf("%q: Classify's gclid %q, paramOf %q", u, in.ClickIDValue, paramOf(u, "gclid"))
		}
		if in.Explicit && in.Source != "" && paramOf(u, "utm_source") != "" &&
			in.Source != strings.ToLower(paramOf(u, "utm_source")) {
			t.Errorf("%q: Classify's source %q, paramOf %q", u, in.Source, paramOf(u, "utm_source"))
		}
	}
}

// paramOf is the trimmed, decoded value of the first key= of u's query string, as
// package normalize's query.get reads it.
func paramOf(u, key string) string {
	base, _, _ := strings.Cut(strings.TrimSpace(u), "#")
	_, raw, _ := strings.Cut(base, "?")
	for raw != "" {
		var pair string
		pair, raw, _ = strings.Cut(raw, "&")
		if pair == "" {
			continue
		}
		k, v, _ := strings.Cut(pair, "=")
		if k != key {
			continue
		}
		if strings.ContainsAny(v, "%+") {
			if d, err := url.QueryUnescape(v); err == nil && utf8.ValidString(d) && !strings.ContainsRune(d, 0) {
				v = d
			}
		}
		return strings.TrimSpace(v)
	}
	return ""
}

// plausible tells a URL a browser could report: printable UTF-8 without what browsers
// percent-encode (quotes, angle brackets, braces, ...), and one url.Parse takes (what
// it refuses, the SQL need not refuse the same way).
func plausible(u string) bool {
	if !utf8.ValidString(u) || strings.TrimSpace(u) != u || strings.ContainsAny(u, "\"<>\\^`{|} ") {
		return false
	}
	for _, r := range u {
		if !unicode.IsPrint(r) || unicode.IsSpace(r) {
			return false
		}
	}
	if escapedHost.MatchString(u) {
		return false // hosts are sent as punycode, never percent-encoded
	}
	base, _, _ := strings.Cut(u, "#")
	base, _, _ = strings.Cut(base, "?")
	p, err := url.Parse(base)
	return err == nil && p.Opaque == ""
}

var escapedHost = regexp.MustCompile(`^(?:[a-zA-Z][a-zA-Z0-9+.\-]*:)?//[^/?#]*%`)

var urlSeeds = []string{
	"https://www.closedloop.io/pricing?utm_source=Google&utm_medium=cpc&gclid=abc",
	"https://www.example.com/caf%C3%A9?utm_source=Spring%20Promo&gclid=x%2By",
	"https://WWW.Example.COM:443/Upper/Case?UTM_SOURCE=ignored",
	"https://user:pw@example.com:8080/a/b?x=1&utm_source=a+b#frag?utm_source=no",
	"https://example.com",
	"https://example.com?utm_source=bare",
	"/relative/path?utm_source=rel",
	"https://[2001:db8::1]:8443/v6?gclid=6",
	"https://example.com/a%2Fb/%zz?utm_source=%FF",
	"https://example.com/p?utm_source=&utm_source=second&gclid=",
	"https://example.com/a+b/?gclid=%20g%20",
	"android-app://com.google.android.gm/",
	"http://127.0.0.1:8080/x?utm_source=local",
}

// TestURLParity holds the SQL's URL handling to package normalize's on the seeds.
func TestURLParity(t *testing.T) {
	for _, u := range urlSeeds {
		if got, want := sqlURL(t, u), goURL(u); got != want {
			t.Errorf("%q: SQL %q, Go %q (path, host, utm_source, gclid)", u, got, want)
		}
	}
}

// FuzzURLParity holds the SQL's URL handling to package normalize's on URLs a
// browser could report.
func FuzzURLParity(f *testing.F) {
	for _, u := range urlSeeds {
		f.Add(u)
	}
	f.Fuzz(func(t *testing.T, u string) {
		if !plausible(u) {
			t.Skip()
		}
		if got, want := sqlURL(t, u), goURL(u); got != want {
			t.Errorf("%q: SQL %q, Go %q (path, host, utm_source, gclid)", u, got, want)
		}
	})
}
